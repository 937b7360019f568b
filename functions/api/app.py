"""The platform's HTTP API (API Gateway REST API -> this Chalice app): routes only; each view hands the
signed request to one use case in ``arrears.usecases.webhook``. ``infra/api/generate.py`` builds the
API Gateway definition and openapi.json from these routes."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chalice import Chalice, Response

from arrears.adapters.models import bind
from arrears.clock import now
from arrears.domain.access import Principal
from arrears.domain.facts import business_date
from arrears.observability import logger, metrics
from arrears.usecases import agent_work, campaigns, dashboard, offers, operations, strategy_ops, webhook

app = Chalice(app_name="arrears-api")
app.debug = False  # never a traceback in a response
app.api.binary_types = []  # every body reaches the app as sent (a wrong type is answered 415)

JSON = ["application/json"]


@functools.cache
def api_settings() -> webhook.ApiSettings:
    s = webhook.ApiSettings.from_env()  # a bad setting fails the cold start, naming it
    bind(s)
    return s


def signed(route: Callable[..., webhook.Answer]) -> Callable[..., Response]:
    """Size and signature first, then the view; every outcome is an answer (see usecases/webhook.py)."""

    @functools.wraps(route)
    def view(**path: str) -> Response:
        request = app.current_request
        incoming = webhook.Incoming(request.headers, bytes(request.raw_body or b""))
        answer = webhook.receive(incoming, api_settings(), now(), lambda inc, wid: route(inc, wid, **path))
        headers = {"Content-Type": "application/json", **answer.headers}
        return Response(body=answer.body, status_code=answer.status, headers=headers)

    return view


@functools.cache
def ops_settings() -> operations.OpsSettings:
    s = operations.OpsSettings.from_env()  # a bad setting fails the first operations request, naming it
    bind(s)
    return s


def operator(permission: str) -> Callable[[Callable[..., webhook.Answer]], Callable[..., Response]]:
    """Size, bearer token and the role's ``permission`` first, then the view (see usecases/operations.py)."""

    def wrap(route: Callable[..., webhook.Answer]) -> Callable[..., Response]:
        @functools.wraps(route)
        def view(**path: str) -> Response:
            request = app.current_request
            incoming = webhook.Incoming(request.headers, bytes(request.raw_body or b""))
            query = dict(request.query_params or {})
            answer = operations.serve(
                incoming,
                ops_settings(),
                api_settings().max_body_bytes,
                now(),
                permission,
                lambda p: route(p, incoming, query, **path),
            )
            headers = {"Content-Type": "application/json", "Cache-Control": "no-store", **answer.headers}
            return Response(body=answer.body, status_code=answer.status, headers=headers)

        return view

    return wrap


@app.route("/v1/repayments", methods=["POST"], content_types=JSON)
@signed
def post_repayment(incoming: webhook.Incoming, webhook_id: str) -> webhook.Answer:
    """Record a repayment (idempotent on payment_id).

    The repayment enters the ledger as an imported one does, and the ledger stream applies it at once:
    a payment that brings the loan to DPD 0 closes its case as cured and cancels its planned actions.
    """
    return webhook.record_repayment(incoming, webhook_id, api_settings(), now())


@app.route("/v1/repayments/{payment_id}/reversal", methods=["POST"], content_types=JSON)
@signed
def post_reversal(incoming: webhook.Incoming, webhook_id: str, payment_id: str) -> webhook.Answer:
    """Reverse a repayment: a chargeback or a failed debit (idempotent on payment_id).

    The payment is taken back out of the loan's ledger and the ledger stream applies it at once: a loan
    it had made current is delinquent again from the original due date, and its case reopens (the same
    case within CaseReopenDays of its closing, else a new one). The body is optional.
    """
    return webhook.record_reversal(incoming, webhook_id, payment_id, api_settings(), now())


@app.route("/v1/loans", methods=["POST"], content_types=JSON)
@signed
def post_loan(incoming: webhook.Incoming, webhook_id: str) -> webhook.Answer:
    """Add a new loan with its repayment schedule (idempotent on webhook-id)."""
    return webhook.post_loan(incoming, webhook_id, api_settings(), now())


@app.route("/v1/loans/{loan_id}/schedule", methods=["PUT"], content_types=JSON)
@signed
def put_schedule(incoming: webhook.Incoming, webhook_id: str, loan_id: str) -> webhook.Answer:
    """Replace a rescheduled loan's schedule (idempotent on webhook-id).

    Installments of the old schedule missing from the new one are removed; the ledger stream
    re-evaluates the loan.
    """
    return webhook.put_schedule(incoming, webhook_id, loan_id, api_settings(), now())


