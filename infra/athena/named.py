"""Write each named query (``infra/athena/queries/*.sql``) into ``template.yaml`` as an
``AWS::Athena::NamedQuery`` with its SQL inlined, between the markers below; ``--check`` exits 1 when
the template and the files differ (``tests/unit/test_query.py`` checks the same).

    python infra/athena/named.py          # rewrite the block
    python infra/athena/named.py --check  # is it current?
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "infra"))

from arrears_local.query import named_queries  # noqa: E402

TEMPLATE = ROOT / "template.yaml"
BEGIN = "  # >>> named queries: written by infra/athena/named.py from infra/athena/queries/*.sql (do not edit)\n"
END = "  # <<< named queries\n"


def logical_id(name: str) -> str:
    return "NamedQuery" + "".join(part.capitalize() for part in name.split("_"))


def block() -> str:
    out = [BEGIN]
    for q in named_queries().values():
        sql = "".join(f"        {line}".rstrip() + "\n" for line in q.sql.strip("\n").splitlines())
        out.append(
            f"  {logical_id(q.name)}:\n"
            "    Type: AWS::Athena::NamedQuery\n"
            "    Properties:\n"
            f"      Name: {q.name}\n"
            f"      Description: {json.dumps(q.description[:1024], ensure_ascii=False)}\n"
            "      Database: !Ref AnalyticsDatabase\n"
            "      WorkGroup: !Ref AnalyticsWorkGroup\n"
            "      QueryString: |\n"
            f"{sql}"
        )
    out.append(END)
    return "".join(out)


def current(text: str) -> str:
    """The template's block as it stands ('' when it has none)."""
    if BEGIN not in text:
        return ""
    start = text.index(BEGIN)
    return text[start : text.index(END, start) + len(END)]


def write(text: str) -> str:
    """The template with its block rewritten (placed before Outputs the first time)."""
    now = current(text)
    if now:
        return text.replace(now, block())
    return text.replace("\nOutputs:\n", "\n" + block() + "\nOutputs:\n", 1)


def main(argv: list[str]) -> int:
    text = TEMPLATE.read_text(encoding="utf-8")
    if "--check" in argv:
        if current(text) != block():
            print("template.yaml's named queries differ from infra/athena/queries: run python infra/athena/named.py", file=sys.stderr)
            return 1
        return 0
    TEMPLATE.write_text(write(text), encoding="utf-8")
    print(f"wrote {len(named_queries())} named queries into template.yaml")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
