"""The local stack's world: borrowers who answer back.

A world is a model of the borrowers behind a book. arrears never sees its traits, only what a lender
observes: payments (through the platform's webhook, as real ones arrive), call results (through the
dialer), and replies, opt-outs, complaints and disputes (recorded by the run: they have no inbound path
yet). The interface (README: Worlds)::

    class World(Protocol):
        def start(self, book: Book, seed: int) -> None: ...
        def on_day(self, day: date) -> list[Reaction]: ...             # payments nobody asked for
        def on_contact(self, contact: Contact) -> list[Reaction]: ...  # after each delivered contact

``on_day`` is called once for each simulated business day, before anything else happens that day;
``on_contact`` once for each contact a provider took (a text sent, an email accepted, a WeChat message
delivered, a letter in the print house's outbox, a call placed). A Payment may be dated later than the
moment it is returned (the borrower pays tomorrow): it reaches the stack when the clock gets there.

Shipped worlds: ``default`` and ``fatigued`` (``world_models.py``); ``scripted`` replays the book's
repayment files as they are. Any other is named by a dotted path or a file: ``my_models:Borrowers``
or ``path/to/models.py:Borrowers`` (a class, made without arguments, or an object).
"""

from __future__ import annotations

import heapq
import http.client
import importlib
import importlib.util
import json
import sys
from collections import Counter
from collections.abc import Callable, Container
from dataclasses import asdict, dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from .book import Book
    from .sim import Simulation

#: a payment the API answers with one of these is posted again, up to RETRIES times in all
RETRIED, RETRIES = {429, 500, 502, 503, 504}, 5
#: the results a dialer reports (channels.SIMULATED_OUTCOMES): a CallResult names one of them
CALL_RESULTS = ("no_answer", "busy", "voicemail", "connected", "conversation", "promise")


@dataclass(frozen=True)
class Contact:
    """A contact as the borrower met it, with what the lender's message said about the debt."""

    borrower_id: str
    loan_id: str
    action_id: str
    channel: str  # sms, email, voice, wechat, letter
    template: str
    local_time: datetime  # in the borrower's zone
    language: str  # the message's language (the lender's record of the borrower's)
    dpd: int
    amount_overdue: Decimal
    currency: str
    offer: dict[str, Any] | None = None  # a plan or settlement offered, when one exists


@dataclass(frozen=True)
class Payment:
    loan_id: str
    amount: Decimal
    paid_at: datetime  # aware; a time already past is posted at once (the platform reports it late)


@dataclass(frozen=True)
class CallResult:
    action_id: str
    result: str  # one of CALL_RESULTS


@dataclass(frozen=True)
class Reply:
    borrower_id: str
    channel: str
    text: str


@dataclass(frozen=True)
class OptOut:
    borrower_id: str
    channel: str


@dataclass(frozen=True)
class Complaint:
    borrower_id: str
    text: str


@dataclass(frozen=True)
class Dispute:
    loan_id: str


Reaction = Payment | CallResult | Reply | OptOut | Complaint | Dispute


@runtime_checkable
class World(Protocol):
    def start(self, book: Book, seed: int) -> None: ...

    def on_day(self, day: date) -> list[Reaction]: ...

    def on_contact(self, contact: Contact) -> list[Reaction]: ...


class WorldError(ValueError):
    """A world that cannot be loaded, or that answered something arrears cannot take."""


SHIPPED = ("default", "fatigued", "scripted")


