"""Deploy template.yaml into the embedded emulator, the way CloudFormation would deploy it to AWS.

The template is translated offline with aws-sam-translator and created with moto's CloudFormation.
What moto cannot do itself is done here from the same template:
- event source mappings (SQS, DynamoDB streams) and S3 notifications are taken out before deploying
  (moto would try to run the functions in Docker and drop stream records) and handed to the runner,
  which polls the queues, streams and bucket itself;
- EventBridge Scheduler schedules are not created by moto: the runner fires them on its clock;
- the Glue database and table and the Athena workgroup are skipped by moto's CloudFormation: they
  are created through the Glue and Athena APIs from their template properties;
- of a bucket's properties moto's CloudFormation applies only encryption and tags: the public access
  blocks, versioning and lifecycle rules are put through the S3 API from the template's properties,
  so an operator sees them as deployed (moto does not run lifecycle rules);
- moto's CloudFormation skips ``AWS::S3::BucketPolicy``, and its S3 would enforce a bucket policy's
  Deny on object writes while ignoring the ``Bool`` condition (``aws:SecureTransport``): the TLS-only
  policies would deny every request, so they are taken out and not applied locally (the template
  tests check them);
- moto creates the KMS key (rotation on) and accepts it on the table and the buckets, but checks no
  KMS or IAM permission; its DynamoDB reports no ``SSEDescription`` for a table created this way;
- the API Gateway REST API (its definition is an ``AWS::Include`` of Swagger 2.0, which moto's API
  Gateway refuses, and moto would not invoke the function anyway) and its invoke permission are taken
  out: the API function is invoked in-process with REST proxy events, as API Gateway shapes them;
- moto's CloudFormation lacks ``AWS::SecretsManager::Secret``: the secret is created through the
  Secrets Manager API first (its generated value as the template asks), and the template's Refs to it
  are its ARN.
"""

from __future__ import annotations

import copy
import io
import json
import os
import re
import socket
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
REGION = "us-east-1"
ACCOUNT = "123456789012"
STACK = "arrears-local"
ARTIFACTS = "arrears-local-artifacts"
TAKEN_OUT = {
    "AWS::Lambda::EventSourceMapping",
    "AWS::Scheduler::Schedule",
    "AWS::Glue::Database",
    "AWS::Glue::Table",
    "AWS::Athena::WorkGroup",
    "AWS::Athena::NamedQuery",  # created through the Athena API, in the workgroup created just before
    "AWS::SES::EmailIdentity",  # moto's CloudFormation lacks it: verified through the SES API instead
    "AWS::CloudWatch::Alarm",  # moto's CloudFormation lacks it: created through the CloudWatch API instead
    "AWS::S3::BucketPolicy",  # moto's CloudFormation lacks it, and its S3 would deny all (see above)
    "AWS::ApiGateway::RestApi",  # Swagger 2.0 by AWS::Include: moto imports OpenAPI 3 only (see above)
    "AWS::ApiGateway::Deployment",
    "AWS::ApiGateway::Stage",
}


def aws_env(endpoint: str | None) -> dict[str, str]:
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        "MOTO_ACCOUNT_ID": ACCOUNT,
    }
    if endpoint:
        env["AWS_ENDPOINT_URL"] = endpoint
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Emulator:
    """moto, served on 127.0.0.1 for any SDK or the AWS CLI. With ``in_process`` the handlers' own
    calls skip HTTP (same emulator state, patched botocore): much faster for long simulations."""

    def __init__(self, port: int | None = None, in_process: bool = True, serve: bool = True) -> None:
        self.port = port or free_port()
        self.in_process, self.serve = in_process, serve
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._server: Any = None
        self._mock: Any = None

    def start(self) -> Emulator:
        import logging

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        os.environ.pop("AWS_ENDPOINT_URL", None)
        os.environ.update(aws_env(None if self.in_process else self.endpoint))
        from moto import mock_aws
        from moto.server import ThreadedMotoServer

        from . import accel, meter

        accel.install()
        meter.install()
        if self.in_process:
            self._mock = mock_aws()
            self._mock.start()
        if self.serve or not self.in_process:
            self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
            self._server.start()
        from arrears.adapters import clients

        clients.reset()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.stop()
        if self._mock:
            self._mock.stop()
        os.environ.pop("AWS_ENDPOINT_URL", None)
        from . import accel

        accel.release()  # what the stopped stack held can be collected (see accel, 11)


