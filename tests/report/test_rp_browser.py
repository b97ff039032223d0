"""The report in a real headless Chromium: a real (scripted-model) generate run, the fixture run
with hostile text, and SuperNI / compare evaluation pages load with no console error, every chart drawn by
plotly, no network request, and a working table filter. Keeps a screenshot as a test artefact."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rp_helpers import (
    EVIL,
    build_run,
    compare_results,
    run_cli,
    superni_results,
    write_rules,
)

from instructforge.reports import build_report

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Our own scripted model answers for a small Self-Instruct run (instructions written for this test).
LISTS = [
    "Describe the water cycle to a ten-year-old.\n10. Classify the animal as a mammal, bird or fish.\n"
    "11. Write a short thank-you note to a neighbour who helped you move.\n"
    "12. Convert the temperature from Celsius to Fahrenheit.\n13. Draw a map of your town.",
    "Suggest three names for a new coffee shop.\n10. Decide whether the review is positive or negative.\n"
    "11. Summarize the news article in two sentences.\n12. Hi there.\n13. Write a program that sorts a list.",
    "Explain the difference between weather and climate.\n10. Find the capital of the given country.\n"
    "11. Rewrite the email so it sounds more polite.\n12. Plan a three-day trip to the mountains on a small budget.",
    "Tell me whether the sentence is grammatically correct.\n10. Create a shopping list for a vegetarian dinner.\n"
    "11. Describe the water cycle to a ten-year-old.\n12. Give two arguments for and against school uniforms.",
]
RULES = [
    {
        "regex": r"Task: [^\n]*(whether|positive or negative|Classify)[^\n]*\nIs it classification\?$",
        "response": " Yes",
    },
    {"regex": r"\nIs it classification\?$", "response": " No"},
    {
        "contains": "Each task below is a classification task",
        "response": "Class label: Yes\nInput: The cat sat on the mat.\nClass label: No\nInput: Cat the on sat mat.",
    },
    {
        "contains": "Write examples for each of the tasks below",
        "response": [
            "Example 1\nInput: a sunny day at the beach\nOutput: The sand was warm and the waves were calm.\n"
            "Example 2\nInput: a rainy evening\nOutput: We stayed inside and played cards.",
            "Example 1\nInput: 25 degrees Celsius\nOutput: 77 degrees Fahrenheit",
        ],
    },
    {"contains": "Continue the list", "response": LISTS},
    {"default": True, "response": "No."},
]


class Tab:
    """One page reused for every report (one document alive at a time: gentler on a busy
    machine), with the console errors and outgoing requests of the current document."""

    def __init__(self, browser):
        self.page = browser.new_page(viewport={"width": 1400, "height": 1000})
        # measured: 3 s per page normally, 146 s at load average 40 on the shared 2-core machine
        self.page.set_default_timeout(300_000)
        self.errors: list[str] = []
        self.outside: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on(
            "request", lambda r: None if r.url.startswith(("file:", "data:", "blob:")) else self.outside.append(r.url)
        )

    def open(self, path: Path):
        self.errors.clear()
        self.outside.clear()
        self.page.goto(path.as_uri(), wait_until="load")
        return self.page


def _check_charts(page, n: int) -> None:
    # Plotly.newPlot returns a promise: wait until every placeholder has its SVG before counting
    page.wait_for_function(
        "Array.from(document.querySelectorAll('div.chart')).every(d => d.querySelector('.main-svg') !== null)"
    )
    assert page.locator("div.chart").count() == n
    assert page.locator("div.chart.js-plotly-plot").count() == n  # plotly drew every placeholder
    for i in range(n):
        assert page.locator("div.chart").nth(i).locator(".main-svg").count() >= 1


@pytest.mark.browser
def test_report_in_chromium(tmp_path, shared_data):
    if not CHROMIUM.is_file():
        pytest.skip("/usr/bin/chromium missing (install it with scripts/install_browser.sh)")
    from playwright.sync_api import sync_playwright

    # a real generate run with the scripted backend, 175 real seeds, private call cache
    rules = write_rules(tmp_path / "rules.jsonl", RULES)
    (tmp_path / "cfg.json").write_text(json.dumps({"pool_lag": 2, "batch_size": 2}))
    env = {"INSTRUCTFORGE_CACHE_DIR": str(tmp_path / "cache")}
    run_cli(
        "--quiet",
        "generate",
        "--seeds",
        str(shared_data / "self-instruct" / "seed_tasks.jsonl"),
        "--out",
        str(tmp_path / "run"),
        "--num-instructions",
        "12",
        "--model",
        f"scripted:{rules}",
        "--config",
        str(tmp_path / "cfg.json"),
        env=env,
        check=True,
    )
    build_report(tmp_path / "run", tmp_path / "run.html")
    real = json.loads((tmp_path / "run.json").read_text())
    assert real["status"]["finished"] and real["funnel"]["accepted_instructions"] == 12
    # the fixture run (alpaca-libre candidates, with a </script> instruction) and the eval kinds
    build_run(tmp_path / "fixture", shared_data)
    build_report(tmp_path / "fixture", tmp_path / "fixture.html")
    # the eval pages use the same bar/pie code paths; superni and compare cover them in the browser
    for name, make in (("superni", superni_results), ("compare", compare_results)):
        (tmp_path / name).mkdir()
        (tmp_path / name / ("compare_vs_a.json" if name == "compare" else "results.json")).write_text(
            json.dumps(make())
        )
        build_report(tmp_path / name, tmp_path / f"{name}.html")

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            tab = Tab(browser)
            page = tab.open(tmp_path / "run.html")
            _check_charts(page, real["charts"])
            # 8 charts of the run + the usage section's spend over time (generate keeps its ledger)
            assert real["usage"]["available"] and real["charts"] == 9
            assert page.locator("g.sunburstlayer path").count() > 12
            assert page.locator("#records-body tr").count() == real["table"]["shown"]
            page.fill("#records-search", "water cycle")  # one accepted, one rejected as a duplicate
            assert page.locator("#records-body tr").count() == 2
            page.fill("#records-search", "")
            page.select_option("#records-reason", "write_a_program")
            rows = page.locator("#records-body tr")
            assert rows.count() == 1 and "Write a program" in rows.first.inner_text()
            page.select_option("#records-reason", "")
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
            assert tab.errors == [] and tab.outside == [], (tab.errors, tab.outside)

            page = tab.open(tmp_path / "fixture.html")
            _check_charts(page, 8)
            assert page.evaluate("window.__pwned === undefined")  # the </script> text did not run
            page.fill("#records-search", "window.__pwned")
            assert page.locator("#records-body tr").count() == 1
            assert page.locator("#records-body tr").first.inner_text().count(EVIL) == 1
            assert tab.errors == [] and tab.outside == [], (tab.errors, tab.outside)

            for name in ("superni", "compare"):
                page = tab.open(tmp_path / f"{name}.html")
                _check_charts(page, 2)
                assert tab.errors == [] and tab.outside == [], (name, tab.errors, tab.outside)
            page.screenshot(path=str(ARTIFACTS / "report-compare.png"), full_page=True)
        finally:
            browser.close()
