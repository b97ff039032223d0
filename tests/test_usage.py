"""The usage ledger against a real local HTTP server (testing/fake_openai.py) that reports
``usage`` and one that does not (tokens then counted by the real embedded tokenizer), prices,
caps on a streaming backend, ``usage.json`` of an out dir, and bad prices or budgets (exit 2)."""

from __future__ import annotations

import json

import pytest

from conftest import run_cli
from instructforge.core.errors import BudgetExceeded, InputError
from instructforge.models.client import open_llm
from instructforge.models.modelconfig import ModelConfig
from instructforge.models.types import Request, SamplingParams
from instructforge.models.usage import FileSink, Ledger, parse_price
from instructforge.testing.fake_openai import FakeOpenAIServer, server_process

PROMPTS = [f"Write a short line about the number {i} and the colour of the sea at night." for i in range(12)]


def requests(max_tokens: int = 8) -> list[Request]:
    return [Request.chat(p, params=SamplingParams(temperature=0.0, max_tokens=max_tokens)) for p in PROMPTS]


def rows(llm) -> dict:
    return {(s, m): u for s, m, u in llm.ledger.rows.values()}


def test_server_usage_is_counted_as_the_server_reports_it():
    with FakeOpenAIServer() as srv:
        llm = ModelConfig(model="openai:m", base_url=srv.url, cache=False, price="2,4").open()
        try:
            comps = llm.generate(requests())
        finally:
            llm.close()
    (u,) = rows(llm).values()
    assert u.requests == len(PROMPTS) and u.server_counted == len(PROMPTS) and u.tokenizer_counted == 0
    # the fake server counts whitespace words: what it reported is what the ledger holds
    assert u.prompt_tokens == sum(len(p.split()) for p in PROMPTS)
    assert u.completion_tokens == sum(c.completion_tokens for c in comps) > 0
    assert u.cost == pytest.approx((u.prompt_tokens * 2 + u.completion_tokens * 4) / 1e6)
    assert u.as_dict()["tokens_from"] == "server"


def test_a_server_without_usage_is_counted_by_the_embedded_tokenizer():
    from instructforge.models.backends.model_files import embedded_model_dir, load_tokenizer

    with FakeOpenAIServer(report_usage=False) as srv:
        llm = ModelConfig(model="openai:m", base_url=srv.url, cache=False).open()
        try:
            comps = llm.generate(requests())
        finally:
            llm.close()
    tok = load_tokenizer(embedded_model_dir())

    def n(text: str) -> int:
        return len(tok(text, add_special_tokens=False)["input_ids"])

    (u,) = rows(llm).values()
    assert u.tokenizer_counted == len(PROMPTS) and u.server_counted == 0
    assert u.prompt_tokens == sum(n(p) for p in PROMPTS)
    assert u.completion_tokens == sum(n(c.text) for c in comps) > 0
    assert u.cost is None and u.unpriced_tokens == u.prompt_tokens + u.completion_tokens
    assert all(c.tokens_from == "tokenizer" for c in comps)


def test_cache_hits_are_hits_not_spend(tmp_path):
    with FakeOpenAIServer() as srv:
        cfg = ModelConfig(model="openai:m", base_url=srv.url)
        for _ in range(2):  # two processes' worth: the second finds every answer in the cache
            llm = open_llm("openai:m", cfg.backend_options(), cache_path=tmp_path / "calls.sqlite")
            led = Ledger(sink=FileSink(tmp_path / "usage.json"), stage="test")
            llm.ledger = led
            try:
                llm.generate(requests())
            finally:
                llm.close()
        served = srv.served
    data = json.loads((tmp_path / "usage.json").read_text())
    (row,) = data["rows"]
    u = row["usage"]
    assert served == len(PROMPTS)  # the second pass never reached the server
    assert u["requests"] == len(PROMPTS) and u["cache_hits"] == len(PROMPTS)  # added to, never reset
    assert u["saved_prompt_tokens"] == u["prompt_tokens"] and u["saved_completion_tokens"] == u["completion_tokens"]


