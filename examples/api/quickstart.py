"""instructforge from Python: the embedded model writes a few instructions with Self-Instruct,
we look at what it kept, turn it into a Hugging Face dataset, export it for SFT, score it with
the REFINE-AF feedback, and ask the model something directly.

    .venv/bin/python examples/api/quickstart.py [OUT_DIR]      # ~3 min on 2 CPU cores

The same settings as the CLI: every field of GenerateConfig is a flag, a `--set` or a
`--config` entry of `instructforge generate` (`instructforge config show generate`).
"""

from __future__ import annotations

import sys
from pathlib import Path

import instructforge as inf


def main(out: Path) -> None:
    # 1. Self-Instruct on the embedded model (SmolLM2-135M), small and fast: 3 instructions,
    #    short answers. Resumable: run this script again and it continues where it stopped.
    #    filters="paper": only the paper's filters, so that this tour has records to show at 135M;
    #    the default ("checks") also rejects the junk such a small model writes, which is most
    #    of it (README: what to expect from the embedded model). Drop it for data you would keep.
    config = inf.GenerateConfig(
        num_instructions=3, seed=0, bootstrap_max_tokens=160, instance_max_tokens=96, filters="paper"
    )
    run = inf.generate(out=out / "si", model="embedded", config=config)
    s = run.summary
    print(
        f"accepted {s['accepted']} of {s['candidates']} candidates; {s['instances']} instances; "
        f"rejected: {s['rejections_by_reason']}"
    )
    for task in run.tasks(accepted=None):
        print(f"  [{'kept' if task.accepted else task.reason}] {task.instruction[:70]}")

    # 2. The data: a datasets.Dataset, and an export for `instructforge finetune`.
    ds = run.to_dataset()
    print(ds)
    n = run.export("messages", out / "si.messages.jsonl")
    print(f"{n} records -> {out / 'si.messages.jsonl'}")

    # 3. Automated feedback on every instance (the RL stage's own scoring), judged by the same model.
    scores = inf.score(run.path, model="embedded")
    print("score summary:", {k: scores[k] for k in list(scores)[:4]})

    # 4. A direct call.
    llm = inf.open_llm("embedded")
    try:
        answer = llm.complete(
            inf.Request.chat(
                "Give one word that rhymes with cat.", params=inf.SamplingParams(temperature=0, max_tokens=8)
            )
        )
    finally:
        llm.close()
    print("ask:", answer.text.strip())


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("runs/api_quickstart"))
