"""Propensity to pay, learned from the outcomes table: its features, its label, its training and how
well it does. Plain Python (scoring is a dot product: no heavy import in a handler).

A **decision** is a delinquent loan's daily evaluation (a ``loan_evaluated`` fact with an amount
overdue). Its **features** are only what was known at that moment, from the evaluation itself and
from the facts before it (never after: no leakage from the future), and the same function computes
them from the ``LoanView`` the planner scores:

====================  =============================================================
``dpd``               days past due / 30
``overdue_share``     amount overdue / outstanding balance (a ratio: currencies never mix)
``payments``          repayments applied to the loan before, at most 10, / 10
``broken_promises``   promises broken before, at most 5, / 5
``promise_open``      1 while a promise is open
``since_contact``     days since the last contact, at most 30, / 30 (1 when never contacted)
``never_contacted``   1 when never contacted
====================  =============================================================

Its **label** is 1 when at least half of the amount overdue at the decision was repaid within the 7
days after it. A decision whose 7 days reach past the last fact is left out (its label is unknown).

The model is a logistic regression (Newton's method with a small L2 penalty), evaluated on a time
split: trained on the decisions before day ``split_day`` of the data, tested on those from it on,
with the AUC and a calibration table (ten bins of predicted probability, the Brier score and the
expected calibration error).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple

from .ledger import ZERO
from .strategies import LoanView, probability_of_payment
from .timeutil import parse_instant

FEATURES = ("dpd", "overdue_share", "payments", "broken_promises", "promise_open", "since_contact", "never_contacted")
HORIZON = timedelta(days=7)
PAID_SHARE = 0.5
L2 = 1e-3
#: the least a side of the split needs to say anything: decisions, and of them paid and not paid
MIN_TRAIN, MIN_TEST, MIN_CLASS = 300, 100, 10


class Decision(NamedTuple):
    loan_id: str
    at: datetime
    business_date: date
    x: tuple[float, ...]
    paid: bool


def features(
    dpd: int,
    overdue: float,
    outstanding: float,
    payments_made: int,
    broken_promises: int,
    promise_open: bool,
    last_contact_at: datetime | None,
    now: datetime,
) -> tuple[float, ...]:
    since = 30.0 if last_contact_at is None else min(30.0, max(0.0, (now - last_contact_at).total_seconds() / 86400))
    return (
        dpd / 30,
        overdue / outstanding if outstanding > 0 else 1.0,
        min(payments_made, 10) / 10,
        min(broken_promises, 5) / 5,
        1.0 if promise_open else 0.0,
        since / 30,
        1.0 if last_contact_at is None else 0.0,
    )


def view_features(loan: LoanView, now: datetime) -> tuple[float, ...]:
    """The features of a loan the planner scores (the same as training computes from the facts)."""
    return features(
        loan.dpd,
        float(loan.overdue),
        float(loan.outstanding),
        loan.payments_made,
        loan.broken_promises,
        loan.promise_open,
        loan.last_contact_at,
        now,
    )


def decisions(facts: Iterable[Mapping[str, Any]]) -> list[Decision]:
    """Every decision with a known label, in time order, its features from the facts before it."""
    by_loan: dict[str, list[tuple[datetime, Mapping[str, Any]]]] = defaultdict(list)
    seen: set[str] = set()
    last = None
    for f in facts:
        if f["fact_id"] in seen or not f.get("loan_id"):
            continue
        seen.add(f["fact_id"])
        at = parse_instant(str(f["occurred_at"]))
        by_loan[str(f["loan_id"])].append((at, f))
        last = at if last is None or at > last else last
    out: list[Decision] = []
    if last is None:
        return out
    for loan_id, events in by_loan.items():
        events.sort(key=lambda e: (e[0], e[1]["fact_type"] != "loan_evaluated"))  # an evaluation before what it set off
        repaid = [(at, int(f["amount_minor"] or 0)) for at, f in events if f["fact_type"] == "repayment_applied"]
        payments = broken = 0
        open_promises = 0
        last_contact: datetime | None = None
        for at, f in events:
            kind = f["fact_type"]
            if kind == "loan_evaluated" and int(f.get("amount_minor") or 0) > 0 and at + HORIZON <= last:
                overdue = int(f["amount_minor"])
                later = sum(a for t, a in repaid if at < t <= at + HORIZON)
                x = features(
                    int(f.get("dpd") or 0),
                    overdue,
                    int(f.get("outstanding_minor") or 0),
                    payments,
                    broken,
                    open_promises > 0,
                    last_contact,
                    at,
                )
                out.append(Decision(loan_id, at, date.fromisoformat(str(f["business_date"])), x, later >= PAID_SHARE * overdue))
            elif kind == "repayment_applied":
                payments += 1
            elif kind == "promise_made":
                open_promises += 1
            elif kind in ("promise_kept", "promise_broken"):
                open_promises = max(0, open_promises - 1)
                broken += kind == "promise_broken"
            elif kind == "action_sent":
                last_contact = at
    out.sort(key=lambda d: (d.at, d.loan_id))
    return out


# ------------------------------------------------------------------------------------- the model


class Model(NamedTuple):
    features: tuple[str, ...]
    intercept: float
    coef: tuple[float, ...]

    def score(self, x: Sequence[float]) -> float:
        z = self.intercept + sum(c * v for c, v in zip(self.coef, x, strict=True))
        return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {"features": list(self.features), "intercept": self.intercept, "coef": list(self.coef)}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Model:
        names = tuple(doc["features"])
        if names != FEATURES:
            raise ValueError(f"the model's features {list(names)} are not this version's {list(FEATURES)}")
        coef = tuple(float(c) for c in doc["coef"])
        if len(coef) != len(names) or not all(math.isfinite(c) for c in (*coef, float(doc["intercept"]))):
            raise ValueError("the model's coefficients are not one finite number per feature")
        return cls(names, float(doc["intercept"]), coef)


def train(rows: Sequence[Decision], iterations: int = 25) -> Model:
    """Logistic regression by Newton's method (with an L2 penalty, the intercept unpenalised)."""
    if not rows:
        raise ValueError("no decisions to learn from")
    d = len(FEATURES) + 1
    w = [0.0] * d
    xs = [(1.0, *r.x) for r in rows]
    ys = [1.0 if r.paid else 0.0 for r in rows]
    for _ in range(iterations):
        grad = [0.0] * d
        hess = [[0.0] * d for _ in range(d)]
        for x, y in zip(xs, ys, strict=True):
            z = sum(wi * xi for wi, xi in zip(w, x, strict=True))
            p = 1.0 / (1.0 + math.exp(-max(-35.0, min(35.0, z))))
            g, h = p - y, max(p * (1 - p), 1e-9)
            for i in range(d):
                grad[i] += g * x[i]
                hx = h * x[i]
                row = hess[i]
                for j in range(i, d):
                    row[j] += hx * x[j]
        for i in range(d):
            for j in range(i):
                hess[i][j] = hess[j][i]
            if i:
                grad[i] += L2 * len(rows) * w[i]
                hess[i][i] += L2 * len(rows)
        step = _solve(hess, grad)
        w = [wi - si for wi, si in zip(w, step, strict=True)]
        if max(abs(s) for s in step) < 1e-8:
            break
    return Model(FEATURES, w[0], tuple(w[1:]))


