"""The readable report: one self-contained HTML page (no script or font from elsewhere, charts as
inline SVG) drawn from the named queries' rows, in Chinese and English (a switch; the browser's
language first).

Pure: ``render`` takes what the queries returned (a section's rows, or why it has none) and returns
the page. The daily report function and ``arrears run`` (the whole run) call it with the same
queries (``usecases/report_page.py``)."""

from __future__ import annotations

import html
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from .money import minor_units

Rows = list[dict[str, Any]]
PALETTE = ("#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#bf3989", "#0a7ea4", "#57606a")


def t(en: str, zh: str) -> str:
    """A text in both languages; the page shows the chosen one."""
    return f'<span lang="en">{html.escape(en)}</span><span lang="zh-CN">{html.escape(zh)}</span>'


def ts(en: str, zh: str) -> str:
    """A text in both languages inside an SVG ``<text>``."""
    return f'<tspan lang="en">{html.escape(en)}</tspan><tspan lang="zh-CN">{html.escape(zh)}</tspan>'


Label = str | tuple[str, str]  # one text, or (English, Chinese)


def _label(label: Label, limit: int = 60) -> str:
    return ts(label[0][:limit], label[1][:limit]) if isinstance(label, tuple) else html.escape(label[:limit])


def _plain_label(label: Label) -> str:
    return label[0] if isinstance(label, tuple) else label


def _num(v: Any) -> float:
    return float(v) if isinstance(v, int | float) else 0.0


def money(minor: Any, currency: str) -> str:
    places = minor_units(currency) if currency else 2
    return f"{_num(minor) / 10**places:,.{places}f} {currency}"


# --------------------------------------------------------------------------------------- charts


def line_chart(
    name: str, labels: Sequence[str], series: Mapping[str, Sequence[float | None]], percent: bool = False
) -> str:
    """Lines over ``labels`` (one point a label), an axis with the highest value, a legend."""
    w, h, left, bottom, top = 480, 220, 52, 26, 12
    values = [v for ys in series.values() for v in ys if v is not None]
    if not labels or not values:
        return _empty(name)
    high = max(values) or 1.0
    step = (w - left - 22) / max(len(labels) - 1, 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        return left + i * step, top + (h - top - bottom) * (1 - v / high)

    parts = [_axes(w, h, left, bottom, top, _fmt(high, percent), labels)]
    for n, (label, ys) in enumerate(series.items()):
        color = PALETTE[n % len(PALETTE)]
        points = [(i, v) for i, v in enumerate(ys) if v is not None]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(i, v) for i, v in points))
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{path}"/>')
        for i, v in points:
            x, y = xy(i, v)
            tip = html.escape(f"{label} {labels[i]}: {_fmt(v, percent)}")
            parts.append(
                f'<circle class="pt" cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{color}"><title>{tip}</title></circle>'
            )
    legend = "".join(
        f'<span class="key"><i style="background:{PALETTE[n % len(PALETTE)]}"></i>{html.escape(k)}</span>'
        for n, k in enumerate(series)
    )
    return _figure(name, w, h, "".join(parts), legend, grow=1.6)


def bar_chart(name: str, bars: Sequence[tuple[Label, float, str]], percent: bool = False) -> str:
    """Horizontal bars, each under its label: (label, value, note shown after the value)."""
    if not bars:
        return _empty(name)
    w, row = 480, 38
    h = row * len(bars) + 4
    high = max(_num(v) for _, v, _ in bars) or 1.0
    parts = []
    for i, (label, value, note) in enumerate(bars):
        y = 4 + i * row
        width = max(1.0, (w - 90) * _num(value) / high)
        tip = html.escape(f"{_plain_label(label)}: {_fmt(_num(value), percent)} {note}".strip())
        parts.append(
            f'<text x="0" y="{y + 12}" class="lbl">{_label(label)}</text>'
            f'<rect class="bar" x="0" y="{y + 17}" width="{width:.1f}" height="14" fill="{PALETTE[0]}">'
            f"<title>{tip}</title></rect>"
            f'<text x="{width + 6:.1f}" y="{y + 29}" class="lbl">{html.escape(_fmt(_num(value), percent))}'
            f" {html.escape(note)}</text>"
        )
    return _figure(name, w, h, "".join(parts), "")