@app.route("/v1/borrowers/{borrower_id}", methods=["PUT"], content_types=JSON)
@signed
def put_borrower(incoming: webhook.Incoming, webhook_id: str, borrower_id: str) -> webhook.Answer:
    """Add or replace a borrower: contact points, language, time zone, opt-outs (idempotent on webhook-id).

    Its opt_out and holds are the platform's own: they replace what the platform set before, never a
    borrower's own opt-out or an operator's hold.
    """
    return webhook.put_borrower(incoming, webhook_id, borrower_id, api_settings(), now())


@app.route("/v1/borrowers/{borrower_id}/holds", methods=["POST"], content_types=JSON)
@signed
def post_borrower_hold(incoming: webhook.Incoming, webhook_id: str, borrower_id: str) -> webhook.Answer:
    """Place a platform hold on a borrower: cease_contact, attorney, deceased, bankrupt."""
    return webhook.change_hold(incoming, webhook_id, "borrower", borrower_id, None, api_settings(), now())


@app.route("/v1/borrowers/{borrower_id}/holds/{hold}", methods=["DELETE"])
@signed
def delete_borrower_hold(incoming: webhook.Incoming, webhook_id: str, borrower_id: str, hold: str) -> webhook.Answer:
    """Lift a hold the platform placed on a borrower (never one another source placed)."""
    return webhook.change_hold(incoming, webhook_id, "borrower", borrower_id, hold, api_settings(), now())


@app.route("/v1/loans/{loan_id}/holds", methods=["POST"], content_types=JSON)
@signed
def post_loan_hold(incoming: webhook.Incoming, webhook_id: str, loan_id: str) -> webhook.Answer:
    """Place a platform hold on a loan: dispute, hardship, paused."""
    return webhook.change_hold(incoming, webhook_id, "loan", loan_id, None, api_settings(), now())


@app.route("/v1/loans/{loan_id}/holds/{hold}", methods=["DELETE"])
@signed
def delete_loan_hold(incoming: webhook.Incoming, webhook_id: str, loan_id: str, hold: str) -> webhook.Answer:
    """Lift a hold the platform placed on a loan (never an operator's)."""
    return webhook.change_hold(incoming, webhook_id, "loan", loan_id, hold, api_settings(), now())


# ----------------------------------------------------------------- the console (static files)

CONSOLE = Path(__file__).resolve().parent / "console"
CONSOLE_FILES = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
    "pay.js": "text/javascript; charset=utf-8",  # the borrower's self-service page (pay.html)
    "pay.html": "text/html; charset=utf-8",
}
#: the console runs its own scripts and styles only, talks to this API (and Cognito's token endpoint)
CONSOLE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' https://*.amazoncognito.com; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@functools.cache
def console_file(name: str) -> str:
    return (CONSOLE / name).read_text(encoding="utf-8")


def console_config() -> dict[str, str]:
    """How the console signs in: the local stack's form, or Cognito's hosted UI (PKCE)."""
    s = ops_settings()
    if s.jwks_url.startswith("file://"):
        return {"auth": "local"}
    return {
        "auth": "cognito",
        "login_domain": os.environ.get("OPS_LOGIN_DOMAIN", ""),
        "client_id": s.client_id,
        "redirect_uri": os.environ.get("OPS_CONSOLE_URL", ""),
    }


@app.route("/console", methods=["GET"])
def get_console() -> Response:
    """The operations console (its page, below)."""
    return Response(body="", status_code=302, headers={"Location": "console/index.html", **CONSOLE_HEADERS})


@app.route("/console/{name}", methods=["GET"])
def get_console_file(name: str) -> Response:
    """The console's files, and config.json: how it signs in."""
    if name == "config.json":
        body, kind = json.dumps(console_config()), "application/json"
    elif name in CONSOLE_FILES:
        body, kind = console_file(name), CONSOLE_FILES[name]
    else:
        body, kind = json.dumps({"Code": "NotFound", "Message": "no such file"}), "application/json"
        return Response(body=body, status_code=404, headers={"Content-Type": kind, **CONSOLE_HEADERS})
    return Response(body=body, status_code=200, headers={"Content-Type": kind, **CONSOLE_HEADERS})


# ----------------------------------------------------------------- operations (bearer tokens)