def _solve(a: list[list[float]], b: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting (a small, positive definite system)."""
    n = len(b)
    m = [row[:] + [b[i]] for i, row in enumerate(a)]
    for c in range(n):
        p = max(range(c, n), key=lambda r: abs(m[r][c]))
        m[c], m[p] = m[p], m[c]
        if abs(m[c][c]) < 1e-15:
            m[c][c] = 1e-15
        for r in range(c + 1, n):
            f = m[r][c] / m[c][c]
            for k in range(c, n + 1):
                m[r][k] -= f * m[c][k]
    x = [0.0] * n
    for r in range(n - 1, -1, -1):
        x[r] = (m[r][n] - sum(m[r][k] * x[k] for k in range(r + 1, n))) / m[r][r]
    return x


# ---------------------------------------------------------------------------------- evaluation


def auc(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    """The probability that a random positive outranks a random negative (ties count half); None
    without both."""
    pairs = sorted(zip(scores, labels, strict=True))
    pos = sum(1 for _, y in pairs if y)
    neg = len(pairs) - pos
    if not pos or not neg:
        return None
    rank_sum, i = 0.0, 0
    while i < len(pairs):
        j = i
        while j < len(pairs) and pairs[j][0] == pairs[i][0]:
            j += 1
        mid = (i + 1 + j) / 2  # the average rank of the tied run (1-based)
        rank_sum += mid * sum(1 for k in range(i, j) if pairs[k][1])
        i = j
    return (rank_sum - pos * (pos + 1) / 2) / (pos * neg)


def calibration(scores: Sequence[float], labels: Sequence[bool], bins: int = 10) -> dict[str, Any]:
    """Ten bins of predicted probability: decisions, mean predicted, observed rate; the Brier score and
    the expected calibration error (the bins' gaps weighted by their decisions)."""
    table = []
    ece = 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        members = [(s, y) for s, y in zip(scores, labels, strict=True) if lo <= s < hi or (b == bins - 1 and s == 1.0)]
        if not members:
            continue
        predicted = sum(s for s, _ in members) / len(members)
        observed = sum(1 for _, y in members if y) / len(members)
        ece += len(members) / len(scores) * abs(predicted - observed)
        table.append({"from": lo, "to": hi, "decisions": len(members), "predicted": round(predicted, 4), "observed": round(observed, 4)})
    brier = sum((s - (1.0 if y else 0.0)) ** 2 for s, y in zip(scores, labels, strict=True)) / len(scores)
    return {"bins": table, "brier": round(brier, 4), "ece": round(ece, 4)}


def evaluate(model: Model, rows: Sequence[Decision]) -> dict[str, Any]:
    scores = [model.score(r.x) for r in rows]
    labels = [r.paid for r in rows]
    a = auc(scores, labels)
    return {
        "decisions": len(rows),
        "paid": sum(labels),
        "auc": None if a is None else round(a, 4),
        "calibration": calibration(scores, labels) if rows else None,
    }


def heuristic(row: Decision) -> float:
    """The planner's heuristic (strategies.probability_of_payment) on what a decision's features say of
    its loan: what a trained model is measured against."""
    dpd, _, payments, broken = row.x[:4]
    loan = LoanView(
        row.loan_id, "", "", round(dpd * 30), ZERO, ZERO, None, None, "", "", "", row.business_date,
        payments_made=round(payments * 10), broken_promises=round(broken * 5),
    )  # fmt: skip
    return probability_of_payment(loan)


def time_split(rows: Sequence[Decision], split_day: int) -> tuple[list[Decision], list[Decision]]:
    """Decisions before day ``split_day`` of the data (day 1 is the first decision's business date)
    and those from it on."""
    if not rows:
        return [], []
    first = min(r.business_date for r in rows)
    cut = first + timedelta(days=split_day - 1)
    return [r for r in rows if r.business_date < cut], [r for r in rows if r.business_date >= cut]


def fit(rows: Sequence[Decision], split_day: int, incumbent: Model | None = None) -> tuple[Model, dict[str, Any]]:
    """Train on the decisions before ``split_day`` and test on the rest: the model and its document
    (coefficients, label, both sides' evaluation, and on the same test days the heuristic's AUC and the
    ``incumbent`` model's). ``choice`` says what should rank work from now on: ``new``, ``incumbent`` or
    ``heuristic``, whichever has the highest test AUC (a model must beat the heuristic; the new one wins
    a tie with the old). Raises ValueError when a side has too few decisions to say anything."""
    train_rows, test_rows = time_split(rows, split_day)
    for side, got, least in (("before", train_rows, MIN_TRAIN), ("from", test_rows, MIN_TEST)):
        paid = sum(r.paid for r in got)
        if len(got) < least or min(paid, len(got) - paid) < MIN_CLASS:
            raise ValueError(
                f"{len(rows)} decisions with a known label: {len(got)} {side} day {split_day} ({paid} paid); "
                f"each side needs at least {least}, with {MIN_CLASS} paid and {MIN_CLASS} not"
            )
    model = train(train_rows)
    test = evaluate(model, test_rows)
    labels = [r.paid for r in test_rows]
    h = auc([heuristic(r) for r in test_rows], labels)
    old = auc([incumbent.score(r.x) for r in test_rows], labels) if incumbent is not None else None
    candidates = [("heuristic", h if h is not None else 0.5)]
    candidates += [("incumbent", old)] if old is not None else []
    candidates += [("new", test["auc"])] if test["auc"] is not None else []
    ties = {"heuristic": 2, "new": 1, "incumbent": 0}  # a model must beat the heuristic; the new wins a tie with the old
    choice = max(candidates, key=lambda c: (c[1], ties[c[0]]))[0]
    doc = {
        **model.to_json(),
        "label": f"at least {PAID_SHARE:.0%} of the amount overdue repaid within {HORIZON.days} days",
        "split_day": split_day,
        "train": evaluate(model, train_rows),
        "test": test,
        "heuristic_test_auc": None if h is None else round(h, 4),
        "incumbent_test_auc": None if old is None else round(old, 4),
        "choice": choice,
    }
    return model, doc


def split_day_for(rows: Sequence[Decision], test_days: int) -> int:
    """The split day that leaves the last ``test_days`` days of the data for testing."""
    first = min(r.business_date for r in rows)
    last = max(r.business_date for r in rows)
    return (last - first).days + 2 - test_days
