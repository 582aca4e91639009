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
            variables = {**variables, **extra}
        value = argument

    def replace(match):
        name = match.group(1)
        if name not in variables:
            raise AssertionError(f"no value for ${{{name}}} in {value!r}")
        return variables[name]

    resolved = _SUB_VAR.sub(replace, value)
    return resolved.replace("${!", "${")


def join_literals(value):
    """Resolves {"Fn::Join": [delimiter, [literal, ...]]}."""
    (function, (delimiter, parts)), = value.items()
    if function != "Fn::Join" or not all(isinstance(p, str) for p in parts):
        raise AssertionError(f"expected !Join of literal strings, found {value!r}")
    return delimiter.join(parts)


def resources_of_type(template, resource_type):
    """Logical id -> resource, for every resource of `resource_type`."""
    return {k: r for k, r in template["Resources"].items() if r["Type"] == resource_type}