# ------------------------------------------------------------------------------------- template


def load_template() -> dict[str, Any]:
    from samtranslator.yaml_helper import yaml_parse

    return yaml_parse(TEMPLATE.read_text())  # type: ignore[no-any-return]


def translate(sam: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """SAM -> CloudFormation, offline. Code locations become artifact-bucket keys; returns the
    template and each function's source folder."""
    from samtranslator.translator.transform import transform

    sam = copy.deepcopy(sam)
    code_dirs: dict[str, str] = {}
    for name, res in sam["Resources"].items():
        props = res.get("Properties", {})
        if res["Type"] == "AWS::Serverless::Function":
            code_dirs[name] = props["CodeUri"]
            props["CodeUri"] = f"s3://{ARTIFACTS}/{name}.zip"
        elif res["Type"] == "AWS::Serverless::LayerVersion":
            props["ContentUri"] = f"s3://{ARTIFACTS}/{name}.zip"

    class _NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    return transform(sam, {}, _NoManagedPolicies()), code_dirs


@dataclass
class Deployed:
    cfn: dict[str, Any]
    params: dict[str, str]
    physical: dict[str, str]
    code_dirs: dict[str, str]
    taken_out: dict[str, dict[str, Any]] = field(default_factory=dict)
    notifications: dict[str, Any] = field(default_factory=dict)

    # -------------------------------------------------------------- intrinsic functions
    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if set(value) == {"Ref"}:
            return self.ref(value["Ref"])
        if set(value) == {"Fn::GetAtt"}:
            res, attr = (
                value["Fn::GetAtt"] if isinstance(value["Fn::GetAtt"], list) else value["Fn::GetAtt"].split(".", 1)
            )
            return self.get_att(res, attr)
        if set(value) == {"Fn::Sub"}:
            text = value["Fn::Sub"]
            return self.sub(text if isinstance(text, str) else text[0])
        if set(value) == {"Fn::If"}:
            name, yes, no = value["Fn::If"]
            return self.resolve(yes if self.condition(name) else no)
        if set(value) == {"Fn::Join"}:
            sep, parts = value["Fn::Join"]
            return sep.join(str(self.resolve(p)) for p in parts)
        return {k: self.resolve(v) for k, v in value.items()}

    def condition(self, name: str) -> bool:
        """A template condition's value (Fn::Equals, Fn::Not, Fn::And, Fn::Or over parameters)."""

        def ev(c: Any) -> bool:
            ((op, args),) = c.items()
            if op == "Condition":
                return ev(self.cfn["Conditions"][args])
            if op == "Fn::Equals":
                return str(self.resolve(args[0])) == str(self.resolve(args[1]))
            if op == "Fn::Not":
                return not ev(args[0])
            if op == "Fn::And":
                return all(ev(a) for a in args)
            if op == "Fn::Or":
                return any(ev(a) for a in args)
            raise KeyError(f"cannot evaluate condition {op}")

        return ev(self.cfn["Conditions"][name])

    def ref(self, name: str) -> str:
        pseudo = {"AWS::AccountId": ACCOUNT, "AWS::Region": REGION, "AWS::StackName": STACK, "AWS::Partition": "aws"}
        if name in pseudo:
            return pseudo[name]
        if name in self.params:
            return self.params[name]
        if name in self.physical:
            return self.physical[name]
        raise KeyError(f"cannot resolve Ref {name}")

    def get_att(self, res: str, attr: str) -> str:
        from arrears.adapters.clients import client

        rtype = self.cfn["Resources"][res]["Type"]
        phys = self.physical[res]
        if rtype == "AWS::SQS::Queue":
            attrs = client("sqs").get_queue_attributes(QueueUrl=phys, AttributeNames=["QueueArn"])["Attributes"]
            return attrs["QueueArn"] if attr == "Arn" else attrs["QueueArn"].rsplit(":", 1)[1]
        if rtype == "AWS::DynamoDB::Table":
            table = client("dynamodb").describe_table(TableName=phys)["Table"]
            return str(table["LatestStreamArn"] if attr == "StreamArn" else table["TableArn"])
        if rtype == "AWS::Lambda::Function":
            return str(client("lambda").get_function(FunctionName=phys)["Configuration"]["FunctionArn"])
        if rtype == "AWS::S3::Bucket":
            return f"arn:aws:s3:::{phys}"
        if rtype == "AWS::IAM::Role":
            return str(client("iam").get_role(RoleName=phys)["Role"]["Arn"])
        raise KeyError(f"cannot resolve GetAtt {res}.{attr}")

    def sub(self, text: str) -> str:
        def one(m: re.Match[str]) -> str:
            inner = m.group(1)
            if inner.startswith("!"):
                return "${" + inner[1:] + "}"
            if "." in inner and inner.split(".", 1)[0] in self.physical:
                return self.get_att(*inner.split(".", 1))
            return self.ref(inner)

        return re.sub(r"\$\{([^}]+)\}", one, text)

    def function_env(self, logical: str) -> dict[str, str]:
        props = self.cfn["Resources"][logical]["Properties"]
        return {k: str(self.resolve(v)) for k, v in props.get("Environment", {}).get("Variables", {}).items()}


def _params(cfn: dict[str, Any], overrides: dict[str, str]) -> dict[str, str]:
    out = {}
    for name, spec in cfn.get("Parameters", {}).items():
        out[name] = str(overrides.get(name, spec.get("Default", "")))
    unknown = set(overrides) - set(out)
    if unknown:
        raise ValueError(f"unknown template parameter(s): {', '.join(sorted(unknown))}")
    return out


def _tiny_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("README.txt", "code runs in-process in the local stack; see infra/arrears_local")
    return buf.getvalue()


def deploy(overrides: dict[str, str] | None = None) -> Deployed:
    from arrears.adapters.clients import client

    cfn, code_dirs = translate(load_template())
    params = _params(cfn, overrides or {})
    deployable = copy.deepcopy(cfn)
    taken_out = {}
    notifications = {}
    for name in list(deployable["Resources"]):
        res = deployable["Resources"][name]
        if res["Type"] in TAKEN_OUT:
            taken_out[name] = deployable["Resources"].pop(name)
        elif res["Type"] == "AWS::S3::Bucket" and "NotificationConfiguration" in res.get("Properties", {}):
            notifications[name] = res["Properties"].pop("NotificationConfiguration")
    made = _create_secrets(deployable, taken_out)
    deployable = _with_refs(deployable, {**made, **_names_of(taken_out)})
    for name in list(deployable["Resources"]):  # permissions for S3 and API Gateway to invoke: nothing invokes in moto
        res = deployable["Resources"][name]
        principal = json.dumps(res["Properties"].get("Principal")) if res["Type"] == "AWS::Lambda::Permission" else ""
        if "s3" in principal or "apigateway" in principal:
            deployable["Resources"].pop(name)
            deployable["Resources"] = {
                k: {**v, "DependsOn": [d for d in _as_list(v.get("DependsOn")) if d != name]}
                if v.get("DependsOn")
                else v
                for k, v in deployable["Resources"].items()
            }
    deployable["Outputs"] = {  # outputs of what was taken out are resolved by the runner instead
        k: v for k, v in deployable.get("Outputs", {}).items() if not any(n in json.dumps(v) for n in taken_out)
    }
    s3 = client("s3")
    s3.create_bucket(Bucket=ARTIFACTS)
    for name, res in cfn["Resources"].items():
        if res["Type"] in ("AWS::Lambda::Function", "AWS::Lambda::LayerVersion"):
            s3.put_object(Bucket=ARTIFACTS, Key=f"{name}.zip", Body=_tiny_zip())
    cf = client("cloudformation")
    cf.create_stack(
        StackName=STACK,
        TemplateBody=json.dumps(deployable),
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
    )
    status = cf.describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"]
    if status != "CREATE_COMPLETE":
        raise RuntimeError(f"local stack did not deploy: {status}")
    physical = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cf.list_stack_resources(StackName=STACK)["StackResourceSummaries"]
    }
    dep = Deployed(cfn, params, {**physical, **made}, code_dirs, taken_out, notifications)
    _create_analytics(dep)
    _apply_bucket_settings(dep)
    return dep


