"""``python -m instructforge``: the command line."""

from .cli.main import main

main()