def load(spec: str) -> World | None:
    """The world ``spec`` names; None for ``scripted`` (the book's repayment files)."""
    if spec == "scripted":
        return None
    if spec in ("default", "fatigued"):
        from . import world_models

        return world_models.SHIPPED[spec]()
    where, sep, attr = spec.rpartition(":")
    if not sep or not where or not attr:
        raise WorldError(f"--world {spec}: not {', '.join(SHIPPED)}, a module:Name or a file.py:Name")
    try:
        if where.endswith(".py"):
            path = Path(where)
            if not path.is_file():
                raise WorldError(f"--world {spec}: no file {where}")
            module_spec = importlib.util.spec_from_file_location(f"arrears_world_{path.stem}", path)
            assert module_spec and module_spec.loader
            module = importlib.util.module_from_spec(module_spec)
            module_spec.loader.exec_module(module)
        else:
            sys.path.insert(0, str(Path.cwd()))
            try:
                module = importlib.import_module(where)
            finally:
                sys.path.remove(str(Path.cwd()))
    except WorldError:
        raise
    except Exception as e:  # noqa: BLE001 - the user's module: its failure, named, in one line
        raise WorldError(f"--world {spec}: cannot load {where}: {type(e).__name__}: {e}") from None
    found = getattr(module, attr, None)
    if found is None:
        raise WorldError(f"--world {spec}: {where} has no {attr}")
    try:
        world = found() if isinstance(found, type) else found
    except Exception as e:  # noqa: BLE001
        raise WorldError(f"--world {spec}: {attr}() failed: {type(e).__name__}: {e}") from None
    missing = [m for m in ("start", "on_day", "on_contact") if not callable(getattr(world, m, None))]
    if missing:
        raise WorldError(f"--world {spec}: {attr} lacks {', '.join(missing)} (README: Worlds)")
    return world  # type: ignore[no-any-return]


