"""Security basics of template.yaml: no IAM wildcard outside tests/iam_allowlist.yaml, personal data
under the customer-managed key, TLS-only private buckets, and how long each bucket keeps what."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from arrears_local.stack import load_template, translate

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
ALLOWLIST = ROOT / "tests" / "iam_allowlist.yaml"
PLACEHOLDER_TYPES = {"table": "AWS::DynamoDB::Table", "bucket": "AWS::S3::Bucket", "queue": "AWS::SQS::Queue"}
FIVE_YEARS_DAYS = 5 * 365 + 2  # with the leap days five years can hold
POLICY_DOCUMENTS = {  # resource type -> where its policy documents are
    "AWS::IAM::Policy": ("PolicyDocument",),
    "AWS::IAM::ManagedPolicy": ("PolicyDocument",),
    "AWS::S3::BucketPolicy": ("PolicyDocument",),
    "AWS::SQS::QueuePolicy": ("PolicyDocument",),
    "AWS::SNS::TopicPolicy": ("PolicyDocument",),
    "AWS::KMS::Key": ("KeyPolicy",),
}


# ------------------------------------------------------------------------------------ the checker


def render(value: Any) -> str:
    """A policy element as one string: ``${X}`` for a Ref, ``${X.Attr}`` for a GetAtt, Fn::Sub
    variables filled in the same way."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((fn, arg),) = value.items()
        if fn == "Ref":
            return "${" + arg + "}"
        if fn == "Fn::GetAtt":
            return "${" + (".".join(arg) if isinstance(arg, list) else arg) + "}"
        if fn == "Fn::Sub":
            text, variables = (arg, {}) if isinstance(arg, str) else arg
            for name, v in variables.items():
                text = text.replace("${" + name + "}", render(v))
            return str(text)
        if fn == "Fn::Join":
            sep, parts = arg
            return str(sep).join(render(p) for p in parts)
    return json.dumps(value, sort_keys=True)


def _list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else [v]


