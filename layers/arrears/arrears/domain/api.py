"""The HTTP API's messages: request and response JSON Schemas (draft 4 keywords only, so API Gateway
models, Swagger 2.0 and OpenAPI 3 can all carry them), defined once here, and the error answer.

The schemas describe what the validator (``domain/importing.py``, the importer's own) accepts; the
validator decides, with the importer's wording. ``infra/api/generate.py`` puts them into
``infra/api/swagger.json`` (API Gateway) and ``openapi.json``.
"""

from __future__ import annotations

import json
from typing import Any

from .importing import BORROWER_HOLDS, CHANNELS, COLUMNS, LOAN_HOLDS, MAX_SEQ, REQUIRED

ID = {
    "type": "string",
    "pattern": "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$",
    "description": "1-128 letters, digits and ._:-, starting with a letter or digit.",
}
AMOUNT = {
    "anyOf": [
        {"type": "string", "pattern": r"^[0-9]{1,24}(\.[0-9]{1,3})?$"},
        {"type": "number", "minimum": 0, "exclusiveMinimum": True},
    ],
    "description": (
        "A plain decimal above zero with at most the currency's minor digits (2 for CNY and USD, 0 for "
        "JPY); a JSON number keeps its digits as written. At most MaxAmount."
    ),
}

REPAYMENT: dict[str, Any] = {
    "type": "object",
    "title": "Repayment",
    "description": "A repayment, as a row of a repayments import file.",
    "additionalProperties": False,
    "required": list(REQUIRED["repayments"]),
    "properties": {
        "payment_id": {
            **ID,
            "description": "The platform's id of the payment: the idempotency key. " + ID["description"],
        },
        "loan_id": {**ID, "description": "A loan already imported or posted."},
        "paid_at": {
            "type": "string",
            "format": "date-time",
            "description": "When it was paid: ISO-8601 with an offset or Z; at most a day ahead of now.",
        },
        "amount": AMOUNT,
        "currency": {
            "type": "string",
            "pattern": "^[A-Za-z]{3}$",
            "description": "Optional; when given, the loan's own currency (ISO 4217).",
        },
        "method": {
            "type": "string",
            "pattern": "^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$",
            "description": "Optional: how it was paid (card, bank_transfer, wallet, ...).",
        },
    },
}
assert set(REPAYMENT["properties"]) == set(COLUMNS["repayments"])  # the import's columns, no more

REPAYMENT_RECORDED: dict[str, Any] = {
    "type": "object",
    "title": "RepaymentRecorded",
    "description": "What was recorded: the payment as the ledger holds it.",
    "required": ["payment_id", "loan_id", "paid_at", "amount", "currency", "recorded_at", "source"],
    "properties": {
        "payment_id": {"type": "string"},
        "loan_id": {"type": "string"},
        "paid_at": {"type": "string", "format": "date-time", "description": "In UTC."},
        "amount": {"type": "string", "description": "With the currency's minor digits (1045.00)."},
        "currency": {"type": "string"},
        "method": {"type": "string", "description": "When the platform gave one."},
        "recorded_at": {
            "type": "string",
            "format": "date-time",
            "description": "When arrears first recorded it (UTC).",
        },
        "source": {"type": "string", "enum": ["api", "import"], "description": "How it first arrived."},
    },
}

REVERSAL: dict[str, Any] = {
    "type": "object",
    "title": "Reversal",
    "description": "A repayment taken back, as a row of a reversals import file (payment_id from the path).",
    "additionalProperties": False,
    "properties": {
        "payment_id": {**ID, "description": "Optional: when given, the path's."},
        "reversed_at": {
            "type": "string",
            "format": "date-time",
            "description": (
                "When it was reversed: ISO-8601 with an offset or Z, not before the payment's paid_at, at most a "
                "day ahead of now. Default: when the request arrives."
            ),
        },
        "reason": {
            "type": "string",
            "maxLength": 1000,
            "description": "Optional: the platform's word for why (chargeback, failed_debit, ...).",
        },
    },
}
assert set(REVERSAL["properties"]) == set(COLUMNS["reversals"])  # the import's columns, no more

REVERSAL_RECORDED: dict[str, Any] = {
    "type": "object",
    "title": "ReversalRecorded",
    "description": "What was taken back: the payment's loan and amount, as recorded.",
    "required": ["payment_id", "loan_id", "amount", "currency", "reversed_at", "recorded_at", "source"],
    "properties": {
        "payment_id": {"type": "string"},
        "loan_id": {"type": "string"},
        "amount": {"type": "string", "description": "The payment's amount, with the currency's minor digits."},
        "currency": {"type": "string"},
        "reversed_at": {"type": "string", "format": "date-time", "description": "In UTC."},
        "reason": {"type": "string", "description": "When the platform gave one."},
        "recorded_at": {
            "type": "string",
            "format": "date-time",
            "description": "When arrears first recorded the reversal (UTC).",
        },
        "source": {"type": "string", "enum": ["api", "import"], "description": "How it first arrived."},
    },
}

ERROR: dict[str, Any] = {
    "type": "object",
    "title": "Error",
    "description": "Chalice's error shape, with the field at fault when there is one.",
    "required": ["Code", "Message"],
    "properties": {
        "Code": {"type": "string", "description": "BadRequest, Unauthorized, NotFound, Conflict, ..."},
        "Message": {"type": "string", "description": "What is wrong, in the import's rejects-report wording."},
        "field": {"type": "string", "description": "The request field at fault."},
        "stored": {"type": "object", "description": "409 for a payment: the values recorded under its id."},
    },
}

TEXT = {"type": "string", "maxLength": 1000, "description": "Printable text, at most ImportLimits' text characters."}
DATE = {"type": "string", "format": "date", "description": "YYYY-MM-DD, within years_back/years_ahead of now."}
MONEY = {
    "anyOf": [{"type": "string", "pattern": r"^[0-9]{1,24}(\.[0-9]{1,3})?$"}, {"type": "number", "minimum": 0}],
    "description": "A plain decimal with at most the loan currency's minor digits.",
}


