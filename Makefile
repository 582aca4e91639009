# The two commands a new user needs are `make run` (sample logs through the pipeline, no AWS)
# and `make test` (installs its tools, then runs every check). Everything else is a part of those.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
VENV := .venv
# Tests find moto_server, cargo-lambda and zig in the project's venv.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: run test venv lint unit bench fuzz clean

## run: parse the sample logs shipped in samples/
run:
	cargo run --release --quiet -p s3logs -- parse samples/ --output out/records.ndjson

## test: every check CI runs
test: venv lint unit

## venv: Python tools for the tests, pinned in requirements-dev.txt
venv: $(VENV)/.installed
$(VENV)/.installed: requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

unit:
	cargo test --workspace

clean:
	cargo clean
	rm -rf $(VENV) out bench-data
