"""Reads template.yaml for the infra tests.

The template uses CloudFormation's short tags (!Sub, !Ref), which plain YAML loaders reject, so it
goes through cfn-lint's decoder (cfn-lint is in the project's .venv). The helpers resolve only what
the tests need: parameters at their defaults, !Sub without pseudo parameters, !Join of literals.
"""

import pathlib
import re

from cfnlint.decode import decode

ROOT = pathlib.Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "template.yaml"


def load_template():
    """The template as plain dicts, lists and strings."""
    template, errors = decode(str(TEMPLATE_PATH))
    if errors:
        raise AssertionError(f"template.yaml does not parse: {errors}")
    return _plain(template)


def _plain(node):
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, str):
        return str(node)
    return node


def parameter_defaults(template):
    """Parameter name -> its Default as a string."""
    return {name: str(p.get("Default", "")) for name, p in template["Parameters"].items()}


_SUB_VAR = re.compile(r"\$\{([^}!][^}]*)\}")


def sub(value, variables):
    """Resolves a string or {"Fn::Sub": "..."} with `variables`; `${!x}` becomes `${x}` as in CloudFormation."""
    if isinstance(value, dict):
        (function, argument), = value.items()
        if function != "Fn::Sub":
            raise AssertionError(f"expected a string or !Sub, found {function}")
        if isinstance(argument, list):
            argument, extra = argument
            variables = {**variables, **{name: _ref(v, variables) for name, v in extra.items()}}
        value = argument

    def replace(match):
        name = match.group(1)
        if name not in variables:
            raise AssertionError(f"no value for ${{{name}}} in {value!r}")
        return variables[name]

    resolved = _SUB_VAR.sub(replace, value)
    return resolved.replace("${!", "${")


def _ref(value, variables):
    """A !Sub variable's value: a string, or {"Ref": name} looked up in `variables`."""
    if isinstance(value, dict) and list(value) == ["Ref"]:
        return variables[value["Ref"]]
    if not isinstance(value, str):
        raise AssertionError(f"expected a string or !Ref as a !Sub variable, found {value!r}")
    return value


def join_literals(value):
    """Resolves {"Fn::Join": [delimiter, [literal, ...]]}."""
    (function, (delimiter, parts)), = value.items()
    if function != "Fn::Join" or not all(isinstance(p, str) for p in parts):
        raise AssertionError(f"expected !Join of literal strings, found {value!r}")
    return delimiter.join(parts)


def resources_of_type(template, resource_type):
    """Logical id -> resource, for every resource of `resource_type`."""
    return {k: r for k, r in template["Resources"].items() if r["Type"] == resource_type}


_NO_VALUE = {"Ref": "AWS::NoValue"}


def under_conditions(node, conditions):
    """`node` as deployed when each condition has the value in `conditions` (name -> bool):
    every Fn::If takes its branch and AWS::NoValue entries disappear."""
    if isinstance(node, dict):
        if list(node) == ["Fn::If"]:
            name, when_true, when_false = node["Fn::If"]
            return under_conditions(when_true if conditions[name] else when_false, conditions)
        resolved = {k: under_conditions(v, conditions) for k, v in node.items()}
        return {k: v for k, v in resolved.items() if v != _NO_VALUE}
    if isinstance(node, list):
        resolved = [under_conditions(v, conditions) for v in node]
        return [v for v in resolved if v != _NO_VALUE]
    return node


def deployed_resources(template, conditions):
    """Logical id -> resource, for the resources a stack with `conditions` creates, Fn::If resolved."""
    return {
        k: under_conditions(r, conditions)
        for k, r in template["Resources"].items()
        if "Condition" not in r or conditions[r["Condition"]]
    }


OUTPUT_FORMATS = ("json", "parquet")


def records_table(template, output_format="json"):
    """The records table's TableInput as a stack with `OutputFormat=output_format` deploys it (the
    stack's own output bucket; no other optional part)."""
    conditions = dict.fromkeys(template["Conditions"], False)
    conditions["ParquetOutput"] = output_format == "parquet"
    table = template["Resources"]["RecordsTable"]
    return under_conditions(table, conditions)["Properties"]["TableInput"]
