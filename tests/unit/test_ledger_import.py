"""The importer's items: built without pynamodb model objects, identical to what the models serialize."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from pynamodb.exceptions import AttributeNullError

from arrears.adapters.ledger_import import _items_for, item_bytes, payment_values, prepare, serialize
from arrears.adapters.models import (
    BorrowerModel,
    ContactLedgerModel,
    ContactModel,
    IdempotencyModel,
    LedgerModel,
    LoanModel,
)
from arrears.domain.importing import Borrower, InstallmentRow, Loan, RepaymentRow

RECORDS = [
    Borrower(
        "B1",
        "Li Na",
        "+8613800138000",
        "li@example.com",
        "o1",
        "110101",
        "1 Road\nCity",
        "Asia/Shanghai",
        "zh-CN",
        "CN",
        "B",
        frozenset({"sms", "voice"}),
        frozenset({"attorney"}),
    ),
    Borrower("B2", "Wang", "+8613800138001", None, None, None, None, "Asia/Shanghai", "zh-CN", "CN", None, frozenset()),
    Loan("L1", "B1", "cash-3m", "CNY", Decimal("3000.00"), date(2026, 1, 5), frozenset({"dispute"})),
    Loan("L2", "B2", "cash-3m", "CNY", Decimal("100"), date(2026, 1, 5)),
    InstallmentRow("L1", 1, date(2026, 2, 5), Decimal("1000.00"), Decimal("30.50"), Decimal("0")),
    InstallmentRow("L1", 12, date(2026, 3, 5), Decimal("0.01"), Decimal("0E-2"), Decimal("-0")),
    RepaymentRow("P1", "L1", datetime(2026, 2, 4, 8, 30, tzinfo=UTC), Decimal("1030.50")),
    RepaymentRow("P2", "L1", datetime(2026, 2, 4, 8, 30, tzinfo=UTC), Decimal("1.00"), "CNY", "card"),
]


@pytest.mark.parametrize("rec", RECORDS, ids=lambda r: f"{type(r).__name__}-{getattr(r, 'seq', '')}")
def test_items_equal_what_the_models_serialize(rec):
    for model, values in _items_for(rec):
        assert serialize(model, values) == model(**values).serialize()
    if isinstance(rec, RepaymentRow):
        values = payment_values(rec, "import", "2026-02-05T00:00:00Z")
        assert serialize(IdempotencyModel, values) == IdempotencyModel(**values).serialize()


def test_defaults_and_null_checks_follow_the_model():
    assert serialize(ContactLedgerModel, {"borrower_id": "B1"}) == ContactLedgerModel(borrower_id="B1").serialize()
    loan = {"loan_id": "L1", "borrower_id": "B1", "product": "p", "currency": "CNY", "tz": "Asia/Shanghai"}
    assert serialize(LoanModel, loan) == LoanModel(**loan).serialize()  # callable defaults (unpaid, amounts)
    with pytest.raises(AttributeNullError):
        serialize(LoanModel, {**loan, "bucket": None})  # None given replaces the default
    with pytest.raises(AttributeNullError):
        LoanModel(**loan, bucket=None).serialize()
    with pytest.raises(AttributeNullError):
        serialize(BorrowerModel, {"borrower_id": "B1", "timezone": "UTC", "language": "en"})  # jurisdiction
    with pytest.raises(AttributeNullError):
        BorrowerModel(borrower_id="B1", timezone="UTC", language="en").serialize()
    with pytest.raises(ValueError, match="does not exist"):
        serialize(LedgerModel, {"loan_id": "L1", "entry": "LOAN", "colour": "red"})
    with pytest.raises(ValueError, match="does not exist"):
        LedgerModel(loan_id="L1", entry="LOAN", colour="red")


def test_prepare_puts_personal_data_first_and_rejects_items_too_large():
    prepared = prepare(list(enumerate(RECORDS, start=1)), 400)
    tables = [table for table, _ in prepared.writes]
    assert tables[:2] == [ContactModel.Meta.table_name] * 2
    assert len(prepared.writes) == 2 * 2 + 6 + 2 and not prepared.too_large
    recorded = [item for _, item in prepared.writes[-2:]]  # payments recorded after their ledger entries
    assert [i["key"]["S"] for i in recorded] == ["payment#P1", "payment#P2"]
    assert recorded[1]["method"] == {"S": "card"} and recorded[1]["source"] == {"S": "import"}
    big = Borrower("B3", "x" * 500, "+8613800138002", None, None, None, None, "UTC", "en", "US", None, frozenset())
    prepared = prepare([(1, big), (2, RECORDS[2])], 400)
    assert [n for n, _ in prepared.too_large] == [1]
    assert "bytes stored; at most 400" in prepared.too_large[0][1]
    assert [item["loan_id"]["S"] for _, item in prepared.writes] == ["L1"]
    assert all(item_bytes(item) <= 400 for _, item in prepared.writes)
