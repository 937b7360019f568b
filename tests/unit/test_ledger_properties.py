"""The incremental balance used by the ledger stream equals a full recomputation (property test)."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from arrears.domain.ledger import ZERO, Installment, Repayment, add_installment, allocate, apply_payment

money = st.integers(min_value=1, max_value=500_00).map(lambda c: Decimal(c) / 100)


@st.composite
def schedules(draw):
    n = draw(st.integers(1, 8))
    start = date(2026, 1, 1)
    offsets = sorted(draw(st.lists(st.integers(0, 400), min_size=n, max_size=n)))
    return [
        Installment(i + 1, start + timedelta(days=o), draw(money), draw(money), ZERO) for i, o in enumerate(offsets)
    ]


@settings(max_examples=300, deadline=None)
@given(schedules(), st.lists(money, max_size=12))
def test_incremental_equals_full_allocation(schedule, amounts):
    unpaid: tuple = ()
    for inst in schedule:  # installments first, nothing paid yet
        unpaid = add_installment(unpaid, inst)
    credit = ZERO
    payments = []
    for n, amount in enumerate(amounts):
        unpaid, credit = apply_payment(unpaid, credit, amount)
        payments.append(Repayment(f"p{n}", datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=n), amount))
    full = allocate(schedule, payments)
    assert unpaid == full.unpaid
    assert credit == full.credit
    assert sum(amounts, ZERO) == full.paid_total
