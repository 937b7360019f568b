"""Worker processes (arrears up): a handler's answer and failure come back to the caller, and a worker
that dies is replaced rather than handed the next call."""

from __future__ import annotations

import pytest

from arrears_local.runner import LocalFunction, Stats
from arrears_local.workers import Workers

HANDLER = '''
import os


def handler(event, context):
    if event.get("die"):
        os._exit(3)
    if event.get("fail"):
        raise ValueError("bad event")
    return {"pid": os.getpid(), "now": os.environ.get("ARREARS_SIMULATED_NOW"), "echo": event["n"]}
'''


def test_answers_failures_and_a_dead_worker_replaced(tmp_path):
    (tmp_path / "app.py").write_text(HANDLER)
    log = tmp_path / "lambda.log"
    log.write_text("")
    stats = Stats()
    with open(log, "a", encoding="utf-8") as own_log:
        fn = LocalFunction("TestFunction", "test-fn", tmp_path, "app.handler", 10, 128, {}, own_log, stats)
        _exercise(Workers(fn, log, processes=1), stats, log)


def _exercise(workers: Workers, stats: Stats, log) -> None:
    try:
        first = workers.invoke({"n": 1}, None)
        assert first["echo"] == 1
        with pytest.raises(RuntimeError, match="ValueError: bad event"):
            workers.invoke({"fail": True}, None)
        assert workers.invoke({"n": 2}, None)["pid"] == first["pid"]  # a handler's failure keeps its worker
        with pytest.raises(EOFError):
            workers.invoke({"die": True}, None)
        after = workers.invoke({"n": 3}, None)  # another worker took its place
        assert after["echo"] == 3 and after["pid"] != first["pid"]
        assert stats.invocations["TestFunction"] == 5 and stats.errors["TestFunction"] == 2
        assert "bad event" in log.read_text()  # the handler's traceback, in the stack's log
    finally:
        workers.stop()