@app.route("/v1/ops/dashboard", methods=["GET"])
@operator("dashboards.read")
def get_dashboard(p: Principal, incoming: webhook.Incoming, query: dict[str, str]) -> webhook.Answer:
    """The book by bucket and its trend (from the daily reports, ?days=14), and every queue's depth."""
    s = ops_settings()
    return dashboard.dashboard(s.outcomes_bucket, s.queues, business_date(now(), s.business_tz), query)


@app.route("/v1/ops/me", methods=["GET"])
@operator("dashboards.read")
def get_me(p: Principal, incoming: webhook.Incoming, query: dict[str, str]) -> webhook.Answer:
    """The signed-in user: name, role and what the role may do."""
    return operations.whoami(p)


@app.route("/v1/ops/queue", methods=["GET"])
@operator("cases.work")
def get_queue(p: Principal, incoming: webhook.Incoming, query: dict[str, str]) -> webhook.Answer:
    """The day's work queue: the most valuable cases first (?bucket=&segment=&limit=50&offset=0)."""
    return operations.work_queue(p, query, ops_settings(), now())


@app.route("/v1/ops/queue/mine", methods=["GET"])
@operator("cases.work")
def get_my_queue(p: Principal, incoming: webhook.Incoming, query: dict[str, str]) -> webhook.Answer:
    """The signed-in user's assigned cases still open and not on hold (?bucket=&segment=)."""
    return operations.assigned_queue(p, query, ops_settings())


@app.route("/v1/ops/loans/{loan_id}/assignment", methods=["POST"], content_types=JSON)
@operator("cases.assign")
def post_assignment(p: Principal, incoming: webhook.Incoming, query: dict[str, str], loan_id: str) -> webhook.Answer:
    """Give a case to a user's queue ({"user": "ann"}; supervisors, admins; audited)."""
    return operations.assign(p, incoming, loan_id, ops_settings(), now())


@app.route("/v1/ops/loans/{loan_id}/assignment", methods=["DELETE"])
@operator("cases.assign")
def delete_assignment(p: Principal, incoming: webhook.Incoming, query: dict[str, str], loan_id: str) -> webhook.Answer:
    """Take a case back from the user it was given to (supervisors, admins; audited)."""
    return operations.assign(p, incoming, loan_id, ops_settings(), now(), giving=False)


@app.route("/v1/ops/loans/{loan_id}", methods=["GET"])
@operator("cases.work")
def get_case(p: Principal, incoming: webhook.Incoming, query: dict[str, str], loan_id: str) -> webhook.Answer:
    """A loan's case: its state and its timeline, newest first, with the borrower's contact points masked."""
    return operations.case_view(p, loan_id, ops_settings(), now())


@app.route("/v1/ops/loans/{loan_id}/notes", methods=["POST"], content_types=JSON)
@operator("cases.work")
def post_note(p: Principal, incoming: webhook.Incoming, query: dict[str, str], loan_id: str) -> webhook.Answer:
    """Add a note to a loan's case (idempotent on Idempotency-Key; audited)."""
    return operations.add_note(p, incoming, loan_id, ops_settings(), now())


@app.route("/v1/ops/loans/{loan_id}/promises", methods=["POST"], content_types=JSON)
@operator("cases.work")
def post_promise(p: Principal, incoming: webhook.Incoming, query: dict[str, str], loan_id: str) -> webhook.Answer:
    """Record a borrower's promise to pay, made to an agent (idempotent on Idempotency-Key; audited).

    Dunning then waits for its date; the promise is kept or broken as the payments say.
    """
    return operations.record_promise(p, incoming, loan_id, ops_settings(), now())


@app.route("/v1/ops/loans/{loan_id}/calls", methods=["POST"], content_types=JSON)
@operator("cases.work")
def post_call(p: Principal, incoming: webhook.Incoming, query: dict[str, str], loan_id: str) -> webhook.Answer:
    """Reserve the agent's own call through the compliance guard: the number to dial, or 409 naming the rule.

    The call counts in the borrower's contact caps as the dialer's calls do (audited).
    """
    return agent_work.reserve_call(p, incoming, loan_id, ops_settings(), now())


@app.route("/v1/ops/loans/{loan_id}/calls/{call_id}/result", methods=["POST"], content_types=JSON)
@operator("cases.work")
def post_call_result(
    p: Principal, incoming: webhook.Incoming, query: dict[str, str], loan_id: str, call_id: str
) -> webhook.Answer:
    """Record the result of the agent's call (a promise with its date and amount; audited)."""
    return agent_work.record_result(p, incoming, loan_id, call_id, ops_settings(), now())