def statements(cfn: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every policy statement of the template, with the logical id of the resource holding it."""
    out = []
    for name, res in cfn["Resources"].items():
        props = res.get("Properties", {})
        docs = []
        if res["Type"] == "AWS::IAM::Role":
            docs = [p["PolicyDocument"] for p in props.get("Policies", [])]
        elif res["Type"] in POLICY_DOCUMENTS:
            docs = [props[k] for k in POLICY_DOCUMENTS[res["Type"]] if k in props]
        for doc in docs:
            out += [(name, s) for s in _list(doc.get("Statement", []))]
    return out


def _wild(text: str) -> bool:
    return "*" in text or "?" in text


def _pattern(entry_resource: str) -> tuple[re.Pattern[str], list[str]]:
    parts = re.split(r"\$\{<(\w+)>\}", entry_resource)
    regex, kinds = "", []
    for i, part in enumerate(parts):
        if i % 2:
            kinds.append(part)
            regex += r"\$\{([A-Za-z0-9]+)\}"
        else:
            regex += re.escape(part)
    return re.compile(f"^{regex}$"), kinds


def _resource_matches(entry_resource: str, resource: str, cfn: dict[str, Any]) -> bool:
    regex, kinds = _pattern(entry_resource)
    m = regex.match(resource)
    if not m:
        return False
    for kind, logical in zip(kinds, m.groups(), strict=True):
        if cfn["Resources"].get(logical, {}).get("Type") != PLACEHOLDER_TYPES[kind]:
            return False
    return True


def _covers(entry: dict[str, Any], owner: str, actions: list[str], kind: str, value: str, cfn: dict[str, Any]) -> bool:
    if kind not in entry or entry.get("in", owner) != owner:
        return False
    if "actions" in entry and not set(actions) <= set(entry["actions"]):
        return False
    return entry["action"] == value if kind == "action" else _resource_matches(entry["resource"], value, cfn)


def _statement_violations(
    owner: str, s: dict[str, Any], entries: list[dict[str, Any]], used: set[int], cfn: dict[str, Any]
) -> list[str]:
    found = [
        f"{owner}: {inverted} in an Allow statement"
        for inverted in ("NotAction", "NotResource", "NotPrincipal")
        if inverted in s
    ]
    actions = [render(a) for a in _list(s.get("Action", []))]
    wildcards = [("action", a) for a in actions if _wild(a)]
    wildcards += [("resource", r) for r in (render(r) for r in _list(s.get("Resource", []))) if _wild(r)]
    for kind, value in wildcards:
        by = next((i for i, e in enumerate(entries) if _covers(e, owner, actions, kind, value, cfn)), None)
        if by is None:
            found.append(f"{owner}: wildcard {kind} {value!r} (actions {actions})")
        else:
            used.add(by)
    return found


def violations(cfn: dict[str, Any], allowlist: dict[str, Any]) -> tuple[list[str], set[int]]:
    """Wildcards no allowlist entry covers, and the indexes of the entries that covered something."""
    entries, used = allowlist.get("wildcards", []), set[int]()
    found = []
    for owner, s in statements(cfn):
        if s.get("Effect") == "Allow":  # a Deny only takes away
            found += _statement_violations(owner, s, entries, used, cfn)
    allowed = {m["name"] for m in allowlist.get("managed_policies", [])}
    for name, res in cfn["Resources"].items():
        for arn in res.get("Properties", {}).get("ManagedPolicyArns", []) if res["Type"] == "AWS::IAM::Role" else []:
            if render(arn).split(":policy/", 1)[-1] not in allowed:
                found.append(f"{name}: managed policy {render(arn)} is not on the allowlist")
    return found, used


@pytest.fixture(scope="module")
def cfn() -> dict[str, Any]:
    return translate(load_template())[0]


@pytest.fixture(scope="module")
def sam() -> dict[str, Any]:
    return load_template()


@pytest.fixture(scope="module")
def allowlist() -> dict[str, Any]:
    return yaml.safe_load(ALLOWLIST.read_text())  # type: ignore[no-any-return]


# ------------------------------------------------------------------------------------------- IAM


def test_no_iam_wildcard_outside_the_allowlist(cfn, allowlist):
    found, _ = violations(cfn, allowlist)
    assert not found, "\n".join(found)


def test_every_allowlist_entry_has_a_reason_and_is_still_needed(cfn, allowlist):
    for entry in allowlist["wildcards"] + allowlist["managed_policies"]:
        assert len(str(entry.get("reason", "")).strip()) > 20, entry
    _, used = violations(cfn, allowlist)
    stale = [e for i, e in enumerate(allowlist["wildcards"]) if i not in used]
    assert not stale, f"allowlist entries that cover nothing any more: {stale}"
    attached = {
        render(arn).split(":policy/", 1)[-1]
        for r in cfn["Resources"].values()
        if r["Type"] == "AWS::IAM::Role"
        for arn in r["Properties"].get("ManagedPolicyArns", [])
    }
    assert {m["name"] for m in allowlist["managed_policies"]} <= attached


def _role(statements: list[dict[str, Any]], managed: list[str] | None = None) -> dict[str, Any]:
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "ManagedPolicyArns": managed or [],
            "Policies": [{"PolicyName": "p", "PolicyDocument": {"Statement": statements}}],
        },
    }


@pytest.mark.parametrize(
    ("owner", "statement", "complaint"),
    [
        ("AnyRole", {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b/k"}, "wildcard action 's3:*'"),
        ("AnyRole", {"Effect": "Allow", "Action": ["dynamodb:Get*"], "Resource": "arn:x"}, "wildcard action"),
        ("AnyRole", {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*"}, "wildcard resource '*'"),
        ("AnyRole", {"Effect": "Allow", "NotAction": "iam:*", "Resource": "arn:x"}, "NotAction"),
        # allowlisted for one role and one action only
        ("AnyRole", {"Effect": "Allow", "Action": "sns:Publish", "Resource": "*"}, "wildcard resource"),
        (
            "SmsSenderFunctionRole",
            {"Effect": "Allow", "Action": ["sns:Publish", "sns:CreateTopic"], "Resource": "*"},
            "wildcard resource",
        ),
        # the index pattern holds for a table of the template only
        (
            "AnyRole",
            {
                "Effect": "Allow",
                "Action": "dynamodb:Query",
                "Resource": {
                    "Fn::Sub": [
                        "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${t}/index/*",
                        {"t": {"Ref": "AnyRole"}},
                    ]
                },
            },
            "wildcard resource",
        ),
        (
            "AnyRole",
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": {"Fn::Sub": "arn:${AWS::Partition}:s3:::*"}},
            "wildcard resource",
        ),
    ],
)
def test_the_checker_fails_a_wildcard_the_allowlist_does_not_cover(owner, statement, complaint, allowlist):
    synthetic = {"Resources": {owner: _role([statement]), "T": {"Type": "AWS::DynamoDB::Table"}}}
    found, _ = violations(synthetic, allowlist)
    assert any(complaint in f for f in found), found


def test_the_checker_passes_what_the_allowlist_covers_and_denies(allowlist):
    index = {
        "Fn::Sub": [
            "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${t}/index/*",
            {"t": {"Ref": "T"}},
        ]
    }
    synthetic = {
        "Resources": {
            "SmsSenderFunctionRole": _role([{"Effect": "Allow", "Action": "sns:Publish", "Resource": "*"}]),
            "R": _role(
                [
                    {"Effect": "Allow", "Action": "dynamodb:Query", "Resource": index},
                    {"Effect": "Deny", "Action": "s3:*", "Resource": "*"},
                ],
                ["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"],
            ),
            "T": {"Type": "AWS::DynamoDB::Table"},
        }
    }
    assert violations(synthetic, allowlist)[0] == []
    synthetic["Resources"]["R"] = _role([], ["arn:aws:iam::aws:policy/AdministratorAccess"])
    assert violations(synthetic, allowlist)[0] == [
        "R: managed policy arn:aws:iam::aws:policy/AdministratorAccess is not on the allowlist"
    ]


# ------------------------------------------------------------------------------------------- KMS


KEY = "PersonalDataKey"


def test_personal_data_is_encrypted_with_the_customer_managed_key(sam):
    res = sam["Resources"]
    key = res[KEY]
    assert key["Type"] == "AWS::KMS::Key"
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Retain"  # the backups and files stay readable
    root = [
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s["Effect"] == "Allow" and render(s["Principal"]["AWS"]).endswith(":iam::${AWS::AccountId}:root")
    ]
    assert root, "the account root must be able to administer the key"
    sse = res["ContactsTable"]["Properties"]["SSESpecification"]
    assert sse["SSEEnabled"] is True and sse["SSEType"] == "KMS"
    assert render(sse["KMSMasterKeyId"]).startswith("${" + KEY)
    for bucket in ("OutboxBucket", "ImportsBucket"):  # letters; the platform's borrowers files
        (rule,) = res[bucket]["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms", bucket
        assert render(rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"]).startswith("${" + KEY), bucket
        assert rule["BucketKeyEnabled"] is True, bucket


def _role_statements(cfn: dict[str, Any], role: str) -> list[tuple[list[str], list[str]]]:
    return [
        ([render(a) for a in _list(s["Action"])], [render(r) for r in _list(s["Resource"])])
        for owner, s in statements(cfn)
        if owner == role and s.get("Effect") == "Allow"
    ]


def test_functions_touching_personal_data_may_use_the_key_and_no_other(cfn):
    imports = "${AWS::StackName}-imports-${AWS::AccountId}"
    needs: dict[str, set[str]] = {}
    for name, res in cfn["Resources"].items():
        if res["Type"] != "AWS::IAM::Role" or not name.endswith("FunctionRole"):
            continue
        need = set()
        for actions, resources in _role_statements(cfn, name):
            text = " ".join(resources)
            if "${ContactsTable}" in text or "${AuditTable" in text:
                need.add("kms:Decrypt")  # the table key is decrypted for every read and write
            if "${OutboxBucket}" in text or imports in text:
                if any(a in ("s3:PutObject", "s3:*") for a in actions):
                    need.add("kms:GenerateDataKey")
                if any(a in ("s3:GetObject", "s3:*") for a in actions):
                    need.add("kms:Decrypt")
        granted = set()
        for actions, resources in _role_statements(cfn, name):
            kms = [a for a in actions if a.startswith("kms:")]
            if kms:
                assert all(r.startswith("${" + KEY) or r.endswith("key/${" + KEY + "}") for r in resources), (
                    name,
                    resources,
                )
                granted.update(kms)
        assert need <= granted, f"{name} needs {sorted(need - granted)} on {KEY}"
        assert granted <= need | {"kms:Encrypt"}, f"{name} may use {KEY} but touches no personal data: {granted}"
        needs[name] = need
    assert needs["ImporterFunctionRole"] == {"kms:Decrypt", "kms:GenerateDataKey"}
    assert needs["LetterSenderFunctionRole"] == {"kms:Decrypt", "kms:GenerateDataKey"}
    assert needs["SmsSenderFunctionRole"] == {"kms:Decrypt"}
    assert needs["ShardWorkerFunctionRole"] == set()


# --------------------------------------------------------------------------------------- buckets


def test_every_bucket_blocks_public_access_and_denies_plain_http(sam):
    res = sam["Resources"]
    policies = {
        render(r["Properties"]["Bucket"]): r["Properties"]["PolicyDocument"]
        for r in res.values()
        if r["Type"] == "AWS::S3::BucketPolicy"
    }
    buckets = [n for n, r in res.items() if r["Type"] == "AWS::S3::Bucket"]
    assert len(buckets) == 3
    for name in buckets:
        props = res[name]["Properties"]
        assert props["PublicAccessBlockConfiguration"] == dict.fromkeys(
            ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"), True
        ), name
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"], name
        doc = policies.get("${" + name + "}")
        assert doc, f"{name} has no bucket policy"
        tls = [
            s
            for s in _list(doc["Statement"])
            if s["Effect"] == "Deny"
            and s["Principal"] == "*"
            and s["Action"] in ("s3:*", ["s3:*"])
            and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        ]
        assert tls, f"{name} does not deny plain HTTP"
        assert {render(r) for r in _list(tls[0]["Resource"])} == {"${" + name + ".Arn}", "${" + name + ".Arn}/*"}


def _rules(sam: dict[str, Any], bucket: str) -> list[dict[str, Any]]:
    return [
        r for r in sam["Resources"][bucket]["Properties"]["LifecycleConfiguration"]["Rules"] if r["Status"] == "Enabled"
    ]


def _applies(rule: dict[str, Any], key: str) -> bool:
    prefix = rule.get("Prefix", rule.get("Filter", {}).get("Prefix", ""))
    return key.startswith(prefix) and not rule.get("Filter", {}).get("TagFilters")


def _kept(sam: dict[str, Any], bucket: str, key: str) -> tuple[float, float]:
    """Days the lifecycle rules keep an object written under key, and an overwritten or deleted one
    (an earlier version; 0 when the bucket keeps no versions)."""
    current, earlier = [float("inf")], [float("inf")]
    for r in _rules(sam, bucket):
        if _applies(r, key):
            current.append(r.get("ExpirationInDays", float("inf")))
            earlier.append(r.get("NoncurrentVersionExpiration", {}).get("NoncurrentDays", float("inf")))
    versioned = sam["Resources"][bucket]["Properties"].get("VersioningConfiguration") == {"Status": "Enabled"}
    return min(current), (min(earlier) if versioned else 0)


@pytest.mark.parametrize(
    "key", ["facts/dt=2026-03-14/a.json", "reports/dt=2026-03-14/daily-report.json", "runs/dt=2026-03-14/r.json"]
)
def test_collection_records_are_kept_at_least_five_years_even_if_overwritten(sam, key):
    current, earlier = _kept(sam, "OutcomesBucket", key)
    assert current >= FIVE_YEARS_DAYS and earlier >= FIVE_YEARS_DAYS, (key, current, earlier)


def test_the_platforms_files_are_kept_five_years_then_deleted_and_proposals_a_month(sam):
    # the platform's files and their rejects reports are records too; borrowers files hold personal data
    for key in ("repayments/2026-03-14.csv", "borrowers/b.csv.rejects.json"):
        current, earlier = _kept(sam, "ImportsBucket", key)
        assert FIVE_YEARS_DAYS <= current < float("inf") and FIVE_YEARS_DAYS <= earlier < float("inf"), key
    assert _kept(sam, "OutcomesBucket", "plans/run=2026-03-14T01:00:00Z/0.json")[0] == 30  # a hand-off


def test_letters_are_kept_90_days(sam):
    assert _kept(sam, "OutboxBucket", "letters/dt=2026-03-14/a.txt") == (90, 0)  # no version kept longer
