# The two commands a new user needs are `make run` (sample logs through the pipeline, no AWS)
# and `make test` (installs its tools, then runs every check). Everything else is a part of those.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
VENV := .venv
# Tests find moto_server, cargo-lambda and zig in the project's venv.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: run test venv chromium lint unit template e2e build bench fuzz clean

## run: the sample logs in samples/ through the whole pipeline locally: records packed into
## gzipped objects under Hive-style partitions in out/, then audited as the postprocessor would
## (--fresh: every time, though `s3logs run` would otherwise skip inputs already in out/)
run:
	cargo run --release --quiet -p s3logs -- run samples/ --out out --fresh

## test: every check CI runs
test: venv chromium lint unit template e2e

## venv: Python tools for the tests, pinned in requirements-dev.txt
venv: $(VENV)/.installed
$(VENV)/.installed: requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

## chromium: the headless browser the `s3logs report` test renders the page in (Debian's
## `chromium`); installed with apt when missing and running as root, else the command is named
chromium:
	@if ! command -v chromium >/dev/null; then \
		if [ "$$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then \
			apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
		else \
			echo "chromium is missing; install it with: sudo apt-get update && sudo apt-get install -y chromium" >&2; \
			exit 1; \
		fi; \
	fi

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

unit: chromium
	cargo test --workspace

## template: cfn-lint, sam validate --lint, checkov and the infra tests on template.yaml
template: venv
	bash infra/check.sh

## build: sam build (cargo lambda build --release --arm64 for both functions)
build: venv
	bash infra/build.sh

## e2e: the pipeline end to end on this machine (moto_server, cargo lambda watch, DuckDB), with
## the default packing, again with records gzipped by the preprocessor (Packing=gzip), and again
## with the raw events delivered through SQS (RawEventsVia=sqs), and again with Firehose converting
## the records to Parquet (OutputFormat=parquet)
e2e: venv
	tests/e2e/run.sh
	E2E_PACKING=gzip tests/e2e/run.sh
	E2E_RAW_EVENTS_VIA=sqs tests/e2e/run.sh
	E2E_OUTPUT_FORMAT=parquet tests/e2e/run.sh

## bench: whole-process MB/s and peak RSS on a generated corpus; the real preprocessor binary
## under a local Lambda Runtime API against moto, MB/s and peak RSS for a 20 MB and a 1 GB object;
## `s3logs run` over a year of history (1 GB, 8,760 hours) with one worker and with all cores;
## Parquet on 1 M requests (sizes, the bytes each named query reads against gzip NDJSON, write
## MB/s and peak RSS, the audit over Parquet); then the parser's criterion bench
bench: venv
	scripts/bench.sh
	scripts/bench-preprocessor-moto.sh
	scripts/bench-run-history.sh
	scripts/bench-columnar.sh
	cargo bench -p s3-access-log --bench parse

## fuzz: fuzz the parser for a minute (needs nightly: rustup toolchain install nightly)
fuzz:
	cargo +nightly install --quiet --locked cargo-fuzz
	cargo +nightly fuzz run parse_line -- -max_total_time=60

clean:
	cargo clean
	rm -rf $(VENV) out bench-data