class WorldRun:
    """A world on a running local stack: asks it each day and after each contact, delivers its payments
    through the stack's webhook as the clock passes them, answers the dialer with its call results,
    and records everything else (``world.jsonl`` and ``world.json`` in the run's folder)."""

    def __init__(self, world: World, name: str, sim: Simulation, book: Book, seed: int) -> None:
        self.world, self.name, self.sim, self.seed = world, name, sim, seed
        self.pending: list[tuple[datetime, int, Payment, str]] = []  # (paid_at, order, payment, cause)
        self.counts: Counter[str] = Counter()
        self.amounts: dict[str, Decimal] = {}
        self.refused: list[str] = []
        self.events: list[dict[str, Any]] = []
        self.last_day: date | None = None
        self._order = 0
        self._posted = 0
        self._currency = {r["loan_id"]: r["currency"] for r in book.rows("loans")}
        self._secret: str | None = None
        self._conn: http.client.HTTPConnection | None = None
        try:
            world.start(book, seed)
        except Exception as e:  # noqa: BLE001 - the world's own failure, named in one line
            raise WorldError(f"world {name}: start() failed: {type(e).__name__}: {e}") from None

    # ------------------------------------------------------------------------------ the hooks

    def install(self) -> None:
        """The providers tell the world of each delivered contact; the dialer asks it for the result."""
        from arrears.adapters.channels import SimulatedVoice

        from . import providers

        self.sim._bound()  # the loan a contact is about is read through the stack's models
        providers.delivered = self._delivered
        SimulatedVoice.answer = lambda msg: self.contacted(msg, "voice")

    def uninstall(self) -> None:
        from arrears.adapters.channels import SimulatedVoice

        from . import providers

        providers.delivered = None
        SimulatedVoice.answer = None
        if self._conn is not None:
            self._conn.close()

    def _delivered(self, msg: Any, channel: str) -> None:
        if channel != "voice":  # the dialer asked already (contacted, for its result)
            self.contacted(msg, channel)

    def contacted(self, msg: Any, channel: str) -> str | None:
        """Tell the world of a delivered contact; the call result it gives, for a call."""
        contact = self._contact(msg, channel)
        result = None
        for r in self._asked(self.world.on_contact, contact, f"on_contact({msg.action_id})"):
            if isinstance(r, CallResult):
                if channel != "voice" or r.action_id != msg.action_id:
                    self._refuse(f"a CallResult for {r.action_id} after a {channel} contact ({msg.action_id})")
                    continue
                result = r.result
            self._take(r, msg.action_id)
        if channel == "voice" and result is None:
            result = "no_answer"  # a call nobody answered, unless the world says otherwise
        return result

    def on_day(self, day: date) -> None:
        if self.last_day is not None and day <= self.last_day:
            return
        self.last_day = day
        for r in self._asked(self.world.on_day, day, f"on_day({day})"):
            if isinstance(r, CallResult):
                self._refuse(f"a CallResult on_day({day}): call results answer a call")
                continue
            self._take(r, "")

    # ------------------------------------------------------------------------------ payments

    def deliver(self, until: datetime) -> int:
        """The world's payments made by ``until``, each posted to the webhook at the instant it was made,
        in order. What they set off is delivered once, after the last (fewer, fuller batches, as
        Lambda's batching window makes them), or sooner when a deferred contact falls due between two:
        the payments before it are applied first, so nobody is reminded after paying. Returns the
        payments posted."""
        runner, clock = self.sim.runner, self.sim.runner.clock
        posted = unapplied = 0
        with runner.caller_pumps():
            while self.pending and self.pending[0][0] <= until:
                paid_at, _, p, cause = heapq.heappop(self.pending)
                if unapplied and (t := runner.next_wakeup()) is not None and t <= paid_at:
                    runner.pump()
                    unapplied = 0
                self.sim.wake_until(paid_at)
                clock.now = max(clock.now, paid_at)
                unapplied += self._post(p, cause)
                posted += 1
            if unapplied:
                runner.pump()
        return posted

    def _post(self, p: Payment, cause: str) -> bool:
        """Post one payment; whether the stack took it (202)."""
        from .apigw import signed_headers

        currency = self._currency.get(p.loan_id, "")
        body = json.dumps(
            {
                "payment_id": f"W{self.seed}-{self._order_of()}",
                "loan_id": p.loan_id,
                "paid_at": p.paid_at.isoformat(),
                "amount": str(p.amount),
                "currency": currency,
            }
        ).encode()
        for _ in range(RETRIES):  # as a platform does: a 429 or 5xx is sent again (the same payment_id)
            headers = signed_headers(self._webhook_secret(), body, self.sim.runner.clock.now)
            status, answer = self._request(body, headers)
            if status not in RETRIED:
                break
        if status != 202:
            self._refuse(f"payment {p.amount} {currency} on {p.loan_id}: HTTP {status} {answer[:200]}")
            return False
        self.counts["payment"] += 1
        self.amounts[currency] = self.amounts.get(currency, Decimal(0)) + p.amount
        self._record("payment", p.paid_at, cause, loan_id=p.loan_id, amount=str(p.amount), currency=currency)
        return True

    def _order_of(self) -> str:
        self._posted += 1
        return f"{self._posted:07d}"

    def _request(self, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        assert self.sim.api_url, "the stack's API is not up"
        url = urlsplit(self.sim.api_url)
        for attempt in (1, 2):  # one reconnect: the front may have closed an idle connection
            if self._conn is None:
                self._conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=60)
            try:
                self._conn.request("POST", "/v1/repayments", body=body, headers=headers)
                r = self._conn.getresponse()
                return r.status, r.read().decode("utf-8", "replace")
            except (ConnectionError, http.client.HTTPException):
                self._conn.close()
                self._conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _webhook_secret(self) -> str:
        if self._secret is None:
            from arrears.adapters.clients import client

            secret_id = self.sim.dep.physical["WebhookSecret"]
            self._secret = "whsec_" + client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
        return self._secret

    # ------------------------------------------------------------------------------ the rest

    def _contact(self, msg: Any, channel: str) -> Contact:
        from arrears.adapters.models import LoanModel
        from arrears.domain.delinquency import days_past_due
        from arrears.domain.timeutil import local_date

        loan = LoanModel.get(msg.loan_id)
        now = self.sim.runner.clock.now
        day = local_date(now, loan.tz)
        unpaid = [(date.fromisoformat(d), r) for _, d, r in loan.unpaid]
        earliest = min((d for d, _ in unpaid), default=None)
        return Contact(
            borrower_id=loan.borrower_id,
            loan_id=loan.loan_id,
            action_id=msg.action_id,
            channel=channel,
            template=msg.template,
            local_time=now.astimezone(ZoneInfo(loan.tz)),
            language=loan.language or "",
            dpd=days_past_due(earliest, now, loan.tz),
            amount_overdue=sum((r for d, r in unpaid if d < day), Decimal(0)),
            currency=loan.currency,
        )

    def _asked(self, ask: Any, what: Any, where: str) -> list[Reaction]:
        return asked(ask, what, where, self._currency, self._refuse)

    def _take(self, r: Reaction, cause: str) -> None:
        if isinstance(r, Payment):
            self._order += 1
            heapq.heappush(self.pending, (r.paid_at, self._order, r, cause))
            return
        kind = type(r).__name__.lower()
        if kind != "callresult":
            self.counts[kind] += 1
        else:
            self.counts[f"call_{r.result}"] += 1  # type: ignore[union-attr]
        fields = {k: v for k, v in asdict(r).items() if k != "text"}  # a reply's or complaint's words stay out
        self._record(kind, self.sim.runner.clock.now, cause, **fields)

    def _record(self, kind: str, at: datetime, cause: str, **fields: Any) -> None:
        self.events.append({"kind": kind, "at": at.isoformat(), "action_id": cause, **fields})

    def _refuse(self, what: str) -> None:
        self.refused.append(what)

    def summary(self) -> dict[str, Any]:
        return {
            "world": self.name,
            "seed": self.seed,
            "reactions": dict(sorted(self.counts.items())),
            "paid": {c: str(a) for c, a in sorted(self.amounts.items())},
            "payments_not_yet_due": len(self.pending),
            "refused": self.refused,
        }

    def write(self, out: Path) -> None:
        (out / "world.json").write_text(json.dumps(self.summary(), indent=1))
        with open(out / "world.jsonl", "w", encoding="utf-8") as f:
            for e in self.events:
                f.write(json.dumps(e, separators=(",", ":")) + "\n")

    def line(self) -> str:
        c = self.counts
        paid = ", ".join(f"{a:,.2f} {cur}" for cur, a in sorted(self.amounts.items())) or "nothing"
        calls = sum(v for k, v in c.items() if k.startswith("call_"))
        return (
            f"world {self.name} (seed {self.seed}): {c['payment']} payments ({paid}), {calls} call results "
            f"({c['call_promise']} promises), {c['reply']} replies, {c['optout']} opt-outs, "
            f"{c['complaint']} complaints, {c['dispute']} disputes"
        )