@app.route("/v1/ops/borrowers/{borrower_id}/unmask", methods=["POST"], content_types=JSON)
@operator("personal.unmask")
def post_unmask(p: Principal, incoming: webhook.Incoming, query: dict[str, str], borrower_id: str) -> webhook.Answer:
    """The borrower's personal data, for a reason (audited)."""
    return agent_work.unmask(p, incoming, borrower_id, ops_settings(), now())


@app.route("/v1/ops/loans/{loan_id}/holds", methods=["POST"], content_types=JSON)
@operator("cases.work")
def post_operator_hold(p: Principal, incoming: webhook.Incoming, query: dict[str, str], loan_id: str) -> webhook.Answer:
    """Place an operator's hold on a loan: dispute, hardship, paused (idempotent on Idempotency-Key; audited)."""
    return operations.change_hold(p, incoming, loan_id, None, ops_settings(), now())


@app.route("/v1/ops/loans/{loan_id}/holds/{hold}", methods=["DELETE"])
@operator("cases.work")
def delete_operator_hold(
    p: Principal, incoming: webhook.Incoming, query: dict[str, str], loan_id: str, hold: str
) -> webhook.Answer:
    """Lift the operators' hold on a loan (never the platform's or a borrower's; audited)."""
    return operations.change_hold(p, incoming, loan_id, hold, ops_settings(), now())


@app.route("/v1/ops/strategies", methods=["GET"])
@operator("strategies.read")
def get_strategies(p: Principal, incoming: webhook.Incoming, query: dict[str, str]) -> webhook.Answer:
    """Every strategy: its versions (when, by whom), the active one and those active before, its draft."""
    return strategy_ops.list_strategies(p)


@app.route("/v1/ops/strategies/{strategy_id}/versions/{version}", methods=["GET"])
@operator("strategies.read")
def get_strategy_version(
    p: Principal, incoming: webhook.Incoming, query: dict[str, str], strategy_id: str, version: str
) -> webhook.Answer:
    """A version's document and state (draft, published or active); `version` a number or `draft`."""
    return strategy_ops.read_version(p, strategy_id, version)


@app.route("/v1/ops/strategies/{strategy_id}/diff", methods=["GET"])
@operator("strategies.read")
def get_strategy_diff(
    p: Principal, incoming: webhook.Incoming, query: dict[str, str], strategy_id: str
) -> webhook.Answer:
    """A unified diff of two versions (?from=N&to=M or draft; by default the active version and the draft)."""
    return strategy_ops.diff(p, strategy_id, query)


@app.route("/v1/ops/strategies/{strategy_id}/dry-runs", methods=["POST"], content_types=JSON)
@operator("strategies.write")
def post_strategy_dry_run(
    p: Principal, incoming: webhook.Incoming, query: dict[str, str], strategy_id: str
) -> webhook.Answer:
    """Dry-run a version (or the draft) over the book: a job fanned out over the shards; nothing is sent."""
    ops_settings()
    return strategy_ops.start_dry_run(p, incoming, strategy_id, run_settings(), now())


@app.route("/v1/ops/strategies/dry-runs/{job_id}", methods=["GET"])
@operator("strategies.read")
def get_strategy_dry_run(
    p: Principal, incoming: webhook.Incoming, query: dict[str, str], job_id: str
) -> webhook.Answer:
    """A dry run's state: running (shards done), or done with its counts per arm, segment, step and channel."""
    ops_settings()
    return strategy_ops.dry_run_result(p, job_id, run_settings())


@app.route("/v1/ops/strategies/{strategy_id}/draft", methods=["PUT"], content_types=JSON)
@operator("strategies.write")
def put_strategy_draft(
    p: Principal, incoming: webhook.Incoming, query: dict[str, str], strategy_id: str
) -> webhook.Answer:
    """Save the strategy's draft (a whole document, validated; audited). A new id starts a new strategy."""
    return strategy_ops.save_draft(p, incoming, strategy_id, ops_settings(), now())


@app.route("/v1/ops/strategies/{strategy_id}/versions", methods=["POST"], content_types=JSON)
@operator("strategies.write")
def post_strategy_version(
    p: Principal, incoming: webhook.Incoming, query: dict[str, str], strategy_id: str
) -> webhook.Answer:
    """Publish the draft as the next version, not yet active (audited)."""
    return strategy_ops.publish(p, incoming, strategy_id, ops_settings(), now())


