"""Payment plans and settlements: the offer an operator makes, the limits it is checked against, the
borrower's signed self-service link, and how an accepted arrangement stands as payments come in.

- A **plan** splits the amount overdue (basis ``overdue``; the installments not yet due stay on the
  platform's schedule and fall due as before) or the whole balance (basis ``balance``) into new
  installments, ``every_days`` apart from ``first_due``; the first may be larger (``first_payment``).
- A **settlement** is a discounted lump sum (``discount_pct`` off what is outstanding), due by
  ``pay_by``; paid in full, the rest is written down (forgiven).
- Limits per product and role: the number of installments, the minimum first payment (percent of the
  plan), the maximum discount (percent), how far out the last date may be. An agent offers within the
  agent's limits; beyond them (within a supervisor's) the offer waits for a supervisor's approval;
  beyond a supervisor's it is refused.
- While an arrangement is active, the loan's DPD and what it owes follow the arrangement: payments
  since acceptance are set against its dues (plan installments, plus the platform's installments that
  fall due meanwhile under basis ``overdue``), oldest first. A due left unpaid beyond the grace days
  breaks it; the collection strategy then resumes from the original schedule.

Pure: no AWS. The stream (``usecases/ledger_events.py``) and the operations API use it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any, NamedTuple

ZERO = Decimal("0")
HUNDRED = Decimal("100")
KINDS = ("plan", "settlement")
BASES = ("overdue", "balance")
MAX_ATTEMPTS = 5  # wrong identity answers before the link locks
STAGE = "plan"  # the case's stage while an arrangement is active (not cured: re-aged loans are not cures)


class OfferError(ValueError):
    """A bad offer: ``field`` names what is wrong."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


# ------------------------------------------------------------------------------------ limits


class Limits(NamedTuple):
    max_installments: int
    min_first_payment_pct: Decimal  # of the plan's total
    max_discount_pct: Decimal  # a settlement's discount off what is outstanding
    max_days: int  # the last due date (or a settlement's pay-by) at most this many days out


class ProductLimits(NamedTuple):
    agent: Limits
    supervisor: Limits  # and admin

    def to_json(self) -> dict[str, Any]:
        return {role: {k: str(v) for k, v in lim._asdict().items()} for role, lim in self._asdict().items()}

    @classmethod
    def parse(cls, raw: object) -> ProductLimits:
        """From ``{"agent": {...}, "supervisor": {...}}``; each field named when wrong. A supervisor's
        limits must reach at least an agent's."""
        if not isinstance(raw, dict) or set(raw) != {"agent", "supervisor"}:
            raise OfferError("limits must be an object with agent and supervisor", "limits")
        roles = {role: _limits(raw[role], role) for role in ("agent", "supervisor")}
        a, s = roles["agent"], roles["supervisor"]
        if (
            s.max_installments < a.max_installments
            or s.min_first_payment_pct > a.min_first_payment_pct
            or s.max_discount_pct < a.max_discount_pct
            or s.max_days < a.max_days
        ):
            raise OfferError("a supervisor's limits must reach at least an agent's", "supervisor")
        return cls(a, s)


def _limits(raw: object, role: str) -> Limits:
    fields = Limits._fields
    if not isinstance(raw, dict) or set(raw) != set(fields):
        raise OfferError(f"{role} must be an object with {', '.join(fields)}", role)
    out: dict[str, Any] = {}
    for name in ("max_installments", "max_days"):
        v = raw[name]
        if isinstance(v, bool) or not isinstance(v, int | str) or not str(v).isdigit() or not 1 <= int(v) <= 730:
            raise OfferError(f"{role}.{name} must be a whole number from 1 to 730", f"{role}.{name}")
        out[name] = int(v)
    for name in ("min_first_payment_pct", "max_discount_pct"):
        out[name] = _pct(raw[name], f"{role}.{name}", allow_zero=True)
    if out["max_installments"] > 60:
        raise OfferError(f"{role}.max_installments must be at most 60", f"{role}.max_installments")
    return Limits(**out)


DEFAULT_LIMITS = ProductLimits(
    agent=Limits(6, Decimal("10"), Decimal("20"), 180),
    supervisor=Limits(12, Decimal("5"), Decimal("50"), 365),
)


def _pct(raw: object, field: str, allow_zero: bool = False) -> Decimal:
    try:
        v = Decimal(str(raw))
    except ArithmeticError:
        raise OfferError(f"{field} must be a percentage from 0 to 100", field) from None
    if isinstance(raw, bool) or not v.is_finite() or not (ZERO <= v <= HUNDRED) or (v == ZERO and not allow_zero):
        raise OfferError(f"{field} must be a percentage {'from 0' if allow_zero else 'above 0'} up to 100", field)
    if v != v.quantize(Decimal("0.01")):
        raise OfferError(f"{field} must have at most two decimal places", field)
    return v


