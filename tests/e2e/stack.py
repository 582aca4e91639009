"""template.yaml, read the way CloudFormation would deploy it, for the end-to-end test.

The test creates its buckets, delivery stream and function environments from the template
itself, so a change to the template that the code does not follow breaks the test. This module
loads the template with a YAML loader that keeps the short-form intrinsic functions (`!Sub`,
`!Ref`, `!GetAtt`, ...) as their long form, applies SAM's `Globals`, and resolves the
intrinsics for one made-up stack (name, account, region below) the way CloudFormation does.

Only what the template needs is resolved; an intrinsic or a resource type the resolver does not
know raises `TemplateError` naming it, so a template change that this test cannot follow fails
loudly instead of being half-understood.
"""

from __future__ import annotations

import copy
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

STACK_NAME = "s3logs-e2e"
ACCOUNT_ID = "123456789012"  # moto's default account
REGION = "us-east-1"
PARTITION = "aws"

PSEUDO_PARAMETERS = {
    "AWS::StackName": STACK_NAME,
    "AWS::AccountId": ACCOUNT_ID,
    "AWS::Region": REGION,
    "AWS::Partition": PARTITION,
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{STACK_NAME}/e2e",
    "AWS::NotificationARNs": [],
}


class TemplateError(Exception):
    """The template uses something this resolver does not understand, or is inconsistent."""


class _NoValue:
    """`AWS::NoValue`: the property it stands for is removed."""


NO_VALUE = _NoValue()


