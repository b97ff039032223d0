"""``python -m instructforge.cli``: the command line."""

from .main import main

main()
