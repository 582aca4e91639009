#!/usr/bin/env bash
# Checks of the deployable stack, run by `make test`; needs no AWS account and no network but
# PyPI (on the first run, to install the tools):
#   1. cfn-lint on template.yaml: no errors, no warnings (each accepted warning is suppressed in the
#      template with its reason);
#   2. the infra tests (infra/tests): the template agrees with itself and with the Rust crates, the
#      named queries match infra/athena/*.sql, those queries run in DuckDB (over hand-made records,
#      and over what `s3logs run` writes in JSON and Parquet: that test builds s3logs), the detection queries
#      find the audit engine's hits on a shared fixture, the raw-table regex reads every log format
#      generation, the BackfillCommand's requests validate against the S3 Control API model
#      (botocore, offline), and the backfill and org-wide permissions are exact;
#   3. sam validate --lint: SAM transforms the template and lints the result;
#   4. checkov: no failed check; each skipped one carries its reason in the template.
set -euo pipefail
cd "$(dirname "$0")/.."
source infra/venv.sh

ensure_main_venv
ensure_tool_venvs sam checkov

echo "== cfn-lint"
.venv/bin/cfn-lint template.yaml
echo "cfn-lint: no findings"

echo "== infra tests"
# unittest-style tests, run by the pytest in .venv; no cache folder in the source tree.
.venv/bin/python -m pytest -q -p no:cacheprovider infra/tests

echo "== sam validate --lint"
.venv-sam/bin/sam validate --lint --template template.yaml

echo "== checkov"
# --quiet lists only failures, then the passed/failed/skipped counts.
.venv-checkov/bin/checkov --file template.yaml --framework cloudformation --compact --quiet --skip-download