def interval_chart(name: str, rows: Sequence[tuple[str, float, float | None, float | None]]) -> str:
    """Points with 95% intervals, each under its label: (label, value, low, high); a dashed line at zero."""
    if not rows:
        return _empty(name)
    w, row = 480, 40
    h = row * len(rows) + 22
    lo = min([0.0] + [_num(v) for _, v, low, _ in rows] + [low for *_, low, _ in rows if low is not None])
    hi = max([0.0] + [_num(v) for _, v, _, high in rows] + [high for *_, high in rows if high is not None])
    span = (hi - lo) or 1.0

    def x(v: float) -> float:
        return 10 + (w - 20) * (v - lo) / span

    parts = [f'<line x1="{x(0):.1f}" y1="0" x2="{x(0):.1f}" y2="{h - 16}" stroke="#999" stroke-dasharray="4 3"/>']
    for i, (label, value, low, high) in enumerate(rows):
        y = 4 + i * row
        interval = f" [{low:+.3f}, {high:+.3f}]" if low is not None and high is not None else ""
        parts.append(
            f'<text x="0" y="{y + 12}" class="lbl">{html.escape(f"{label[:48]}: {value:+.3f}{interval}")}</text>'
        )
        if low is not None and high is not None:
            parts.append(
                f'<line x1="{x(low):.1f}" y1="{y + 26}" x2="{x(high):.1f}" y2="{y + 26}" stroke="{PALETTE[1]}" '
                'stroke-width="2"/>'
            )
        tip = html.escape(f"{label}: {value:+.4f}{interval}")
        parts.append(
            f'<circle class="pt" cx="{x(value):.1f}" cy="{y + 26}" r="5" fill="{PALETTE[0]}"><title>{tip}</title></circle>'
        )
    parts.append(f'<text x="{x(0):.1f}" y="{h - 3}" text-anchor="middle" class="lbl">0</text>')
    return _figure(name, w, h, "".join(parts), "")


def heat_map(name: str, rows_: Sequence[str], cols: Sequence[str], cells: Mapping[tuple[str, str], float]) -> str:
    """Shares (0..1) from each row to each column, the darker the larger, the value in the cell."""
    if not cells:
        return _empty(name)
    cw, ch, left, top = 54, 26, 44, 24
    w, h = left + cw * len(cols) + 4, top + ch * len(rows_) + 4
    parts = [
        f'<text x="{left + i * cw + cw / 2}" y="16" text-anchor="middle" class="lbl">{html.escape(c)}</text>'
        for i, c in enumerate(cols)
    ]
    for r, row in enumerate(rows_):
        y = top + r * ch
        parts.append(f'<text x="{left - 6}" y="{y + 17}" text-anchor="end" class="lbl">{html.escape(row)}</text>')
        for c, col in enumerate(cols):
            share = cells.get((row, col))
            if share is None:
                continue
            shade = f"rgba(31,111,235,{0.12 + 0.88 * min(1.0, share):.2f})"
            ink = "#fff" if share > 0.5 else "#111"
            tip = html.escape(f"{row} → {col}: {share:.1%}")
            parts.append(
                f'<rect class="cell" x="{left + c * cw}" y="{y}" width="{cw - 2}" height="{ch - 2}" fill="{shade}">'
                f'<title>{tip}</title></rect><text x="{left + c * cw + cw / 2 - 1}" y="{y + 17}" text-anchor="middle" '
                f'class="lbl" fill="{ink}">{share:.0%}</text>'
            )
    return _figure(name, w, h, "".join(parts), "")


def _fmt(v: float, percent: bool) -> str:
    return f"{v:.1%}" if percent else (f"{v:,.0f}" if abs(v) >= 100 or float(v).is_integer() else f"{v:,.2f}")


