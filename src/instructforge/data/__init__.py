"""Dataset records and where they live: Task, Instance, Triple, Rejection (records.py), the typed
records of a run store (runrecords.py), the run store (store.py) and stage output paths (outdir.py)."""
