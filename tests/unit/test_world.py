"""The shipped worlds' assumptions hold as documented, draws are seeded and order-free, and a world is
loaded by name, module or file with one clear line when it cannot be."""

from __future__ import annotations

import textwrap
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from arrears_local.book import Book, synthetic_book
from arrears_local.world import CallResult, Complaint, Contact, OptOut, Payment, WorldError, load
from arrears_local.world_models import Borrowers, Fatigued


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Book:
    return Book.load(synthetic_book(tmp_path_factory.mktemp("book"), borrowers=600, seed=5))


def _world(book: Book, seed: int = 3, cls: type[Borrowers] = Borrowers) -> Borrowers:
    w = cls()
    w.start(book, seed)
    return w


def _contact(w: Borrowers, loan_id: str, channel: str, at: datetime, dpd: int, n: int = 0, language: str = "") -> Contact:
    loan = w.loans[loan_id]
    b = w.borrowers[loan.borrower_id]
    return Contact(
        borrower_id=loan.borrower_id,
        loan_id=loan_id,
        action_id=f"A-{loan_id}-{channel}-{at.isoformat()}-{n}",
        channel=channel,
        template="t",
        local_time=at.astimezone(ZoneInfo(loan.tz)),
        language=language or b.reads,
        dpd=dpd,
        amount_overdue=Decimal("100.00"),
        currency="CNY",
    )


def _at_best_hour(w: Borrowers, loan_id: str, day: date) -> datetime:
    b = w.borrowers[w.loans[loan_id].borrower_id]
    return datetime(day.year, day.month, day.day, b.best_hour, 0, tzinfo=ZoneInfo(b.tz))


def _paid_share(book: Book, channel: str, dpd: int, seed: int = 3, cls: type[Borrowers] = Borrowers, **kw: str) -> float:
    """Of the book's overdue-minded loans, the share that pays after one contact ``dpd`` days late."""
    w = _world(book, seed, cls)
    paid = tried = 0
    for loan_id, loan in w.loans.items():
        if w.borrowers[loan.borrower_id].habit == "on_time":
            continue
        due = loan.schedule[0][0]
        reactions = w.on_contact(_contact(w, loan_id, channel, _at_best_hour(w, loan_id, due + timedelta(days=dpd)), dpd, **kw))
        tried += 1
        paid += any(isinstance(r, Payment) for r in reactions)
    return paid / tried


def test_same_seed_same_world_and_draws_do_not_depend_on_order(book: Book) -> None:
    a, b = _world(book), _world(book)
    ids = sorted(a.loans)[:40]
    day = a.loans[ids[0]].schedule[0][0] + timedelta(days=5)
    forward = {i: a.on_contact(_contact(a, i, "sms", _at_best_hour(a, i, day), 5)) for i in ids}
    backward = {i: b.on_contact(_contact(b, i, "sms", _at_best_hour(b, i, day), 5)) for i in reversed(ids)}
    assert forward == backward
    other = _world(book, seed=4)
    assert [other.borrowers[k].habit for k in sorted(other.borrowers)] != [a.borrowers[k].habit for k in sorted(a.borrowers)]


def test_a_reminder_lifts_payment_far_more_early_than_late(book: Book) -> None:
    early, late = _paid_share(book, "sms", 3), _paid_share(book, "sms", 60)
    assert early > 2 * late > 0
    assert _paid_share(book, "voice", 3) != early  # channels differ


def test_the_wrong_language_lowers_the_response(book: Book) -> None:
    assert _paid_share(book, "sms", 3, language="xx-XX") < 0.6 * _paid_share(book, "sms", 3)


def test_over_contact_brings_fatigue_complaints_and_opt_outs(book: Book) -> None:
    w = _world(book)
    complaints = opt_outs = first_paid = late_paid = 0
    for loan_id in sorted(w.loans)[:300]:
        due = w.loans[loan_id].schedule[0][0]
        start = _at_best_hour(w, loan_id, due + timedelta(days=2))
        for n in range(10):  # ten texts in five days
            reactions = w.on_contact(_contact(w, loan_id, "sms", start + timedelta(hours=12 * n), 2, n))
            complaints += sum(isinstance(r, Complaint) for r in reactions)
            opt_outs += sum(isinstance(r, OptOut) for r in reactions)
            if any(isinstance(r, Payment) for r in reactions):
                first_paid += n == 0
                late_paid += n >= 6
                break
    assert complaints > 0 and opt_outs > 0
    fresh = _world(book)
    calm = sum(
        isinstance(r, Complaint | OptOut)
        for i in sorted(fresh.loans)[:300]
        for r in fresh.on_contact(_contact(fresh, i, "sms", _at_best_hour(fresh, i, fresh.loans[i].schedule[0][0]), 2))
    )
    assert calm == 0  # one contact a week annoys nobody