def _axes(w: int, h: int, left: int, bottom: int, top: int, high: str, labels: Sequence[str]) -> str:
    base = h - bottom
    out = [
        f'<line x1="{left}" y1="{base}" x2="{w - 4}" y2="{base}" stroke="#bbb"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{base}" stroke="#bbb"/>',
        f'<text x="{left - 4}" y="{top + 8}" text-anchor="end" class="lbl">{html.escape(high)}</text>',
        f'<text x="{left - 4}" y="{base}" text-anchor="end" class="lbl">0</text>',
    ]
    step = (w - left - 22) / max(len(labels) - 1, 1)
    every = max(1, len(labels) // 6)
    for i in range(0, len(labels), every):
        out.append(
            f'<text x="{left + i * step:.1f}" y="{h - 8}" text-anchor="middle" class="lbl">{html.escape(labels[i])}</text>'
        )
    return "".join(out)


def _figure(name: str, w: int, h: int, body: str, legend: str, grow: float = 1.25) -> str:
    """A chart: as wide as the screen allows, up to ``grow`` times its drawing's size."""
    return (
        f'<figure class="chart" data-chart="{html.escape(name)}"><svg viewBox="0 0 {w} {h}" role="img" '
        f'style="max-width:{round(w * grow)}px" preserveAspectRatio="xMinYMin meet">{body}</svg>'
        + (f'<figcaption class="legend">{legend}</figcaption>' if legend else "")
        + "</figure>"
    )


def _empty(name: str) -> str:
    return f'<p class="empty" data-chart="{html.escape(name)}">{t("No data for this period.", "本期无数据。")}</p>'


# --------------------------------------------------------------------------------------- sections


def _headline(sections: Mapping[str, Rows | str]) -> str:
    overview = sections.get("overview")
    cards: list[tuple[str, str, float | None, float | None, str]] = []
    if isinstance(overview, list) and overview:
        last = overview[-1]
        before = overview[-2] if len(overview) > 1 else None
        for key, en, zh in (
            ("newly_overdue", "Newly overdue", "新增逾期"),
            ("cured", "Cured", "已结清"),
            ("sent", "Contacts sent", "已触达"),
            ("promises_made", "Promises to pay", "承诺还款"),
            ("repayments", "Repayments", "还款笔数"),
        ):
            cards.append((en, zh, _num(last.get(key)), _num(before.get(key)) if before else None, ""))
    buckets = sections.get("buckets")
    if isinstance(buckets, list) and buckets:
        per_day: dict[str, float] = defaultdict(float)
        for r in buckets:
            per_day[str(r["dt"])] += _num(r["loans"])
        days = sorted(per_day)
        cards.insert(
            0, ("Delinquent loans", "逾期贷款", per_day[days[-1]], per_day[days[-2]] if len(days) > 1 else None, "")
        )
    recovered = sections.get("recovered")
    out = []
    for en, zh, value, prior, _ in cards:
        change = ""
        if prior is not None and value is not None:
            delta = value - prior
            change = f'<span class="delta {"up" if delta > 0 else "down" if delta < 0 else ""}">{delta:+,.0f}</span>'
        out.append(f'<div class="card"><div class="k">{t(en, zh)}</div><div class="v">{value:,.0f}</div>{change}</div>')
    if isinstance(recovered, list) and recovered:
        last_day = max(str(r["dt"]) for r in recovered)
        days = sorted({str(r["dt"]) for r in recovered})
        prev_day = days[-2] if len(days) > 1 else None
        for r in (r for r in recovered if str(r["dt"]) == last_day):
            cur = str(r["currency"])
            prev = next((p for p in recovered if str(p["dt"]) == prev_day and p["currency"] == cur), None)
            change = ""
            if prev is not None:
                delta = _num(r["recovered_minor"]) - _num(prev["recovered_minor"])
                change = f'<span class="delta {"up" if delta > 0 else "down" if delta < 0 else ""}">{"+" if delta >= 0 else "-"}{money(abs(delta), cur)}</span>'
            out.append(
                f'<div class="card"><div class="k">{t(f"Recovered ({cur})", f"回收金额（{cur}）")}</div>'
                f'<div class="v">{money(r["recovered_minor"], cur)}</div>{change}</div>'
            )
    if not out:
        return _empty("headline")
    note = t("Change against the day before.", "与前一日相比。")
    return f'<div class="cards" data-chart="headline">{"".join(out)}</div><p class="note">{note}</p>'


def _buckets(rows: Rows) -> str:
    days = sorted({str(r["dt"]) for r in rows})
    by_bucket: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for r in rows:
        by_bucket[str(r["bucket"])][str(r["dt"])] += _num(r["loans"])
    series = {b: [by_bucket[b].get(d, 0.0) for d in days] for b in sorted(by_bucket, key=_bucket_order)}
    return line_chart("buckets", [d[5:] for d in days], series)


def _bucket_order(bucket: str) -> tuple[int, str]:
    digits = "".join(ch for ch in bucket if ch.isdigit())
    return (int(digits) if digits else 99) + bucket.endswith("+"), bucket


def _roll(rows: Rows) -> str:
    months = sorted({str(r["from_month"]) for r in rows})
    if not months:
        return _empty("roll")
    month = months[-1]
    loans: dict[tuple[str, str], float] = defaultdict(float)
    totals: dict[str, float] = defaultdict(float)
    for r in rows:
        if r["from_month"] == month:
            loans[(str(r["from_bucket"]), str(r["to_bucket"]))] += _num(r["loans"])
            totals[str(r["from_bucket"])] += _num(r["loans"])
    froms = sorted(totals, key=_bucket_order)
    tos = sorted({k[1] for k in loans}, key=lambda b: (b == "paid_off", _bucket_order(b)))
    cells = {k: v / totals[k[0]] for k, v in loans.items()}
    caption = t(
        f"Month end {month} to the next, share of each bucket's loans.", f"{month} 月末至下月末，各账龄段贷款占比。"
    )
    return f'<p class="note">{caption}</p>' + heat_map("roll", froms, tos, cells)


def _recovery(rows: Rows) -> str:
    days = sorted({int(r["day"]) for r in rows})
    series: dict[str, list[float | None]] = {}
    for key in sorted(
        {(str(r["bucket"]), str(r["currency"])) for r in rows}, key=lambda k: (_bucket_order(k[0]), k[1])
    ):
        got = {int(r["day"]): _num(r["recovered_share"]) for r in rows if (r["bucket"], r["currency"]) == key}
        series[f"{key[0]} {key[1]}"] = [got.get(d) for d in days]
    return line_chart("recovery", [str(d) for d in days], series, percent=True)


def _channels(rows: Rows) -> str:
    per: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for r in rows:
        for k in ("contacts", "promises", "followed_by_payment"):
            per[str(r["channel"])][k] += _num(r[k])
    bars: list[tuple[Label, float, str]] = []
    for channel in sorted(per):
        c = per[channel]
        paid = c["followed_by_payment"] / c["contacts"] if c["contacts"] else 0.0
        bars.append(((f"{channel}: contacts", f"{channel}：触达"), c["contacts"], ""))
        bars.append(((f"{channel}: promises to pay", f"{channel}：承诺还款"), c["promises"], ""))
        bars.append(
            ((f"{channel}: paid within 7 days", f"{channel}：7 日内还款"), c["followed_by_payment"], f"({paid:.0%})")
        )
    return bar_chart("channels", bars)


def _arms(rows: Rows) -> str:
    points: list[tuple[str, float, float | None, float | None]] = []
    table = []
    seen = set()
    for r in rows:
        key = (r["strategy"], r["arm"])
        table.append(
            f"<tr><td>{html.escape(str(r['strategy']))}</td><td>{html.escape(str(r['arm']))}</td>"
            f"<td>{html.escape(str(r['currency']))}</td><td class=n>{int(_num(r['loans']))}</td>"
            f"<td class=n>{int(_num(r['contacts']))}</td><td class=n>{int(_num(r['cures']))}</td>"
            f"<td class=n>{money(r['recovered_per_loan_minor'], str(r['currency']))}</td>"
            f"<td class=n>{_num(r['recovery_rate']):.1%}</td></tr>"
        )
        if key in seen:
            continue
        seen.add(key)
        if r.get("difference_vs_champion") is not None:
            points.append(
                (
                    f"{r['strategy']}: {r['arm']}",
                    _num(r["difference_vs_champion"]),
                    r.get("ci95_low"),
                    r.get("ci95_high"),
                )
            )
    head = (
        f"<tr><th>{t('Strategy', '策略')}</th><th>{t('Arm', '分组')}</th><th>{t('Currency', '币种')}</th>"
        f"<th>{t('Loans', '贷款')}</th><th>{t('Contacts', '触达')}</th><th>{t('Cures', '结清')}</th>"
        f"<th>{t('Recovered per loan', '单笔回收')}</th><th>{t('Recovery rate', '回收率')}</th></tr>"
    )
    chart = (
        interval_chart("arms", points)
        if points
        else f'<p class="note">{t("No challenger with two or more loans yet.", "暂无足够样本的挑战者。")}</p>'
    )
    note = t(
        "Challenger minus champion, recovery rate, with its 95% confidence interval.",
        "挑战者与冠军回收率之差及其 95% 置信区间。",
    )
    return f'<p class="note">{note}</p>{chart}<div class="scroll"><table>{head}{"".join(table)}</table></div>'


def _compliance(rows: Rows, violations: Rows | str | None) -> str:
    per: dict[tuple[str, str], float] = defaultdict(float)
    kinds = {"blocked": "拦截", "deferred": "延后"}
    for r in rows:
        kind, rule = str(r["kind"]), str(r["rule"])
        per[(f"{kind}: {rule}", f"{kinds.get(kind, kind)}：{rule}")] += _num(r["contacts"])
    chart = bar_chart("compliance", [(k, v, "") for k, v in sorted(per.items(), key=lambda kv: (-kv[1], kv[0]))])
    if isinstance(violations, list):
        found = len(violations)
        cls = "ok" if found == 0 else "bad"
        line = t(f"Violations found in the facts: {found}", f"事实数据中发现的违规：{found}")
        chart += f'<p class="{cls}" data-violations="{found}">{line}</p>'
    return chart


def _imports(rows: Rows) -> str:
    if not rows:
        return f'<p class="note" data-chart="imports">{t("No file imported.", "无导入文件。")}</p>'
    head = (
        f"<tr><th>{t('File', '文件')}</th><th>{t('Rows', '行数')}</th><th>{t('Accepted', '接受')}</th>"
        f"<th>{t('Rejected', '拒绝')}</th><th>{t('Rejected whole', '整体拒绝')}</th></tr>"
    )
    body = "".join(
        f"<tr><td>{html.escape(str(r['file']))}</td><td class=n>{r['rows'] if r['rows'] is not None else ''}</td>"
        f"<td class=n>{r['accepted'] if r['accepted'] is not None else ''}</td>"
        f"<td class=n>{r['rejected'] if r['rejected'] is not None else ''}</td>"
        f"<td>{html.escape(str(r['rejected_whole'] or ''))}</td></tr>"
        for r in rows
    )
    return f'<div class="scroll" data-chart="imports"><table>{head}{body}</table></div>'


SECTIONS: tuple[tuple[str, str, str], ...] = (
    ("overview", "Headline", "概览"),
    ("buckets", "Delinquent loans by bucket", "各账龄段逾期贷款"),
    ("roll", "Roll rates", "迁徙率"),
    (
        "recovery",
        "Recovery curve: share of the amount overdue at bucket entry recovered, by day since entry",
        "回收曲线：入段逾期金额按入段天数的回收占比",
    ),
    ("channels", "Channel funnel (the last 7 days)", "渠道漏斗（近 7 日）"),
    ("arms", "Champion and challengers", "冠军与挑战者"),
    (
        "compliance",
        "Compliance: contacts held back by rule (the last 7 days)",
        "合规：按规则拦截或延后的触达（近 7 日）",
    ),
    ("imports", "The platform's files", "平台导入文件"),
)


def render(title_en: str, title_zh: str, sections: Mapping[str, Rows | str]) -> str:
    """The page. ``sections``: a named query's rows by section key (overview, recovered, buckets, roll,
    recovery, channels, arms, compliance, violations, imports), or a text saying why there are none."""
    builders = {
        "overview": lambda: _headline(sections),
        "buckets": lambda: _buckets(_rows(sections, "buckets")),
        "roll": lambda: _roll(_rows(sections, "roll")),
        "recovery": lambda: _recovery(_rows(sections, "recovery")),
        "channels": lambda: _channels(_rows(sections, "channels")),
        "arms": lambda: _arms(_rows(sections, "arms")),
        "compliance": lambda: _compliance(_rows(sections, "compliance"), sections.get("violations")),
        "imports": lambda: _imports(_rows(sections, "imports")),
    }
    body = []
    for key, en, zh in SECTIONS:
        failed = [v for k, v in sections.items() if isinstance(v, str) and _belongs(k, key)]
        inner = (
            f'<p class="bad">{t("Not available: ", "暂不可用：")}{html.escape("; ".join(failed))}</p>'
            if failed
            else builders[key]()
        )
        body.append(f'<section id="{key}"><h2>{t(en, zh)}</h2>{inner}</section>')
    return PAGE.format(
        title=html.escape(f"{title_en} / {title_zh}"),
        heading=t(title_en, title_zh),
        body="".join(body),
        data=html.escape(json.dumps(sorted(k for k, v in sections.items() if isinstance(v, list)))),
    )


def _rows(sections: Mapping[str, Rows | str], key: str) -> Rows:
    v = sections.get(key)
    return v if isinstance(v, list) else []


def _belongs(section_key: str, shown_in: str) -> bool:
    return (
        section_key == shown_in
        or (shown_in == "overview" and section_key in ("recovered",))
        or (shown_in == "compliance" and section_key == "violations")
    )


WHATIF_FIGURES: tuple[tuple[str, str, str, bool], ...] = (
    ("recovery_rate", "Recovery rate", "回收率", True),
    ("cures", "Cures", "结清", False),
    ("contacts", "Contacts", "触达次数", False),
    ("cost", "Contact cost", "触达成本", False),
    ("contacts_per_cure", "Contacts per cure", "每笔结清所需触达", False),
    ("complaints", "Complaints", "投诉", False),
)


def render_whatif(result: Mapping[str, Any]) -> str:
    """``arrears whatif``'s page: each figure per strategy, its mean over the seeds with the 95%
    interval (the same numbers as whatif.json), in both languages."""
    strategies: Mapping[str, Mapping[str, Any]] = result.get("strategies") or {}
    sections = []
    currencies = sorted({k.split(".", 1)[1] for s in strategies.values() for k in s if k.startswith("recovered.")})
    figures = [(f"recovered.{c}", f"Recovered ({c})", f"回收金额（{c}）", False) for c in currencies] + list(
        WHATIF_FIGURES
    )
    for key, en, zh, percent in figures:
        rows = []
        for label, s in strategies.items():
            got = s.get(key) or {}
            if got.get("mean") is None:
                continue
            low, high = got["ci95"] if got.get("ci95") else (None, None)
            rows.append((label, float(got["mean"]), low, high))
        chart = interval_chart(f"whatif-{key}", rows) if rows else _empty(f"whatif-{key}")
        values = "".join(
            f"<tr><td>{html.escape(label)}</td><td class=n>{_fmt(mean, percent)}</td>"
            f"<td class=n>{'' if low is None else _fmt(low, percent) + ' – ' + _fmt(high or 0.0, percent)}</td></tr>"
            for label, mean, low, high in rows
        )
        head = f"<tr><th>{t('Strategy', '策略')}</th><th>{t('Mean', '均值')}</th><th>{t('95% interval', '95% 区间')}</th></tr>"
        sections.append(
            f'<section id="{html.escape(key)}"><h2>{t(en, zh)}</h2>{chart}'
            f'<div class="scroll"><table>{head}{values}</table></div></section>'
        )
    seeds = ", ".join(str(x) for x in result.get("seeds") or [])
    note = t(
        f"The same book and world ({result.get('world')}, {result.get('days')} days) under each strategy; means "
        f"over seeds {seeds} with their 95% intervals.",
        f"相同账本与模拟世界（{result.get('world')}，{result.get('days')} 天）下的各策略；种子 {seeds} 的均值及其 95% 区间。",
    )
    return PAGE.format(
        title="arrears what-if / 策略推演",
        heading=t("What-if: strategies side by side", "策略推演：并列比较"),
        body=f'<p class="note">{note}</p>' + "".join(sections),
        data=html.escape(json.dumps(sorted(strategies))),
    )


PAGE = """<!doctype html>
<html lang="zh-CN" data-lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
:root {{ font-family: system-ui, -apple-system, "Segoe UI", "Noto Sans CJK SC", "WenQuanYi Micro Hei", sans-serif;
  color: #1f2328; background: #fff; }}
body {{ margin: 0 auto; max-width: 960px; padding: 12px; }}
html[data-lang="en"] [lang="zh-CN"], html[data-lang="zh-CN"] [lang="en"] {{ display: none; }}
header {{ display: flex; justify-content: space-between; align-items: center; gap: 8px; flex-wrap: wrap; }}
h1 {{ font-size: 1.3rem; margin: 8px 0; }} h2 {{ font-size: 1.05rem; margin: 20px 0 8px; }}
button {{ font: inherit; padding: 6px 12px; border: 1px solid #d0d7de; border-radius: 6px; background: #f6f8fa; }}
.cards {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 8px; }}
.card {{ border: 1px solid #d0d7de; border-radius: 8px; padding: 8px; }}
.card .k {{ font-size: .8rem; color: #59636e; }} .card .v {{ font-size: 1.2rem; font-weight: 600; }}
.delta {{ font-size: .8rem; color: #59636e; }} .delta.up {{ color: #1a7f37; }} .delta.down {{ color: #d1242f; }}
.chart {{ margin: 0; }} .chart svg {{ width: 100%; height: auto; display: block; }}
.lbl {{ font-size: 12px; fill: #333; }}
.chart {{ max-width: 760px; }}
.legend {{ font-size: .8rem; }} .key {{ margin-right: 10px; white-space: nowrap; }}
.key i {{ display: inline-block; width: 10px; height: 10px; margin-right: 4px; border-radius: 2px; }}
.scroll {{ overflow-x: auto; }} table {{ border-collapse: collapse; font-size: .85rem; min-width: 100%; }}
th, td {{ border-bottom: 1px solid #d8dee4; padding: 4px 6px; text-align: left; }} td.n {{ text-align: right; }}
.note {{ font-size: .8rem; color: #59636e; }} .ok {{ color: #1a7f37; }} .bad {{ color: #d1242f; }}
</style>
</head>
<body>
<header><h1>{heading}</h1><button id="lang" type="button"><span lang="en">中文</span><span lang="zh-CN">English</span></button></header>
{body}
<script type="application/json" id="sections">{data}</script>
<script>
(function () {{
  var root = document.documentElement;
  function set(lang) {{ root.setAttribute("data-lang", lang); root.setAttribute("lang", lang); }}
  var saved = null;
  try {{ saved = localStorage.getItem("arrears-report-lang"); }} catch (e) {{}}
  set(saved || ((navigator.language || "").toLowerCase().indexOf("zh") === 0 ? "zh-CN" : "en"));
  document.getElementById("lang").addEventListener("click", function () {{
    var next = root.getAttribute("data-lang") === "en" ? "zh-CN" : "en";
    set(next);
    try {{ localStorage.setItem("arrears-report-lang", next); }} catch (e) {{}}
  }});
}})();
</script>
</body>
</html>
"""
