"""The readable report page: self-contained, every section drawn from its query's rows (a point, bar or
cell per value), a section whose query failed says why while the others draw, and nothing a row holds
can break out of the page."""

from __future__ import annotations

import re

from arrears.domain.report_html import render


def _sections() -> dict:
    return {
        "overview": [
            {"dt": "2026-04-01", "newly_overdue": 3, "cured": 1, "sent": 10, "promises_made": 1, "repayments": 4},
            {"dt": "2026-04-02", "newly_overdue": 5, "cured": 2, "sent": 12, "promises_made": 0, "repayments": 6},
        ],
        "recovered": [
            {"dt": "2026-04-01", "currency": "CNY", "recovered_minor": 10_000},
            {"dt": "2026-04-02", "currency": "CNY", "recovered_minor": 25_050},
        ],
        "buckets": [
            {"dt": d, "bucket": b, "currency": "CNY", "loans": n}
            for d, b, n in (
                ("2026-04-01", "M1", 7),
                ("2026-04-01", "M2", 2),
                ("2026-04-02", "M1", 8),
                ("2026-04-02", "M6+", 1),
            )
        ],
        "roll": [
            {"from_month": "2026-03", "from_bucket": "M1", "to_bucket": "M2", "currency": "CNY", "loans": 3},
            {"from_month": "2026-03", "from_bucket": "M1", "to_bucket": "paid_off", "currency": "CNY", "loans": 1},
        ],
        "recovery": [{"bucket": "M1", "currency": "CNY", "day": d, "recovered_share": 0.1 * d} for d in (1, 2, 3)],
        "channels": [{"channel": "sms", "contacts": 10, "promises": 1, "followed_by_payment": 4}],
        "arms": [
            {
                "strategy": "cn",
                "arm": "champion",
                "currency": "CNY",
                "loans": 5,
                "contacts": 9,
                "cures": 2,
                "recovered_per_loan_minor": 12345,
                "recovery_rate": 0.4,
                "difference_vs_champion": None,
            },
            {
                "strategy": "cn",
                "arm": "early",
                "currency": "CNY",
                "loans": 5,
                "contacts": 8,
                "cures": 3,
                "recovered_per_loan_minor": 22345,
                "recovery_rate": 0.5,
                "difference_vs_champion": 0.1,
                "ci95_low": -0.05,
                "ci95_high": 0.25,
            },
        ],
        "compliance": [{"kind": "deferred", "rule": "contact_hours", "contacts": 4}],
        "violations": [],
        "imports": [
            {
                "file": "loans/<script>alert(1)</script>.csv",
                "rows": 3,
                "accepted": 2,
                "rejected": 1,
                "rejected_whole": None,
            }
        ],
    }


def _points(page: str, chart: str) -> int:
    figure = re.search(rf'<figure class="chart" data-chart="{chart}">(.*?)</figure>', page, re.S)
    assert figure, chart
    return len(re.findall(r'class="(?:pt|bar|cell)"', figure.group(1)))


def test_every_section_draws_its_rows():
    page = render("Daily report", "日报", _sections())
    assert _points(page, "buckets") == 2 * 3  # two days, three buckets (a bucket missing on a day is 0)
    assert _points(page, "roll") == 2 and "75%" in page and "25%" in page  # 3 of 4 to M2, 1 paid off
    assert _points(page, "recovery") == 3
    assert _points(page, "channels") == 3 and "(40%)" in page  # 4 of 10 contacts followed by a payment
    assert _points(page, "arms") == 1 and "[-0.050, +0.250]" in page
    assert _points(page, "compliance") == 1
    assert "250.50 CNY" in page and "+150.50 CNY" in page  # recovered on the day and its change
    assert 'data-violations="0"' in page
    assert ">+2<" in page  # newly overdue: 5 against 3


def test_the_page_is_self_contained_and_escapes_what_rows_hold():
    page = render("Daily report", "日报", _sections())
    assert not re.search(r'(src|href)="https?:', page) and "@import" not in page and "url(" not in page
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count('lang="en"') > 10 and page.count('lang="zh-CN"') > 10  # both languages throughout


def test_a_failed_query_leaves_its_section_saying_why_and_the_others_draw():
    sections = _sections() | {"roll": "roll_rates: QueryFailed: over the bytes limit"}
    page = render("Daily report", "日报", sections)
    assert "over the bytes limit" in page and 'data-chart="roll"' not in page
    assert _points(page, "buckets") == 6
    empty = render("Daily report", "日报", {})
    assert empty.count('class="empty"') >= 5  # every chart says it has no data, none fails


def test_the_whatif_page_charts_each_figure_with_its_interval():
    from arrears.domain.report_html import render_whatif

    result = {
        "world": "default",
        "days": 30,
        "seeds": [7, 8, 9],
        "strategies": {
            "static-cn": {
                "recovery_rate": {"mean": 0.31, "ci95": [0.28, 0.34]},
                "recovered.CNY": {"mean": 1200.0, "ci95": None},
                "cures": {"mean": 40.0, "ci95": [35.0, 45.0]},
                "contacts_per_cure": {"mean": None, "ci95": None},
            },
            "adaptive": {
                "recovery_rate": {"mean": 0.36, "ci95": [0.33, 0.39]},
                "cures": {"mean": 44.0, "ci95": [41.0, 47.0]},
            },
        },
    }
    page = render_whatif(result)
    assert _points(page, "whatif-recovery_rate") == 2 and "31.0%" in page and "28.0% – 34.0%" in page
    assert _points(page, "whatif-recovered.CNY") == 1  # a figure only one strategy has
    assert 'data-chart="whatif-contacts_per_cure"' in page and 'class="empty"' in page  # none has it: said so
    assert not re.search(r'(src|href)="https?:', page)