# ------------------------------------------------------------------------------------ terms


class Due(NamedTuple):
    due_on: date
    amount: Decimal


class Terms(NamedTuple):
    """What the borrower is offered, in the loan's currency."""

    kind: str  # plan | settlement
    basis: str  # plan: overdue | balance; settlement: balance
    owed: Decimal  # what the offer is made on (overdue or outstanding when offered)
    schedule: tuple[Due, ...]  # plan: its installments; settlement: one, the lump sum by pay_by
    forgiven: Decimal  # settlement: what is written down when paid in full

    @property
    def total(self) -> Decimal:
        return sum((d.amount for d in self.schedule), ZERO)

    @property
    def last_due(self) -> date:
        return self.schedule[-1].due_on

    def accepted_on(self, day: date) -> Terms:
        """The terms as accepted on ``day``: a plan whose first date has passed moves, whole, so its
        first installment is due that day (the borrower is never late on a plan they just accepted);
        a settlement's pay-by date does not move (OfferError once it has passed)."""
        late = (day - self.schedule[0].due_on).days
        if late <= 0:
            return self
        if self.kind == "settlement":
            raise OfferError(f"the settlement had to be paid by {self.schedule[0].due_on}", "pay_by")
        return self._replace(schedule=tuple(Due(d.due_on + timedelta(days=late), d.amount) for d in self.schedule))

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "basis": self.basis,
            "owed": str(self.owed),
            "schedule": [[d.due_on.isoformat(), str(d.amount)] for d in self.schedule],
            "forgiven": str(self.forgiven),
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Terms:
        return cls(
            str(raw["kind"]),
            str(raw["basis"]),
            Decimal(str(raw["owed"])),
            tuple(Due(date.fromisoformat(d), Decimal(a)) for d, a in raw["schedule"]),
            Decimal(str(raw["forgiven"])),
        )


_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _day(raw: object, field: str) -> date:
    try:
        if not _ISO_DAY.match(str(raw)):
            raise ValueError
        return date.fromisoformat(str(raw))
    except ValueError:
        raise OfferError(f"{field} must be a date (YYYY-MM-DD), the borrower's local date", field) from None


def _money(raw: object, field: str, places: int) -> Decimal:
    try:
        v = Decimal(str(raw))
    except ArithmeticError:
        raise OfferError(f"{field} must be an amount", field) from None
    if isinstance(raw, bool) or not v.is_finite() or v <= ZERO or v != v.quantize(Decimal(1).scaleb(-places)):
        raise OfferError(f"{field} must be an amount above 0 with at most {places} decimal places", field)
    return v


def terms_of(row: Mapping[str, Any], overdue: Decimal, outstanding: Decimal, today: date, places: int) -> Terms:
    """The terms an operator asks for (the request's fields, checked) on a loan owing ``overdue`` now
    and ``outstanding`` in all, in a currency of ``places`` minor digits."""
    kind = row.get("kind")
    if kind not in KINDS:
        raise OfferError(f"kind must be one of {', '.join(KINDS)}", "kind")
    own = (
        ("discount_pct", "pay_by")
        if kind == "settlement"
        else ("installments", "first_payment", "first_due", "every_days", "basis")
    )
    other = next(
        (
            f
            for f in ("discount_pct", "pay_by", "installments", "first_payment", "first_due", "every_days", "basis")
            if f in row and f not in own
        ),
        None,
    )
    if other is not None:
        raise OfferError(f"{other} does not go with a {kind}", other)
    quantum = Decimal(1).scaleb(-places)
    if kind == "settlement":
        return _settlement(row, outstanding, today, quantum)
    return _plan(row, overdue, outstanding, today, places, quantum)


def _settlement(row: Mapping[str, Any], outstanding: Decimal, today: date, quantum: Decimal) -> Terms:
    discount = _pct(row.get("discount_pct"), "discount_pct")
    if discount >= HUNDRED:
        raise OfferError("discount_pct must be below 100", "discount_pct")
    pay_by = _day(row.get("pay_by"), "pay_by")
    if pay_by < today:
        raise OfferError(f"pay_by {pay_by} is before today ({today})", "pay_by")
    if outstanding <= ZERO:
        raise OfferError("the loan owes nothing: there is nothing to settle", "kind")
    amount = (outstanding * (HUNDRED - discount) / HUNDRED).quantize(quantum, rounding=ROUND_DOWN)
    if amount <= ZERO:
        raise OfferError("the discount leaves nothing to pay", "discount_pct")
    return Terms("settlement", "balance", outstanding, (Due(pay_by, amount),), outstanding - amount)