def test_token_cap_on_a_streaming_backend_stops_before_crossing():
    with FakeOpenAIServer(latency=0.01) as srv:
        cap = 150
        llm = ModelConfig(model="openai:m", base_url=srv.url, cache=False, concurrency=4, max_total_tokens=cap).open()
        try:
            with pytest.raises(BudgetExceeded, match="budget reached") as e:
                llm.generate(requests(max_tokens=6))
        finally:
            llm.close()
    t = llm.ledger.total()
    assert 0 < t.requests < len(PROMPTS)
    assert t.total_tokens <= cap  # worst cases reserved for every request in flight: no overshoot
    assert "requests not sent" in str(e.value)
    assert llm.ledger.stops and llm.ledger.stops[0]["max_total_tokens"] == cap


@pytest.mark.parametrize(
    "value", ["abc", "1", "1,2,3", "-1,2", "1,nan", ""], ids=["text", "one", "three", "negative", "nan", "empty"]
)
def test_bad_prices(value):
    with pytest.raises(InputError, match="expected IN,OUT"):
        parse_price(value)
    with pytest.raises(InputError):
        ModelConfig(price=value)


def test_price_table_by_spec():
    cfg = ModelConfig(model="openai:a", prices={"openai:a": "1,2", "openai:b": [3, 4]})
    assert cfg.price_of().output == 2 and cfg.price_of("openai:b").input == 3 and cfg.price_of("embedded") is None
    with pytest.raises(InputError, match=r"prices\[x\]"):
        ModelConfig(prices={"x": "free"})


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        (["--price", "cheap"], "error: --price 'cheap': expected IN,OUT"),
        (["--budget", "5"], "error: --budget 5: no price for scripted:"),
        (["--budget", "-1", "--price", "1,1"], "out of range"),
        (["--budget", "lots", "--price", "1,1"], "expected"),
        (["--max-total-tokens", "0"], "out of range"),
        (["--max-total-tokens", "1.5"], "expected"),
    ],
)
def test_bad_prices_and_budgets_on_the_command_line(tmp_path, flags, needle):
    rules = tmp_path / "rules.jsonl"
    rules.write_text(json.dumps({"default": True, "response": "hi"}) + "\n")
    p = run_cli("ask", "--model", f"scripted:{rules}", *flags, "hello")
    assert p.returncode == 2, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], p.stderr


def test_generate_against_a_server_with_and_without_usage(tmp_path):
    from instructforge.models.backends.model_files import cache_root

    for no_usage in (False, True):
        cache = tmp_path / f"cache{int(no_usage)}"
        cache.mkdir()
        if (cache_root() / "models").exists():  # the converted embedded model (its tokenizer): shared, it is big
            (cache / "models").symlink_to(cache_root() / "models", target_is_directory=True)
        args = ("--plausible", "--no-usage") if no_usage else ("--plausible",)
        out = tmp_path / f"run{int(no_usage)}"
        with server_process(*args, quiet=True) as (_, url):
            run_cli(
                "--quiet",
                "generate",
                "--out",
                str(out),
                "--num-instructions",
                "4",
                "--model",
                "openai:sim",
                "--base-url",
                url,
                "--price",
                "0.5,1.5",
                env={"INSTRUCTFORGE_CACHE_DIR": str(cache)},
                check=True,
            )
        led = json.loads(run_cli("usage", str(out), "--json", check=True).stdout)
        t = led["total"]
        assert t["tokens_from"] == ("tokenizer" if no_usage else "server")
        assert t["prompt_tokens"] > 0 and t["completion_tokens"] > 0 and t["cost"] > 0
        assert set(led["models"]) == {"openai:sim"}
        assert {"generate:bootstrap", "generate:classify", "generate:instances"} <= set(led["stages"])


def test_an_experiment_sums_its_stages(tmp_path):
    from instructforge.api.usage import read_usage
    from instructforge.models.usage import Price

    for stage, n in (("si", 3), ("eval", 2)):
        led = Ledger(sink=FileSink(tmp_path / "exp" / stage / "usage.json"), stage="evaluate superni")
        for _ in range(n):
            led.answer(
                "evaluate superni",
                "embedded",
                ok=True,
                prompt_tokens=10,
                completion_tokens=5,
                from_server=False,
                price=Price(1, 1),
            )
        led.hit("evaluate superni", "embedded", 10, 5, Price(1, 1))
        led.flush(force=True)
    u = read_usage(tmp_path / "exp")
    assert set(u["stages"]) == {"si/evaluate superni", "eval/evaluate superni"}
    assert u["total"]["requests"] == 5 and u["total"]["cache_hits"] == 2
    assert u["total"]["prompt_tokens"] == 50 and u["total"]["cost"] == pytest.approx(75 / 1e6)
    assert u["models"]["embedded"]["requests"] == 5
    with pytest.raises(InputError, match="no usage ledger"):
        read_usage(tmp_path)


