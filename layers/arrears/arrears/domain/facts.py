"""Facts: every event the system produces, one flat row each, for the outcomes table (Athena)."""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from typing import NamedTuple

from .timeutil import iso, local_date

FACT_TYPES = (
    "case_opened",
    "case_closed",
    "bucket_entered",
    "bucket_left",
    "loan_evaluated",
    "action_planned",
    "action_deferred",
    "action_sent",
    "action_cancelled",
    "action_blocked",
    "repayment_applied",
    "case_escalated",
    "call_outcome",
    "promise_made",
    "promise_kept",
    "promise_broken",
    "loan_failed",  # a stage could not process the loan's data; the reason says why, the others went on
    "repayment_reversed",  # a payment taken back: amount_minor negative, reason the platform's
    "case_reopened",  # a reversal made the loan delinquent within CaseReopenDays of its case's closing
    "platform_event",  # the platform's feed: an API request accepted (reason: the route) or a file imported
    "hold_placed",  # a hold on a borrower or a loan (reason: the hold), placed by the source named
    "hold_lifted",
    "opt_out_placed",  # a borrower's channel refused (channel), by the source named
    "opt_out_lifted",
    "operator_write",  # an operator's write through the operations API: source operator/<role>, reason JSON
    # payment plans and settlements (action_id: the offer's id; amount_minor: the arrangement's total)
    "offer_accepted",  # the borrower accepted an offer on the self-service page (reason: plan or settlement)
    "offer_identity_failed",  # a wrong identity answer on the page (reason: the attempt; the last locks it)
    "arrangement_started",  # the ledger stream applied it: dunning paused, the case's stage is plan
    "arrangement_refused",  # another arrangement was active: this one was not applied
    "arrangement_broken",  # a due missed beyond grace (reason: which), or a settlement's payment reversed
    "arrangement_completed",  # paid as agreed (reason: plan_completed or settled)
    "settlement_written_down",  # a settlement paid in full: amount_minor what was forgiven
    # each loan with a balance at each month end (the daily run of the month's last business date):
    # bucket, dpd, outstanding_minor, amount_minor (overdue), product, disbursed_on (roll rates, vintages)
    "loan_snapshot",
)

#: ``source`` of the facts that say who sent or changed something (platform_event, hold_*, opt_out_*):
#: the platform through the API or through a file; other sources as domain/restrictions.py names them
PLATFORM_API = "platform/api"
PLATFORM_FILE = "platform/file"

#: Column order and Athena/Glue types of the outcomes table; template.yaml declares the same columns.
COLUMNS: dict[str, str] = {
    "fact_id": "string",
    "fact_type": "string",
    "occurred_at": "string",
    "business_date": "string",
    "loan_id": "string",
    "borrower_id": "string",
    "case_id": "string",
    "bucket": "string",
    "from_bucket": "string",
    "to_bucket": "string",
    "dpd": "int",
    "amount_minor": "bigint",
    "outstanding_minor": "bigint",
    "currency": "string",
    "action_id": "string",
    "channel": "string",
    "reason": "string",
    "payment_id": "string",
    "strategy": "string",
    "strategy_version": "int",
    "variant": "string",
    "step": "string",
    "source": "string",
    # schema version 2 (see SCHEMA_VERSIONS): what analysts slice by, and what the violations query needs
    "schema_version": "int",
    "segment": "string",
    "product": "string",
    "jurisdiction": "string",
    "days_late": "int",
    "cost_micros": "bigint",
    "zones": "string",
    "disbursed_on": "string",
    "agent": "string",
    "agency": "string",
}

#: The outcomes table's versions. A version only ever adds columns at the end, so every file written
#: under an older one stays readable (the JSON SerDe reads a missing key as null); a column is never
#: renamed, retyped or dropped. ``schema_version`` is null on the rows written before version 2.
SCHEMA_VERSION = 2
SCHEMA_VERSIONS: dict[int, str] = {
    1: "fact_id .. source: the first 23 columns",
    2: "schema_version, segment, product, jurisdiction (of the loan, on every loan fact); days_late "
    "(repayment_applied); cost_micros (action_sent, from the channel costs); zones and jurisdiction "
    "(action_sent: the candidate zones the guard checked); disbursed_on (loan_snapshot); agent, agency "
    "(who worked the contact, when someone did); the loan_snapshot fact",
}


class Fact(NamedTuple):
    fact_type: str
    occurred_at: datetime
    business_date: date
    loan_id: str | None  # None for a fact about a borrower or a file
    source: str
    borrower_id: str | None = None
    case_id: str | None = None
    bucket: str | None = None
    from_bucket: str | None = None
    to_bucket: str | None = None
    dpd: int | None = None
    amount_minor: int | None = None
    outstanding_minor: int | None = None
    currency: str | None = None
    action_id: str | None = None
    channel: str | None = None
    reason: str | None = None
    payment_id: str | None = None
    strategy: str | None = None
    strategy_version: int | None = None
    variant: str | None = None
    step: str | None = None
    segment: str | None = None
    product: str | None = None
    jurisdiction: str | None = None
    days_late: int | None = None
    cost_micros: int | None = None
    zones: str | None = None  # comma-separated IANA zones
    disbursed_on: str | None = None
    agent: str | None = None
    agency: str | None = None
    key: str = ""  # what makes the fact unique besides type and loan

    @property
    def fact_id(self) -> str:
        raw = f"{self.fact_type}|{self.loan_id}|{self.business_date}|{self.key}"
        return hashlib.sha256(raw.encode()).hexdigest()[:32]

    def row(self) -> dict[str, object]:
        if self.fact_type not in FACT_TYPES:
            raise ValueError(f"unknown fact type {self.fact_type!r}")
        data = self._asdict()
        data.pop("key")
        data["fact_id"] = self.fact_id
        data["occurred_at"] = iso(self.occurred_at)
        data["business_date"] = self.business_date.isoformat()
        data["schema_version"] = SCHEMA_VERSION
        return {name: data.get(name) for name in COLUMNS}


def restriction_facts(
    kind: str,
    before: frozenset[str],
    after: frozenset[str],
    at: datetime,
    business_tz: str,
    source: str,
    *,
    loan_id: str | None = None,
    borrower_id: str | None = None,
    currency: str | None = None,
    key: str = "",
) -> list[Fact]:
    """``hold_placed``/``hold_lifted`` (the hold in ``reason``) or ``opt_out_placed``/``opt_out_lifted``
    (the channel in ``channel``) for what one source changed: its entries ``before`` and ``after``."""
    if kind not in ("holds", "opt_out"):
        raise ValueError(f"unknown restriction kind {kind!r}")
    prefix = "hold" if kind == "holds" else "opt_out"
    day = business_date(at, business_tz)
    out: list[Fact] = []
    for verb, names in (("placed", after - before), ("lifted", before - after)):
        for name in sorted(names):
            out.append(
                Fact(
                    f"{prefix}_{verb}",
                    at,
                    day,
                    loan_id,
                    source,
                    borrower_id=borrower_id,
                    currency=currency,
                    reason=name if kind == "holds" else None,
                    channel=name if kind == "opt_out" else None,
                    key=f"{borrower_id}|{name}|{source}|{key}",
                )
            )
    return out


def business_date(instant: datetime, business_tz: str) -> date:
    """The operations calendar day a fact belongs to (partition ``dt`` of the outcomes table)."""
    return local_date(instant, business_tz)