@app.route("/v1/ops/strategies/{strategy_id}/active", methods=["POST"], content_types=JSON)
@operator("strategies.write")
def post_strategy_active(
    p: Principal, incoming: webhook.Incoming, query: dict[str, str], strategy_id: str
) -> webhook.Answer:
    """Activate a published version: the next daily run plans with it (audited)."""
    return strategy_ops.activate(p, incoming, strategy_id, ops_settings(), now())


@app.route("/v1/ops/strategies/{strategy_id}/rollback", methods=["POST"], content_types=JSON)
@operator("strategies.write")
def post_strategy_rollback(
    p: Principal, incoming: webhook.Incoming, query: dict[str, str], strategy_id: str
) -> webhook.Answer:
    """Re-activate the version active before the current one (audited)."""
    return strategy_ops.rollback(p, incoming, strategy_id, ops_settings(), now())


@functools.cache
def run_settings() -> Any:
    """The pipeline's settings (capacity, buckets, shards): what a campaign's targeting and dry run need."""
    from arrears.config import settings

    s = settings()
    bind(s)
    return s


@app.route("/v1/ops/campaigns", methods=["GET"])
@operator("dashboards.read")
def get_campaigns(p: Principal, incoming: webhook.Incoming, query: dict[str, str]) -> webhook.Answer:
    """Every campaign with its status and counters."""
    ops_settings()
    return campaigns.listing()


@app.route("/v1/ops/campaigns", methods=["POST"], content_types=JSON)
@operator("campaigns.write")
def post_campaign(p: Principal, incoming: webhook.Incoming, query: dict[str, str]) -> webhook.Answer:
    """Create a campaign (a draft: start it to send; idempotent on Idempotency-Key; audited)."""
    return campaigns.create(p, incoming, ops_settings(), now())


@app.route("/v1/ops/campaigns/dry-run", methods=["POST"], content_types=JSON)
@operator("campaigns.write")
def post_campaign_dry_run(p: Principal, incoming: webhook.Incoming, query: dict[str, str]) -> webhook.Answer:
    """What a campaign (the body, as for creating one) would do now: loans matched, the guard's refusals
    by rule, what today's capacity and cap let out, the cost; nothing is written."""
    ops_settings()
    return campaigns.dry_run_answer(incoming, run_settings(), ops_settings(), now())


@app.route("/v1/ops/campaigns/{campaign_id}", methods=["GET"])
@operator("dashboards.read")
def get_campaign(p: Principal, incoming: webhook.Incoming, query: dict[str, str], campaign_id: str) -> webhook.Answer:
    """A campaign and its progress: targeted, worked, planned, sent, connected, deferred, blocked by rule,
    promises, loans paid and the amount recovered since they were worked."""
    ops_settings()
    return campaigns.progress_answer(campaign_id)


CAMPAIGN_COMMANDS = {
    "start": "Start a draft campaign: its work for today is dispatched at once from the day's unused capacity (audited).",
    "pause": "Pause a running campaign: nothing more is sent, its queued messages included (audited).",
    "resume": "Resume a paused campaign: today's work is dispatched again at once (audited).",
    "cancel": "Cancel a campaign for good (audited).",
}


def _campaign_command(verb: str) -> Callable[..., Response]:
    def view(p: Principal, incoming: webhook.Incoming, query: dict[str, str], campaign_id: str) -> webhook.Answer:
        return campaigns.command(p, incoming, campaign_id, verb, ops_settings(), now())

    view.__name__, view.__doc__ = f"post_campaign_{verb}", CAMPAIGN_COMMANDS[verb]
    route = app.route(f"/v1/ops/campaigns/{{campaign_id}}/{verb}", methods=["POST"], content_types=JSON)
    return route(operator("campaigns.write")(view))  # type: ignore[no-any-return]


for _verb in CAMPAIGN_COMMANDS:
    _campaign_command(_verb)


# ------------------------------------------------- payment plans and settlements (usecases/offers.py)


def _link_base() -> str:
    request = app.current_request
    return offers.link_base(request.headers, (request.context or {}).get("stage"))


@app.route("/v1/ops/settings", methods=["GET"])
@operator("dashboards.read")
def get_settings(p: Principal, incoming: webhook.Incoming, query: dict[str, str]) -> webhook.Answer:
    """The admin's settings: plan limits per product (and the defaults), channel costs."""
    return offers.read_settings()


