"""Self-Instruct (Wang et al., ACL 2023, arXiv 2212.10560) and Alpaca's one-request variant.

Pipeline (paper section 2.2): bootstrap instructions (bootstrap.py) -> filters (filters.py) ->
classification identification (classify.py) -> instance generation and filtering
(instances.py) -> run store -> export (export.py). ``pipeline.py`` ties the stages together
and makes them resumable; ``cli.py`` is the thin ``generate`` / ``export`` shell.
"""