def test_unprompted_payments_follow_habits_and_never_exceed_what_is_owed(book: Book) -> None:
    w = _world(book)
    first = min(d for loan in w.loans.values() for d, _ in loan.schedule) - timedelta(days=5)
    paid: dict[str, Decimal] = {}
    on_time_days: list[int] = []
    for n in range(200):
        day = first + timedelta(days=n)
        for r in w.on_day(day):
            assert isinstance(r, Payment) and r.paid_at.tzinfo is not None and r.amount > 0
            assert r.paid_at.astimezone(ZoneInfo(w.loans[r.loan_id].tz)).date() == day
            paid[r.loan_id] = paid.get(r.loan_id, Decimal(0)) + r.amount
            loan = w.loans[r.loan_id]
            if w.borrowers[loan.borrower_id].habit == "on_time" and paid[r.loan_id] == loan.schedule[0][1]:
                on_time_days.append((day - loan.schedule[0][0]).days)
    for loan_id, total in paid.items():
        assert total <= sum(a for _, a in w.loans[loan_id].schedule)
    unable = {i for i, loan in w.loans.items() if w.borrowers[loan.borrower_id].habit == "unable"}
    assert unable and not unable & set(paid)
    assert on_time_days and sum(d <= 0 for d in on_time_days) / len(on_time_days) > 0.9


def test_calls_answer_with_a_dialers_result_and_promises_are_kept_less_in_fatigued(book: Book) -> None:
    results = []
    kept = {}
    for cls in (Borrowers, Fatigued):
        w = _world(book, cls=cls)
        promised = paid = 0
        for loan_id in sorted(w.loans):
            due = w.loans[loan_id].schedule[0][0]
            reactions = w.on_contact(_contact(w, loan_id, "voice", _at_best_hour(w, loan_id, due + timedelta(days=1)), 1))
            calls = [r for r in reactions if isinstance(r, CallResult)]
            assert len(calls) == 1
            results.append(calls[0].result)
            if calls[0].result == "promise":
                promised += 1
                paid += any(isinstance(r, Payment) for r in reactions)
        kept[cls.__name__] = paid / promised
    assert {"no_answer", "conversation", "promise"} <= set(results)
    assert kept["Fatigued"] < kept["Borrowers"]


def test_fatigued_prefers_channels_by_age(book: Book) -> None:
    w = _world(book, cls=Fatigued)
    young = next(b for b in w.borrowers.values() if b.age_band == "young")
    older = next(b for b in w.borrowers.values() if b.age_band == "older")
    assert w.channel_weight(young, "wechat") > w.channel_weight(young, "voice")
    assert w.channel_weight(older, "voice") > w.channel_weight(older, "wechat")


# ------------------------------------------------------------------------------------ loading


def test_worlds_load_by_name_module_or_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert load("scripted") is None
    assert isinstance(load("default"), Borrowers) and isinstance(load("fatigued"), Fatigued)
    (tmp_path / "my_models.py").write_text(
        textwrap.dedent(
            """
            class Quiet:
                def start(self, book, seed): pass
                def on_day(self, day): return []
                def on_contact(self, contact): return []
            instance = Quiet()
            class Broken:
                def start(self, book, seed): pass
            """
        )
    )
    monkeypatch.chdir(tmp_path)
    assert type(load("my_models:Quiet")).__name__ == "Quiet"
    assert type(load(f"{tmp_path / 'my_models.py'}:instance")).__name__ == "Quiet"
    for spec, says in (
        ("nowhere", "not default, fatigued, scripted"),
        ("my_models:Missing", "has no Missing"),
        ("my_models:Broken", "lacks on_day, on_contact"),
        ("no_such_module:X", "cannot load no_such_module: ModuleNotFoundError"),
        ("gone.py:X", "no file gone.py"),
    ):
        with pytest.raises(WorldError, match=says) as e:
            load(spec)
        assert "\n" not in str(e.value)


def test_payment_times_are_aware_and_in_the_future_of_the_contact(book: Book) -> None:
    w = _world(book)
    now = datetime(2026, 4, 1, 3, tzinfo=UTC)
    for loan_id in sorted(w.loans)[:200]:
        for r in w.on_contact(_contact(w, loan_id, "wechat", now, 4)):
            if isinstance(r, Payment):
                assert r.paid_at > now and r.paid_at.tzinfo is not None
