"""The shipped worlds: ``default`` and ``fatigued``, two models of how borrowers answer collections.

Both are seeded and reproducible: every draw comes from a generator seeded by the run's seed and the
borrower, installment or action it is about, so a draw does not depend on the order of events. Each
borrower's traits stay inside the model; arrears sees only payments, call results and the rest.

``default`` assumes (README: Worlds):
- four habits: ``on_time`` (80%: pays on the due date or up to 3 days before; 4% of installments
  slip), ``forgetful`` (9%: pays 4-25 days late unprompted, sooner when reminded), ``strained``
  (7%: a third pay 25-75 days late unprompted; reminders help a little), ``unable`` (4%: hardly pay);
- the chance that a contact makes a borrower pay falls with days past due (e^(-DPD/30): a reminder
  lifts near-term payment far more in M1 than in M3) and differs by channel (a call that is answered
  most, then WeChat, SMS, letters, email);
- each borrower has hours that suit them (a contact within two hours of their best hour works fully,
  others at 60%) and reads one language (6% read another than the lender has on file: a message in
  the wrong one works at 40%);
- fatigue: beyond 4 contacts in 7 days each further one halves the response and risks a complaint
  (6% each) and an opt-out of that channel (4% each);
- a call is answered 55% of the time at a good hour; a promise made on a call is kept 75% of the time,
  1-3 days later;
- a few reply to a text (3%), and a borrower who cannot pay sometimes disputes the debt (1% a
  contact).

``fatigued`` differs: a hidden age band sets channel preference (the young answer WeChat and ignore
calls and letters; the older answer calls and letters and ignore email), fatigue starts after 2
contacts in 7 days and bites harder (x0.35 each, complaints 12%, opt-outs 8%), and promises are kept
only 45% of the time.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from .world import CallResult, Complaint, Contact, Dispute, OptOut, Payment, Reaction, Reply

if TYPE_CHECKING:
    from .book import Book

ZERO = Decimal(0)
CENT = Decimal("0.01")


@dataclass
class _Loan:
    borrower_id: str
    tz: str
    schedule: list[tuple[date, Decimal]] = field(default_factory=list)  # (due date, amount), by date
    paid: Decimal = ZERO  # what this world has paid (or promised to pay) on it so far
    busy_until: datetime | None = None  # a payment already on its way: no second one before it

    def owed_on(self, day: date) -> Decimal:
        due = sum((a for d, a in self.schedule if d <= day), ZERO)
        return max(ZERO, due - self.paid)


@dataclass
class _Borrower:
    habit: str
    best_hour: int
    reads: str
    age_band: str
    tz: str
    contacts: list[datetime] = field(default_factory=list)


class Borrowers:
    """The default world (see the module's text for its assumptions)."""

    HABITS = (("on_time", 0.80), ("forgetful", 0.09), ("strained", 0.07), ("unable", 0.04))
    BASE = {"on_time": 0.65, "forgetful": 0.5, "strained": 0.18, "unable": 0.02}
    CHANNEL = {"voice": 1.4, "wechat": 1.1, "sms": 1.0, "letter": 0.7, "email": 0.6}
    AGE_BANDS = (("young", 0.45), ("middle", 0.40), ("older", 0.15))
    SLIP = 0.04  # an on-time borrower's installment that slips
    OFF_HOURS = 0.6
    OTHER_LANGUAGE = 0.06
    WRONG_LANGUAGE = 0.4
    FATIGUE_LIMIT = 4  # contacts in 7 days before fatigue
    FATIGUE = 0.5
    COMPLAINT = 0.06
    OPT_OUT = 0.04
    ANSWER = 0.55
    PROMISE_KEPT = 0.75
    REPLY = 0.03
    DISPUTE = 0.01

    def start(self, book: Book, seed: int) -> None:
        self.seed = seed
        self.borrowers: dict[str, _Borrower] = {}
        for row in book.rows("borrowers"):
            rng = self._rng("borrower", row["borrower_id"])
            language = row.get("language") or "zh-CN"
            other = "en-US" if language != "en-US" else "es-US"
            self.borrowers[row["borrower_id"]] = _Borrower(
                habit=_pick(rng, self.HABITS),
                best_hour=rng.randint(9, 20),
                reads=other if rng.random() < self.OTHER_LANGUAGE else language,
                age_band=_pick(rng, self.AGE_BANDS),
                tz=row.get("timezone") or "Asia/Shanghai",
            )
        self.loans: dict[str, _Loan] = {}
        for row in book.rows("loans"):
            b = self.borrowers.get(row["borrower_id"])
            if b is not None:
                self.loans[row["loan_id"]] = _Loan(row["borrower_id"], b.tz)
        for row in book.rows("installments"):
            loan = self.loans.get(row["loan_id"])
            if loan is None:
                continue
            amount = sum((Decimal(row.get(k) or 0) for k in ("principal_due", "interest_due", "fee_due")), ZERO)
            loan.schedule.append((date.fromisoformat(row["due_date"]), amount))
        self.unprompted: dict[date, list[tuple[str, date]]] = defaultdict(list)  # day -> (loan, for the due date)
        for loan_id, loan in self.loans.items():
            loan.schedule.sort()
            habit = self.borrowers[loan.borrower_id].habit
            for n, (due, _) in enumerate(loan.schedule):
                day = self._unprompted_day(habit, self._rng("installment", loan_id, n), due)
                if day is not None:
                    self.unprompted[day].append((loan_id, due))

    def _unprompted_day(self, habit: str, rng: random.Random, due: date) -> date | None:
        if habit == "on_time" and rng.random() >= self.SLIP:
            return due - timedelta(days=rng.choice((0, 0, 0, 1, 2, 3)))
        if habit in ("on_time", "forgetful"):
            return due + timedelta(days=rng.randint(4, 25))
        if habit == "strained" and rng.random() < 0.35:
            return due + timedelta(days=rng.randint(25, 75))
        return None

    def on_day(self, day: date) -> list[Reaction]:
        out: list[Reaction] = []
        for loan_id, due in self.unprompted.pop(day, []):
            loan = self.loans[loan_id]
            b = self.borrowers[loan.borrower_id]
            rng = self._rng("day", loan_id, day.isoformat())
            at = datetime.combine(day, time(b.best_hour, rng.randint(0, 59)), ZoneInfo(b.tz)).astimezone(UTC)
            payment = self._pay(loan_id, loan, at, max(day, due))  # early: the installment it is for
            if payment is not None:
                out.append(payment)
        return out

    def on_contact(self, contact: Contact) -> list[Reaction]:
        loan = self.loans.get(contact.loan_id)
        b = self.borrowers.get(contact.borrower_id)
        if loan is None or b is None:
            return [CallResult(contact.action_id, "no_answer")] if contact.channel == "voice" else []
        rng = self._rng("contact", contact.action_id)
        now = contact.local_time.astimezone(UTC)
        b.contacts = [t for t in b.contacts if now - t < timedelta(days=7)] + [now]
        beyond = max(0, len(b.contacts) - self.FATIGUE_LIMIT)
        hour_fit = 1.0 if abs(contact.local_time.hour - b.best_hour) <= 2 else self.OFF_HOURS
        p = (
            self.BASE[b.habit]
            * self.channel_weight(b, contact.channel)
            * hour_fit
            * (1.0 if contact.language == b.reads else self.WRONG_LANGUAGE)
            * self.FATIGUE**beyond
            * math.exp(-max(contact.dpd, 0) / 30)
        )
        out: list[Reaction] = []
        pays = rng.random() < min(p, 0.95)
        if contact.channel == "voice":
            if rng.random() >= self.ANSWER * hour_fit:
                unanswered = _pick(rng, (("no_answer", 0.8), ("busy", 0.1), ("voicemail", 0.1)))
                return [CallResult(contact.action_id, unanswered)] + self._annoyed(contact, rng, beyond)
            if pays and self._can_pay(loan, now):
                out.append(CallResult(contact.action_id, "promise"))
                if rng.random() < self.PROMISE_KEPT:
                    self._then_pay(out, contact, loan, now + timedelta(days=rng.randint(1, 3), hours=rng.random()))
                else:  # a broken promise: nothing comes, but the borrower is not asked again at once
                    loan.busy_until = now + timedelta(days=3)
            else:
                out.append(CallResult(contact.action_id, "conversation" if rng.random() < 0.6 else "connected"))
        elif pays and self._can_pay(loan, now):
            self._then_pay(out, contact, loan, now + timedelta(hours=0.5 + rng.random() * 30))
        if contact.channel in ("sms", "wechat") and rng.random() < self.REPLY:
            out.append(Reply(contact.borrower_id, contact.channel, rng.choice(REPLIES.get(contact.language[:2], REPLIES["en"]))))
        if b.habit == "unable" and rng.random() < self.DISPUTE:
            out.append(Dispute(contact.loan_id))
        return out + self._annoyed(contact, rng, beyond)

    def channel_weight(self, b: _Borrower, channel: str) -> float:
        return self.CHANNEL.get(channel, 1.0)

    # ------------------------------------------------------------------------------------------

    def _annoyed(self, contact: Contact, rng: random.Random, beyond: int) -> list[Reaction]:
        if not beyond:
            return []
        out: list[Reaction] = []
        if rng.random() < self.COMPLAINT * beyond:
            out.append(Complaint(contact.borrower_id, "too many messages"))
        if contact.channel in ("sms", "wechat", "email") and rng.random() < self.OPT_OUT * beyond:
            out.append(OptOut(contact.borrower_id, contact.channel))
        return out

    def _can_pay(self, loan: _Loan, now: datetime) -> bool:
        return loan.busy_until is None or now >= loan.busy_until

    def _then_pay(self, out: list[Reaction], contact: Contact, loan: _Loan, at: datetime) -> None:
        day = at.astimezone(ZoneInfo(loan.tz)).date()
        payment = self._pay(contact.loan_id, loan, at, day, partial=self.borrowers[loan.borrower_id].habit == "strained")
        if payment is not None:
            out.append(payment)

    def _pay(self, loan_id: str, loan: _Loan, at: datetime, day: date, partial: bool = False) -> Payment | None:
        if not self._can_pay(loan, at):
            return None
        owed = loan.owed_on(day)
        if owed <= 0:
            return None
        if partial and self._rng("partial", loan_id, at.isoformat()).random() < 0.5:
            owed = max(CENT, (owed / 2).quantize(CENT))
        loan.paid += owed
        loan.busy_until = at
        return Payment(loan_id, owed, at)

    def _rng(self, *key: object) -> random.Random:
        return random.Random("|".join(map(str, (self.seed, *key))))


class Fatigued(Borrowers):
    """The second shipped world: channel preference by a hidden age band, stronger fatigue, more
    broken promises."""

    FATIGUE_LIMIT = 2
    FATIGUE = 0.35
    COMPLAINT = 0.12
    OPT_OUT = 0.08
    PROMISE_KEPT = 0.45
    BY_AGE = {
        "young": {"wechat": 1.3, "sms": 0.9, "voice": 0.6, "email": 0.5, "letter": 0.3},
        "middle": Borrowers.CHANNEL,
        "older": {"voice": 1.6, "letter": 1.0, "sms": 0.8, "wechat": 0.6, "email": 0.4},
    }

    def channel_weight(self, b: _Borrower, channel: str) -> float:
        return self.BY_AGE[b.age_band].get(channel, 1.0)


REPLIES = {
    "zh": ("已还款", "这周五还", "请不要再打了", "怎么还款？"),
    "en": ("paid", "will pay Friday", "stop calling me", "how do I pay?"),
    "es": ("pagado", "pago el viernes", "no me llamen", "¿cómo pago?"),
}


def _pick(rng: random.Random, shares: tuple[tuple[str, float], ...]) -> str:
    x, edge = rng.random(), 0.0
    for name, share in shares:
        edge += share
        if x < edge:
            return name
    return shares[-1][0]


SHIPPED = {"default": Borrowers, "fatigued": Fatigued}
