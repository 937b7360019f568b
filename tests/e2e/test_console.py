"""E2E: the operations console in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright),
served by the local stack's API front from the real API function, on a stack deployed from
template.yaml that has run a small book for a few simulated days.

A supervisor signs in, reads the dashboard, edits a strategy's draft, publishes and activates it and
rolls it back; an agent on a 390 px wide screen opens a case, adds a note, records a promise and
places a dispute hold, each checked in DynamoDB. Every step leaves a screenshot in
out/console-screens/ (not committed); no page may log a console error, every control must have an
accessible name, and the page may not scroll sideways at 390 px."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "out" / "console-screens"
START = date(2026, 3, 1)

#: every control without an accessible name (label, aria-label, text), as the browser sees them
UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea, button, a[href]')]
  .filter(el => !el.hidden && el.offsetParent !== null)
  .filter(el => !((el.labels && el.labels.length) || el.getAttribute('aria-label') || el.textContent.trim()))
  .map(el => el.outerHTML.slice(0, 120))"""


@pytest.fixture(scope="module")
def console(tmp_path_factory) -> Iterator[tuple[str, Any]]:
    from arrears_local.book import Book, synthetic_book
    from arrears_local.sim import start_stack

    base = tmp_path_factory.mktemp("console")
    book = Book.load(synthetic_book(base / "book", borrowers=40, seed=3))
    first_due = min(date.fromisoformat(r["due_date"]) for r in book.rows("installments"))
    start = first_due + timedelta(days=20)
    from arrears_local.sim import midnight

    sim = start_stack(base / "out", {"ShardCount": "2"}, serve=False, start_clock=midnight(start, "UTC"))
    sim.import_book(book)
    sim.run_days(book, start, 4, lambda r: None)
    url = sim.start_api(0)
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield url, sim
    sim.stop()


def page_for(browser, url: str, width: int = 1280) -> tuple[Any, list[str]]:
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="en-US")
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{url}/console")
    return page, errors


def sign_in(page, user: str, role: str) -> None:
    page.get_by_label("User name").fill(user)
    page.get_by_label("Role").select_option(role)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text(f"{user} ({role})").wait_for()


def strategy_store_active() -> int:
    from arrears.adapters import strategy_store

    return strategy_store.active_version("cn-default")


