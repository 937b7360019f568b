"""Formula injection: kept as data, neutralised in every CSV written for people."""

import csv
import io
from decimal import Decimal

from arrears.domain.csvsafe import neutralise, rows_csv


def test_formula_cells_are_shown_as_text_and_numbers_stay_numbers():
    rows = [
        {"name": "=cmd|' /C calc'!A0", "amount": Decimal("-5.00")},
        {"name": "+SUM(A1:A9)", "amount": 3},
        {"name": "@HYPERLINK(\"http://x\")", "amount": None},
        {"name": "\t=1+1", "amount": 0},
        {"name": "王芳", "amount": Decimal("1.50")},
    ]
    parsed = list(csv.reader(io.StringIO(rows_csv(["name", "amount"], rows))))
    assert parsed[1] == ["'=cmd|' /C calc'!A0", "-5.00"]
    assert [r[0] for r in parsed[2:]] == ["'+SUM(A1:A9)", "'@HYPERLINK(\"http://x\")", "'\t=1+1", "王芳"]
    assert neutralise("-1") == "'-1" and neutralise(-1) == -1
