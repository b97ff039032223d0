"""Self-Instruct steps 2-4 as the paper's released code does them (yizhongw/self-instruct:
identify_clf_or_not.py, prepare_for_finetuning.py, bootstrap_instructions.py): each test fails
on the behaviour before issue 22 and pins the reference behaviour."""

from __future__ import annotations

from instructforge.records import Completion, Instance
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
