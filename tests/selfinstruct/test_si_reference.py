"""Self-Instruct steps 2-4 as the paper's released code does them (yizhongw/self-instruct:
identify_clf_or_not.py, prepare_for_finetuning.py, bootstrap_instructions.py): each test fails
on the behaviour before issue 22 and pins the reference behaviour."""

from __future__ import annotations

import json

from instructforge.data.records import Instance
from instructforge.models.types import Completion
from instructforge.selfinstruct.classify import classify_request, parse_answer
from instructforge.selfinstruct.config import GenerateConfig
from instructforge.selfinstruct.filters import filter_instances
from instructforge.selfinstruct.instances import InstanceTask

CFG = GenerateConfig()


# -- item 1: the conflict check skips empty inputs --------------------------------------------


def test_a_task_without_input_keeps_its_different_outputs():
    poems = [Instance("", "Roses in the rain."), Instance("", "Snow on a quiet hill."), Instance("", "Wind at sea.")]
    kept, dropped, task_rej = filter_instances(poems, 5)
    assert task_rej is None and kept == poems and dropped == []


def test_the_same_non_empty_input_with_two_outputs_still_rejects_the_task():
    insts = [Instance("", "one"), Instance("", "two"), Instance("7", "odd"), Instance("7", "even")]
    kept, _, task_rej = filter_instances(insts, 5)
    assert kept == [] and task_rej is not None and task_rej.reason == "conflicting_outputs"


# -- item 2: the last instance of a length-cut answer is dropped ------------------------------

ANSWER = "Example 1\nInput: 2 + 2\nOutput: 4\nExample 2\nInput: 3 + 5\nOutput: 8\nExample 3\nInput: 10 - 4\nOutput: 6"


def test_an_answer_cut_at_the_length_limit_loses_its_last_instance():
    task = InstanceTask("Add or subtract the numbers.", False)
    rec, rejections = task.answer_record("k", Completion(ANSWER, finish_reason="length"))
    assert rec.accepted and rec.instances == [Instance("2 + 2", "4"), Instance("3 + 5", "8")]
    assert [(r.input, r.reason) for r in rejections] == [("10 - 4", "length_cut")]
    full, none = task.answer_record("k", Completion(ANSWER, finish_reason="stop"))
    assert len(full.instances) == 3 and none == []


def test_a_cut_answer_with_one_instance_has_none_left():
    rec, rejections = InstanceTask("Add the numbers.", False).answer_record(
        "k", Completion("Example 1\nInput: 2 + 2\nOutput: 4", finish_reason="length")
    )
    assert not rec.accepted and rec.reason == "no_instances" and rejections[0].reason == "length_cut"


# -- item 6: the cap keeps a seeded random sample ---------------------------------------------


def _many(n: int) -> list[Instance]:
    return [Instance(f"input {i}", f"output {i}") for i in range(n)]


def test_the_cap_keeps_a_random_five_not_the_first_five():
    insts = _many(12)
    samples = {tuple((i.input, i.output) for i in filter_instances(insts, 5, seed=s)[0]) for s in range(20)}
    assert len(samples) > 5  # 792 possible samples: different seeds draw different ones
    for s in range(3):
        kept, dropped, _ = filter_instances(insts, 5, seed=s)
        assert len(kept) == 5 and kept == [i for i in insts if i in kept]  # answer order kept
        assert sorted(i.input for i, r in dropped if r.reason == "over_limit") == sorted(
            i.input for i in insts if i not in kept
        )
        assert filter_instances(insts, 5, seed=s)[0] == kept  # seeded: the same every time


def test_instance_task_seeds_the_cap_by_run_seed_and_instruction():
    insts = _many(9)  # e.g. a server that ignored the "Example 6" stop string

    def kept(seed: int, instruction: str = "Copy the text.") -> list[Instance]:
        return InstanceTask(instruction, False, seed=seed).record("k", insts)[0].instances

    assert kept(0) == kept(0) and len(kept(0)) == 5
    assert any(kept(s) != kept(0) for s in range(1, 8))
    assert any(kept(0, f"Copy the text {n}.") != kept(0) for n in range(8))


# -- item 5: the classification request and its parser ----------------------------------------


def test_classification_stops_at_newline_and_task():
    req = classify_request("Is the number even or odd?", CFG)
    assert tuple(req.params.stop) == ("\n", "Task") and req.params.max_tokens == 3
    assert req.params.temperature == 0


def test_classification_answer_is_read_as_strictly_as_the_reference():
    assert parse_answer(" Yes") and parse_answer("yes ") and parse_answer("YES")
    for no in ("Yes.", "Yes, it is", "yes!", "No", "", "Y"):
        assert not parse_answer(no), no
    assert parse_answer("Yes.", "first_word") and parse_answer("yes, it is", "first_word")
    assert GenerateConfig().classify_parse == "strict"


