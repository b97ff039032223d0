"""``instructforge score``: automated feedback, a quality audit and deterministic checks for every
instance of a run or of any instruction-data file, stored in the run store, curated by ``export``.

Modules, one concept each: config.py (ScoreConfig), checks.py (cheap deterministic checks),
data.py (outside data files into a run store; read by ``data.formats``), scoring.py (the
resumable chunked scoring loop), runner.py (the command's runner), summary.py (distributions,
audit table, lowest/highest records), curate.py (export filters); the audit and the scorers are
``feedback/``'s, the command ``cli/score.py``. docs/score.md.
"""