@app.route("/v1/ops/settings/plan-limits/{product}", methods=["PUT"], content_types=JSON)
@operator("settings.write")
def put_plan_limits(p: Principal, incoming: webhook.Incoming, query: dict[str, str], product: str) -> webhook.Answer:
    """Set a product's plan and settlement limits for agents and supervisors (admin; audited)."""
    return offers.put_plan_limits(p, incoming, product, ops_settings(), now())


@app.route("/v1/ops/settings/channel-costs", methods=["PUT"], content_types=JSON)
@operator("settings.write")
def put_channel_costs(p: Principal, incoming: webhook.Incoming, query: dict[str, str]) -> webhook.Answer:
    """Set the cost of one contact per channel (admin; audited)."""
    return offers.put_channel_costs(p, incoming, ops_settings(), now())


@app.route("/v1/ops/loans/{loan_id}/offers", methods=["POST"], content_types=JSON)
@operator("offers.make")
def post_offer(p: Principal, incoming: webhook.Incoming, query: dict[str, str], loan_id: str) -> webhook.Answer:
    """Offer a payment plan or a settlement: within the role's limits its link goes out through the
    guard; an agent's beyond the agent's limits waits for a supervisor's approval."""
    return offers.make_offer(p, incoming, loan_id, ops_settings(), now(), _link_base())


@app.route("/v1/ops/offers/pending", methods=["GET"])
@operator("offers.approve")
def get_pending_offers(p: Principal, incoming: webhook.Incoming, query: dict[str, str]) -> webhook.Answer:
    """The offers awaiting a supervisor's approval, oldest first (supervisors, admins)."""
    return offers.pending()


@app.route("/v1/ops/loans/{loan_id}/offers/{offer_id}/approve", methods=["POST"], content_types=JSON)
@operator("offers.approve")
def post_offer_approval(
    p: Principal, incoming: webhook.Incoming, query: dict[str, str], loan_id: str, offer_id: str
) -> webhook.Answer:
    """Approve an agent's offer beyond the agent's limits (supervisor, admin): its link goes out."""
    return offers.approve_offer(p, incoming, loan_id, offer_id, ops_settings(), now(), _link_base())


@app.route("/v1/ops/loans/{loan_id}/offers/{offer_id}/withdraw", methods=["POST"], content_types=JSON)
@operator("offers.make")
def post_offer_withdrawal(
    p: Principal, incoming: webhook.Incoming, query: dict[str, str], loan_id: str, offer_id: str
) -> webhook.Answer:
    """Withdraw an offer not yet accepted: its link stops working."""
    return offers.withdraw_offer(p, incoming, loan_id, offer_id, ops_settings(), now())


PAY_HEADERS = {
    **CONSOLE_HEADERS,
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src data:; connect-src 'self'; "
    "form-action 'none'; base-uri 'none'; frame-ancestors 'none'",
    "Cache-Control": "no-store",
}


def _public(route: Callable[[webhook.Incoming], webhook.Answer]) -> Response:
    request = app.current_request
    incoming = webhook.Incoming(request.headers, bytes(request.raw_body or b""))
    answer = offers.serve_public(incoming, api_settings().max_body_bytes, lambda: route(incoming))
    headers = {"Content-Type": "application/json", **PAY_HEADERS, **answer.headers}
    return Response(body=answer.body, status_code=answer.status, headers=headers)


@app.route("/pay/{token}", methods=["GET"])
def get_pay_page(token: str) -> Response:
    """The borrower's self-service page for an offer (it asks who they are before it shows anything)."""
    page = console_file("pay.html")
    return Response(body=page, status_code=200, headers={"Content-Type": "text/html; charset=utf-8", **PAY_HEADERS})


@app.route("/pay/{token}/verify", methods=["POST"], content_types=JSON)
def post_pay_verify(token: str) -> Response:
    """The offer, once the visitor has answered the identity question (birth date or the ID number's last four)."""
    return _public(lambda incoming: offers.verify(token, incoming, ops_settings(), now()))


@app.route("/pay/{token}/accept", methods=["POST"], content_types=JSON)
def post_pay_accept(token: str) -> Response:
    """Accept the offer (once): the arrangement starts and dunning pauses."""
    return _public(lambda incoming: offers.accept(token, incoming, ops_settings(), now()))


@app.route("/v1/ops/audit", methods=["GET"])
@operator("audit.read")
def get_audit(p: Principal, incoming: webhook.Incoming, query: dict[str, str]) -> webhook.Answer:
    """The audit records of one business day (?day=YYYY-MM-DD, today by default): admins only."""
    return operations.audit_log(p, query.get("day"), ops_settings(), now())


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app(event, context)  # type: ignore[no-any-return]
