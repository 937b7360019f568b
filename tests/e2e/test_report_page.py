"""The readable report in headless Chromium (Debian's): `arrears run` over two month ends writes
out/report.html for the run and reports/dt=.../daily-report.html each day, both from the named
queries. Each page renders without a console error, every chart has data points, it switches
between Chinese and English, and it reads at 390 px without sideways scrolling; screenshots are left
in out/report-screens/."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.e2e
SHOTS = ROOT / "out" / "report-screens"
CHALLENGER = ROOT / "layers" / "arrears" / "arrears" / "strategies" / "examples" / "cn-call-early-challenger.yaml"


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report") / "out"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "arrears_local.cli",
            "run",
            "--borrowers",
            "200",
            "--days",
            "50",
            "--out",
            str(out),
            "--publish",
            str(CHALLENGER),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    SHOTS.mkdir(parents=True, exist_ok=True)
    return out


def _open(browser: Any, path: Path, width: int, locale: str) -> tuple[Any, list[str]]:
    context = browser.new_context(viewport={"width": width, "height": 900}, locale=locale)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: errors.append(f"fetched {r.url}") if not r.url.startswith("file:") else None)
    page.goto(path.as_uri())
    return page, errors


CHART_POINTS = """() => [...document.querySelectorAll('figure.chart')].map(f => [
    f.dataset.chart, f.querySelectorAll('.pt, .bar, .cell').length])"""


def test_the_runs_page_draws_every_chart_from_data_in_both_languages(out, browser):
    page, errors = _open(browser, out / "report.html", 1280, "en-US")
    charts = dict(page.evaluate(CHART_POINTS))
    assert {"buckets", "roll", "recovery", "channels", "arms", "compliance"} <= set(charts), charts
    assert all(n > 0 for n in charts.values()), charts
    assert page.locator("[data-violations]").get_attribute("data-violations") == "0"
    assert page.locator("h1 [lang=en]").is_visible() and not page.locator("h1 [lang=zh-CN]").is_visible()
    page.screenshot(path=str(SHOTS / "run-en-1280.png"), full_page=True)
    page.click("#lang")
    assert page.locator("h1 [lang=zh-CN]").is_visible() and not page.locator("h1 [lang=en]").is_visible()
    assert "回收曲线" in page.locator("#recovery h2").inner_text()
    page.screenshot(path=str(SHOTS / "run-zh-1280.png"), full_page=True)
    assert errors == []
    summary = json.loads((out / "summary.json").read_text())
    assert summary["report_page"] == {"written": True, "failed_sections": []}


def test_a_daily_page_reads_at_390_px(out, browser):
    days = sorted(p.name for p in (out / "reports").glob("dt=*") if (p / "daily-report.html").is_file())
    assert len(days) >= 49  # each day's report function wrote its page beside its JSON
    last = out / "reports" / days[-1]
    assert json.loads((last / "daily-report.json").read_text())["page"]["failed_sections"] == []
    page, errors = _open(browser, last / "daily-report.html", 390, "zh-CN")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than the phone
    charts = dict(page.evaluate(CHART_POINTS))
    assert charts and all(n > 0 for n in charts.values()), charts
    smallest = page.evaluate(
        "Math.min(...[...document.querySelectorAll('svg .lbl')].map(t => t.getBoundingClientRect().height)"
        ".filter(h => h > 0))"
    )
    assert smallest >= 9  # chart labels stay legible once the charts shrink to the screen
    assert page.locator("h1 [lang=zh-CN]").is_visible()  # the browser's language first
    page.screenshot(path=str(SHOTS / "daily-zh-390.png"), full_page=True)
    assert errors == []