def _words(known: tuple[str, ...], what: str) -> dict[str, Any]:
    return {
        "anyOf": [
            {"type": "array", "items": {"type": "string", "enum": list(known)}, "uniqueItems": True},
            {"type": "string"},
        ],
        "description": f"{what}: a list, or words separated by ';' ({', '.join(known)}). The platform's own.",
    }


INSTALLMENT: dict[str, Any] = {
    "type": "object",
    "title": "Installment",
    "description": "One installment of a schedule, as an installments row without its loan_id.",
    "additionalProperties": False,
    "required": [c for c in REQUIRED["installments"] if c != "loan_id"],
    "properties": {
        "seq": {
            "anyOf": [
                {"type": "integer", "minimum": 1, "maximum": MAX_SEQ},
                {"type": "string", "pattern": "^[0-9]{1,4}$"},
            ],
            "description": f"1 to {MAX_SEQ}, once per schedule.",
        },
        "due_date": {**DATE, "description": "YYYY-MM-DD, not before the loan's disbursed_on."},
        "principal_due": MONEY,
        "interest_due": MONEY,
        "fee_due": MONEY,
    },
}
SCHEDULE_ITEMS = {"type": "array", "minItems": 1, "maxItems": 98, "items": {"$ref": "#/definitions/Installment"}}
LOAN: dict[str, Any] = {
    "type": "object",
    "title": "Loan",
    "description": "A new loan (a loans row) with its schedule (installments rows).",
    "additionalProperties": False,
    "required": [*REQUIRED["loans"], "schedule"],
    "properties": {
        "loan_id": ID,
        "borrower_id": {**ID, "description": "A borrower already imported or put."},
        "product": TEXT,
        "currency": {"type": "string", "pattern": "^[A-Za-z]{3}$", "description": "ISO 4217."},
        "principal": MONEY,
        "disbursed_on": DATE,
        "holds": _words(LOAN_HOLDS, "Loan holds"),
        "schedule": SCHEDULE_ITEMS,
    },
}
SCHEDULE: dict[str, Any] = {
    "type": "object",
    "title": "Schedule",
    "description": "The loan's whole new schedule: installments not in it are removed.",
    "additionalProperties": False,
    "required": ["schedule"],
    "properties": {"schedule": SCHEDULE_ITEMS},
}
BORROWER: dict[str, Any] = {
    "type": "object",
    "title": "Borrower",
    "description": "A borrower (a borrowers row; borrower_id from the path). Personal data goes to the contacts table only.",
    "additionalProperties": False,
    "required": [c for c in REQUIRED["borrowers"] if c != "borrower_id"],
    "properties": {
        "borrower_id": {**ID, "description": "Optional: when given, the path's."},
        "name": TEXT,
        "phone": {"type": "string", "pattern": r"^\+[1-9][0-9]{6,14}$", "description": "E.164."},
        "email": {"type": "string", "maxLength": 1000},
        "wechat_openid": TEXT,
        "id_number": TEXT,
        "address": {**TEXT, "description": "Postal, for letters; may span lines."},
        "timezone": {"type": "string", "description": "An IANA zone (Asia/Shanghai)."},
        "language": {"type": "string", "pattern": "^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$", "description": "BCP 47."},
        "jurisdiction": {"type": "string", "pattern": "^[A-Za-z]{2}(-[A-Za-z0-9]{1,3})?$", "description": "ISO 3166."},
        "credit_grade": TEXT,
        "opt_out": _words(CHANNELS, "Channels refused"),
        "holds": _words(BORROWER_HOLDS, "Borrower holds"),
    },
}
BORROWER_HOLD: dict[str, Any] = {
    "type": "object",
    "title": "BorrowerHold",
    "additionalProperties": False,
    "required": ["hold"],
    "properties": {"hold": {"type": "string", "enum": list(BORROWER_HOLDS)}},
}
LOAN_HOLD: dict[str, Any] = {
    "type": "object",
    "title": "LoanHold",
    "additionalProperties": False,
    "required": ["hold"],
    "properties": {"hold": {"type": "string", "enum": list(LOAN_HOLDS)}},
}
RECORDED_AT = {"type": "string", "format": "date-time", "description": "When arrears recorded it (UTC)."}
LOAN_RECORDED: dict[str, Any] = {
    "type": "object",
    "title": "LoanRecorded",
    "required": ["loan_id", "borrower_id", "installments", "recorded_at"],
    "properties": {
        "loan_id": {"type": "string"},
        "borrower_id": {"type": "string"},
        "installments": {"type": "integer"},
        "recorded_at": RECORDED_AT,
    },
}
SCHEDULE_RECORDED: dict[str, Any] = {
    "type": "object",
    "title": "ScheduleRecorded",
    "required": ["loan_id", "installments", "removed", "recorded_at"],
    "properties": {
        "loan_id": {"type": "string"},
        "installments": {"type": "integer"},
        "removed": {"type": "integer", "description": "Installments of the old schedule not in the new one."},
        "recorded_at": RECORDED_AT,
    },
}
BORROWER_RECORDED: dict[str, Any] = {
    "type": "object",
    "title": "BorrowerRecorded",
    "description": "No personal data is echoed.",
    "required": ["borrower_id", "recorded_at"],
    "properties": {"borrower_id": {"type": "string"}, "recorded_at": RECORDED_AT},
}
HOLD_RECORDED: dict[str, Any] = {
    "type": "object",
    "title": "HoldRecorded",
    "required": ["hold", "placed", "source", "recorded_at"],
    "properties": {
        "borrower_id": {"type": "string"},
        "loan_id": {"type": "string"},
        "hold": {"type": "string"},
        "placed": {"type": "boolean", "description": "true: placed; false: lifted (the platform's own only)."},
        "source": {"type": "string", "enum": ["platform"]},
        "recorded_at": RECORDED_AT,
    },
}

