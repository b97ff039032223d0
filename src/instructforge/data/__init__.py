"""Dataset records and where they live: Task, Instance, Triple, Rejection (records.py), the typed
records of a run store (runrecords.py), the run store (store.py), the one reader/writer of data files
(formats.py) and what an output dir holds (outdir.py: file names, config.yaml, stage output paths)."""
