"""The `arrears` command on a user's mistakes: one line on stderr, exit 2 (usage) or 1, no traceback,
and nothing started before the arguments and the files they name are checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from arrears_local.cli import main

ROOT = Path(__file__).resolve().parents[2]
STRATEGIES = ROOT / "layers" / "arrears" / "arrears" / "strategies"
CN_DOC = (STRATEGIES / "cn-default.yaml").read_text(encoding="utf-8")


def cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Exit status, stdout, stderr; argparse's own exits count as statuses."""
    try:
        code = main(argv)
    except SystemExit as e:
        code = int(e.code or 0)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


@pytest.fixture
def nothing_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stack started means the mistake was found too late."""
    from arrears_local import sim

    def refuse(*_a: object, **_k: object) -> None:
        raise AssertionError("the stack was started before the input was checked")

    monkeypatch.setattr(sim, "start_stack", refuse)


def test_version_and_help_texts_with_defaults(capsys):
    code, out, _ = cli(["--version"], capsys)
    assert code == 0 and out.startswith("arrears ")
    code, out, _ = cli(["run", "--help"], capsys)
    out = " ".join(out.split())  # help is wrapped to the terminal
    assert code == 0
    assert "(default: 60)" in out and "(default: 5000)" in out and "(default: out)" in out
    code, out, _ = cli(["book", "--help"], capsys)
    assert "(default: 7)" in " ".join(out.split())


@pytest.mark.parametrize(
    ("param", "said"),
    [
        ("Nope=1", "no such template parameter"),
        ("ShardCount=abc", "whole number"),
        ("ShardCount=0", "from 1 to 4096"),
        ("VoiceDialer=robot", "one of connect, simulated"),
        ("Buckets=M1:1-30", "open-ended"),
        ("BusinessTimeZone=localtime", "IANA"),
        ("ChannelCapacity=fax=3", "fax=3"),
        ("Strategies=CN=cn-nope", "no strategy 'cn-nope'"),
        ("Strategies=China=cn-default", "ISO 3166-1"),
        ("DailyRunSchedule=rate(1 day)", "cron(M H * * ? *)"),
        ("DailyReportSchedule=cron(0 25 * * ? *)", "hours 0-23"),
        ("DailyRunSchedule=cron(0 9 ? * MON *)", "daily schedules only"),
        ("TrainSchedule=cron(0 4 ? * FUNDAY *)", "cron(M H ? * DAYS *)"),
        ("TrainSchedule=cron(0 4 1 * ? *)", "cron(M H ? * DAYS *)"),
        ("PropensityTestDays=0", "PropensityTestDays"),
    ],
)
def test_a_bad_param_is_a_usage_error_before_the_stack_starts(param, said, nothing_starts, tmp_path, capsys):
    code, out, err = cli(["run", "--param", param, "--out", str(tmp_path / "out")], capsys)
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and said in err and err.startswith("arrears run: error: --param")


def test_a_strategy_given_with_publish_may_be_named_in_strategies():
    from arrears_local import checks

    assert checks.check_params({"Strategies": "CN=cn-trial"}, {"cn-trial"})["Strategies"] == "CN=cn-trial"
    with pytest.raises(checks.UsageError, match="cn-trial"):
        checks.check_params({"Strategies": "CN=cn-trial"}, checks.shipped_strategy_ids())


def _bad_documents(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes("id: caf\xe9\n".encode("latin-1"))
    broken = tmp_path / "broken.yaml"
    broken.write_text("id: x\nsegments: [\n", encoding="utf-8")
    fax = tmp_path / "fax.yaml"
    fax.write_text(CN_DOC.replace("channel: sms", "channel: fax", 1), encoding="utf-8")
    m9 = tmp_path / "m9.yaml"
    m9.write_text(CN_DOC.replace("buckets: [M1]", "buckets: [M9]", 1), encoding="utf-8")
    return {
        "non-UTF-8": (latin1, "not UTF-8 text (byte 7)"),
        "YAML": (broken, "not valid YAML"),
        "missing": (tmp_path / "missing.yaml", "no such file"),
        "invalid": (fax, "'fax' is not one of"),
        "never matches": (m9, "'M9' is not a configured bucket"),
    }


@pytest.mark.parametrize("case", ["non-UTF-8", "YAML", "missing", "invalid", "never matches"])
@pytest.mark.parametrize("option", ["--publish", "--dry-run"])
def test_a_bad_strategy_for_publish_or_dry_run_is_refused_before_the_stack_starts(
    case, option, nothing_starts, tmp_path, capsys
):
    path, said = _bad_documents(tmp_path)[case]
    code, _, err = cli(["run", option, str(path), "--out", str(tmp_path / "out")], capsys)
    assert code == 2 and said in err and len(err.strip().splitlines()) == 1, err


def test_a_missing_book_folder_is_a_usage_error(nothing_starts, tmp_path, capsys):
    code, _, err = cli(["run", "--book", str(tmp_path / "nope"), "--out", str(tmp_path / "out")], capsys)
    assert code == 2 and "does not exist" in err


@pytest.mark.parametrize(
    "argv", [["book", "X", "--borrowers", "0"], ["run", "--days", "-1"], ["up", "--port", "70000"]]
)
def test_non_positive_counts_are_usage_errors(argv, nothing_starts, capsys):
    code, _, err = cli(argv, capsys)
    assert code == 2 and "error:" in err


def test_book_refuses_to_overwrite_a_book_without_force(tmp_path, capsys):
    dest = tmp_path / "book"
    assert cli(["book", str(dest), "--borrowers", "3"], capsys)[0] == 0
    before = (dest / "borrowers.csv").read_bytes()
    code, _, err = cli(["book", str(dest), "--borrowers", "5", "--seed", "1"], capsys)
    assert code == 1 and "already holds a book" in err and "--force" in err
    assert (dest / "borrowers.csv").read_bytes() == before
    assert cli(["book", str(dest), "--borrowers", "5", "--seed", "1", "--force"], capsys)[0] == 0
    assert (dest / "borrowers.csv").read_bytes() != before


def test_strategy_check_fails_on_segments_that_can_never_match(tmp_path, capsys):
    doc = tmp_path / "odd.yaml"
    doc.write_text(
        CN_DOC.replace("buckets: [M1]", "buckets: [M1, M9]", 1).replace(
            "jurisdictions: [CN]", "jurisdictions: [cn]", 1
        ),
        encoding="utf-8",
    )
    code, out, _ = cli(["strategy-check", str(doc)], capsys)
    assert code == 1
    assert "segments[0].match.buckets: 'M9' is not a configured bucket (M1, M2, M3, M4, M5, M6, M6+)" in out
    assert "segments[0].match.jurisdictions: 'cn' is not an ISO 3166-1 alpha-2 code (did you mean 'CN'?)" in out
    doc.write_text(CN_DOC.replace("buckets: [M1]", "buckets: [M1, M9]", 1), encoding="utf-8")
    buckets = "Buckets=M1:1-30,M9:31-"
    code, out, _ = cli(["strategy-check", "--param", buckets, str(doc)], capsys)
    assert "'M9'" not in out and "'M2' is not a configured bucket (M1, M9)" in out  # the buckets given, not the default


def test_strategy_check_reports_unreadable_files_without_a_traceback(tmp_path, capsys):
    docs = _bad_documents(tmp_path)
    code, out, _ = cli(["strategy-check", str(docs["non-UTF-8"][0]), str(docs["YAML"][0])], capsys)
    assert code == 1 and "not UTF-8 text" in out and "not valid YAML at line 3" in out


def test_the_shipped_strategies_pass_the_check(capsys):
    files = sorted(str(p) for p in STRATEGIES.rglob("*.yaml"))
    code, out, _ = cli(["strategy-check", *files], capsys)
    assert code == 0 and out.count(": ok (") == len(files)


def test_the_iso_3166_list_has_every_assigned_code():
    from arrears.domain.countries import ISO_3166_ALPHA2

    assert len(ISO_3166_ALPHA2) == 249
    assert {"CN", "US", "HK", "GB", "XK"} & ISO_3166_ALPHA2 == {"CN", "US", "HK", "GB"}  # XK: user-assigned


def test_explain_without_outcomes_is_a_usage_error_and_an_unknown_id_fails(tmp_path, capsys):
    code, _, err = cli(["explain", "L1", "--out", str(tmp_path)], capsys)
    assert code == 2 and "run `arrears run" in err
    (tmp_path / "outcomes" / "facts").mkdir(parents=True)
    code, _, err = cli(["explain", "L1", "--out", str(tmp_path)], capsys)
    assert code == 1 and "no action or loan 'L1'" in err


def test_weekly_schedules_fire_on_their_days_only():
    from datetime import date

    from arrears_local.runner import Schedule, parse_cron

    assert parse_cron("cron(0 9 * * ? *)") == ([0], [9], None)
    assert parse_cron("cron(30 4 ? * MON,wed *)") == ([30], [4], frozenset({0, 2}))
    assert parse_cron("cron(0 4 ? * 1,7 *)")[2] == frozenset({6, 5})  # EventBridge counts from Sunday
    minutes, hours, days = parse_cron("cron(0 4 ? * MON *)")
    weekly = Schedule("t", None, minutes, hours, "Asia/Shanghai", "{}", None, days)  # type: ignore[arg-type]
    assert weekly.fire_times(date(2026, 4, 20)) and not weekly.fire_times(date(2026, 4, 21))  # a Monday, a Tuesday
    assert weekly.fire_times(date(2026, 4, 20))[0].isoformat() == "2026-04-19T20:00:00+00:00"
