"""``instructforge score``: automated feedback, a quality audit and deterministic checks for every
instance of a run or of any instruction-data file, stored in the run store, curated by ``export``.

Modules, one concept each: config.py (ScoreConfig), audit.py (Self-Instruct's quality audit as
judge questions), checks.py (cheap deterministic checks), data.py (reading outside data files),
scoring.py (the resumable chunked scoring loop), summary.py (distributions, audit table,
lowest/highest records), curate.py (export filters), cli.py (the command). docs/score.md.
"""