def _whole(row: Mapping[str, Any], name: str, default: int | None, lo: int, hi: int) -> int:
    v = row.get(name, default)
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise OfferError(f"{name} must be a whole number from {lo} to {hi}", name)
    return v


def _plan(
    row: Mapping[str, Any], overdue: Decimal, outstanding: Decimal, today: date, places: int, quantum: Decimal
) -> Terms:
    basis = row.get("basis", "overdue")
    if basis not in BASES:
        raise OfferError(f"basis must be one of {', '.join(BASES)}", "basis")
    owed = overdue if basis == "overdue" else outstanding
    if owed <= ZERO:
        raise OfferError(f"the loan has nothing {basis} to split into a plan", "basis")
    n = _whole(row, "installments", None, 2, 60)
    every = _whole(row, "every_days", 30, 7, 31)
    first_due = _day(row.get("first_due", today.isoformat()), "first_due")
    if not today <= first_due <= today + timedelta(days=31):
        raise OfferError(f"first_due must be from {today} to {today + timedelta(days=31)}", "first_due")
    rest_each = (owed / n).quantize(quantum, rounding=ROUND_DOWN)
    first = owed - rest_each * (n - 1)
    if "first_payment" in row:
        first = _money(row["first_payment"], "first_payment", places)
        if first >= owed:
            raise OfferError(
                f"first_payment must be below the plan's total ({owed}): else it is not a plan", "first_payment"
            )
        rest_each = ((owed - first) / (n - 1)).quantize(quantum, rounding=ROUND_DOWN)
    amounts = [first] + [rest_each] * (n - 1)
    amounts[-1] += owed - sum(amounts, ZERO)  # the rounding remainder on the last installment
    if any(a <= ZERO for a in amounts):
        raise OfferError(f"{owed} does not split into {n} installments of at least one minor unit", "installments")
    schedule = tuple(Due(first_due + timedelta(days=every * i), a) for i, a in enumerate(amounts))
    return Terms("plan", basis, owed, schedule, ZERO)


def breaches(t: Terms, lim: Limits, today: date) -> list[str]:
    """Which of ``lim`` the terms go beyond, in words (none: within the limits)."""
    out: list[str] = []
    if t.kind == "plan":
        if len(t.schedule) > lim.max_installments:
            out.append(f"{len(t.schedule)} installments (at most {lim.max_installments})")
        pct = t.schedule[0].amount * HUNDRED / t.total
        if pct < lim.min_first_payment_pct:
            out.append(f"a first payment of {pct.quantize(Decimal('0.1'))}% (at least {lim.min_first_payment_pct}%)")
    else:
        pct = t.forgiven * HUNDRED / t.owed
        if pct > lim.max_discount_pct:
            out.append(f"a discount of {pct.quantize(Decimal('0.01'))}% (at most {lim.max_discount_pct}%)")
    days = (t.last_due - today).days
    if days > lim.max_days:
        out.append(f"a last date {days} days out (at most {lim.max_days})")
    return out


def approval(t: Terms, limits: ProductLimits, role: str, today: date) -> str:
    """``offered`` (within the role's limits: the link goes out now), ``pending_approval`` (an agent
    beyond the agent's limits, within a supervisor's) or raises naming the limit (beyond a
    supervisor's)."""
    beyond = breaches(t, limits.supervisor, today)
    if beyond:
        raise OfferError("beyond what even a supervisor may offer: " + "; ".join(beyond), "limits")
    if role == "agent" and breaches(t, limits.agent, today):
        return "pending_approval"
    return "offered"


# ------------------------------------------------------------------------------- standing


class Arrangement(NamedTuple):
    """An accepted offer, as the ledger's ``ARR#<offer_id>`` entry carries it."""

    offer_id: str
    terms: Terms
    accepted_on: date  # the borrower's local date
    paid_base: Decimal  # the loan's paid total when accepted: payments beyond it count
    regular: tuple[Due, ...]  # basis overdue: the platform's installments not yet due when accepted
    status: str = "active"  # active | broken | completed

    def to_json(self) -> str:
        return json.dumps(
            {
                "offer_id": self.offer_id,
                "terms": self.terms.to_json(),
                "accepted_on": self.accepted_on.isoformat(),
                "paid_base": str(self.paid_base),
                "regular": [[d.due_on.isoformat(), str(d.amount)] for d in self.regular],
                "status": self.status,
            },
            separators=(",", ":"),
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, raw: str) -> Arrangement:
        d = json.loads(raw)
        return cls(
            str(d["offer_id"]),
            Terms.from_json(d["terms"]),
            date.fromisoformat(d["accepted_on"]),
            Decimal(d["paid_base"]),
            tuple(Due(date.fromisoformat(x), Decimal(a)) for x, a in d["regular"]),
            str(d.get("status", "active")),
        )