def without_rest_api(cfn: dict[str, Any]) -> dict[str, Any]:
    """A translated template without the REST API, its invoke permission and the outputs naming them:
    what moto's CloudFormation can create whole (its API Gateway refuses Swagger 2.0)."""
    out = copy.deepcopy(cfn)
    gone = [
        n
        for n, r in out["Resources"].items()
        if r["Type"].startswith("AWS::ApiGateway::")
        or (r["Type"] == "AWS::Lambda::Permission" and "apigateway" in json.dumps(r["Properties"].get("Principal")))
    ]
    for name in gone:
        out["Resources"].pop(name)
    out["Outputs"] = {k: v for k, v in out.get("Outputs", {}).items() if not any(n in json.dumps(v) for n in gone)}
    return out


def _create_secrets(deployable: dict[str, Any], taken_out: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Secrets, through the Secrets Manager API (moto's CloudFormation lacks them): logical id -> ARN."""
    from arrears.adapters.clients import client

    sm, made = client("secretsmanager"), {}
    for name in [n for n, r in deployable["Resources"].items() if r["Type"] == "AWS::SecretsManager::Secret"]:
        res = taken_out[name] = deployable["Resources"].pop(name)
        props = res.get("Properties", {})
        gen = props.get("GenerateSecretString")
        value = props.get("SecretString") or sm.get_random_password(**gen)["RandomPassword"]
        made[name] = sm.create_secret(
            Name=f"{STACK}-{name}", Description=props.get("Description", ""), SecretString=value
        )["ARN"]
    return made


def _names_of(taken_out: dict[str, dict[str, Any]]) -> dict[str, str]:
    """The names of the Glue database and the Athena workgroup taken out (created through their APIs
    after the stack), so that what refers to them (a function's environment, a policy) resolves."""
    names = {}
    for name, res in taken_out.items():
        props = res.get("Properties", {})
        raw = (
            props.get("DatabaseInput", {}).get("Name")
            if res["Type"] == "AWS::Glue::Database"
            else props.get("Name")
            if res["Type"] == "AWS::Athena::WorkGroup"
            else None
        )
        if isinstance(raw, dict) and "Fn::Sub" in raw and isinstance(raw["Fn::Sub"], str):
            raw = raw["Fn::Sub"].replace("${AWS::StackName}", STACK)
        if isinstance(raw, str) and "${" not in raw:
            names[name] = raw
    return names


def _with_refs(value: Any, physical: dict[str, str]) -> Any:
    """The template with each ``Ref`` to these resources (and each ``${name}`` of a ``Fn::Sub``)
    replaced by their physical id."""
    if isinstance(value, dict):
        if set(value) == {"Ref"} and value["Ref"] in physical:
            return physical[value["Ref"]]
        if set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
            text = value["Fn::Sub"]
            for logical, name in physical.items():
                text = text.replace("${" + logical + "}", name)
            return {"Fn::Sub": text}
        return {k: _with_refs(v, physical) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_refs(v, physical) for v in value]
    return value


def _as_list(v: Any) -> list[str]:
    return v if isinstance(v, list) else ([v] if v else [])


def _create_analytics(dep: Deployed) -> None:
    """Glue database/table, Athena workgroup and the SES identity, from their template properties."""
    from arrears.adapters.clients import client

    glue, athena = client("glue"), client("athena")
    for name, res in dep.taken_out.items():
        if res["Type"] == "AWS::Glue::Database":
            props = dep.resolve(res["Properties"])
            glue.create_database(DatabaseInput=props["DatabaseInput"])
            dep.physical[name] = props["DatabaseInput"]["Name"]
    for name, res in dep.taken_out.items():
        if res["Type"] not in (
            "AWS::Glue::Table",
            "AWS::Athena::WorkGroup",
            "AWS::CloudWatch::Alarm",
            "AWS::SES::EmailIdentity",
        ):
            continue
        props = dep.resolve(res["Properties"])
        if res["Type"] == "AWS::Glue::Table":
            glue.create_table(DatabaseName=props["DatabaseName"], TableInput=props["TableInput"])
            dep.physical[name] = props["TableInput"]["Name"]
        elif res["Type"] == "AWS::Athena::WorkGroup":
            config = dict(props.get("WorkGroupConfiguration", {}))
            if "BytesScannedCutoffPerQuery" in config:  # a parameter: a string until here
                config["BytesScannedCutoffPerQuery"] = int(config["BytesScannedCutoffPerQuery"])
            athena.create_work_group(Name=props["Name"], Configuration=config)
            dep.physical[name] = props["Name"]
        elif res["Type"] == "AWS::CloudWatch::Alarm":
            client("cloudwatch").put_metric_alarm(AlarmName=f"{STACK}-{name}", **props)
            dep.physical[name] = f"{STACK}-{name}"
        elif res["Type"] == "AWS::SES::EmailIdentity":
            client("ses").verify_email_identity(EmailAddress=props["EmailIdentity"])  # moto verifies at once
            dep.physical[name] = props["EmailIdentity"]
    for name, res in dep.taken_out.items():  # in the workgroup, now there
        if res["Type"] == "AWS::Athena::NamedQuery":
            dep.physical[name] = athena.create_named_query(**dep.resolve(res["Properties"]))["NamedQueryId"]


def _apply_bucket_settings(dep: Deployed) -> None:
    """What moto's CloudFormation leaves out of the buckets, through the S3 API from the template."""
    from arrears.adapters.clients import client

    s3 = client("s3")
    for name, res in dep.cfn["Resources"].items():
        if res["Type"] == "AWS::S3::Bucket":
            bucket, props = dep.physical[name], res.get("Properties", {})
            if "PublicAccessBlockConfiguration" in props:
                s3.put_public_access_block(
                    Bucket=bucket, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
                )
            if "VersioningConfiguration" in props:
                s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration=props["VersioningConfiguration"])
            if "LifecycleConfiguration" in props:
                rules = [_lifecycle_rule(r) for r in props["LifecycleConfiguration"]["Rules"]]
                s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """A CloudFormation lifecycle rule in the S3 API's shape (the properties this template uses)."""
    out: dict[str, Any] = {"ID": rule["Id"], "Status": rule["Status"], "Filter": {"Prefix": rule.get("Prefix", "")}}
    if "ExpirationInDays" in rule:
        out["Expiration"] = {"Days": rule["ExpirationInDays"]}
    if "Transitions" in rule:
        out["Transitions"] = [
            {"Days": t["TransitionInDays"], "StorageClass": t["StorageClass"]} for t in rule["Transitions"]
        ]
    for same in ("NoncurrentVersionExpiration", "AbortIncompleteMultipartUpload"):
        if same in rule:
            out[same] = rule[same]
    unknown = set(rule) - {"Id", "Status", "Prefix", "ExpirationInDays", "Transitions", *out}
    if unknown:
        raise ValueError(f"lifecycle rule {rule['Id']}: the local stack cannot apply {sorted(unknown)}")
    return out


def live_objects(bucket: Any) -> list[tuple[str, Any]]:
    """A moto bucket's current objects (key, FakeKey), read in memory (a copy, not an API workload);
    in a versioned bucket a deleted key's latest version is a delete marker, which is left out."""
    from moto.s3.models import FakeDeleteMarker

    return [(k, o) for k, o in list(bucket.keys.items()) if not isinstance(o, FakeDeleteMarker)]
