"""Holds and opt-outs with their sources.

Every hold and opt-out has a source: the ``platform`` (its files and its API), an ``operator``
(a dispute hold, a written cease request), the ``borrower`` (a STOP reply, an unsubscribe, a written
request), a ``provider`` (a carrier's opt-out list) or an ``arrangement`` (the ``paused`` hold of an
active payment plan or settlement, placed and lifted by the ledger stream). A restriction is in force while any source
holds it, and each source sets and lifts only its own entries: a platform file can never lift a
borrower's opt-out or an operator's dispute hold.

The platform's entries live on its own records (the borrower item, the loan's LOAN entry); the others
here, as ``{name: [sources]}`` per kind.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import NamedTuple

SOURCES = ("platform", "operator", "borrower", "provider", "arrangement")
KINDS = ("opt_out", "holds")


class Restrictions(NamedTuple):
    """Restrictions from sources other than the platform file that defines the record."""

    opt_out: Mapping[str, frozenset[str]] = {}  # channel -> sources
    holds: Mapping[str, frozenset[str]] = {}  # hold -> sources

    def names(self, kind: str) -> frozenset[str]:
        return frozenset(name for name, sources in self._kind(kind).items() if sources)

    def sources(self, kind: str, name: str) -> frozenset[str]:
        return self._kind(kind).get(name, frozenset())

    def _kind(self, kind: str) -> Mapping[str, frozenset[str]]:
        if kind not in KINDS:
            raise ValueError(f"unknown restriction kind {kind!r} (known: {', '.join(KINDS)})")
        return self.opt_out if kind == "opt_out" else self.holds

    def with_entry(self, kind: str, name: str, source: str, on: bool) -> Restrictions:
        """Set (``on``) or lift one source's entry; the other sources' entries stay."""
        if source not in SOURCES:
            raise ValueError(f"unknown source {source!r} (known: {', '.join(SOURCES)})")
        table = dict(self._kind(kind))
        now = set(table.get(name, frozenset()))
        (now.add if on else now.discard)(source)
        if now:
            table[name] = frozenset(now)
        else:
            table.pop(name, None)
        return self._replace(**{kind: table})

    def with_source(self, kind: str, source: str, names: Iterable[str]) -> Restrictions:
        """One source's entries replaced by ``names`` (what a platform file says, for instance)."""
        out, wanted = self, set(names)
        for name in set(self._kind(kind)) | wanted:
            out = out.with_entry(kind, name, source, name in wanted)
        return out

    def to_json(self) -> str:
        return json.dumps(
            {k: {n: sorted(s) for n, s in sorted(self._kind(k).items())} for k in KINDS}, separators=(",", ":")
        )

    @classmethod
    def from_json(cls, text: str | None) -> Restrictions:
        if not text:
            return cls()
        raw = json.loads(text)
        return cls(**{k: {n: frozenset(s) for n, s in (raw.get(k) or {}).items()} for k in KINDS})


def effective(platform: Iterable[str] | None, others: Iterable[str]) -> frozenset[str]:
    """What is in force: the platform's entries and every other source's."""
    return frozenset(platform or ()) | frozenset(others)
