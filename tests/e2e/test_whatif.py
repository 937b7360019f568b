"""End to end: `arrears whatif` runs the same book and world under each strategy over several seeds,
and the figures it prints and writes are each run's own (a WeChat-only strategy sends WeChat, the
static baseline SMS); a bad argument is one line before anything runs."""

from __future__ import annotations

import json

import pytest

from arrears_local.cli import main

pytestmark = pytest.mark.e2e

WECHAT_ONLY = """
id: cn-default
version: 1
name: WeChat only in M1
segments:
  - name: m1-wechat
    match: {buckets: [M1], jurisdictions: [CN]}
    cooldown_hours: 20
    steps:
      - {id: m1-wechat-1, after_days: 0, channel: wechat, template: zh-CN/m1_wechat_reminder}
      - {id: m1-wechat-2, after_days: 4, channel: wechat, template: zh-CN/m1_wechat_reminder}
"""


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    from arrears_local.book import synthetic_book

    return synthetic_book(tmp_path_factory.mktemp("whatif") / "book", borrowers=60, seed=13)


def test_whatif_compares_strategies_on_the_same_book_and_world(book, tmp_path, capsys):
    from arrears_local.stack import ROOT

    wechat = tmp_path / "wechat-only.yaml"
    wechat.write_text(WECHAT_ONLY)
    static = ROOT / "bench" / "static-cn.yaml"
    out = tmp_path / "whatif"
    code = main(["whatif", "--strategy", str(static), "--strategy", str(wechat), "--book", str(book), "--days", "8",
                 "--start", "2026-04-08", "--seeds", "2", "--out", str(out), "--param", "ShardCount=1"])
    printed, err = capsys.readouterr()
    assert code == 0, err
    result = json.loads((out / "whatif.json").read_text())
    assert result["world"] == "default" and result["seeds"] == [7, 8]
    s = result["strategies"]
    assert set(s) == {"static-cn", "wechat-only"}
    for label in s:
        assert len(s[label]["runs"]) == 2
        assert (out / "runs" / f"{label}-seed7" / "world.json").exists()
    assert s["static-cn"]["contacts_by_channel.sms"]["mean"] > 0
    assert s["wechat-only"]["contacts_by_channel.wechat"]["mean"] > 0
    assert s["static-cn"]["contacts_by_channel.wechat"]["mean"] == 0  # CN's M1 under the baseline: texts only
    runs = s["wechat-only"]["runs"]
    assert s["wechat-only"]["contacts"]["mean"] == sum(r["contacts"] for r in runs) / 2
    assert "recovery rate" in printed and "wechat-only" in printed and "contacts per cure" in printed
    page = (out / "whatif.html").read_text()  # the same means and intervals as charts
    assert page.count('class="pt"') >= 2 * 5 and "static-cn" in page and "策略推演" in page
    assert f"{s['static-cn']['recovery_rate']['mean']:.1%}" in page


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--cost", "fax=1"], "not channel=cost"),
        (["--cost", "sms=-1"], "at least 0"),
        (["--world", "nosuch:W"], "cannot load nosuch"),
        (["--seeds", "0"], "--seeds"),
        (["--core", "--world", "scripted"], "--core needs a world that answers"),
        (["--core", "--param", "ShardCount=2"], "--core does not model --param ShardCount"),
        (["--core", "--param", "ChannelCapacity=fax=1"], "ChannelCapacity=fax=1: fax=1: a channel"),
    ],
)
def test_whatif_usage_errors_are_one_line(argv, says, tmp_path, capsys):
    from arrears_local.stack import ROOT

    try:
        code = main(["whatif", "--strategy", str(ROOT / "bench" / "static-cn.yaml"), "--out", str(tmp_path), *argv])
    except SystemExit as e:  # argparse's own: its usage, then one error line
        code = int(e.code or 0)
    _, err = capsys.readouterr()
    assert code == 2 and says in err.strip().splitlines()[-1] and "Traceback" not in err
    assert not (tmp_path / "whatif.json").exists()


def test_whatif_core_runs_the_domain_core_in_process(book, tmp_path, capsys):
    from arrears_local.stack import ROOT

    out = tmp_path / "whatif"
    argv = ["whatif", "--core", "--strategy", str(ROOT / "bench" / "static-cn.yaml"), "--strategy",
            str(ROOT / "bench" / "adaptive-cn.yaml"), "--book", str(book), "--days", "20", "--seeds", "2",
            "--out", str(out), "--param", "ChannelCapacity=sms=0"]  # fmt: skip
    code = main(argv)
    printed, err = capsys.readouterr()
    assert code == 0, err
    result = json.loads((out / "whatif.json").read_text())
    assert result["engine"].startswith("the domain core in process") and "domain core in process" in printed
    s = result["strategies"]
    assert s["static-cn"]["contacts_by_channel.wechat"]["mean"] == 0 and s["adaptive-cn"]["contacts"]["mean"] > 0
    assert s["static-cn"]["contacts_by_channel.sms"]["mean"] == 0  # the overridden capacity holds: no texts
    assert s["static-cn"]["guard_by_rule.deferred:capacity"]["mean"] > 0
    facts = (out / "runs" / "adaptive-cn-seed7" / "facts.jsonl").read_text().splitlines()
    assert sum(json.loads(f)["fact_type"] == "action_sent" for f in facts) == s["adaptive-cn"]["runs"][0]["contacts"]


def test_whatif_core_with_a_world_that_fails_is_one_line_and_exit_1(book, tmp_path, capsys):
    from arrears_local.stack import ROOT

    rude = tmp_path / "rude.py"
    rude.write_text(
        "class Rude:\n    def start(self, book, seed): pass\n    def on_day(self, day): raise RuntimeError('boom')\n"
        "    def on_contact(self, c): return []\n"
    )
    code = main(["whatif", "--core", "--strategy", str(ROOT / "bench" / "static-cn.yaml"), "--book", str(book),
                 "--days", "5", "--seeds", "1", "--world", f"{rude}:Rude", "--out", str(tmp_path / "w")])  # fmt: skip
    _, err = capsys.readouterr()
    assert code == 1 and "Traceback" not in err
    assert "the world's reactions refused" in err.strip().splitlines()[-1] and "boom" in err
