"""An auditor's check of the contacts a run made, from what the providers received, the book and the call
results, with the rules' numbers restated here from the law (not imported from the guard, whose
verdicts are what is being checked). Days are the borrower's local calendar days.

- Hours: no contact outside the borrower's local hours (CN 08-22, NIFA/CBA practice; US 08-21,
  Regulation F 1006.6(b)(1)); letters are not contacts at an hour.
- Caps: texts, emails and WeChat messages per borrower per local day and per rolling 7 days.
- Voice: US at most 7 calls about a debt in 7 consecutive days and none on days 1-7 of a conversation
  about it (its date is day 1; Regulation F 1006.14(b)(2)); CN at most 3 connected calls a day and 6
  dial attempts a day to one number.
- Opt-outs: none on a channel the borrower opted out of; holds: none for a borrower or a loan on hold.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

HOURS = {"CN": (8, 22), "US": (8, 21)}  # allowed local hours [from, until)
DAILY = {"CN": {"sms": 2, "email": 2, "wechat": 2}, "US": {"sms": 1, "email": 2}}
WEEKLY = {"CN": {"sms": 6, "email": 7, "wechat": 6}, "US": {"sms": 4, "email": 7}}
TALKS = ("conversation", "promise")


class Contact(NamedTuple):
    action_id: str
    loan_id: str
    borrower_id: str
    channel: str
    at: datetime  # aware


def _split(value: Any) -> set[str]:
    if isinstance(value, list):
        return {str(v) for v in value if v}
    return {v.strip() for v in str(value or "").split(";") if v.strip()}


def violations(
    contacts: list[Contact],
    borrowers: dict[str, dict[str, Any]],
    loans: dict[str, dict[str, Any]],
    call_results: dict[str, str],
) -> list[str]:
    """One line per contact that broke a rule (the action and the rule)."""
    out: list[str] = []
    local: dict[str, datetime] = {}
    per_day: dict[tuple[str, str, Any], list[Contact]] = defaultdict(list)
    per_channel: dict[tuple[str, str], list[Contact]] = defaultdict(list)
    calls: dict[str, list[Contact]] = defaultdict(list)  # by borrower
    for c in contacts:
        who = borrowers[c.borrower_id]
        t = local[c.action_id] = c.at.astimezone(ZoneInfo(who["timezone"]))
        out += _rules_of_the_contact(c, t, who, loans.get(c.loan_id, {}))
        per_day[(c.borrower_id, c.channel, t.date())].append(c)
        per_channel[(c.borrower_id, c.channel)].append(c)
        if c.channel == "voice":
            calls[c.borrower_id].append(c)
    for (bid, channel, day), day_contacts in per_day.items():
        cap = DAILY[borrowers[bid]["jurisdiction"]].get(channel)
        if cap is not None and len(day_contacts) > cap:
            out.append(
                f"{day_contacts[cap].action_id}: {channel} number {len(day_contacts)} on {day} (cap {cap} a day)"
            )
    for (bid, channel), those in per_channel.items():
        cap = WEEKLY[borrowers[bid]["jurisdiction"]].get(channel)
        if cap is None:
            continue
        times = sorted(local[c.action_id] for c in those)
        for i, t in enumerate(times):
            within = sum(1 for u in times[: i + 1] if t - timedelta(days=7) < u)
            if within > cap:
                out.append(f"{bid}: {channel} number {within} in the 7 days to {t.isoformat()} (cap {cap})")
    for bid, theirs in calls.items():
        out += _voice(sorted(theirs, key=lambda c: c.at), borrowers[bid]["jurisdiction"], local, call_results)
    return out


def _rules_of_the_contact(c: Contact, t: datetime, who: dict[str, Any], loan: dict[str, Any]) -> list[str]:
    """Hours, opt-outs and holds: what one contact breaks on its own."""
    out = []
    start, end = HOURS[who["jurisdiction"]]
    if c.channel != "letter" and not start <= t.hour < end:
        out.append(f"{c.action_id}: {c.channel} at {t.isoformat()} local, outside {start:02d}-{end:02d}")
    if c.channel in _split(who.get("opt_out")):
        out.append(f"{c.action_id}: {c.channel} after the borrower opted out of it")
    if _split(who.get("holds")):
        out.append(f"{c.action_id}: borrower on hold ({';'.join(sorted(_split(who.get('holds'))))})")
    if _split(loan.get("holds")):
        out.append(f"{c.action_id}: loan {c.loan_id} on hold")
    return out


def _voice(calls: list[Contact], juris: str, local: dict[str, datetime], results: dict[str, str]) -> list[str]:
    """``calls``: one borrower's, in time order (CN: every call of a borrower goes to the one number)."""
    out = []
    day = {c.action_id: local[c.action_id].date() for c in calls}
    if juris != "US":
        by_day: dict[Any, list[Contact]] = defaultdict(list)
        for c in calls:
            by_day[day[c.action_id]].append(c)
        for d, those in by_day.items():
            out += [f"{c.action_id}: dial attempt {n} on {d} (cap 6)" for n, c in enumerate(those, 1) if n > 6]
            connected = [c for c in those if results.get(c.action_id) in ("connected", *TALKS)]
            out += [f"{c.action_id}: connected call {n} on {d} (cap 3)" for n, c in enumerate(connected, 1) if n > 3]
        return out
    for i, c in enumerate(calls):
        d = day[c.action_id]
        n = sum(1 for o in calls[: i + 1] if o.loan_id == c.loan_id and d - timedelta(days=6) <= day[o.action_id])
        if n > 7:
            out.append(f"{c.action_id}: call number {n} about {c.loan_id} in 7 days (cap 7)")
        for o in calls[:i]:
            if o.loan_id == c.loan_id and results.get(o.action_id) in TALKS and d < day[o.action_id] + timedelta(7):
                out.append(
                    f"{c.action_id}: call within 7 days of a conversation about {c.loan_id} on {day[o.action_id]}"
                )
                break
    return out
