"""The detection catalogue as the Rust sources define it, for the infra tests.

Rule ids come from `Rule::name` in crates/pipeline/src/audit/rules.rs and severities from the
`CATALOGUE` in crates/pipeline/src/audit/catalogue.rs, read as text so the tests need no build.
"""

import re

import cfn

AUDIT_DIR = cfn.ROOT / "crates" / "pipeline" / "src" / "audit"


def rule_ids():
    """Rust variant name -> rule id (`BucketConfigChange` -> `bucket-config-change`)."""
    source = (AUDIT_DIR / "rules.rs").read_text()
    # `Rule::name` is the one match of the file that maps rules to string literals.
    ids = dict(re.findall(r'Rule::(\w+) => "([a-z0-9-]+)",', source))
    if not ids:
        raise AssertionError("rules.rs: no `Rule::name` arms found")
    return ids


def severities():
    """Rule id -> severity (`high`, `medium`, `low`, `info`), one per detection of the catalogue."""
    source = (AUDIT_DIR / "catalogue.rs").read_text()
    ids = rule_ids()
    found = re.findall(r"Detection \{\s*rule: Rule::(\w+),.*?severity: Severity::(\w+),", source, re.S)
    if sorted(variant for variant, _ in found) != sorted(ids):
        raise AssertionError(f"catalogue.rs defines {[v for v, _ in found]}, rules.rs names {list(ids)}")
    return {ids[variant]: severity.lower() for variant, severity in found}
