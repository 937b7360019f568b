"""Run the local stack for simulated days: import a book, then let the clock drive schedules,
repayments, streams and queues through the real handlers."""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from . import meter
from .auth import local_token
from .book import Book, Origin, RepaymentFeed, Upload
from .platform import FakePlatform
from .runner import Clock, LocalRunner
from .stack import ROOT, Deployed, Emulator, deploy, live_objects
from .wechat import FakeWechatGateway

if TYPE_CHECKING:
    from arrears.domain.strategies import Strategy

    from .world import WorldRun

STRATEGIES = ROOT / "layers" / "arrears" / "arrears" / "strategies"
#: the API function's execution environments under ``arrears up`` (worker processes, each serving one
#: request at a time, as Lambda's do): a reserved concurrency of 8; more concurrent requests wait
API_CONCURRENCY = 8


@dataclass
class Simulation:
    emulator: Emulator
    dep: Deployed
    runner: LocalRunner
    out: Path
    gateway: FakeWechatGateway
    reports: list[dict[str, Any]] = field(default_factory=list)
    cycles: list[dict[str, Any]] = field(default_factory=list)  # what each daily run cost (benchmarks)
    timings: dict[str, float] = field(default_factory=dict)
    origins: dict[str, Origin] = field(default_factory=dict)  # uploaded key -> the user's file (and rows)
    feed: RepaymentFeed | None = None
    published: list[str] = field(default_factory=list)  # the shipped strategies, published at start
    trainings: list[Any] = field(default_factory=list)  # what each weekly training returned
    api: Any = None  # the API front (api_front.ApiFront) once started
    switch_interval: float | None = None  # the process's own, while the stack runs with a shorter one
    local_routes: dict[tuple[str, str], Any] = field(default_factory=dict)  # more local-only routes (arrears up)
    api_url: str | None = None
    platform: FakePlatform | None = None  # the platform's callback endpoint (signed events received)
    page_problems: list[str] = field(default_factory=list)  # report.html's sections whose query failed

    def contacts(self) -> dict[str, int]:
        """What each provider received: SNS texts, SES emails, the gateway's WeChat messages, the
        dialer's calls and the letters in the print house's outbox."""
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.s3.models import s3_backends
        from moto.ses.models import ses_backends

        from arrears.adapters.channels import SimulatedVoice

        from .stack import ACCOUNT, REGION

        outbox = s3_backends[ACCOUNT]["aws"].buckets[self.dep.physical["OutboxBucket"]]
        return {
            "sms": sms_published(),
            "email": len(ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages),
            "voice": len(SimulatedVoice.placed),
            "wechat": len(self.gateway.messages),
            "letter": sum(1 for k in outbox.keys if k.startswith("letters/")),
        }

    def start_api(self, port: int = 0) -> str:
        """Serve the stack's HTTP API on 127.0.0.1 as its API Gateway stage would (``api_front.py``):
        the Chalice app's routes from the checked-in definition, the stage's throttling and payload
        limit from the template's parameters. Returns its base URL."""
        from .api_front import ApiFront
        from .apigw import SWAGGER

        self.api = ApiFront(
            json.loads(SWAGGER.read_text(encoding="utf-8")),
            lambda event: self.runner.call_api("ApiFunction", event),
            rate=float(self.dep.params["ApiRateLimit"]),
            burst=int(self.dep.params["ApiBurstLimit"]),
            port=port,
            local={("POST", "/local/token"): lambda body: local_token(self.out, body), **self.local_routes},
        )
        if not self.emulator.in_process:  # handlers on the HTTP endpoint: in their own processes, the API
            # and what its requests set off at once (the ledger stream, the facts' stream)
            self.runner.in_workers("ApiFunction", self.out / "lambda.log", API_CONCURRENCY)
            # this process is then the emulator's server and the API front: threads that wake on their
            # sockets, each waiting for the interpreter lock at every wake (up to the 5 ms default
            # switch interval while another thread runs); half a millisecond keeps those waits short
            if self.switch_interval is None:
                self.switch_interval = sys.getswitchinterval()
            sys.setswitchinterval(0.0005)
            for streamed in ("LedgerEventsFunction", "ApiFactsFunction"):
                self.runner.in_workers(streamed, self.out / "lambda.log", 1)
        self.runner.start_poller()
        self.api_url = self.api.start()
        return self.api_url

    def stop(self) -> None:
        if self.api is not None:
            self.api.stop()
        if self.switch_interval is not None:
            sys.setswitchinterval(self.switch_interval)
        self.runner.stop_workers()
        self.gateway.stop()
        if self.platform is not None:
            self.platform.stop()
        self.emulator.stop()
        from arrears.adapters import analytics

        from .lake import LocalLake

        if isinstance(analytics._engine, LocalLake):
            analytics._engine.close()
            analytics.use(None)

    @property
    def imports_bucket(self) -> str:
        return self.dep.physical["ImportsBucket"]

    @property
    def outcomes_bucket(self) -> str:
        return self.dep.physical["OutcomesBucket"]

    @property
    def business_tz(self) -> str:
        return self.dep.params["BusinessTimeZone"]

    def upload(self, key: str, body: bytes, origin: Origin | None = None) -> None:
        from arrears.adapters.clients import client

        client("s3").put_object(Bucket=self.imports_bucket, Key=key, Body=body)
        if origin is not None:
            self.origins[key] = origin
        self.runner.pump()

    def send(self, uploads: list[Upload]) -> None:
        for u in uploads:
            self.upload(u.key, u.body, u.origin)

    def import_book(self, book: Book) -> None:
        """The book's borrowers, loans and installments, each file as it is (repayments come as the
        clock passes their paid_at: ``start_repayments``)."""
        t0 = time.perf_counter()
        for kind in ("borrowers", "loans", "installments"):
            for path in book.files[kind]:
                self.upload(f"{kind}/{path.name}", path.read_bytes(), Origin(f"{kind}/{path.name}"))
        self.timings["import_s"] = time.perf_counter() - t0

    def start_repayments(self, book: Book) -> RepaymentFeed:
        """Send what the platform sends at once; the rest waits for the clock (``deliver_repayments``)."""
        self.feed = RepaymentFeed(book)
        self.send(self.feed.at_once())
        return self.feed

    def deliver_repayments(self, until: datetime) -> int:
        """The repayments paid by ``until``, delivered at the instant the last of them was paid (the
        deferred contacts due before it first). Returns the objects sent."""
        assert self.feed is not None, "start_repayments first"
        last = self.feed.latest_by(until)
        if last is None:
            return 0
        self.wake_until(last.astimezone(UTC))
        self.runner.clock.now = max(self.runner.clock.now, last.astimezone(UTC))
        uploads = self.feed.until(until, self.runner.clock.now.strftime("%Y%m%dT%H%M%S"))
        self.send(uploads)
        return len(uploads)

    def run_days(
        self,
        book: Book,
        start: date,
        days: int,
        on_day: Callable[[dict[str, Any]], None],
        world: WorldRun | None = None,
    ) -> None:
        """``days`` business days from ``start``: the daily run and the daily report as scheduled, the
        repayments as the clock passes them: the book's files (scripted) or, with a ``world``, its
        payments through the webhook (the world asked at each business day's midnight first)."""
        daily = self.runner.schedule("DailyRunFunction")
        report = self.runner.schedule("DailyReportFunction")
        train = self.runner.schedule("TrainFunction")
        events: list[tuple[datetime, str]] = []
        for n in range(days):
            day = start + timedelta(days=n)
            events += [(t, "daily") for t in daily.fire_times(day)]
            events += [(t, "report") for t in report.fire_times(day + timedelta(days=1))]
            events += [(t, "train") for t in train.fire_times(day)]
            if world is not None:
                events.append((midnight(day, self.business_tz), "day"))
        events.sort(key=lambda e: (e[0], e[1] != "day"))
        if world is None and self.feed is None:
            self.start_repayments(book)
        t0 = time.perf_counter()
        for at, kind in events:
            if world is not None:
                world.deliver(at)
            else:
                self.deliver_repayments(at)
            self.wake_until(at)
            self.runner.clock.now = max(self.runner.clock.now, at)
            if kind == "day":
                assert world is not None
                world.on_day(at.astimezone(ZoneInfo(self.business_tz)).date())
                continue
            before = (meter.by_function.copy(), meter.calls.copy())
            contacts_before = sum(self.contacts().values())
            if kind == "train":  # weekly: the model the next daily runs rank with (when it beats the heuristic)
                self.trainings.append(train.fire(at))
                self.runner.pump()
                continue
            result = (daily if kind == "daily" else report).fire(at)
            self.runner.pump()
            if kind == "daily":
                self.cycles.append(cycle_figures(at, before, sum(self.contacts().values()) - contacts_before))
            if kind == "report" and result is not None:  # a failed report went to the schedule's DLQ
                self.reports.append(result)
                on_day(result)
        self.timings["days_s"] = time.perf_counter() - t0

    def _bound(self) -> Any:
        from arrears.adapters.models import bind
        from arrears.config import Settings

        settings = Settings.from_env(self.runner.functions["DailyRunFunction"].env)
        bind(settings)
        return settings

    def publish(self, doc: dict[str, Any]) -> str:
        """Publish a strategy document as its next version (active), as an operator would."""
        from arrears.adapters import strategy_store

        self._bound()
        s = strategy_store.publish(doc, self.runner.clock.now)
        return f"{s.id} v{s.version} ({', '.join(f'{v.name} {v.share:.0%}' for v in s.variants)})"

    def dry_run(self, strategy: Strategy) -> dict[str, Any]:
        from arrears.usecases.dry_run import dry_run_book

        return dry_run_book(self._bound(), strategy, self.runner.clock.now)

    def problems(self) -> list[str]:
        """One line per failure that remains at the end: DLQ contents, events lost without a DLQ."""
        from .health import problems

        return problems(self.dep, self.runner.stats, str(self.out / "lambda.log")) + self.page_problems

    def import_reports(self) -> dict[str, dict[str, Any]]:
        """The importer's reports, one per file of the user's book, rows named as in that file."""
        from arrears.adapters.clients import client

        from .rejects import collect

        s3 = client("s3")

        def read(key: str) -> dict[str, Any] | None:
            try:
                return json.loads(s3.get_object(Bucket=self.imports_bucket, Key=key)["Body"].read())  # type: ignore[no-any-return]
            except s3.exceptions.NoSuchKey:
                return None

        reports = collect(self.origins, read)
        for file, n in (self.feed.pending_by_file() if self.feed else {}).items():
            empty = {"key": file, "rows": 0, "accepted": 0, "rejected": 0, "rejected_whole": None, "rejects": []}
            reports.setdefault(file, empty)
            reports[file]["not_sent"] = n  # paid after the clock's last instant: the platform has not sent them
        return reports

    def borrower_zones(self) -> dict[str, str]:
        from arrears.adapters.clients import client

        zones: dict[str, str] = {}
        pages = (
            client("dynamodb")
            .get_paginator("scan")
            .paginate(
                TableName=self.dep.physical["BorrowersTable"],
                ProjectionExpression="borrower_id, #z",
                ExpressionAttributeNames={"#z": "timezone"},
            )
        )
        for page in pages:
            for item in page["Items"]:
                if "timezone" in item:
                    zones[item["borrower_id"]["S"]] = item["timezone"]["S"]
        return zones

    def write_audit(self) -> None:
        """``out/audit/``: what the providers received and when loans were cured (``providers.py``),
        and each loan's final state (repayments applied, balance, bucket): what ``make soak`` compares."""
        from arrears.adapters.clients import client

        from . import providers

        providers.write(self.out / "audit" / "providers.jsonl")
        lines = []
        pages = client("dynamodb").get_paginator("scan").paginate(TableName=self.dep.physical["LoansTable"])
        for page in pages:
            for item in page["Items"]:
                lines.append(
                    {
                        "loan_id": item["loan_id"]["S"],
                        "bucket": item.get("bucket", {}).get("S"),
                        "outstanding": item.get("outstanding", {}).get("N"),
                        "paid_total": item.get("paid_total", {}).get("N"),
                        "payment_ids": sorted(item.get("payment_ids", {}).get("SS", [])),
                    }
                )
        lines.sort(key=lambda r: r["loan_id"])
        (self.out / "audit" / "loans.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))

    def advance_to(self, until: datetime) -> list[str]:
        """Move the clock to ``until`` as ``arrears run`` moves it: the repayments and deferred contacts
        as their time comes, and every schedule (daily run, report, weekly training) whose time is
        passed, each fired and its work delivered. Returns what was fired, in words."""
        with self.runner.lock:
            names = {
                "DailyRunFunction": "daily run",
                "DailyReportFunction": "daily report",
                "TrainFunction": "training",
            }
            now = self.runner.clock.now
            events: list[tuple[datetime, str]] = []
            day = (now - timedelta(days=1)).date()
            while day <= until.date() + timedelta(days=1):
                for name in names:
                    events += [(t, name) for t in self.runner.schedule(name).fire_times(day) if now < t <= until]
                day += timedelta(days=1)
            fired = []
            for at, name in sorted(events):
                if self.feed is not None:
                    self.deliver_repayments(at)
                self.wake_until(at)
                self.runner.clock.now = max(self.runner.clock.now, at)
                self.runner.schedule(name).fire(at)
                self.runner.pump()
                fired.append(f"{names[name]} {at.isoformat()}")
            if self.feed is not None:
                self.deliver_repayments(until)
            self.wake_until(until)
            self.runner.clock.now = max(self.runner.clock.now, until)
            self.runner.pump()
            return fired

    def wake_until(self, until: datetime) -> None:
        """Deliver deferred contacts at the simulated instant they become allowed (e.g. 08:00 local),
        not only at the next scheduled event."""
        while (t := self.runner.next_wakeup()) is not None and t <= until:
            self.runner.clock.now = max(self.runner.clock.now, t)
            self.runner.pump()

    def write_snapshot(self, folder: Path) -> Path:
        """The stack's final state, to open later with ``arrears up --snapshot``: every table's items
        (DynamoDB JSON, a line each), the outcomes bucket's objects, the clock and the template
        parameters it ran with. It holds the book's personal data (the contacts table): keep it as you
        keep the book."""
        from moto.dynamodb.models import dynamodb_backends
        from moto.s3.models import s3_backends

        from .stack import ACCOUNT, REGION

        shutil.rmtree(folder, ignore_errors=True)
        (folder / "tables").mkdir(parents=True)
        ddb = dynamodb_backends[ACCOUNT][REGION]
        for logical, res in sorted(self.dep.cfn["Resources"].items()):
            if res["Type"] == "AWS::DynamoDB::Table" and logical in self.dep.physical:
                table = ddb.get_table(self.dep.physical[logical])
                with open(folder / "tables" / f"{logical}.jsonl", "w", encoding="utf-8") as f:
                    for item in table.all_items():
                        f.write(json.dumps(item.to_json()["Attributes"], sort_keys=True) + "\n")
        bucket = s3_backends[ACCOUNT]["aws"].buckets[self.outcomes_bucket]
        for key, obj in live_objects(bucket):
            target = folder / "outcomes" / key
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(obj.value)
        state = {"now": self.runner.clock.now.isoformat(), "params": dict(self.dep.params)}
        (folder / "snapshot.json").write_text(json.dumps(state, indent=1), encoding="utf-8")
        return folder

    def restore_snapshot(self, folder: Path) -> dict[str, int]:
        """A snapshot's state as this stack's (its tables' items, its outcome objects, its clock): the
        restored items are the state, not news, so the streams skip them. Returns items per table."""
        from arrears.adapters.clients import client

        ddb, s3, counts = client("dynamodb"), client("s3"), {}
        for path in sorted((folder / "tables").glob("*.jsonl")):
            logical = path.stem
            if logical not in self.dep.physical:
                raise ValueError(f"{path}: the stack has no table {logical}")
            items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
            for i in range(0, len(items), 25):
                requests = [{"PutRequest": {"Item": it}} for it in items[i : i + 25]]
                pending = {self.dep.physical[logical]: requests}
                while pending:
                    pending = ddb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            counts[logical] = len(items)
        outcomes = folder / "outcomes"
        for path in sorted(p for p in outcomes.rglob("*") if p.is_file()) if outcomes.is_dir() else []:
            s3.put_object(
                Bucket=self.outcomes_bucket, Key=path.relative_to(outcomes).as_posix(), Body=path.read_bytes()
            )
        state = json.loads((folder / "snapshot.json").read_text(encoding="utf-8"))
        self.runner.skip_streams()
        self.runner.clock.now = datetime.fromisoformat(state["now"])
        return counts

    def write_out(self) -> None:
        """Reports and the outcomes table (facts partitions) as the analysts' bucket holds them."""
        from moto.s3.models import s3_backends

        from .stack import ACCOUNT

        bucket = s3_backends[ACCOUNT]["aws"].buckets[self.outcomes_bucket]  # a copy, not an API workload
        for old in (
            "outcomes",
            "reports",
            "runs",
            "proposals",
        ):  # this run's files only: an earlier run's must not mix in
            shutil.rmtree(self.out / old, ignore_errors=True)
        for key, obj in live_objects(bucket):
            if key.startswith(("facts/", "rules/", "reports/", "runs/", "proposals/")):
                target = self.out / ("outcomes" if key.startswith(("facts/", "rules/")) else "") / key
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(obj.value)
        (self.out / "runs").mkdir(parents=True, exist_ok=True)  # the dispatched runs, even when none was
        from .explain import ZONES_FILE
        from .rejects import write

        (self.out / ZONES_FILE).write_text(json.dumps(self.borrower_zones(), sort_keys=True))
        imports = self.import_reports()
        write(self.out, imports)
        summary = {
            "days": len(self.reports),
            "params": dict(self.dep.params),
            "timings_s": {k: round(v, 2) for k, v in self.timings.items()},
            "invocations": self.runner.stats.invocations,
            "seconds_by_function": {k: round(v, 1) for k, v in sorted(self.runner.stats.seconds.items())},
            "errors": self.runner.stats.errors,
            "dead_lettered": self.runner.stats.dead_lettered,
            "problems": self.problems(),
            "imports": {
                f: {k: r[k] for k in ("rows", "accepted", "rejected", "rejected_whole")} for f, r in imports.items()
            },
            "sms_published": sms_published(),
            "contacts": self.contacts(),
            "trainings": self.trainings,  # the weekly propensity model: its version, what ranks now, test AUCs
            "aws_requests": {f"{svc}.{op}": n for (svc, op), n in meter.calls.most_common()},
            "aws_failed_requests": {f"{svc}.{op}": n for (svc, op), n in meter.failures.most_common()},
            "aws_seconds": {
                f"{svc}.{op}": round(t, 2) for (svc, op), t in sorted(meter.seconds.items(), key=lambda kv: -kv[1])
            },
        }
        summary["report_page"] = self.write_page()
        (self.out / "summary.json").write_text(json.dumps(summary, indent=1))

    def write_page(self) -> dict[str, Any]:
        """``OUT/report.html``: the readable report for the whole run, from the named queries over the
        lake just written (the daily report function's page, over every day)."""
        from arrears.domain.report_html import render
        from arrears.usecases.report_page import plan, sections

        from .lake import FolderLake

        days = sorted(p.name[3:] for p in (self.out / "outcomes" / "facts").glob("dt=*"))
        if not days:
            return {"written": False, "why": "no facts"}
        first, last = date.fromisoformat(days[0]), date.fromisoformat(days[-1])
        got = sections(FolderLake(self.out), plan(first, last, violations=True))
        title = f"{first.isoformat()} – {last.isoformat()}"
        page = render(f"arrears report, {title}", f"arrears 催收报告 {title}", got)
        (self.out / "report.html").write_text(page, encoding="utf-8")
        failed = sorted(k for k, v in got.items() if isinstance(v, str))
        if failed:
            self.page_problems = [f"report.html: section {k}: {got[k]}" for k in failed]
        return {"written": True, "failed_sections": failed}


def cycle_figures(at: datetime, before: tuple[Counter, Counter], contacts: int) -> dict[str, Any]:
    """What one daily cycle (the run, and everything it set off, until quiet) cost in AWS requests.
    Detection = what the scheduler and the shard workers read, and the one loan the ledger stream
    reads per EVAL marker they write. The stream's other reads in the cycle apply the dispatched work
    (PLAN entries) and promises: counted apart as dispatch reads. No repayments arrive in a cycle."""
    fn = meter.by_function - before[0]
    calls = meter.calls - before[1]
    markers = sum(fn[(f, "eval_markers")] for f in ("ShardWorkerFunction", "DailyRunFunction"))
    return {
        "run_at": at.isoformat(),
        "requests": sum(calls.values()),
        "scans": calls[("dynamodb", "Scan")],
        "detect_items_read": fn[("DailyRunFunction", "items_read")]
        + fn[("ShardWorkerFunction", "items_read")]
        + markers,
        "dispatch_items_read": max(0, fn[("LedgerEventsFunction", "items_read")] - markers),
        "loans_evaluated": fn[("ShardWorkerFunction", "index_items")],
        "actions_sent": contacts,  # on every channel, as the providers received them
    }


def sms_published() -> int:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sns.models import sns_backends

    from .stack import REGION

    return len(sns_backends[DEFAULT_ACCOUNT_ID][REGION].sms_messages)


def start_stack(
    out: Path,
    params: dict[str, str] | None = None,
    *,
    in_process: bool = True,
    port: int | None = None,
    start_clock: datetime | None = None,
    serve: bool = True,
) -> Simulation:
    emulator = Emulator(port=port, in_process=in_process, serve=serve).start()
    from arrears.adapters.channels import SimulatedVoice

    from . import auth, providers

    providers.install()

    gateway = FakeWechatGateway()
    platform = FakePlatform()  # the lending platform's callback endpoint
    SimulatedVoice.placed.clear()  # the dialer's log is per stack
    local = {"VoiceDialer": "simulated", "WechatGatewayUrl": gateway.url}  # no Connect, no WeChat here
    local["PlatformCallbackUrl"] = platform.url
    local |= auth.stack_params(out)  # no Cognito either: operators sign in with the folder's own key
    dep = deploy({**local, **(params or {})})
    platform.use_secret_of(dep.physical["PlatformCallbackSecret"])
    clock = Clock(start_clock or datetime.now(UTC))
    providers.reset(lambda: clock.now)
    runner = LocalRunner(dep, clock, out / "lambda.log")
    published = publish_default_strategies(runner, clock.now)
    sim = Simulation(emulator, dep, runner, out, gateway, published=published)
    sim.platform = platform
    from arrears.adapters import analytics

    from .lake import LocalLake

    analytics.use(LocalLake(sim.outcomes_bucket))  # the report page's queries: DuckDB, not Athena
    return sim


def publish_default_strategies(runner: LocalRunner, now: datetime) -> list[str]:
    """What an operator does once after deploying: publish the shipped strategies (a new version
    each, activated)."""
    import yaml

    from arrears.adapters import strategy_store
    from arrears.adapters.models import bind
    from arrears.config import Settings

    bind(Settings.from_env(runner.functions["DailyRunFunction"].env))
    published = []
    for path in sorted(STRATEGIES.glob("*.yaml")):
        s = strategy_store.publish(yaml.safe_load(path.read_text(encoding="utf-8")), now)
        published.append(f"{s.id} v{s.version}")
    return published


def default_start(book: Book) -> date:
    return book.earliest_due() - timedelta(days=1)


def midnight(day: date, tz: str) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(tz)).astimezone(UTC)


def day_line(r: dict[str, Any]) -> str:
    buckets = " ".join(f"{b}={n}" for b, n in r["loans_by_bucket"].items() if n)
    recovered = ", ".join(f"{v} {c}" for c, v in r["amount_recovered"].items()) or "0"
    return (
        f"{r['run_date']}  delinquent={r['delinquent_loans']:<5} [{buckets or '-'}]  "
        f"new={r['newly_overdue']:<4} cured={r['cured']:<4} contacts={r['actions']['sent']:<4} "
        f"promises={r['promises']['made']:<3} recovered={recovered}"
    )
