"""The ground floor: errors, the console (ui), file io (JSONL, atomic_write), the prompt loader,
summary statistics and the settings machinery (settings.py). Imports nothing else of instructforge."""