def test_a_run_killed_before_its_first_commit_has_an_empty_ledger(tmp_path):
    """run.sqlite exists but nothing was committed yet (a SIGKILL in the first second): `usage`
    says zero, not "no ledger" (the last fresh-clone CI run failed on that once); a dir with no
    run store and no usage.json is still an error."""
    from instructforge.data.store import RunStore

    with RunStore(tmp_path / "run", create=True):
        pass
    p = run_cli("usage", str(tmp_path / "run"), "--json")
    assert p.returncode == 0, p.stderr
    led = json.loads(p.stdout)
    assert led["total"]["requests"] == 0 and led["stages"] == {}
    (tmp_path / "empty").mkdir()
    p = run_cli("usage", str(tmp_path / "empty"), "--json")
    assert p.returncode == 2 and "no usage ledger here" in p.stderr


def test_the_experiment_refine_stage_gives_the_judge_the_stage_model_settings(tmp_path, monkeypatch):
    """api.train.refine_stage: the stage's model is the policy; its caps, price, currency and
    base_url go to the judge's client (they were dropped: only model.model was passed)."""
    from instructforge.api import train

    seen = {}

    def fake_refine(run_dir, *, out, model, config, resume, **judge_options):
        seen.update(model=model, resume=resume, **judge_options)
        return out

    monkeypatch.setattr(train, "refine", fake_refine)
    mc = ModelConfig(
        model="embedded",
        base_url="http://judge:8000/v1",
        price="0.5,1.5",
        currency="EUR",
        max_total_tokens=1234,
        budget=0.25,
        concurrency=3,
    )
    train.refine_stage(tmp_path / "out", mc, None, tmp_path / "run")
    assert seen["model"] == "embedded" and seen["resume"] is False
    assert (seen["base_url"], seen["price"], seen["currency"]) == ("http://judge:8000/v1", "0.5,1.5", "EUR")
    assert (seen["max_total_tokens"], seen["budget"], seen["concurrency"]) == (1234, 0.25, 3)
    # and they reach the judge's ModelConfig
    from instructforge.train.refine_config import RefineConfig

    judge = train.judge_config(
        RefineConfig(judge="openai:j"), {k: v for k, v in seen.items() if k not in ("model", "resume")}
    )
    assert (judge.model, judge.base_url, judge.max_total_tokens, judge.budget) == (
        "openai:j",
        "http://judge:8000/v1",
        1234,
        0.25,
    )


def test_ranks_ledger_files_are_summed_and_capped_together(tmp_path):
    """refine under several ranks: rank 0 writes usage.json, rank r usage.rank{r}.json; the dir's
    ledger is their sum (each rank's calls once), and a rank's cap counts the others' files."""
    from instructforge.api.usage import other_ranks, rank_sink, read_usage

    for rank, n in ((0, 3), (1, 2)):
        led = Ledger(sink=rank_sink(tmp_path, rank), stage="refine")
        for _ in range(n):
            led.answer(
                "refine", "scripted:j", ok=True, prompt_tokens=10, completion_tokens=1, from_server=False, price=None
            )
        led.flush(force=True)
    assert {p.name for p in tmp_path.iterdir()} == {"usage.json", "usage.rank1.json"}
    u = read_usage(tmp_path)
    assert u["total"]["requests"] == 5 and u["total"]["total_tokens"] == 55
    assert len(u["rows"]) == 1  # one (stage, model) row, summed over the ranks
    led = Ledger(sink=rank_sink(tmp_path, 1), stage="refine", max_total_tokens=60)
    for data in other_ranks(tmp_path, 1):
        led.count_elsewhere(data)
    assert led.own().total_tokens == 55 and not led.fits((4, 2), 0.0) and led.fits((4, 1), 0.0)
    led.answer("refine", "scripted:j", ok=True, prompt_tokens=4, completion_tokens=1, from_server=False, price=None)
    led.flush(force=True)
    # rank 1's file now holds its 2 earlier calls and this one, never rank 0's 3
    assert json.loads((tmp_path / "usage.rank1.json").read_text())["rows"][0]["usage"]["requests"] == 3
    assert read_usage(tmp_path)["total"]["requests"] == 6
