"""The compliance guard: golden tests at every rule's boundary, and a property test of the invariant
"no contact outside allowed hours, no cap exceeded, no contact to an opted-out channel or held loan"
with concurrent senders and redeliveries."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arrears.domain.compliance import (
    ContactEvent,
    ContactRequest,
    Holds,
    Ledger,
    Rules,
    allowed_at,
    check,
    record_outcome,
    reserve,
    rules_for,
)
from arrears.domain.timeutil import zone

CN, US = rules_for("CN"), rules_for("US")
SH, NY, LA, UR = "Asia/Shanghai", "America/New_York", "America/Los_Angeles", "Asia/Urumqi"
NUM = "n1"  # the dialled number (the ledger keeps a hash of it)


def local(text: str, tz: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=zone(tz))


def req(
    at: datetime,
    channel: str = "sms",
    tz: tuple[str, ...] = (SH,),
    loan: str = "L1",
    action: str = "a",
    number: str | None = NUM,
    to_borrower: bool = True,
) -> ContactRequest:
    return ContactRequest("B1", loan, action, channel, at, tz, number, to_borrower)


def sent(
    at: datetime, channel: str = "sms", loan: str = "L1", outcome: str = "sent", number: str | None = None, n: int = 0
) -> ContactEvent:
    return ContactEvent(at, channel, loan, f"past{n}-{at.isoformat()}", outcome, number)


# --- contact hours -------------------------------------------------------------------------------


def test_china_2159_allowed_2200_blocked_until_0800():
    assert check(req(local("2026-03-10T21:59:59", SH)), CN, Holds(), []).allowed
    v = check(req(local("2026-03-10T22:00:00", SH)), CN, Holds(), [])
    assert (v.allowed, v.rule) == (False, "contact_hours")
    assert v.retry_at == local("2026-03-11T08:00:00", SH)
    v = check(req(local("2026-03-10T07:59:00", SH)), CN, Holds(), [])
    assert v.retry_at == local("2026-03-10T08:00:00", SH)


def test_us_2059_allowed_2100_blocked():
    assert check(req(local("2026-06-10T20:59:00", NY), tz=(NY,)), US, Holds(), []).allowed
    assert not check(req(local("2026-06-10T21:00:00", NY), tz=(NY,)), US, Holds(), []).allowed


@pytest.mark.parametrize(
    "utc,ok",
    [
        ("2026-03-07T12:59:00+00:00", False),  # 07:59 EST, the day before DST starts
        ("2026-03-07T13:00:00+00:00", True),  # 08:00 EST
        ("2026-03-08T11:59:00+00:00", False),  # 07:59 EDT on the day DST starts
        ("2026-03-08T12:00:00+00:00", True),  # 08:00 EDT
        ("2026-03-09T00:59:00+00:00", True),  # 20:59 EDT
        ("2026-03-09T01:00:00+00:00", False),  # 21:00 EDT
        ("2026-11-01T12:59:00+00:00", False),  # 07:59 EST, the day DST ends
        ("2026-11-01T13:00:00+00:00", True),  # 08:00 EST
    ],
)
def test_us_hours_across_dst_changes(utc, ok):
    assert allowed_at(datetime.fromisoformat(utc), (NY,), US) is ok


def test_ambiguous_zone_is_allowed_only_when_allowed_everywhere():
    at = local("2026-06-10T09:00:00", NY)  # 06:00 in Los Angeles
    v = check(req(at, tz=(NY, LA)), US, Holds(), [])
    assert v.rule == "contact_hours" and v.retry_at == local("2026-06-10T11:00:00", NY)
    assert check(req(local("2026-06-10T11:00:00", NY), tz=(NY, LA)), US, Holds(), []).allowed


# --- holds -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "holds,rule",
    [
        (Holds(opt_outs=frozenset({"sms"})), "opt_out"),
        (Holds(cease_contact=True), "cease_contact"),
        (Holds(attorney=True), "attorney"),
        (Holds(dispute=True), "dispute"),
        (Holds(hardship=True), "hardship"),
        (Holds(paused=True), "paused"),
        (Holds(deceased=True), "deceased"),
        (Holds(bankrupt=True), "bankrupt"),
    ],
)
def test_each_hold_blocks_with_its_rule_and_no_automatic_retry(holds, rule):
    v = check(req(local("2026-03-10T10:00:00", SH)), CN, holds, [])
    assert (v.allowed, v.rule, v.retry_at) == (False, rule, None)


def test_opt_out_blocks_only_its_channel():
    holds = Holds(opt_outs=frozenset({"sms"}))
    assert check(req(local("2026-03-10T10:00:00", SH), channel="email"), CN, holds, []).allowed


def test_third_parties_never_get_debt_information():
    v = check(req(local("2026-03-10T10:00:00", SH), to_borrower=False), CN, Holds(), [])
    assert v.rule == "borrower_only"


def test_open_promise_blocks_through_the_promise_date():
    holds = Holds(promise_until=date(2026, 3, 12))
    v = check(req(local("2026-03-12T20:00:00", SH)), CN, holds, [])
    assert v.rule == "open_promise" and v.retry_at == local("2026-03-13T08:00:00", SH)
    assert check(req(local("2026-03-13T08:00:00", SH)), CN, holds, []).allowed


# --- caps ------------------------------------------------------------------------------------------


def test_china_sms_daily_cap_and_next_morning():
    day = [sent(local("2026-03-10T09:00:00", SH)), sent(local("2026-03-10T12:00:00", SH), n=1)]
    v = check(req(local("2026-03-10T15:00:00", SH)), CN, Holds(), day)
    assert v.rule == "daily_cap" and v.retry_at == local("2026-03-11T08:00:00", SH)
    assert check(req(local("2026-03-11T08:00:00", SH)), CN, Holds(), day).allowed


def test_weekly_cap_frees_up_when_the_oldest_contact_leaves_the_window():
    week = [sent(local(f"2026-03-{d:02d}T10:00:00", SH), n=d) for d in range(2, 8)]  # 6 on 6 days
    v = check(req(local("2026-03-08T10:00:00", SH)), CN, Holds(), week)
    assert v.rule == "weekly_cap" and v.retry_at == local("2026-03-09T10:00:00", SH)


def test_china_three_connected_calls_a_day():
    calls = [sent(local(f"2026-03-10T{h:02d}:00:00", SH), "voice", outcome="connected", n=h) for h in (9, 10, 11)]
    v = check(req(local("2026-03-10T15:00:00", SH), "voice", number="+8613800000001"), CN, Holds(), calls)
    assert v.rule == "voice_connected_per_day" and v.retry_at == local("2026-03-11T08:00:00", SH)


def test_china_sixth_and_seventh_dial_attempt_to_one_number():
    num = "+8613800000001"
    five = [
        sent(local(f"2026-03-10T{9 + i:02d}:00:00", SH), "voice", outcome="attempt", number=num, n=i) for i in range(5)
    ]
    assert check(req(local("2026-03-10T15:00:00", SH), "voice", number=num), CN, Holds(), five).allowed
    six = five + [sent(local("2026-03-10T15:00:00", SH), "voice", outcome="attempt", number=num, n=6)]
    v = check(req(local("2026-03-10T16:00:00", SH), "voice", number=num), CN, Holds(), six)
    assert v.rule == "voice_attempts_per_number"
    assert check(req(local("2026-03-10T16:00:00", SH), "voice", number="+8613800000002"), CN, Holds(), six).allowed


def test_us_seventh_call_allowed_eighth_blocked_per_debt():
    six = [sent(local(f"2026-06-0{d}T10:00:00", NY), "voice", outcome="attempt", n=d) for d in range(1, 7)]
    at = local("2026-06-07T10:00:00", NY)
    assert check(req(at, "voice", tz=(NY,)), US, Holds(), six).allowed
    seven = six + [sent(at, "voice", outcome="attempt", n=7)]
    v = check(req(local("2026-06-07T11:00:00", NY), "voice", tz=(NY,)), US, Holds(), seven)
    # 7 consecutive days are June 1-7: June 1 leaves the window at the start of June 8, not at 10:00
    assert v.rule == "voice_attempts_per_debt" and v.retry_at == local("2026-06-08T08:00:00", NY)
    assert check(req(local("2026-06-08T08:00:00", NY), "voice", tz=(NY,)), US, Holds(), seven).allowed
    assert check(req(local("2026-06-07T11:00:00", NY), "voice", tz=(NY,), loan="L2"), US, Holds(), seven).allowed


def test_us_seven_in_seven_counts_local_calendar_days_not_168_hours():
    """Seven calls late on June 1: on June 7 the 7 consecutive days (June 1-7) are full; on June 8 they
    are June 2-8, although fewer than 168 hours have passed."""
    seven = [sent(local(f"2026-06-01T20:0{i}:00", NY), "voice", outcome="attempt", n=i) for i in range(7)]
    v = check(req(local("2026-06-07T20:59:00", NY), "voice", tz=(NY,)), US, Holds(), seven)
    assert v.rule == "voice_attempts_per_debt" and v.retry_at == local("2026-06-08T08:00:00", NY)
    assert check(req(local("2026-06-08T08:00:00", NY), "voice", tz=(NY,)), US, Holds(), seven).allowed


def test_us_no_call_within_seven_days_after_a_conversation():
    talk = [sent(local("2026-06-01T10:00:00", NY), "voice", outcome="conversation")]
    v = check(req(local("2026-06-07T20:59:00", NY), "voice", tz=(NY,)), US, Holds(), talk)
    assert v.rule == "after_conversation" and v.retry_at == local("2026-06-08T08:00:00", NY)
    assert check(req(local("2026-06-08T08:00:00", NY), "voice", tz=(NY,)), US, Holds(), talk).allowed
    assert check(req(local("2026-06-02T10:00:00", NY), "sms", tz=(NY,)), US, Holds(), talk).allowed
    assert check(req(local("2026-06-02T10:00:00", NY), "voice", tz=(NY,), loan="L2"), US, Holds(), talk).allowed


@pytest.mark.parametrize(
    "talk,before,day8",
    [
        # the conversation's local date is day 1: a call is lawful from 08:00 on day 8, whatever the hour
        # of the conversation (here 20:30: only 155.5 hours before)
        ("2026-06-01T20:30:00", "2026-06-07T20:59:00", "2026-06-08T08:00:00"),
        ("2026-06-01T08:00:00", "2026-06-07T20:59:00", "2026-06-08T08:00:00"),
        # across the start of DST (8 March 2026): day 8 begins at 08:00 EDT, 12:00 UTC
        ("2026-03-02T20:00:00", "2026-03-08T20:59:00", "2026-03-09T08:00:00"),
        # across its end (1 November 2026): 08:00 EST, 13:00 UTC
        ("2026-10-27T20:00:00", "2026-11-02T20:59:00", "2026-11-03T08:00:00"),
    ],
)
def test_us_day_eight_after_a_conversation_in_new_york(talk, before, day8):
    history = [sent(local(talk, NY), "voice", outcome="conversation")]
    v = check(req(local(before, NY), "voice", tz=(NY,)), US, Holds(), history)
    assert v.rule == "after_conversation" and v.retry_at == local(day8, NY)
    assert check(req(local(day8, NY), "voice", tz=(NY,)), US, Holds(), history).allowed
    assert not check(req(local(day8, NY) - timedelta(minutes=1), "voice", tz=(NY,)), US, Holds(), history).allowed


def test_day_eight_in_every_candidate_zone():
    """A conversation at 00:30 on June 2 in New York is still June 1 in Los Angeles: day 8 is June 9 in
    New York and June 8 in Los Angeles; a borrower who may be in either is called from June 9."""
    history = [sent(datetime(2026, 6, 2, 4, 30, tzinfo=UTC), "voice", outcome="conversation")]
    assert check(req(local("2026-06-08T08:00:00", LA), "voice", tz=(LA,)), US, Holds(), history).allowed
    for zones in ((NY, LA), (LA, NY)):
        v = check(req(local("2026-06-08T14:00:00", NY), "voice", tz=zones), US, Holds(), history)
        assert v.rule == "after_conversation" and v.retry_at == local("2026-06-09T11:00:00", NY)  # 08:00 in LA
        assert check(req(local("2026-06-09T11:00:00", NY), "voice", tz=zones), US, Holds(), history).allowed


def test_seven_in_seven_in_every_candidate_zone():
    """Seven calls at 00:30 on June 2 in New York (21:30 on June 1 in Los Angeles): June 8 still has
    them in its 7 days in New York, not in Los Angeles."""
    seven = [sent(datetime(2026, 6, 2, 4, 30 + i, tzinfo=UTC), "voice", outcome="attempt", n=i) for i in range(7)]
    assert check(req(local("2026-06-08T08:00:00", LA), "voice", tz=(LA,)), US, Holds(), seven).allowed
    for zones in ((NY, LA), (LA, NY)):
        v = check(req(local("2026-06-08T14:00:00", NY), "voice", tz=zones), US, Holds(), seven)
        assert v.rule == "voice_attempts_per_debt" and v.retry_at == local("2026-06-09T11:00:00", NY)


@pytest.mark.parametrize("zones", [(SH, UR), (UR, SH)])
def test_daily_caps_hold_in_every_candidate_zones_own_day(zones):
    """Two SMS at 00:30 and 01:30 on 11 March in Shanghai are still 10 March in Urumqi: on 11 March the
    Shanghai day is full whichever zone is listed first."""
    two = [sent(local("2026-03-11T00:30:00", SH)), sent(local("2026-03-11T01:30:00", SH), n=1)]
    assert check(req(local("2026-03-11T10:00:00", SH), tz=(UR,)), CN, Holds(), two).allowed
    v = check(req(local("2026-03-11T10:00:00", SH), tz=zones), CN, Holds(), two)
    assert v.rule == "daily_cap" and v.retry_at == local("2026-03-12T10:00:00", SH)  # 08:00 in Urumqi
    calls = [
        sent(local(f"2026-03-11T0{h}:00:00", SH), "voice", outcome="connected", number=NUM, n=h) for h in (0, 1, 2)
    ]
    v = check(req(local("2026-03-11T10:00:00", SH), "voice", tz=zones), CN, Holds(), calls)
    assert v.rule == "voice_connected_per_day" and v.retry_at == local("2026-03-12T10:00:00", SH)
    assert check(req(local("2026-03-11T10:00:00", SH), "voice", tz=(UR,)), CN, Holds(), calls).allowed


@pytest.mark.parametrize("zones", [(NY, LA), (LA, NY)])
def test_an_open_promise_holds_until_its_date_has_passed_in_every_zone(zones):
    holds = Holds(promise_until=date(2026, 6, 12))
    v = check(req(local("2026-06-13T01:00:00", NY), tz=zones), US, holds, [])  # still June 12 in LA
    assert v.rule == "open_promise" and v.retry_at == local("2026-06-13T11:00:00", NY)
    assert check(req(local("2026-06-13T11:00:00", NY), tz=zones), US, holds, []).allowed


def test_a_voice_request_must_name_the_number():
    with pytest.raises(ValueError, match="dialled number"):
        check(req(local("2026-03-10T10:00:00", SH), "voice", number=None), CN, Holds(), [])
    assert check(req(local("2026-03-10T10:00:00", SH), "sms", number=None), CN, Holds(), []).allowed


def test_a_past_call_without_a_number_counts_against_every_number():
    six = [sent(local(f"2026-03-10T{9 + i:02d}:00:00", SH), "voice", outcome="attempt", n=i) for i in range(6)]
    v = check(req(local("2026-03-10T16:00:00", SH), "voice", number="any"), CN, Holds(), six)
    assert v.rule == "voice_attempts_per_number" and v.retry_at == local("2026-03-11T08:00:00", SH)


def test_verdicts_explain_themselves():
    v = check(req(local("2026-03-10T22:30:00", SH)), CN, Holds(), [])
    assert "blocked by contact_hours" in v.explain() and "opt_out" in v.explain()


def test_overrides_are_checked_and_applied():
    assert rules_for("CN", {"CN": {"daily_caps": {"sms": 5}}}).daily_caps["sms"] == 5
    assert rules_for("US-CA") == US
    with pytest.raises(ValueError, match="unknown compliance setting"):
        rules_for("CN", {"CN": {"quiet": 1}})


def test_reserve_books_once_per_action_and_records_call_outcomes():
    at = local("2026-03-10T10:00:00", SH)
    v, ledger = reserve(Ledger(), req(at, "voice", action="x", number="n"), CN, Holds())
    assert v.allowed and ledger is not None and ledger.version == 1
    again, write = reserve(ledger, req(at, "voice", action="x", number="n"), CN, Holds())
    assert again.allowed and write is None  # a redelivery books nothing more
    ledger = record_outcome(ledger, "x", "connected")
    assert ledger.events[0].outcome == "connected"


# --- the invariant, with concurrent senders and redeliveries ---------------------------------------

ZONES = [(SH,), (NY,), (LA,), (NY, LA), (UR,), (SH, UR)]


@st.composite
def scenario(draw):
    jurisdiction = draw(st.sampled_from(["CN", "US"]))
    zones = draw(st.sampled_from(ZONES))
    holds = Holds(
        opt_outs=frozenset(draw(st.sets(st.sampled_from(["sms", "email", "voice"]), max_size=1))),
        dispute=draw(st.booleans().map(lambda b: b and draw(st.integers(0, 9)) == 0)),
        promise_until=draw(st.one_of(st.none(), st.dates(date(2026, 3, 1), date(2026, 3, 9)))),
    )
    start = datetime(2026, 3, 1, tzinfo=UTC)
    requests = draw(
        st.lists(
            st.tuples(
                st.integers(0, 14 * 24 * 60),  # minute of a two-week period
                st.sampled_from(["sms", "email", "voice", "wechat"]),
                st.sampled_from(["L1", "L2"]),
                st.sampled_from(["+1", "+2"]),
                st.integers(0, 3),  # which of four concurrent senders picks it up
                st.booleans(),  # redelivered
                st.sampled_from(["attempt", "connected", "conversation"]),  # a call's result
            ),
            min_size=1,
            max_size=80,
        )
    )
    return jurisdiction, zones, holds, start, requests


class CasStore:
    """An in-memory ledger with compare-and-set, like the conditional write on the ledger item."""

    def __init__(self) -> None:
        self.ledger = Ledger()

    def write(self, expected_version: int, new: Ledger) -> bool:
        if self.ledger.version != expected_version:
            return False
        self.ledger = new
        return True


@settings(max_examples=150, deadline=None)
@given(scenario())
def test_no_contact_ever_breaks_a_rule(s):
    jurisdiction, zones, holds, start, requests = s
    rules = rules_for(jurisdiction)
    store = CasStore()
    deliveries = []
    results = {}
    for n, (minute, channel, loan, number, sender, redelivered, result) in enumerate(sorted(requests)):
        r = ContactRequest("B1", loan, f"act{n}", channel, start + timedelta(minutes=minute), zones, number)
        deliveries += [(sender, r)] + ([((sender + 1) % 4, r)] if redelivered else [])
        results[r.action_id] = result
    # senders read the ledger, then write with a version check; stale writes retry with a fresh read
    snapshots: dict[int, Ledger] = {}
    contacts: list[ContactEvent] = []  # every contact that was booked, i.e. would have been sent
    for sender, r in deliveries:
        snapshots.setdefault(sender, store.ledger)
        for _attempt in range(5):
            seen = snapshots[sender]
            verdict, new = reserve(seen, r, rules, holds)
            if new is None or store.write(seen.version, new):
                if new is not None:
                    contacts.append(new.events[-1])
                    if r.channel == "voice":  # the call's result, recorded before the next contact
                        while not store.write(
                            store.ledger.version, record_outcome(store.ledger, r.action_id, results[r.action_id])
                        ):
                            pass
                snapshots[sender] = store.ledger
                break
            snapshots[sender] = store.ledger  # conflict: read again and re-decide
    events = [e._replace(outcome=results[e.action_id]) if e.channel == "voice" else e for e in contacts]
    assert len({e.action_id for e in events}) == len(events), "a redelivery was booked twice"
    for i, e in enumerate(events):
        before = events[:i]
        assert allowed_at(e.at, zones, rules)
        assert e.channel not in holds.opt_outs and not holds.dispute
        if holds.promise_until:
            assert all(e.at.astimezone(zone(tz)).date() > holds.promise_until for tz in zones)
        # replaying the guard over what was booked before it must allow it again
        replay = ContactRequest("B1", e.loan_id, e.action_id, e.channel, e.at, zones, e.number)
        assert check(replay, rules, holds, before).allowed, e
    for tz in zones:
        assert_day_counts(events, tz, rules)


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(["CN", "US"]),
    st.sampled_from(ZONES),
    st.lists(
        st.tuples(
            st.integers(0, 13),  # day of a two-week period
            st.integers(0, 24 * 60 - 1),  # minute of that day (UTC)
            st.sampled_from(["L1", "L2"]),
            st.sampled_from(["+1", "+2"]),
            st.sampled_from(["attempt"] * 6 + ["connected", "conversation"]),  # mostly unanswered
        ),
        min_size=30,
        max_size=80,
    ),
)
def test_calls_are_counted_in_local_calendar_days_in_every_zone(jurisdiction, zones, calls):
    """Many calls about two debts: the voice caps hold in every candidate zone's calendar days, and in
    the US no call is placed on days 1-7 of a conversation about the same debt."""
    rules = rules_for(jurisdiction)
    ledger, booked = Ledger(), []
    start = datetime(2026, 3, 1, tzinfo=UTC)  # DST starts in the US on 8 March
    for n, (day, minute, loan, number, result) in enumerate(sorted(calls)):
        at = start + timedelta(days=day, minutes=minute)
        verdict, new = reserve(ledger, ContactRequest("B1", loan, f"c{n}", "voice", at, zones, number), rules, Holds())
        if new is not None:
            ledger = record_outcome(new, f"c{n}", result)
            booked.append(ledger.events[-1])
    for tz in zones:
        assert_day_counts(booked, tz, rules)


def assert_day_counts(events: list[ContactEvent], tz: str, rules: Rules) -> None:
    """The caps counted in local calendar days of one candidate zone, independently of the guard."""
    day = {e.action_id: e.at.astimezone(zone(tz)).date() for e in events}
    per_day = Counter((e.channel, day[e.action_id]) for e in events)
    for (channel, _), n in per_day.items():
        assert n <= rules.daily_caps.get(channel, n), (tz, channel, n)
    calls = [e for e in events if e.channel == "voice"]
    connected = Counter(day[e.action_id] for e in calls if e.outcome in ("connected", "conversation"))
    assert max(connected.values(), default=0) <= (rules.voice_connected_per_day or len(calls))
    dialled = Counter((e.number, day[e.action_id]) for e in calls)
    assert max(dialled.values(), default=0) <= (rules.voice_attempts_per_number_per_day or len(calls))
    for i, e in enumerate(calls):
        d = day[e.action_id]
        debt = [c for c in calls if c.loan_id == e.loan_id]
        if rules.voice_attempts_per_debt_7_days is not None:  # 7 consecutive days ending on d
            in_window = sum(1 for c in debt if d - timedelta(days=6) <= day[c.action_id] <= d)
            assert in_window <= rules.voice_attempts_per_debt_7_days, (tz, e)
        if rules.no_call_days_after_conversation is not None:  # the conversation's date is day 1
            for c in calls[:i]:
                if c.loan_id == e.loan_id and c.outcome == "conversation":
                    assert d >= day[c.action_id] + timedelta(days=rules.no_call_days_after_conversation), (tz, c, e)


def test_two_senders_racing_for_the_last_slot_cannot_both_book_it():
    store = CasStore()
    at = local("2026-03-10T09:00:00", SH)
    _, first = reserve(store.ledger, req(at, action="a1"), CN, Holds())
    assert first and store.write(0, first)
    seen_by_both = store.ledger  # one SMS booked today; the cap is two
    _, by_a = reserve(seen_by_both, req(at + timedelta(minutes=1), action="a2"), CN, Holds())
    _, by_b = reserve(seen_by_both, req(at + timedelta(minutes=1), action="a3"), CN, Holds())
    assert by_a and by_b  # each alone would fit
    assert store.write(seen_by_both.version, by_a)
    assert not store.write(seen_by_both.version, by_b)  # the stale one loses ...
    verdict, retry = reserve(store.ledger, req(at + timedelta(minutes=1), action="a3"), CN, Holds())
    assert (verdict.rule, retry) == ("daily_cap", None)  # ... and, deciding again, is blocked


def test_a_retry_of_a_booked_contact_is_decided_again_on_holds_and_hours():
    """A contact reserved but not sent (the provider failed) must not slip past a hold that arrived
    or the hours that ended meanwhile; allowed again, it is not counted twice."""
    at = local("2026-03-10T21:50:00", SH)
    _, ledger = reserve(Ledger(), req(at, action="x"), CN, Holds())
    assert ledger is not None
    v, write = reserve(ledger, req(at + timedelta(minutes=5), action="x"), CN, Holds(opt_outs=frozenset({"sms"})))
    assert (v.allowed, v.rule, write) == (False, "opt_out", None)
    v, _ = reserve(ledger, req(local("2026-03-10T22:05:00", SH), action="x"), CN, Holds())
    assert (v.allowed, v.rule) == (False, "contact_hours")
    v, write = reserve(ledger, req(at + timedelta(minutes=1), action="x"), CN, Holds())
    assert v.allowed and "already_reserved" in v.passed and write is None