# --- Loading -------------------------------------------------------------------------------


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns `!Tag value` into `{"Fn::Tag": value}` (`!Ref` into `{"Ref": ..}`)."""


def _construct_tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "Condition":
        return {"Condition": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        logical_id, _, attribute = value.partition(".")
        value = [logical_id, attribute]
    return {f"Fn::{tag_suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path) -> dict[str, Any]:
    """The template as plain data, short-form intrinsics in their long form."""
    with path.open(encoding="utf-8") as handle:
        template = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    if not isinstance(template, dict) or "Resources" not in template:
        raise TemplateError(f"{path}: not a CloudFormation template (no Resources)")
    return template


# --- Resolving -----------------------------------------------------------------------------


def _generated_name(logical_id: str, lower: bool = False, max_len: int = 63) -> str:
    """A physical name like the one CloudFormation generates: stack-LogicalId-SUFFIX."""
    suffix = hashlib.sha256(logical_id.encode()).hexdigest()[:12].upper()
    name = f"{STACK_NAME}-{logical_id}-{suffix}"
    if lower:
        name = name.lower()
    return name[:max_len]


@dataclass
class Resource:
    """One resource of the template with its properties resolved."""

    logical_id: str
    type: str
    properties: dict[str, Any]
    metadata: dict[str, Any] = field(default_factory=dict)


class Stack:
    """The template deployed (on paper) as stack `STACK_NAME` in `ACCOUNT_ID` / `REGION`."""

    def __init__(self, template_path: Path, parameter_overrides: dict[str, str] | None = None):
        self.path = template_path
        self.template = load_template(template_path)
        self._parameters = self._parameter_values(parameter_overrides or {})
        self._raw_resources: dict[str, dict[str, Any]] = self._apply_globals(
            self.template["Resources"]
        )
        self._conditions: dict[str, bool] = {}
        self._resolving_conditions: set[str] = set()
        self._check_rules()
        self.resources: dict[str, Resource] = {}
        for logical_id, raw in self._raw_resources.items():
            if "Condition" in raw and not self.condition(raw["Condition"]):
                continue
            props = self.resolve(raw.get("Properties", {}) or {})
            self.resources[logical_id] = Resource(
                logical_id, raw["Type"], props, self.resolve(raw.get("Metadata", {}) or {})
            )

    # Parameters and Globals ---------------------------------------------------------------

    def _parameter_values(self, overrides: dict[str, str]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, spec in (self.template.get("Parameters") or {}).items():
            if name in overrides:
                value: Any = overrides[name]
            elif "Default" in spec:
                value = spec["Default"]
            else:
                raise TemplateError(f"parameter {name} has no Default; the test needs one")
            if str(spec.get("Type", "")).startswith("List<") or spec.get("Type") == (
                "CommaDelimitedList"
            ):
                value = [v.strip() for v in str(value).split(",")] if value != "" else []
            elif isinstance(value, (int, float)):
                value = str(value)
            values[name] = value
        return values

    def _apply_globals(self, resources: dict[str, Any]) -> dict[str, Any]:
        """SAM `Globals`: function settings merged under each function's own (maps merged)."""
        globals_ = (self.template.get("Globals") or {}).get("Function") or {}
        out = {}
        for logical_id, raw in resources.items():
            raw = copy.deepcopy(raw)
            if raw.get("Type") == "AWS::Serverless::Function" and globals_:
                raw["Properties"] = _merge_globals(copy.deepcopy(globals_), raw.get("Properties") or {})
            out[logical_id] = raw
        return out

    # Rules --------------------------------------------------------------------------------

    def _check_rules(self) -> None:
        """The template's `Rules`, as CloudFormation checks them before it creates anything: a
        rule whose RuleCondition holds (or that has none) refuses the parameters when one of its
        assertions is false, with that assertion's description."""
        for name, rule in (self.template.get("Rules") or {}).items():
            if "RuleCondition" in rule and not self._condition_value(rule["RuleCondition"]):
                continue
            for assertion in rule.get("Assertions", []):
                if not self._condition_value(assertion["Assert"]):
                    raise TemplateError(f"rule {name}: {assertion.get('AssertDescription', 'assertion failed')}")

    # Conditions ---------------------------------------------------------------------------

    def condition(self, name: str) -> bool:
        if name in self._conditions:
            return self._conditions[name]
        spec = (self.template.get("Conditions") or {}).get(name)
        if spec is None:
            raise TemplateError(f"unknown condition {name}")
        if name in self._resolving_conditions:
            raise TemplateError(f"condition {name} refers to itself")
        self._resolving_conditions.add(name)
        value = bool(self._condition_value(spec))
        self._conditions[name] = value
        return value

    def _condition_value(self, spec: Any) -> bool:
        if isinstance(spec, dict) and len(spec) == 1:
            (fn, arg), = spec.items()
            if fn == "Fn::Equals":
                left, right = (self.resolve(a) for a in arg)
                return str(left) == str(right)
            if fn == "Fn::Not":
                return not self._condition_value(arg[0])
            if fn == "Fn::And":
                return all(self._condition_value(a) for a in arg)
            if fn == "Fn::Or":
                return any(self._condition_value(a) for a in arg)
            if fn == "Condition":
                return self.condition(arg)
            if fn == "Fn::Contains":
                # A rule function: whether the value is one of the listed strings.
                values, value = arg
                return str(self.resolve(value)) in [str(v) for v in self.resolve(values)]
            if fn == "Fn::EachMemberEquals":
                # A rule function: whether every listed string is the value.
                values, value = arg
                return all(str(v) == str(self.resolve(value)) for v in self.resolve(values))
        raise TemplateError(f"unsupported condition {spec!r}")

    # Intrinsics ---------------------------------------------------------------------------

    def resolve(self, value: Any) -> Any:
        """`value` with every intrinsic function replaced by its value in this stack."""
        if isinstance(value, list):
            items = [self.resolve(v) for v in value]
            return [v for v in items if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key.startswith("Fn::"):
                return self._function(key, arg)
            if key == "Condition" and isinstance(arg, str):
                # Only meaningful inside Fn::And/Or/Not, which _condition_value handles.
                return value
        out = {}
        for k, v in value.items():
            resolved = self.resolve(v)
            if resolved is not NO_VALUE:
                out[k] = resolved
        return out

    def _function(self, name: str, arg: Any) -> Any:
        if name == "Fn::Sub":
            return self._sub(arg)
        if name == "Fn::GetAtt":
            if isinstance(arg, str):
                arg = arg.split(".", 1)
            logical_id, attribute = self.resolve(arg[0]), self.resolve(arg[1])
            return self.get_att(logical_id, attribute)
        if name == "Fn::Join":
            sep, items = arg
            items = self.resolve(items)
            return self.resolve(sep).join(str(i) for i in items)
        if name == "Fn::Select":
            index, items = self.resolve(arg[0]), self.resolve(arg[1])
            return items[int(index)]
        if name == "Fn::Split":
            sep, text = self.resolve(arg[0]), self.resolve(arg[1])
            return text.split(sep)
        if name == "Fn::If":
            cond, if_true, if_false = arg
            return self.resolve(if_true if self.condition(cond) else if_false)
        if name == "Fn::FindInMap":
            mapping, top, second = (self.resolve(a) for a in arg[:3])
            try:
                return self.resolve(self.template["Mappings"][mapping][top][second])
            except KeyError as error:
                raise TemplateError(f"Fn::FindInMap {arg!r}: no {error}") from error
        if name in ("Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or"):
            return self._condition_value({name: arg})
        if name == "Fn::ToJsonString":
            import json

            return json.dumps(self.resolve(arg), separators=(",", ":"))
        if name == "Fn::GetAZs":
            return [f"{REGION}a", f"{REGION}b", f"{REGION}c"]
        raise TemplateError(f"intrinsic function {name} is not supported by tests/e2e/stack.py")

    def _sub(self, arg: Any) -> str:
        if isinstance(arg, list):
            text, variables = arg[0], {k: self.resolve(v) for k, v in arg[1].items()}
        else:
            text, variables = arg, {}

        def replace(match: re.Match[str]) -> str:
            inner = match.group(1)
            if inner.startswith("!"):
                return "${" + inner[1:] + "}"
            if inner in variables:
                return str(variables[inner])
            if "." in inner and inner.split(".", 1)[0] in self._raw_resources:
                logical_id, attribute = inner.split(".", 1)
                return str(self.get_att(logical_id, attribute))
            value = self.ref(inner)
            if isinstance(value, list):
                raise TemplateError(f"Fn::Sub ${{{inner}}} is a list")
            return str(value)

        return re.sub(r"\$\{([^}]*)\}", replace, text)

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in PSEUDO_PARAMETERS:
            return PSEUDO_PARAMETERS[name]
        if name in self._parameters:
            return self._parameters[name]
        if name in self._raw_resources:
            return self.physical_id(name)
        raise TemplateError(f"Ref {name}: no such parameter or resource")

    def _raw_props(self, logical_id: str) -> dict[str, Any]:
        return self._raw_resources[logical_id].get("Properties") or {}

    def _resource_type(self, logical_id: str) -> str:
        try:
            return self._raw_resources[logical_id]["Type"]
        except KeyError as error:
            raise TemplateError(f"no resource {logical_id}") from error

    def physical_id(self, logical_id: str) -> str:
        """What `!Ref LogicalId` returns for this resource."""
        rtype = self._resource_type(logical_id)
        props = self._raw_props(logical_id)

        def named(prop: str, lower: bool = False, max_len: int = 63) -> str:
            if prop in props:
                return str(self.resolve(props[prop]))
            return _generated_name(logical_id, lower, max_len)

        if rtype == "AWS::S3::Bucket":
            return named("BucketName", lower=True)
        if rtype == "AWS::KinesisFirehose::DeliveryStream":
            return named("DeliveryStreamName")
        if rtype in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
            return named("FunctionName", max_len=64)
        if rtype == "AWS::IAM::Role":
            return named("RoleName", max_len=64)
        if rtype == "AWS::Logs::LogGroup":
            return named("LogGroupName", max_len=512)
        if rtype == "AWS::SQS::Queue":
            name = named("QueueName", max_len=80)
            return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/{name}"
        if rtype == "AWS::Glue::Database":
            return str(self.resolve(props.get("DatabaseInput", {}).get("Name", logical_id.lower())))
        if rtype == "AWS::Glue::Table":
            return str(self.resolve(props.get("TableInput", {}).get("Name", logical_id.lower())))
        if rtype == "AWS::Athena::WorkGroup":
            return named("Name")
        return _generated_name(logical_id)

    def get_att(self, logical_id: str, attribute: str) -> Any:
        rtype = self._resource_type(logical_id)
        ref = self.physical_id(logical_id)
        if attribute == "Arn":
            if rtype == "AWS::S3::Bucket":
                return f"arn:{PARTITION}:s3:::{ref}"
            if rtype == "AWS::KinesisFirehose::DeliveryStream":
                return f"arn:{PARTITION}:firehose:{REGION}:{ACCOUNT_ID}:deliverystream/{ref}"
            if rtype in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
                return f"arn:{PARTITION}:lambda:{REGION}:{ACCOUNT_ID}:function:{ref}"
            if rtype == "AWS::IAM::Role":
                return f"arn:{PARTITION}:iam::{ACCOUNT_ID}:role/{ref}"
            if rtype == "AWS::Logs::LogGroup":
                return f"arn:{PARTITION}:logs:{REGION}:{ACCOUNT_ID}:log-group:{ref}:*"
            if rtype == "AWS::SQS::Queue":
                return f"arn:{PARTITION}:sqs:{REGION}:{ACCOUNT_ID}:{ref.rsplit('/', 1)[-1]}"
            if rtype == "AWS::Events::Rule":
                return f"arn:{PARTITION}:events:{REGION}:{ACCOUNT_ID}:rule/{ref}"
            service = rtype.split("::")[1].lower()
            return f"arn:{PARTITION}:{service}:{REGION}:{ACCOUNT_ID}:{ref}"
        if rtype == "AWS::S3::Bucket" and attribute == "DomainName":
            return f"{ref}.s3.amazonaws.com"
        if rtype == "AWS::S3::Bucket" and attribute == "RegionalDomainName":
            return f"{ref}.s3.{REGION}.amazonaws.com"
        if rtype == "AWS::SQS::Queue" and attribute == "QueueName":
            return ref.rsplit("/", 1)[-1]
        if rtype == "AWS::SQS::Queue" and attribute == "QueueUrl":
            return ref
        raise TemplateError(f"Fn::GetAtt {logical_id}.{attribute} ({rtype}) is not supported")

    # Queries --------------------------------------------------------------------------------

    def of_type(self, *types: str) -> list[Resource]:
        return [r for r in self.resources.values() if r.type in types]

    def one_of_type(self, *types: str) -> Resource:
        found = self.of_type(*types)
        if len(found) != 1:
            names = [r.logical_id for r in found]
            raise TemplateError(f"expected exactly one {' or '.join(types)}, found {names}")
        return found[0]


def _merge_globals(globals_: dict[str, Any], props: dict[str, Any]) -> dict[str, Any]:
    """SAM's merge: maps merge recursively, lists are appended, the resource's scalars win."""
    out = dict(globals_)
    for key, value in props.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and not _is_intrinsic(value):
            out[key] = _merge_globals(out[key], value)
        elif isinstance(value, list) and isinstance(out.get(key), list):
            out[key] = out[key] + value
        else:
            out[key] = value
    return out


def _is_intrinsic(value: dict[str, Any]) -> bool:
    return len(value) == 1 and next(iter(value)) in ("Ref", "Condition") or any(
        k.startswith("Fn::") for k in value
    )