class Standing(NamedTuple):
    status: str  # active | broken | completed
    dpd: int  # days past the earliest due not yet covered (within grace while active)
    overdue: Decimal  # due before today and not yet paid
    paid: Decimal  # paid since acceptance
    next_due: date | None
    missed: date | None = None  # broken: the due date missed


def dues(arr: Arrangement) -> list[Due]:
    return sorted((*arr.terms.schedule, *arr.regular))


def standing(arr: Arrangement, paid_total: Decimal, today: date, grace_days: int) -> Standing:
    """Where the arrangement stands on the borrower's local ``today`` with the loan's ``paid_total``."""
    paid = max(ZERO, paid_total - arr.paid_base)
    if paid >= arr.terms.total + sum((d.amount for d in arr.regular if d.due_on < today), ZERO):
        return Standing("completed", 0, ZERO, paid, None)
    covered = paid
    first_uncovered: Due | None = None
    overdue = ZERO
    for d in dues(arr):
        if covered >= d.amount:
            covered -= d.amount
            continue
        if first_uncovered is None:
            first_uncovered = d
        if d.due_on < today:
            overdue += d.amount - covered
        covered = ZERO
    if first_uncovered is None:  # only regular installments not yet due remain
        return Standing("active", 0, ZERO, paid, None)
    late = (today - first_uncovered.due_on).days
    if late > grace_days:
        return Standing("broken", late, overdue, paid, first_uncovered.due_on, first_uncovered.due_on)
    return Standing("active", max(0, late), overdue, paid, first_uncovered.due_on)


# ---------------------------------------------------------------------- the borrower's link


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class LinkError(ValueError):
    pass


def sign_link(secret: str, loan_id: str, offer_id: str, expires_at: int) -> str:
    """The self-service link's token: which offer, until when (epoch seconds), HMAC-SHA256 signed."""
    payload = _b64(json.dumps({"l": loan_id, "o": offer_id, "e": expires_at}, separators=(",", ":")).encode())
    mac = hmac.new(secret.encode(), f"v1.{payload}".encode(), hashlib.sha256).digest()
    return f"v1.{payload}.{_b64(mac)}"


def open_link(token: str, secrets: Sequence[str], now_epoch: int) -> tuple[str, str, int]:
    """(loan_id, offer_id, expires_at) of a token signed with one of ``secrets`` and not expired."""
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != "v1" or len(token) > 600:
        raise LinkError("this link is not valid")
    try:
        given = _unb64(parts[2])
        d = json.loads(_unb64(parts[1]))
    except (ValueError, UnicodeDecodeError):
        raise LinkError("this link is not valid") from None
    signed = f"v1.{parts[1]}".encode()
    if not any(hmac.compare_digest(hmac.new(s.encode(), signed, hashlib.sha256).digest(), given) for s in secrets):
        raise LinkError("this link is not valid")
    if not isinstance(d, dict) or not all(isinstance(d.get(k), t) for k, t in (("l", str), ("o", str), ("e", int))):
        raise LinkError("this link is not valid")
    if now_epoch >= d["e"]:
        raise LinkError("this link has expired")
    return d["l"], d["o"], d["e"]


_PRC_ID = re.compile(r"^\d{17}[\dXx]$")


def birth_date_of(id_number: str | None) -> date | None:
    """The birth date a PRC resident ID number carries (digits 7-14), when it is one."""
    if not id_number or not _PRC_ID.match(id_number):
        return None
    try:
        return date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    except ValueError:
        return None


def identity_matches(answer: str, id_number: str | None) -> bool:
    """Whether the visitor's answer is a fact only the borrower knows: the last four characters of the
    ID number on file, or the birth date it carries (YYYY-MM-DD). Constant-time comparisons."""
    answer = answer.strip().upper()
    if not id_number or not answer:
        return False
    ok = hmac.compare_digest(answer.encode(), id_number.strip().upper()[-4:].encode())
    born = birth_date_of(id_number.strip())
    if born is not None:
        ok = hmac.compare_digest(answer.encode(), born.isoformat().encode()) or ok
    return ok
