"""Delinquency buckets: configurable ranges of days past due (Fineract-style delinquency ranges)."""

from __future__ import annotations

from typing import NamedTuple

CURRENT = "M0"
DEFAULT_SPEC = "M1:1-30,M2:31-60,M3:61-90,M4:91-120,M5:121-150,M6:151-180,M6+:181-"


class Bucket(NamedTuple):
    name: str
    min_dpd: int
    max_dpd: int | None  # None: open-ended

    def contains(self, dpd: int) -> bool:
        return dpd >= self.min_dpd and (self.max_dpd is None or dpd <= self.max_dpd)


class BucketScheme(NamedTuple):
    buckets: tuple[Bucket, ...]

    @classmethod
    def parse(cls, spec: str) -> BucketScheme:
        """Parse ``NAME:MIN-MAX,...,NAME:MIN-``. Ranges must start at 1, be contiguous and end open."""
        buckets: list[Bucket] = []
        for part in (p.strip() for p in spec.split(",") if p.strip()):
            name, sep, rng = part.partition(":")
            lo, dash, hi = rng.partition("-")
            if not sep or not dash or not name.strip() or not lo.strip().isdigit():
                raise ValueError(f"bucket {part!r} is not NAME:MIN-MAX or NAME:MIN-")
            if hi.strip() and not hi.strip().isdigit():
                raise ValueError(f"bucket {part!r} has a bad upper bound")
            bucket = Bucket(name.strip(), int(lo), int(hi) if hi.strip() else None)
            if bucket.max_dpd is not None and bucket.max_dpd < bucket.min_dpd:
                raise ValueError(f"bucket {part!r} ends before it starts")
            expected = 1 if not buckets else (buckets[-1].max_dpd or 0) + 1
            if buckets and buckets[-1].max_dpd is None:
                raise ValueError(f"bucket {part!r} follows an open-ended bucket")
            if bucket.min_dpd != expected:
                raise ValueError(f"bucket {part!r} should start at {expected} DPD (ranges must be contiguous)")
            if bucket.name == CURRENT or any(b.name == bucket.name for b in buckets):
                raise ValueError(f"bucket name {bucket.name!r} is reserved or repeated")
            buckets.append(bucket)
        if not buckets:
            raise ValueError("no buckets configured")
        if buckets[-1].max_dpd is not None:
            raise ValueError("the last bucket must be open-ended (e.g. 'M6+:181-')")
        return cls(tuple(buckets))

    def classify(self, dpd: int) -> str:
        if dpd <= 0:
            return CURRENT
        for bucket in self.buckets:
            if bucket.contains(dpd):
                return bucket.name
        raise AssertionError("unreachable: the scheme is contiguous and open-ended")

    @property
    def names(self) -> list[str]:
        return [b.name for b in self.buckets]
