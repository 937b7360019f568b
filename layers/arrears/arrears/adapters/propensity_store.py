"""The propensity model's artefacts in the outcomes bucket: every trained version kept
(``models/propensity/v0001.json``, ...), the one in use named by ``models/propensity/current.json``
(a copy of it). Shard workers read the current one at most once an hour of event time; without one
they rank by the heuristic."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..domain.propensity import Model, view_features
from ..domain.strategies import LoanView, Scorer
from ..observability import logger, metrics
from .clients import client

PREFIX = "models/propensity"
CURRENT = f"{PREFIX}/current.json"
REFRESH = timedelta(hours=1)
_VERSION = re.compile(rf"^{PREFIX}/v(\d+)\.json$")
_cache: dict[str, tuple[datetime, Model | None, int | None]] = {}  # bucket -> (read at, model, version)


def read_current(bucket: str) -> tuple[Model | None, int | None]:
    """The model in use and its version, read now; (None, None) when there is none. Raises what the
    read raised otherwise (an unreadable model is not "no model")."""
    try:
        doc = json.loads(client("s3").get_object(Bucket=bucket, Key=CURRENT)["Body"].read())
    except ClientError as e:
        if e.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None, None
        raise
    return Model.from_json(doc), int(doc["version"])


def current(bucket: str, now: datetime) -> tuple[Model | None, int | None]:
    """The model in use and its version, read at most once an hour of event time (None, None: none, or
    unreadable and none read before: the heuristic ranks)."""
    cached = _cache.get(bucket)
    if cached is not None and abs(now - cached[0]) < REFRESH:
        return cached[1], cached[2]
    try:
        model, version = read_current(bucket)
    except (ClientError, BotoCoreError, ValueError, KeyError, TypeError) as e:
        _unreadable(f"{type(e).__name__}: {e}")
        if cached is not None:  # keep what was read before rather than drop to the heuristic
            return cached[1], cached[2]
        model, version = None, None
    _cache[bucket] = (now, model, version)
    return model, version


def retire(bucket: str) -> None:
    """No model in use from now on (its version stays kept): the heuristic ranks again."""
    client("s3").delete_object(Bucket=bucket, Key=CURRENT)


def _unreadable(why: str) -> None:
    logger.warning("propensity model unreadable: ranking by the heuristic", extra={"error": why[:300]})
    metrics.add_metric(name="PropensityModelUnreadable", unit="Count", value=1)


def scorer(bucket: str, now: datetime) -> tuple[Scorer | None, int | None]:
    model, version = current(bucket, now)
    if model is None:
        return None, None

    def score(loan: LoanView, at: datetime) -> float:
        return model.score(view_features(loan, at))

    return score, version


def versions(bucket: str) -> list[int]:
    s3 = client("s3")
    found = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{PREFIX}/v"):
        for obj in page.get("Contents", []):
            m = _VERSION.match(obj["Key"])
            if m:
                found.append(int(m.group(1)))
    return sorted(found)


def publish(bucket: str, doc: dict[str, Any], activate: bool) -> int:
    """Keep ``doc`` as the next version; name it the one in use when ``activate``. Returns its version."""
    s3 = client("s3")
    version = (versions(bucket) or [0])[-1] + 1
    body = json.dumps({**doc, "version": version}, indent=1).encode()
    s3.put_object(Bucket=bucket, Key=f"{PREFIX}/v{version:04d}.json", Body=body, ContentType="application/json")
    if activate:
        s3.put_object(Bucket=bucket, Key=CURRENT, Body=body, ContentType="application/json")
    return version


def read_facts(bucket: str) -> list[dict[str, Any]]:
    """Every fact in the outcomes table (the training function's input)."""
    from .facts_sink import PREFIX as FACTS

    s3 = client("s3")
    rows: list[dict[str, Any]] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{FACTS}/"):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().decode()
            rows.extend(json.loads(line) for line in body.splitlines() if line.strip())
    return rows
