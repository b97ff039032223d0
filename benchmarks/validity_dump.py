"""Dump the paper-accepted instances of generate runs as unlabelled lines for
benchmarks/data/validity_labelled.jsonl (``label`` and ``why`` are then written by hand, following
docs/labelling.md). Run on runs made with ``--set filters=paper`` (or before the validity checks
existed), so that the set holds what the paper's filters accept.

    python benchmarks/validity_dump.py runs/s1 runs/s2 > /tmp/unlabelled.jsonl
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from instructforge.data.store import RunStore


def main() -> int:
    for run in map(Path, sys.argv[1:]):
        with RunStore(run, create=False) as store:
            seed = (store.read_config().get("generate") or {}).get("seed")
            for t in store.tasks(accepted=True):
                for n, i in enumerate(t.instances):
                    row = {
                        "seed": seed,
                        "task": t.key,
                        "n": n,
                        "order": "output_first" if t.is_classification else "input_first",
                        "instruction": t.instruction,
                        "input": i.input,
                        "output": i.output,
                    }
                    print(json.dumps(row, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
