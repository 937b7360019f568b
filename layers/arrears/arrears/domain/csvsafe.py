"""CSV for people (spreadsheets): values kept verbatim as data, neutralised only where they are written.

A cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read by Excel, LibreOffice
and Google Sheets as a formula (OWASP "CSV injection": ``=cmd|' /C calc'!A0``, ``@HYPERLINK(...)``).
Every CSV arrears writes for people (law-firm and agency exports, analyst downloads) goes through
``writer``, which prefixes such a cell with a single quote so it shows as text. Numbers arrears itself
writes (a negative amount) are passed as numbers and left alone.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> object:
    if isinstance(value, str) and value.startswith(_TRIGGERS):
        return "'" + value
    return value


def rows_csv(header: Sequence[str], rows: Iterable[Mapping[str, object]]) -> str:
    """A CSV text whose text cells cannot run as formulas (numbers stay numbers)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([neutralise(h) for h in header])
    for row in rows:
        w.writerow(
            [v if isinstance(v, int | float | Decimal) else neutralise("" if v is None else str(v)) for v in (row.get(h) for h in header)]
        )
    return buf.getvalue()
