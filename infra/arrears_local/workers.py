"""A function invoked in worker processes, each its own interpreter as Lambda's execution environments
are: under ``arrears up``, the HTTP API and the stream functions its requests set off. A request's
own Python work (Chalice, validation, the SDK's) then does not wait for the emulator's interpreter
lock, nor the emulator for it, and requests are answered while the runner delivers what earlier ones
set off (its lock is not taken). The workers reach the emulator over its HTTP endpoint, as the
handlers of ``arrears up`` do; they log to the same ``lambda.log`` and their invocations count in the
runner's stats.

Only for a stack whose emulator is served over HTTP: an in-process stack (``arrears run``) invokes
the API in the runner's process, where its faults and audit apply."""

from __future__ import annotations

import multiprocessing
import os
import queue
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .runner import LocalFunction

_fn: Any = None  # the worker's own LocalFunction


def _start(spec: dict[str, Any]) -> None:
    """A worker's start: the function's environment and handler, its log appended to lambda.log."""
    from .runner import LocalFunction, Stats

    os.environ.update(spec["env"])
    log = open(spec["log"], "a", encoding="utf-8", buffering=1)  # noqa: SIM115 - lives as long as the worker
    global _fn
    _fn = LocalFunction(
        spec["logical"],
        spec["name"],
        Path(spec["code_dir"]),
        spec["handler"],
        spec["timeout"],
        spec["memory"],
        spec["env"],
        log,
        Stats(),
    )
    import logging

    from arrears.observability import logger

    for h in logger._logger.handlers:
        if isinstance(h, logging.StreamHandler):
            h.stream = log
    _fn._load()  # the cold start, before the first request


def _invoke(event: dict[str, Any], now: str | None) -> tuple[Any, float, float]:
    """The handler's answer, with the wall and CPU seconds it took."""
    if now is not None:
        os.environ["ARREARS_SIMULATED_NOW"] = now
    started, cpu = time.monotonic(), time.process_time()
    result = _fn.invoke(event)
    return result, time.monotonic() - started, time.process_time() - cpu


def _serve(spec: dict[str, Any], conn: Any) -> None:
    """A worker's loop: an event in, the answer out ("ok" and the result with its seconds, or "error"
    and the exception as text), until the pipe closes."""
    _start(spec)
    conn.send(("ready", os.getpid()))
    while True:
        try:
            event, now = conn.recv()
        except EOFError:
            return
        try:
            conn.send(("ok", _invoke(event, now)))
        except Exception as e:  # noqa: BLE001 - the handler's failure goes back to the caller (its
            conn.send(("error", f"{type(e).__name__}: {e}"))  # traceback is in lambda.log), as text


class Workers:
    """``processes`` workers, each on its own pipe; a call takes an idle one (a queue of them), so no
    thread of this process stands between the caller and the worker (the standard library's process
    pool has a manager thread that took ~10% of the emulator's interpreter at the API's load)."""

    def __init__(self, fn: LocalFunction, log_path: Path, processes: int = 2) -> None:
        self.fn = fn
        self.lock = threading.Lock()  # the runner's stats, counted from the API front's threads
        spec = {
            "env": {**fn.env},
            "log": str(log_path),
            "logical": fn.logical,
            "name": fn.name,
            "code_dir": str(fn.code_dir),
            "handler": fn.handler_spec,
            "timeout": fn.timeout,
            "memory": fn.memory,
        }
        self.spec, self.ctx = spec, multiprocessing.get_context("spawn")
        self.idle: queue.Queue[Any] = queue.Queue()
        self.procs: dict[Any, Any] = {}  # connection -> its process
        started = [self._spawn() for _ in range(processes)]
        for conn in started:  # each started (its cold start done) before the first call
            self._ready(conn)

    def _spawn(self) -> Any:
        mine, theirs = self.ctx.Pipe()
        proc = self.ctx.Process(target=_serve, args=(self.spec, theirs), daemon=True, name=f"{self.fn.logical}-worker")
        proc.start()
        theirs.close()
        self.procs[mine] = proc
        return mine

    def _ready(self, conn: Any) -> None:
        kind, _pid = conn.recv()
        assert kind == "ready"
        self.idle.put(conn)

    def _replace(self, conn: Any) -> None:
        """A worker that died or whose answer was not read is not used again: another takes its place."""
        proc = self.procs.pop(conn)
        conn.close()
        proc.terminate()
        self._ready(self._spawn())

    def invoke(self, event: dict[str, Any], now: datetime | None) -> Any:
        stats, logical = self.fn.stats, self.fn.logical
        with self.lock:
            stats.invocations[logical] = stats.invocations.get(logical, 0) + 1
        conn = self.idle.get()
        try:
            conn.send((event, now.isoformat() if now else None))
            kind, answer = conn.recv()
        except BaseException:  # the worker died, or this call was interrupted before its answer
            with self.lock:
                stats.errors[logical] = stats.errors.get(logical, 0) + 1
            self._replace(conn)
            raise
        self.idle.put(conn)
        if kind == "error":
            with self.lock:
                stats.errors[logical] = stats.errors.get(logical, 0) + 1
            raise RuntimeError(f"{logical} failed in its worker: {answer}")
        result, wall, cpu = answer
        with self.lock:
            stats.seconds[logical] = stats.seconds.get(logical, 0.0) + wall
            stats.cpu_seconds[logical] = stats.cpu_seconds.get(logical, 0.0) + cpu
        return result

    def stop(self) -> None:
        for conn, proc in list(self.procs.items()):
            conn.close()
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()
        self.procs.clear()