# ---------------------------------------------------------------- operations (bearer tokens)
NOTE: dict[str, Any] = {
    "type": "object",
    "title": "Note",
    "additionalProperties": False,
    "required": ["text"],
    "properties": {"text": {"type": "string", "minLength": 1, "maxLength": 2000}},
}
OPERATOR_HOLD: dict[str, Any] = {
    "type": "object",
    "title": "OperatorHold",
    "additionalProperties": False,
    "required": ["hold"],
    "properties": {
        "hold": {"type": "string", "enum": list(LOAN_HOLDS)},
        "reason": {"type": "string", "maxLength": 500, "description": "Why (kept in the audit trail)."},
    },
}
PROMISE: dict[str, Any] = {
    "type": "object",
    "title": "Promise",
    "additionalProperties": False,
    "required": ["until", "amount"],
    "properties": {
        "until": {"type": "string", "format": "date", "description": "The borrower's local date, today to 30 days on."},
        "amount": {
            "type": "string",
            "pattern": "^[0-9]{1,15}(\\.[0-9]{1,3})?$",
            "description": "In the loan's currency.",
        },
    },
}
OPS_RECORDED: dict[str, Any] = {
    "type": "object",
    "title": "OpsRecorded",
    "description": "What was recorded, by whom and when (a repeated Idempotency-Key: the first answer again).",
    "required": ["loan_id"],
    "properties": {"loan_id": {"type": "string"}},
}
ME: dict[str, Any] = {
    "type": "object",
    "title": "Me",
    "required": ["user", "role", "permissions"],
    "properties": {
        "user": {"type": "string"},
        "role": {"type": "string", "enum": ["admin", "supervisor", "agent", "analyst"]},
        "permissions": {"type": "array", "items": {"type": "string"}},
    },
}
CASE_VIEW: dict[str, Any] = {
    "type": "object",
    "title": "CaseView",
    "description": "A loan's state and timeline (newest first); contact points masked.",
    "required": ["loan_id", "borrower_id", "bucket", "holds", "timeline"],
    "properties": {
        "loan_id": {"type": "string"},
        "borrower_id": {"type": "string"},
        "bucket": {"type": "string"},
        "holds": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
        "timeline": {
            "type": "array",
            "items": {"type": "object", "required": ["kind"], "properties": {"kind": {"type": "string"}}},
        },
    },
}
STRATEGY_DRAFT: dict[str, Any] = {
    "type": "object",
    "title": "StrategyDraft",
    "additionalProperties": False,
    "required": ["document"],
    "properties": {"document": {"type": "object", "description": "A strategy document (README: Strategies), as JSON."}},
}
STRATEGY_VERSION_CHOICE: dict[str, Any] = {
    "type": "object",
    "title": "StrategyVersionChoice",
    "additionalProperties": False,
    "required": ["version"],
    "properties": {"version": {"type": "integer", "minimum": 1}},
}
EMPTY: dict[str, Any] = {"type": "object", "title": "Empty", "additionalProperties": False, "properties": {}}
STRATEGY_CHANGED: dict[str, Any] = {
    "type": "object",
    "title": "StrategyChanged",
    "required": ["id", "by"],
    "properties": {"id": {"type": "string"}, "by": {"type": "string"}},
}
STRATEGIES: dict[str, Any] = {
    "type": "object",
    "title": "Strategies",
    "required": ["strategies"],
    "properties": {"strategies": {"type": "array", "items": {"type": "object", "required": ["id", "versions"]}}},
}
STRATEGY_VERSION: dict[str, Any] = {
    "type": "object",
    "title": "StrategyVersion",
    "required": ["id", "version", "state", "document"],
    "properties": {
        "id": {"type": "string"},
        "version": {"type": "string"},
        "state": {"type": "string", "enum": ["draft", "published", "active"]},
        "document": {"type": "object"},
    },
}
STRATEGY_DIFF: dict[str, Any] = {
    "type": "object",
    "title": "StrategyDiff",
    "required": ["id", "from", "to", "diff"],
    "properties": {
        "id": {"type": "string"},
        "from": {"type": "string"},
        "to": {"type": "string"},
        "diff": {"type": "string"},
    },
}
DASHBOARD: dict[str, Any] = {
    "type": "object",
    "title": "Dashboard",
    "required": ["as_of", "trend", "queues"],
    "properties": {
        "as_of": {"type": "string", "format": "date"},
        "latest": {"type": "object", "description": "The latest daily report's figures (empty: none yet)."},
        "trend": {"type": "array", "items": {"type": "object", "required": ["day", "delinquent_loans"]}},
        "queues": {
            "type": "array",
            "items": {"type": "object", "required": ["queue", "dead_letter", "waiting", "in_flight"]},
        },
    },
}
CAMPAIGN: dict[str, Any] = {
    "type": "object",
    "title": "Campaign",
    "additionalProperties": False,
    "required": ["campaign_id", "name", "target", "channel", "template"],
    "properties": {
        "campaign_id": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,62}$"},
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "target": {
            "type": "object",
            "additionalProperties": False,
            "minProperties": 1,
            "description": "Every criterion given must hold; dpd and overdue are [min, max] (max may be null).",
            "properties": {
                "buckets": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                "dpd": {"type": "array", "items": {}, "minItems": 2, "maxItems": 2},
                "overdue": {"type": "array", "items": {}, "minItems": 2, "maxItems": 2},
                "segments": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                "products": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                "jurisdictions": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                "loan_ids": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 10000},
            },
        },
        "channel": {"type": "string", "enum": ["sms", "email", "voice", "wechat", "letter"]},
        "template": {"type": "string", "minLength": 1, "maxLength": 200},
        "starts_at": {"type": "string", "format": "date-time"},
        "ends_at": {"type": "string", "format": "date-time"},
        "daily_cap": {"type": "integer", "minimum": 1, "maximum": 1000000},
        "priority": {"type": "string", "enum": ["before_strategy", "ranked", "after_strategy"]},
    },
}
CAMPAIGN_DRY_RUN: dict[str, Any] = {
    "type": "object",
    "title": "CampaignDryRun",
    "required": ["matched", "guard_allows_now", "guard_refuses_now", "would_send_today", "estimated_cost"],
    "properties": {
        "matched": {"type": "integer"},
        "guard_allows_now": {"type": "integer"},
        "guard_refuses_now": {"type": "object", "additionalProperties": {"type": "integer"}},
        "would_send_today": {"type": "integer"},
        "estimated_cost": {"type": "string"},
        "estimated_cost_by_currency": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}
CAMPAIGN_VIEW: dict[str, Any] = {
    "type": "object",
    "title": "CampaignView",
    "required": ["campaign_id", "status"],
    "properties": {"campaign_id": {"type": "string"}, "status": {"type": "string"}, "progress": {"type": "object"}},
}
CAMPAIGNS: dict[str, Any] = {
    "type": "object",
    "title": "Campaigns",
    "required": ["campaigns"],
    "properties": {"campaigns": {"type": "array", "items": {"type": "object", "required": ["campaign_id", "status"]}}},
}
CALL_RESULT: dict[str, Any] = {
    "type": "object",
    "title": "CallResult",
    "additionalProperties": False,
    "required": ["result"],
    "properties": {
        "result": {
            "type": "string",
            "enum": ["no_answer", "busy", "voicemail", "connected", "conversation", "promise"],
        },
        "until": {"type": "string", "format": "date", "description": "With promise: the borrower's local date."},
        "amount": {"type": "string", "pattern": "^[0-9]{1,15}(\\.[0-9]{1,3})?$", "description": "With promise."},
    },
}
_PCT = {"type": "string", "pattern": "^[0-9]{1,3}(\\.[0-9]{1,2})?$", "description": "A percentage, 0-100."}
_LIMITS = {
    "type": "object",
    "additionalProperties": False,
    "required": ["max_installments", "min_first_payment_pct", "max_discount_pct", "max_days"],
    "properties": {
        "max_installments": {"type": "integer", "minimum": 1, "maximum": 60},
        "min_first_payment_pct": _PCT,
        "max_discount_pct": _PCT,
        "max_days": {"type": "integer", "minimum": 1, "maximum": 730},
    },
}
PLAN_LIMITS: dict[str, Any] = {
    "type": "object",
    "title": "PlanLimits",
    "description": "A product's limits on plans and settlements: an agent's, and a supervisor's (at least an agent's).",
    "additionalProperties": False,
    "required": ["agent", "supervisor"],
    "properties": {"agent": _LIMITS, "supervisor": _LIMITS},
}
CHANNEL_COSTS: dict[str, Any] = {
    "type": "object",
    "title": "ChannelCosts",
    "additionalProperties": False,
    "required": ["currency", "costs"],
    "properties": {
        "currency": {"type": "string", "pattern": "^[A-Za-z]{3}$"},
        "costs": {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": False,
            "properties": {
                c: {"type": "string", "pattern": "^[0-9]{1,4}(\\.[0-9]{1,6})?$"}
                for c in ("sms", "email", "voice", "wechat", "letter")
            },
        },
    },
}
OFFER: dict[str, Any] = {
    "type": "object",
    "title": "Offer",
    "description": "A plan (kind plan: installments, optionally every_days, first_due, first_payment, basis) or a "
    "settlement (kind settlement: discount_pct and pay_by); either may name the channel of its link and how long it lasts.",
    "additionalProperties": False,
    "required": ["kind"],
    "properties": {
        "kind": {"type": "string", "enum": ["plan", "settlement"]},
        "installments": {"type": "integer", "minimum": 2, "maximum": 60},
        "every_days": {"type": "integer", "minimum": 7, "maximum": 31},
        "first_due": {"type": "string", "format": "date"},
        "first_payment": {"type": "string", "pattern": "^[0-9]{1,15}(\\.[0-9]{1,3})?$"},
        "basis": {"type": "string", "enum": ["overdue", "balance"]},
        "discount_pct": _PCT,
        "pay_by": {"type": "string", "format": "date"},
        "channel": {"type": "string", "enum": ["sms", "email", "wechat"]},
        "link_days": {"type": "integer", "minimum": 1, "maximum": 30},
    },
}
OFFER_MADE: dict[str, Any] = {
    "type": "object",
    "title": "OfferMade",
    "required": ["loan_id", "offer_id", "status"],
    "properties": {
        "loan_id": {"type": "string"},
        "offer_id": {"type": "string"},
        "status": {"type": "string", "enum": ["offered", "pending_approval", "withdrawn"]},
    },
}
SETTINGS: dict[str, Any] = {
    "type": "object",
    "title": "Settings",
    "required": ["plan_limits", "default_plan_limits", "channel_costs"],
    "properties": {
        "plan_limits": {"type": "object"},
        "default_plan_limits": {"type": "object"},
        "channel_costs": {"type": "object"},
        "channel_costs_by_currency": {"type": "object"},
    },
}
IDENTITY: dict[str, Any] = {
    "type": "object",
    "title": "Identity",
    "additionalProperties": False,
    "required": ["answer"],
    "properties": {
        "answer": {
            "type": "string",
            "maxLength": 20,
            "description": "The last four characters of the borrower's ID number, or the birth date it carries (YYYY-MM-DD).",
        }
    },
}
OFFER_SHOWN: dict[str, Any] = {
    "type": "object",
    "title": "OfferShown",
    "required": ["offer_id", "kind", "currency", "schedule"],
    "properties": {
        "offer_id": {"type": "string"},
        "kind": {"type": "string", "enum": ["plan", "settlement"]},
        "currency": {"type": "string"},
        "schedule": {"type": "array", "items": {"type": "object", "required": ["due_on", "amount"]}},
        "accepted": {"type": "boolean"},
    },
}
UNMASK: dict[str, Any] = {
    "type": "object",
    "title": "Unmask",
    "additionalProperties": False,
    "required": ["reason"],
    "properties": {"reason": {"type": "string", "minLength": 10, "maxLength": 500}},
}
STRATEGY_DRY_RUN: dict[str, Any] = {
    "type": "object",
    "title": "StrategyDryRun",
    "additionalProperties": False,
    "properties": {"version": {"type": "string", "description": "A version number or draft (the default)."}},
}
DRY_RUN_JOB: dict[str, Any] = {
    "type": "object",
    "title": "DryRunJob",
    "required": ["job_id", "status"],
    "properties": {
        "job_id": {"type": "string"},
        "status": {"type": "string", "enum": ["running", "done"]},
        "by_step": {"type": "array", "items": {"type": "object"}},
    },
}
QUEUE: dict[str, Any] = {
    "type": "object",
    "title": "Queue",
    "required": ["total", "offset", "cases"],
    "properties": {
        "total": {"type": "integer"},
        "offset": {"type": "integer"},
        "cases": {"type": "array", "items": {"type": "object", "required": ["loan_id", "bucket", "expected_recovery"]}},
    },
}
UNMASKED: dict[str, Any] = {
    "type": "object",
    "title": "Unmasked",
    "required": ["borrower_id", "unmasked", "personal_data"],
    "properties": {
        "borrower_id": {"type": "string"},
        "unmasked": {"type": "array", "items": {"type": "string"}},
        "personal_data": {"type": "object"},
    },
}
AUDIT: dict[str, Any] = {
    "type": "object",
    "title": "Audit",
    "required": ["day", "records", "more"],
    "properties": {
        "day": {"type": "string", "format": "date"},
        "records": {"type": "array", "items": {"type": "object"}},
        "more": {"type": "boolean", "description": "Over 1,000 records: the first 1,000 are given."},
    },
}

SCHEMAS: dict[str, dict[str, Any]] = {
    "Repayment": REPAYMENT,
    "RepaymentRecorded": REPAYMENT_RECORDED,
    "Reversal": REVERSAL,
    "ReversalRecorded": REVERSAL_RECORDED,
    "Installment": INSTALLMENT,
    "Loan": LOAN,
    "LoanRecorded": LOAN_RECORDED,
    "Schedule": SCHEDULE,
    "ScheduleRecorded": SCHEDULE_RECORDED,
    "Borrower": BORROWER,
    "BorrowerRecorded": BORROWER_RECORDED,
    "BorrowerHold": BORROWER_HOLD,
    "LoanHold": LOAN_HOLD,
    "HoldRecorded": HOLD_RECORDED,
    "Note": NOTE,
    "OperatorHold": OPERATOR_HOLD,
    "Promise": PROMISE,
    "OpsRecorded": OPS_RECORDED,
    "Me": ME,
    "CaseView": CASE_VIEW,
    "Audit": AUDIT,
    "Dashboard": DASHBOARD,
    "CallResult": CALL_RESULT,
    "Unmask": UNMASK,
    "Unmasked": UNMASKED,
    "Queue": QUEUE,
    "StrategyDryRun": STRATEGY_DRY_RUN,
    "DryRunJob": DRY_RUN_JOB,
    "Campaign": CAMPAIGN,
    "CampaignDryRun": CAMPAIGN_DRY_RUN,
    "CampaignView": CAMPAIGN_VIEW,
    "Campaigns": CAMPAIGNS,
    "ConsoleFile": {"type": "string", "title": "ConsoleFile"},
    "StrategyDraft": STRATEGY_DRAFT,
    "StrategyVersionChoice": STRATEGY_VERSION_CHOICE,
    "Empty": EMPTY,
    "StrategyChanged": STRATEGY_CHANGED,
    "Strategies": STRATEGIES,
    "StrategyVersion": STRATEGY_VERSION,
    "StrategyDiff": STRATEGY_DIFF,
    "PlanLimits": PLAN_LIMITS,
    "PendingOffers": {
        "type": "object",
        "title": "PendingOffers",
        "required": ["offers"],
        "properties": {
            "offers": {"type": "array", "items": {"type": "object", "required": ["loan_id", "offer_id", "kind", "by"]}}
        },
    },
    "Assignment": {
        "type": "object",
        "title": "Assignment",
        "additionalProperties": False,
        "required": ["user"],
        "properties": {"user": {"type": "string", "minLength": 1, "maxLength": 128}},
    },
    "AssignedQueue": {
        "type": "object",
        "title": "AssignedQueue",
        "required": ["user", "total", "cases"],
        "properties": {
            "user": {"type": "string"},
            "total": {"type": "integer"},
            "cases": {"type": "array", "items": {"type": "object", "required": ["loan_id", "case_id", "bucket_now"]}},
        },
    },
    "ChannelCosts": CHANNEL_COSTS,
    "Offer": OFFER,
    "OfferMade": OFFER_MADE,
    "Settings": SETTINGS,
    "Identity": IDENTITY,
    "OfferShown": OFFER_SHOWN,
    "Error": ERROR,
}

#: every route's answers: status -> (schema name, description)
COMMON_ERRORS = {
    "400": ("Error", "A field is missing or wrong (named in `field`), or the loan is unknown; nothing written."),
    "401": (
        "Error",
        "A missing or invalid signature, or a webhook-timestamp over 5 minutes from now; nothing written.",
    ),
    "413": ("Error", "The body is over the size limit; nothing written."),
    "415": ("Error", "The body is not application/json; nothing written."),
    "429": ("Error", "Over the stage's rate limit; retry later."),
    "503": (
        "Error",
        "A dependency failed; nothing was recorded: retry after Retry-After seconds.",
    ),
}
NOT_FOUND = {"404": ("Error", "No such id in the path; nothing written.")}
#: routes idempotent on webhook-id: the same id sent to another route is another message
REUSED = {"409": ("Error", "The webhook-id came before with a message to another route; nothing written.")}
AGAIN = "Recorded (or a repeated webhook-id: the first answer again)."
RESPONSES: dict[tuple[str, str], dict[str, tuple[str, str]]] = {
    ("POST", "/v1/repayments"): {
        "202": (
            "RepaymentRecorded",
            "Recorded (or recorded before: the first answer again); the ledger applies it at once.",
        ),
        "409": (
            "Error",
            "The payment_id was recorded with another loan, amount or paid_at (in `stored`); nothing changed.",
        ),
        **COMMON_ERRORS,
    },
    ("POST", "/v1/repayments/{payment_id}/reversal"): {
        "202": (
            "ReversalRecorded",
            "Reversed (or reversed before: the first answer again); the ledger applies it at once.",
        ),
        "404": ("Error", "No payment recorded under this payment_id; nothing written."),
        **COMMON_ERRORS,
    },
    ("POST", "/v1/loans"): {
        "202": ("LoanRecorded", AGAIN),
        "409": (
            "Error",
            "The loan exists (change its schedule with PUT), or the webhook-id came before with a message to "
            "another route; nothing written.",
        ),
        **COMMON_ERRORS,
    },
    ("PUT", "/v1/loans/{loan_id}/schedule"): {
        "202": ("ScheduleRecorded", AGAIN),
        **NOT_FOUND,
        **REUSED,
        **COMMON_ERRORS,
    },
    ("PUT", "/v1/borrowers/{borrower_id}"): {"202": ("BorrowerRecorded", AGAIN), **REUSED, **COMMON_ERRORS},
    ("POST", "/v1/borrowers/{borrower_id}/holds"): {
        "202": ("HoldRecorded", AGAIN),
        **NOT_FOUND,
        **REUSED,
        **COMMON_ERRORS,
    },
    ("DELETE", "/v1/borrowers/{borrower_id}/holds/{hold}"): {
        "202": ("HoldRecorded", AGAIN),
        **NOT_FOUND,
        **REUSED,
        **COMMON_ERRORS,
    },
    ("POST", "/v1/loans/{loan_id}/holds"): {
        "202": ("HoldRecorded", AGAIN),
        **NOT_FOUND,
        **REUSED,
        **COMMON_ERRORS,
    },
    ("DELETE", "/v1/loans/{loan_id}/holds/{hold}"): {
        "202": ("HoldRecorded", AGAIN),
        **NOT_FOUND,
        **REUSED,
        **COMMON_ERRORS,
    },
}
#: the operations routes' answers (bearer tokens instead of signatures)
OPS_READ_ERRORS = {
    "401": ("Error", "A missing, forged or expired bearer token, or one of another pool or client."),
    "403": ("Error", "The user's role may not do this."),
    "413": COMMON_ERRORS["413"],
    "429": COMMON_ERRORS["429"],
    "503": COMMON_ERRORS["503"],
}
OPS_WRITE_ERRORS = {
    **OPS_READ_ERRORS,
    "400": ("Error", "A field is missing or wrong (named in `field`), or no Idempotency-Key; nothing written."),
    "404": ("Error", "No such loan (or hold) in the path; nothing written."),
    "409": (
        "Error",
        "The Idempotency-Key came before with another route, or the loan has no open case; nothing written.",
    ),
    "415": COMMON_ERRORS["415"],
}
OPS_AGAIN = "Recorded and audited (or a repeated Idempotency-Key: the first answer again)."
RESPONSES |= {
    ("GET", "/v1/ops/me"): {"200": ("Me", "The signed-in user."), **OPS_READ_ERRORS},
    ("GET", "/v1/ops/dashboard"): {
        "200": ("Dashboard", "The book's figures and the queues."),
        "400": ("Error", "days is not a whole number from 1 to 60."),
        **OPS_READ_ERRORS,
    },
    ("GET", "/v1/ops/loans/{loan_id}"): {
        "200": ("CaseView", "The loan's case."),
        "404": ("Error", "No such loan."),
        **OPS_READ_ERRORS,
    },
    ("GET", "/v1/ops/audit"): {
        "200": ("Audit", "The day's audit records."),
        "400": ("Error", "day is not a date."),
        **OPS_READ_ERRORS,
    },
    ("POST", "/v1/ops/loans/{loan_id}/notes"): {"202": ("OpsRecorded", OPS_AGAIN), **OPS_WRITE_ERRORS},
    ("POST", "/v1/ops/loans/{loan_id}/promises"): {"202": ("OpsRecorded", OPS_AGAIN), **OPS_WRITE_ERRORS},
    ("POST", "/v1/ops/loans/{loan_id}/holds"): {"202": ("OpsRecorded", OPS_AGAIN), **OPS_WRITE_ERRORS},
    ("DELETE", "/v1/ops/loans/{loan_id}/holds/{hold}"): {"202": ("OpsRecorded", OPS_AGAIN), **OPS_WRITE_ERRORS},
    ("POST", "/v1/ops/loans/{loan_id}/calls"): {
        "202": ("OpsRecorded", OPS_AGAIN + " With the number to dial."),
        **OPS_WRITE_ERRORS,
    },
    ("POST", "/v1/ops/loans/{loan_id}/calls/{call_id}/result"): {"202": ("OpsRecorded", OPS_AGAIN), **OPS_WRITE_ERRORS},
    ("POST", "/v1/ops/borrowers/{borrower_id}/unmask"): {
        "202": ("Unmasked", "The personal data (audited with the reason)."),
        **OPS_WRITE_ERRORS,
    },
    ("GET", "/v1/ops/queue"): {
        "200": ("Queue", "The day's cases, most valuable first."),
        "400": ("Error", "limit or offset is not a whole number in range."),
        **OPS_READ_ERRORS,
    },
    ("GET", "/v1/ops/campaigns"): {"200": ("Campaigns", "Every campaign."), **OPS_READ_ERRORS},
    ("POST", "/v1/ops/campaigns"): {"202": ("CampaignView", OPS_AGAIN), **OPS_WRITE_ERRORS},
    ("POST", "/v1/ops/campaigns/dry-run"): {
        "200": ("CampaignDryRun", "What it would do now; nothing written."),
        **{k: v for k, v in OPS_WRITE_ERRORS.items() if k != "409"},
    },
    ("GET", "/v1/ops/campaigns/{campaign_id}"): {
        "200": ("CampaignView", "The campaign and its progress."),
        "404": ("Error", "No such campaign."),
        **OPS_READ_ERRORS,
    },
    ("POST", "/v1/ops/campaigns/{campaign_id}/start"): {"202": ("CampaignView", OPS_AGAIN), **OPS_WRITE_ERRORS},
    ("POST", "/v1/ops/campaigns/{campaign_id}/pause"): {"202": ("CampaignView", OPS_AGAIN), **OPS_WRITE_ERRORS},
    ("POST", "/v1/ops/campaigns/{campaign_id}/resume"): {"202": ("CampaignView", OPS_AGAIN), **OPS_WRITE_ERRORS},
    ("POST", "/v1/ops/campaigns/{campaign_id}/cancel"): {"202": ("CampaignView", OPS_AGAIN), **OPS_WRITE_ERRORS},
    ("GET", "/v1/ops/strategies"): {"200": ("Strategies", "Every strategy."), **OPS_READ_ERRORS},
    ("POST", "/v1/ops/strategies/{strategy_id}/dry-runs"): {
        "202": ("DryRunJob", "The job started: poll its result."),
        **{k: v for k, v in OPS_WRITE_ERRORS.items() if k != "409"},
    },
    ("GET", "/v1/ops/strategies/dry-runs/{job_id}"): {
        "200": ("DryRunJob", "Running, or done with the counts."),
        "404": ("Error", "No such dry run."),
        **OPS_READ_ERRORS,
    },
    ("GET", "/v1/ops/strategies/{strategy_id}/versions/{version}"): {
        "200": ("StrategyVersion", "The version."),
        "400": ("Error", "version is neither a number nor draft."),
        "404": ("Error", "No such version."),
        **OPS_READ_ERRORS,
    },
    ("GET", "/v1/ops/strategies/{strategy_id}/diff"): {
        "200": ("StrategyDiff", "The unified diff (empty: the same)."),
        "400": ("Error", "from or to is neither a number nor draft, or there is nothing to compare with."),
        "404": ("Error", "No such version."),
        **OPS_READ_ERRORS,
    },
    ("PUT", "/v1/ops/strategies/{strategy_id}/draft"): {"202": ("StrategyChanged", OPS_AGAIN), **OPS_WRITE_ERRORS},
    ("POST", "/v1/ops/strategies/{strategy_id}/versions"): {"202": ("StrategyChanged", OPS_AGAIN), **OPS_WRITE_ERRORS},
    ("POST", "/v1/ops/strategies/{strategy_id}/active"): {"202": ("StrategyChanged", OPS_AGAIN), **OPS_WRITE_ERRORS},
    ("POST", "/v1/ops/strategies/{strategy_id}/rollback"): {"202": ("StrategyChanged", OPS_AGAIN), **OPS_WRITE_ERRORS},
    ("GET", "/v1/ops/queue/mine"): {
        "200": ("AssignedQueue", "The user's assigned cases still open."),
        **OPS_READ_ERRORS,
    },
    ("POST", "/v1/ops/loans/{loan_id}/assignment"): {"202": ("OpsRecorded", OPS_AGAIN), **OPS_WRITE_ERRORS},
    ("DELETE", "/v1/ops/loans/{loan_id}/assignment"): {"202": ("OpsRecorded", OPS_AGAIN), **OPS_WRITE_ERRORS},
    ("GET", "/v1/ops/offers/pending"): {
        "200": ("PendingOffers", "Offers awaiting approval, oldest first."),
        **OPS_READ_ERRORS,
    },
    ("GET", "/v1/ops/settings"): {
        "200": ("Settings", "Plan limits per product, the defaults, channel costs."),
        **OPS_READ_ERRORS,
    },
    ("PUT", "/v1/ops/settings/plan-limits/{product}"): {"202": ("OpsRecorded", OPS_AGAIN), **OPS_WRITE_ERRORS},
    ("PUT", "/v1/ops/settings/channel-costs"): {"202": ("OpsRecorded", OPS_AGAIN), **OPS_WRITE_ERRORS},
    ("POST", "/v1/ops/loans/{loan_id}/offers"): {
        "202": ("OfferMade", "Offered (its link sent through the guard) or waiting for a supervisor's approval."),
        **OPS_WRITE_ERRORS,
        "422": ("Error", "Beyond what even a supervisor may offer on this product (the limit named); nothing written."),
    },
    ("POST", "/v1/ops/loans/{loan_id}/offers/{offer_id}/approve"): {
        "202": ("OfferMade", OPS_AGAIN),
        **OPS_WRITE_ERRORS,
    },
    ("POST", "/v1/ops/loans/{loan_id}/offers/{offer_id}/withdraw"): {
        "202": ("OfferMade", OPS_AGAIN),
        **OPS_WRITE_ERRORS,
    },
}
#: the borrower's self-service page (no credentials: the link's signature is the credential)
PAY_ERRORS = {
    "403": ("Error", "The answer does not match (tries left named); counted."),
    "404": ("Error", "Not a valid link."),
    "409": ("Error", "The offer is no longer open to acceptance (accepted meanwhile, the loan changed)."),
    "410": ("Error", "The link has expired, or the offer was withdrawn or has lapsed."),
    "413": COMMON_ERRORS["413"],
    "415": COMMON_ERRORS["415"],
    "423": ("Error", "Locked after too many wrong answers."),
    "429": COMMON_ERRORS["429"],
    "503": COMMON_ERRORS["503"],
}
RESPONSES |= {
    ("GET", "/pay/{token}"): {
        "200": ("ConsoleFile", "The page (HTML); it asks who the visitor is before it shows anything.")
    },
    ("POST", "/pay/{token}/verify"): {
        "200": ("OfferShown", "The offer, in the borrower's language."),
        **PAY_ERRORS,
        "400": COMMON_ERRORS["400"],
    },
    ("POST", "/pay/{token}/accept"): {
        "200": ("OfferShown", "Accepted (a repeat: the same answer)."),
        **PAY_ERRORS,
        "400": COMMON_ERRORS["400"],
    },
}
#: the console's static files (no credentials: the API calls they make carry them)
CONSOLE_ANSWERS = {
    "200": ("ConsoleFile", "The file (HTML, JavaScript, CSS, or config.json)."),
    "302": ("ConsoleFile", "To the console's page."),
    "404": ("Error", "No such file."),
}
#: query parameters: name -> description (all optional)
QUERIES: dict[tuple[str, str], dict[str, str]] = {
    ("GET", "/v1/ops/audit"): {"day": "The business date, YYYY-MM-DD (today by default)."},
    ("GET", "/v1/ops/dashboard"): {"days": "Days of trend, 1-60 (default 14)."},
    ("GET", "/v1/ops/queue/mine"): {"bucket": "Only this bucket.", "segment": "Only this strategy segment."},
    ("GET", "/v1/ops/queue"): {
        "bucket": "Only this bucket (as of the run).",
        "segment": "Only this strategy segment.",
        "limit": "Cases a page, 1-200 (default 50).",
        "offset": "Cases to skip (default 0).",
    },
    ("GET", "/v1/ops/strategies/{strategy_id}/diff"): {
        "from": "A version number or draft (default: the active version).",
        "to": "A version number or draft (default: the draft).",
    },
}
REQUESTS: dict[tuple[str, str], str] = {
    ("POST", "/v1/repayments"): "Repayment",
    ("POST", "/v1/repayments/{payment_id}/reversal"): "Reversal",
    ("POST", "/v1/loans"): "Loan",
    ("PUT", "/v1/loans/{loan_id}/schedule"): "Schedule",
    ("PUT", "/v1/borrowers/{borrower_id}"): "Borrower",
    ("POST", "/v1/borrowers/{borrower_id}/holds"): "BorrowerHold",
    ("POST", "/v1/loans/{loan_id}/holds"): "LoanHold",
    ("POST", "/v1/ops/loans/{loan_id}/notes"): "Note",
    ("POST", "/v1/ops/loans/{loan_id}/promises"): "Promise",
    ("POST", "/v1/ops/loans/{loan_id}/holds"): "OperatorHold",
    ("PUT", "/v1/ops/strategies/{strategy_id}/draft"): "StrategyDraft",
    ("POST", "/v1/ops/strategies/{strategy_id}/dry-runs"): "StrategyDryRun",
    ("POST", "/v1/ops/campaigns"): "Campaign",
    ("POST", "/v1/ops/loans/{loan_id}/calls"): "Empty",
    ("POST", "/v1/ops/loans/{loan_id}/calls/{call_id}/result"): "CallResult",
    ("POST", "/v1/ops/borrowers/{borrower_id}/unmask"): "Unmask",
    ("POST", "/v1/ops/campaigns/dry-run"): "Campaign",
    ("POST", "/v1/ops/campaigns/{campaign_id}/start"): "Empty",
    ("POST", "/v1/ops/campaigns/{campaign_id}/pause"): "Empty",
    ("POST", "/v1/ops/campaigns/{campaign_id}/resume"): "Empty",
    ("POST", "/v1/ops/campaigns/{campaign_id}/cancel"): "Empty",
    ("POST", "/v1/ops/strategies/{strategy_id}/versions"): "Empty",
    ("POST", "/v1/ops/strategies/{strategy_id}/active"): "StrategyVersionChoice",
    ("POST", "/v1/ops/strategies/{strategy_id}/rollback"): "Empty",
    ("PUT", "/v1/ops/settings/plan-limits/{product}"): "PlanLimits",
    ("POST", "/v1/ops/loans/{loan_id}/assignment"): "Assignment",
    ("PUT", "/v1/ops/settings/channel-costs"): "ChannelCosts",
    ("POST", "/v1/ops/loans/{loan_id}/offers"): "Offer",
    ("POST", "/v1/ops/loans/{loan_id}/offers/{offer_id}/approve"): "Empty",
    ("POST", "/v1/ops/loans/{loan_id}/offers/{offer_id}/withdraw"): "Empty",
    ("POST", "/pay/{token}/verify"): "Identity",
    ("POST", "/pay/{token}/accept"): "Identity",
}

CODES = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    409: "Conflict",
    413: "RequestTooLarge",
    415: "UnsupportedMediaType",
    410: "Gone",
    422: "UnprocessableEntity",
    423: "Locked",
    429: "TooManyRequests",
    503: "ServiceUnavailable",
}


class ApiError(Exception):
    """An answer other than success: status, message and the field at fault."""

    def __init__(
        self,
        status: int,
        message: str,
        field: str | None = None,
        stored: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.field, self.stored = status, message, field, stored
        self.headers = headers or {}

    def body(self) -> str:
        out: dict[str, Any] = {"Code": CODES.get(self.status, "Error"), "Message": self.message}
        if self.field:
            out["field"] = self.field
        if self.stored is not None:
            out["stored"] = self.stored
        return json.dumps(out, ensure_ascii=False)


def field_of(message: str, kind: str) -> str | None:
    """The field a validator's message is about (its first word, or the parent id it names)."""
    first = message.split(" ", 1)[0].rstrip(":")
    if first in COLUMNS[kind]:
        return first
    if message.startswith("unknown loan"):
        return "loan_id"
    if message.startswith("unknown borrower"):
        return "borrower_id"
    if message.startswith("unknown payment"):
        return "payment_id"
    return None