# -- item 3: the truncation policy says whose code it follows ---------------------------------


def test_truncated_policy_default_is_the_papers_code():
    import dataclasses

    f = {x.name: x for x in dataclasses.fields(GenerateConfig)}["truncated_policy"]
    assert GenerateConfig().truncated_policy == "response"
    assert "response: drop every item of a length-cut answer (the paper's code" in f.metadata["help"]
    assert "Alpaca" in f.metadata["help"]


# -- item 4: step 5, the fine-tuning encoding --------------------------------------------------


def _recs(
    n: int, inp: str = "Sentence: the cat sat\n\non the mat", instruction: str = "Fix the sentence."
) -> list[dict]:
    return [{"instruction": f"{instruction} ({i})", "input": inp, "output": f"out {i}"} for i in range(n)]


def test_step5_draws_a_template_per_instance_seeded():
    from instructforge.selfinstruct.export import encoding_templates, finetuning_pairs

    with_input, _ = encoding_templates()
    pairs = finetuning_pairs(_recs(200), seed=3)
    assert pairs == finetuning_pairs(_recs(200), seed=3) and pairs != finetuning_pairs(_recs(200), seed=4)
    # every with-input template gets used: the choice is random per instance, not one format
    shapes = {p["prompt"].replace(p["prompt"].split("\n")[0], "") for p in pairs}
    assert len(shapes) >= len(with_input)


def test_step5_strips_a_single_field_label_half_the_time_and_collapses_blank_lines():
    from instructforge.selfinstruct.export import finetuning_pairs

    pairs = finetuning_pairs(_recs(400), seed=0)
    stripped = [p for p in pairs if "Sentence:" not in p["prompt"]]
    assert 150 < len(stripped) < 250  # about half
    assert all("the cat sat\non the mat" in p["prompt"] for p in stripped)
    assert all("the cat sat\n\non the mat" in p["prompt"] for p in pairs if p not in stripped)
    # several fields: nothing is stripped
    multi = finetuning_pairs(_recs(60, "Document: A.\nClaim: B."), seed=0)
    assert all("Document: A." in p["prompt"] and "Claim: B." in p["prompt"] for p in multi)


def test_step5_removes_repeated_pairs_and_the_export_uses_it(tmp_path):
    from instructforge.selfinstruct.export import encoding_templates, finetuning_pairs, write_records

    _, without = encoding_templates()
    same = [{"instruction": "Write a haiku.", "input": "", "output": "Moon on the water."}] * 50
    pairs = finetuning_pairs(same, seed=0)
    assert len(pairs) == len({(p["prompt"], p["completion"]) for p in pairs}) <= len(without)
    out = tmp_path / "pc.jsonl"
    assert write_records(same, "prompt-completion", out, seed=0) == len(pairs)
    assert [json.loads(line) for line in out.read_text().splitlines()] == pairs


def test_sft_trains_on_the_step5_encoding_by_default():
    from instructforge.train.sft import SFTConfig, to_trl

    assert SFTConfig().encoding == "varied"
    rows = _recs(40)
    varied = to_trl(rows, "raw", "varied", seed=0)
    fixed = to_trl(rows, "raw", "fixed")
    assert fixed[0]["prompt"] == rows[0]["instruction"] + "\n\n" + rows[0]["input"]
    assert len({r["prompt"].split("\n")[-2] for r in varied}) > 1  # several templates
    assert {r["completion"] for r in varied} == {r["output"] for r in rows}


# -- item 7: instance demonstrations -----------------------------------------------------------


def test_demonstration_counts_and_field_names_match_the_reference_prompts():
    from instructforge.selfinstruct.instances import instance_prompt, load_demos

    demos = load_demos()
    styles = [d["style"] for d in demos]
    # the paper's templates/instance_gen_template.py: 11 input-first tasks, 16 output-first
    assert styles.count("input_first") == 11 and styles.count("output_first") == 16
    fields = set()
    for d in demos:
        for ex in d["examples"]:
            if ex["input"].strip():
                label = ex["input"].split(":", 1)[0]
                assert label[:1].isupper() and len(label.split()) <= 3 and label != "Input", ex["input"]
                fields.add(label)
    assert len(fields) >= 15 and {"Paragraph", "Sentence", "Code"} <= fields
    gen, clf = instance_prompt("Summarize the text.", False), instance_prompt("Is it spam?", True)
    assert "\nParagraph: " in gen and "\nInput: " not in gen and "\nReview: " in clf and "\nInput: " not in clf
    assert any(not ex["input"] for d in demos if d["style"] == "output_first" for ex in d["examples"])