def shot(page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def click_and_write(page, name: str, path: str) -> None:
    """Click a button and wait until the write it sends has been answered 202."""
    with page.expect_response(lambda r: path in r.url and r.request.method != "GET") as answer:
        page.get_by_role("button", name=name).click()
    assert answer.value.status == 202, answer.value.text()


def test_a_supervisor_reads_the_dashboard_and_steers_a_strategy(console, browser):
    url, sim = console
    page, errors = page_for(browser, url)
    assert page.url.endswith("/console/index.html")
    page.keyboard.press("Tab")  # the skip link, then the language switch ...
    page.get_by_label("User name").wait_for()
    shot(page, "01-login")
    sign_in(page, "sue", "supervisor")
    page.get_by_role("heading", name="Today's book by bucket").wait_for()
    assert page.locator("table").first.locator("tbody tr").count() >= 1  # the buckets of the last report
    assert page.get_by_role("cell", name="sms-dlq").count() == 1
    shot(page, "02-dashboard")
    assert page.evaluate(UNLABELLED) == []

    page.get_by_role("link", name="Strategies").click()
    page.get_by_role("link", name="Open cn-default").click()
    page.get_by_label("Draft (JSON)").wait_for()
    doc = json.loads(page.get_by_label("Draft (JSON)").input_value())
    doc["name"] = "China consumer loans (zh-CN), console edit"
    page.get_by_label("Draft (JSON)").fill(json.dumps(doc, indent=2))
    click_and_write(page, "Save draft", "/draft")
    page.get_by_role("button", name="Publish draft").wait_for()
    with page.expect_response(lambda r: "/dry-runs" in r.url and r.request.method == "POST") as started:
        page.get_by_role("button", name=f"Dry run {strategy_store_active()}").click()
    assert started.value.status == 202
    sim.runner.pump()  # the shard workers count the book
    page.locator("#diff caption", has_text="no action").wait_for(timeout=15_000)
    shot(page, "03a-strategy-dry-run")
    page.get_by_role("button", name="Diff with active").click()
    page.locator("#diff").get_by_text("console edit").first.wait_for()
    shot(page, "03-strategy-draft-diff")
    click_and_write(page, "Publish draft", "/versions")
    from arrears.adapters import strategy_store

    before = strategy_store.active_version("cn-default")
    newest = max(strategy_store.versions("cn-default"))
    click_and_write(page, f"Activate {newest}", "/active")
    page.get_by_role("button", name="Roll back").wait_for()
    assert strategy_store.active_version("cn-default") == newest != before
    shot(page, "04-strategy-activated")
    click_and_write(page, "Roll back", "/rollback")
    assert strategy_store.active_version("cn-default") == before

    page.get_by_label("Language").select_option("zh-CN")
    page.get_by_role("link", name="总览").click()
    page.get_by_role("heading", name="今日各账龄段贷款").wait_for()
    shot(page, "05-dashboard-zh")
    assert errors == []


def test_an_agent_works_a_case_on_a_phone_sized_screen(console, browser):
    url, sim = console
    from tests.integration.test_pipeline_on_moto import ddb_items

    loans = [i for i in ddb_items(sim, "LoansTable") if i.get("case_id")]
    loan = sorted(loans, key=lambda i: i["loan_id"]["S"])[0]
    loan_id = loan["loan_id"]["S"]
    page, errors = page_for(browser, url, width=390)
    sign_in(page, "ann", "agent")
    assert (
        page.get_by_role("link", name="Audit").is_hidden() and page.get_by_role("link", name="Strategies").is_hidden()
    )
    page.get_by_role("link", name="Cases").click()
    page.get_by_role("heading", name="Today's work queue").wait_for()
    page.get_by_label("Loan id").fill(loan_id)
    page.keyboard.press("Enter")
    page.get_by_role("heading", name=f"Case: {loan_id}").wait_for()
    shot(page, "06-case")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    assert page.evaluate(UNLABELLED) == []

    page.get_by_label("Note").fill("Borrower asked for a call back on Friday")
    click_and_write(page, "Add note", "/notes")
    page.locator("#timeline").get_by_text("Borrower asked for a call back on Friday").wait_for()

    today = (sim.runner.clock.now + timedelta(hours=8)).date()
    page.get_by_label("Pay by", exact=True).fill((today + timedelta(days=3)).isoformat())
    page.get_by_label("Amount").fill("10")
    click_and_write(page, "Record promise", "/promises")
    page.get_by_label("Hold").select_option("dispute")
    page.get_by_label("Reason").fill("disputes the late fee")
    click_and_write(page, "Place hold", "/holds")
    sim.runner.pump()  # the ledger stream applies the promise and the hold
    page.reload()
    page.get_by_role("button", name="Lift dispute").wait_for()
    shot(page, "07-case-worked")
    state = next(i for i in ddb_items(sim, "LoansTable") if i["loan_id"]["S"] == loan_id)
    assert state["holds"]["SS"] == ["dispute"] and state["promise_amount"]["N"] == "10.00"
    notes = [i for i in ddb_items(sim, "CollectionsTable") if i["sk"]["S"].startswith("NOTE#")]
    assert [(n["loan_id"]["S"], n["by"]["S"]) for n in notes] == [(loan_id, "ann")]
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    assert errors == []


def test_an_expired_session_goes_back_to_sign_in_and_the_console_sends_its_security_headers(console, browser):
    url, _ = console
    import urllib.request

    with urllib.request.urlopen(f"{url}/console/index.html", timeout=30) as r:
        csp = r.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    page, errors = page_for(browser, url)
    page.get_by_label("User name").wait_for()  # the page has started (and found no token)
    page.evaluate("() => sessionStorage.setItem('arrears.token', 'not-a-token')")
    page.reload()
    page.get_by_label("User name").wait_for()
    assert "sign in again" in page.locator("#status").text_content()


def test_a_supervisor_runs_a_campaign_watches_it_move_and_pauses_it(console, browser):
    url, sim = console
    from arrears.adapters import campaign_store

    sim.runner.clock.now = sim.runner.clock.now.replace(hour=2, minute=0) + timedelta(days=1)  # 10:00 in Shanghai
    page, errors = page_for(browser, url)
    sign_in(page, "sue", "supervisor")
    page.get_by_role("link", name="Campaigns").click()
    page.get_by_label("Id").fill("console-drive")
    page.get_by_label("Name").fill("Console drive")
    page.get_by_label("Buckets (comma-separated)").fill("M1,M2,M3")
    page.get_by_label("Daily cap").fill("5")
    page.get_by_role("button", name="Dry run").click()
    page.locator("#dry-run").get_by_text("Matched").wait_for()
    shot(page, "08-campaign-dry-run")
    assert page.evaluate(UNLABELLED) == []
    click_and_write(page, "Create", "/campaigns")
    page.get_by_role("heading", name="Campaigns: Console drive").wait_for()
    click_and_write(page, "Start", "/start")
    sim.runner.pump()  # the start's job: today's work dispatched and sent
    planned = lambda: campaign_store.get("console-drive")[1]["planned"]["N"]  # noqa: E731
    first = int(planned())
    assert first >= 1
    page.reload()
    page.locator("#progress").get_by_role("cell", name="planned").wait_for()
    assert page.locator("#progress tr", has_text="planned").locator("td").nth(1).text_content() == str(first)
    shot(page, "09-campaign-running")

    # the local stack moves on a day: the daily run works the campaign again and the page shows it
    next_run = sim.runner.clock.now + timedelta(days=1)
    sim.runner.clock.now = next_run
    sim.runner.schedule("DailyRunFunction").fire(next_run)
    sim.runner.pump()
    moved = int(planned())
    assert moved > first
    page.locator("#progress tr", has_text="planned").locator("td").nth(1).get_by_text(str(moved)).wait_for(
        timeout=15_000
    )

    click_and_write(page, "Pause", "/pause")
    page.get_by_role("button", name="Resume").wait_for()
    sent = campaign_store.get("console-drive")[1]["sent"]["N"]
    later = sim.runner.clock.now + timedelta(days=1)
    sim.runner.clock.now = later
    sim.runner.schedule("DailyRunFunction").fire(later)
    sim.runner.pump()
    assert campaign_store.get("console-drive")[1]["sent"]["N"] == sent and int(planned()) == moved
    shot(page, "10-campaign-paused")
    assert errors == []


def test_an_agent_offers_a_plan_the_borrower_accepts_it_on_the_link_and_dunning_pauses(console, browser):
    """The agent offers a plan from the case; the link reaches the borrower by SMS through the guard;
    the borrower opens it in a browser of their own, proves who they are, accepts; the case's stage is
    then plan and dunning is paused by the arrangement's hold."""
    url, sim = console
    from moto.sns.models import sns_backends

    from tests.integration.test_hostile_imports import _facts
    from tests.integration.test_pipeline_on_moto import ddb_items

    contacts = {c["borrower_id"]["S"]: c for c in ddb_items(sim, "ContactsTable")}
    borrowers = {b["borrower_id"]["S"]: b for b in ddb_items(sim, "BorrowersTable")}

    def offerable(i: dict) -> bool:
        b = i["borrower_id"]["S"]
        return bool(
            i.get("case_id")
            and not i.get("holds")
            and i["tz"]["S"] == "Asia/Shanghai"
            and contacts.get(b, {}).get("id_number")
            and not borrowers[b].get("opt_out")
            and not borrowers[b].get("holds")
        )

    for _ in range(10):  # days pass until a loan fits (the other tests may have held the first ones)
        fits = sorted((i for i in ddb_items(sim, "LoansTable") if offerable(i)), key=lambda i: i["loan_id"]["S"])
        if fits:
            break
        sim.runner.clock.now += timedelta(days=1)
        with sim.runner.lock:
            sim.runner.schedule("DailyRunFunction").fire(sim.runner.clock.now)
            sim.runner.pump()
    loan = fits[-1]
    loan_id, id_number = loan["loan_id"]["S"], contacts[loan["borrower_id"]["S"]]["id_number"]["S"]
    sim.runner.clock.now = sim.runner.clock.now.replace(hour=2, minute=0) + timedelta(days=1)  # 10:00 in Shanghai

    lead, lead_errors = page_for(browser, url)  # a supervisor gives the case to ann's queue
    sign_in(lead, "sue", "supervisor")
    lead.goto(f"{url}/console/index.html#/case/{loan_id}")
    lead.get_by_label("Assign to user").fill("ann")
    click_and_write(lead, "Assign", "/assignment")
    assert lead_errors == []

    page, errors = page_for(browser, url)
    sign_in(page, "ann", "agent")
    page.get_by_role("link", name="Cases").click()
    page.locator("#mine").get_by_role("link", name=loan_id).click()
    page.get_by_role("heading", name=f"Case: {loan_id}").wait_for()
    today = (sim.runner.clock.now + timedelta(hours=8)).date()  # the borrower's (Shanghai) date
    page.get_by_label("Pay by", exact=True).fill((today + timedelta(days=2)).isoformat())
    page.get_by_label("Amount").fill("50")
    click_and_write(page, "Record promise", "/promises")  # the borrower promised some; then asks for a plan
    page.get_by_label("Kind").select_option("plan")
    page.get_by_label("Installments", exact=True).fill("3")
    page.get_by_label("Days between installments").fill("14")
    click_and_write(page, "Send offer", "/offers")
    page.locator("#offers").get_by_text("plan offered").wait_for()
    assert page.evaluate(UNLABELLED) == []
    shot(page, "11-offer-sent")

    def texts() -> list[str]:
        return [m[1] for b in sns_backends.values() for r in b.values() for m in r.sms_messages.values()]

    links: list[str] = []
    for _ in range(3):  # the guard may defer it (the day's SMS cap): then it goes the next morning
        with sim.runner.lock:
            sim.runner.pump()
        links = [m for t in texts() for m in re.findall(r"https?://\S+/pay/\S+", t)]
        if links:
            break
        sim.runner.clock.now += timedelta(days=1)
    acts = [i for i in ddb_items(sim, "CollectionsTable") if i["sk"]["S"].startswith("ACT#offer-")]
    ids = {a["action_id"]["S"] for a in acts}
    why = [f["reason"] for k in ("action_deferred", "action_blocked") for f in _facts(sim, k) if f["action_id"] in ids]
    assert links, f"the offer's link was not sent: {why}"  # an open promise does not hold an offer back
    link = links[-1]
    assert link.startswith(url)  # served by the same front

    context = browser.new_context(viewport={"width": 390, "height": 800})  # the borrower's own phone
    borrower = context.new_page()
    borrower_errors: list[str] = []
    borrower.on("console", lambda m: borrower_errors.append(m.text) if m.type == "error" else None)
    borrower.on("pageerror", lambda e: borrower_errors.append(str(e)))
    borrower.goto(link)
    borrower.locator("#answer").wait_for()
    assert loan_id not in borrower.content() and "CNY" not in borrower.locator("main").inner_text()
    assert borrower.evaluate(UNLABELLED) == []
    shot(borrower, "12-borrower-asked")
    borrower.locator("#answer").fill(id_number[-4:])
    borrower.locator("#identity button").click()
    borrower.locator("#schedule tbody tr").nth(2).wait_for()
    shot(borrower, "13-borrower-offer")
    with borrower.expect_response(lambda r: r.url.endswith("/accept")) as answer:
        borrower.locator("#accept").click()
    assert answer.value.status == 200
    borrower.locator("#done").wait_for()
    shot(borrower, "14-borrower-accepted")
    assert borrower.evaluate("() => document.documentElement.scrollWidth") <= 390
    assert borrower_errors == []
    context.close()

    with sim.runner.lock:
        sim.runner.pump()  # the ledger stream applies the arrangement: the hold pauses dunning
    page.reload()
    page.locator("#holds").get_by_text("paused (arrangement)").wait_for()
    shot(page, "15-case-on-plan")
    state = next(i for i in ddb_items(sim, "LoansTable") if i["loan_id"]["S"] == loan_id)
    assert state["stage"]["S"] == "plan" and "paused" in state["holds"]["SS"]
    assert errors == []