def asked(ask: Any, what: Any, where: str, loans: Container[str], refuse: Callable[[str], None]) -> list[Reaction]:
    """The world's answer, checked; a world that fails, or answers what arrears cannot take, is
    ``refuse``d (the run counts it and exits 1) and never stops the run."""
    try:
        reactions = ask(what)
    except Exception as e:  # noqa: BLE001 - the world's own failure: the contact stands, the run goes on
        refuse(f"{where} failed: {type(e).__name__}: {e}")
        return []
    if reactions is None:
        return []
    if not isinstance(reactions, list | tuple):
        refuse(f"{where} returned {type(reactions).__name__}, not a list of reactions")
        return []
    kinds = (Payment, CallResult, Reply, OptOut, Complaint, Dispute)
    good = []
    for r in reactions:
        if not isinstance(r, kinds):
            refuse(f"{where} returned a {type(r).__name__}, not a reaction (README: Worlds)")
        elif isinstance(r, Payment) and r.paid_at.tzinfo is None:
            refuse(f"{where}: a payment on {r.loan_id} paid_at {r.paid_at} has no time zone")
        elif isinstance(r, Payment) and not (isinstance(r.amount, Decimal) and r.amount > 0):
            refuse(f"{where}: a payment on {r.loan_id} of {r.amount!r} (a positive Decimal)")
        elif isinstance(r, Payment) and r.loan_id not in loans:
            refuse(f"{where}: a payment on {r.loan_id}, a loan not in the book")
        elif isinstance(r, CallResult) and r.result not in CALL_RESULTS:
            refuse(f"{where}: call result {r.result!r} is not one of {', '.join(CALL_RESULTS)}")
        else:
            good.append(r)
    return good


def problems(run: WorldRun | None) -> list[str]:
    if run is None or not run.refused:
        return []
    return [f"the world's reactions refused: {len(run.refused)} (first: {run.refused[0]}; all in world.json)"]
