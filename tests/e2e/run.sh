#!/usr/bin/env bash
# End to end on one machine: raw log objects in, audit hit lines and Athena rows out.
#
# Starts moto_server (S3 and Firehose) and both Lambda functions under `cargo lambda watch`, each
# with the environment template.yaml gives it, all on 127.0.0.1, then runs the pytest suite in
# tests/e2e/, which deploys the template's buckets and delivery stream into moto, uploads raw logs,
# invokes the functions with the events S3 sends, and checks hits and Athena queries (in DuckDB);
# then backfills old logs with the events the stack's BackfillCommand jobs (Batch Operations) send.
# Everything it started is stopped on exit, pass or fail.
#
# Usage: tests/e2e/run.sh [pytest arguments]      (after `make venv`)
# Keep the work directory (logs, events, outputs) with E2E_KEEP=1.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
VENV=$ROOT/.venv
PY=$VENV/bin/python

fail() {
  echo "e2e: $*" >&2
  exit 1
}

# --- Tools: a missing one fails with the command that installs it -----------------------------
[ -x "$PY" ] || fail "no $PY; install the test tools with: make venv"
for tool in moto_server cargo-lambda; do
  [ -x "$VENV/bin/$tool" ] || fail "no $VENV/bin/$tool; install the test tools with: make venv"
done
"$PY" -c 'import pytest, duckdb, yaml, boto3' 2>/dev/null ||
  fail "pytest, duckdb, PyYAML or boto3 missing from .venv; install them with: make venv"
if [ "${E2E_OUTPUT_FORMAT:-json}" = parquet ]; then
  "$PY" -c 'import pyarrow' 2>/dev/null ||
    fail "pyarrow (Firehose's Parquet conversion) missing from .venv; install it with: make venv"
fi
command -v cargo >/dev/null || fail "no cargo; install Rust with: curl https://sh.rustup.rs -sSf | sh"
command -v setsid >/dev/null || fail "no setsid; install it with: apt-get install util-linux"
# cargo lambda finds cargo-lambda (and zig) on PATH.
export PATH="$VENV/bin:$PATH"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/s3logs-e2e.XXXXXX")
PIDS=()

cleanup() {
  local status=$?
  local pid
  for pid in "${PIDS[@]}"; do
    # Each service runs in its own session: stop the whole group (cargo, the function, ...).
    kill -TERM -- "-$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do
      kill -0 -- "-$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
  done
  if [ "$status" -ne 0 ] || [ "${E2E_KEEP:-0}" = 1 ]; then
    echo "e2e: logs and outputs kept in $WORK" >&2
  else
    rm -rf "$WORK"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
  "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_for_port() { # name port pid log
  local deadline=$((SECONDS + ${4:-60}))
  until "$PY" -c "import socket,sys; socket.create_connection(('127.0.0.1', $2), 0.5)" 2>/dev/null; do
    kill -0 "$3" 2>/dev/null || { cat "$WORK/$1.err" >&2 || true; fail "$1 exited before listening"; }
    [ "$SECONDS" -lt "$deadline" ] || { cat "$WORK/$1.err" >&2 || true; fail "$1 not listening on 127.0.0.1:$2"; }
    sleep 0.2
  done
}

# --- Build first, so a compile error shows here and the functions start at once ----------------
# One `cargo build` per binary, as `cargo lambda watch` runs them (`cargo run --bin NAME`), so the
# feature resolution is the same and watch finds everything built.
echo "e2e: building (debug) preprocessor, postprocessor and s3logs" >&2
for bin in preprocessor postprocessor s3logs; do
  cargo build --quiet --bin "$bin"
done
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')

# --- moto_server ------------------------------------------------------------------------------
MOTO_PORT=$(free_port)
setsid "$VENV/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT" >"$WORK/moto.out" 2>"$WORK/moto.err" &
PIDS+=($!)
wait_for_port moto "$MOTO_PORT" "$!"
ENDPOINT="http://127.0.0.1:$MOTO_PORT"

# --- the functions, each under its own `cargo lambda watch` with its own environment ------------
# The function inherits the environment of `cargo lambda watch`, so each one starts from a clean
# environment (no AWS_PROFILE or real credentials from the caller) plus what template.yaml sets.
clean_env=(env -i "PATH=$PATH" "HOME=$HOME")
for var in CARGO_HOME RUSTUP_HOME RUSTUP_TOOLCHAIN CARGO_TARGET_DIR TMPDIR LANG; do
  if [ -n "${!var:-}" ]; then clean_env+=("$var=${!var}"); fi
done
# Nothing outside this run's settings: empty AWS config files instead of ~/.aws.
: >"$WORK/aws-config"
: >"$WORK/aws-credentials"
clean_env+=("AWS_CONFIG_FILE=$WORK/aws-config" "AWS_SHARED_CREDENTIALS_FILE=$WORK/aws-credentials")

start_function() { # binary port
  local env_lines=() line rust_log=""
  mapfile -t env_lines < <("$PY" tests/e2e/local.py env "$1" --endpoint "$ENDPOINT")
  [ "${#env_lines[@]}" -gt 0 ] || fail "no environment for $1"
  printf '%s\n' "${env_lines[@]}" >"$WORK/$1.env"
  # cargo-lambda reads RUST_LOG for its own logs, which it prints on stdout; the function's
  # RUST_LOG goes through --env-file (applied to the function only) and watch itself logs errors
  # only, so the watch's stdout is the function's stdout.
  local inherited=()
  for line in "${env_lines[@]}"; do
    case $line in
      RUST_LOG=*) rust_log=$line ;;
      *) inherited+=("$line") ;;
    esac
  done
  printf '%s\n' "$rust_log" >"$WORK/$1.rust_log.env"
  setsid "${clean_env[@]}" "${inherited[@]}" RUST_LOG=error \
    "$VENV/bin/cargo-lambda" lambda watch --ignore-changes --quiet --env-file "$WORK/$1.rust_log.env" \
    --invoke-address 127.0.0.1 --invoke-port "$2" --bin "$1" \
    >"$WORK/$1.out" 2>"$WORK/$1.err" &
  PIDS+=($!)
  wait_for_port "$1" "$2" "$!" 120
}

PRE_PORT=$(free_port)
start_function preprocessor "$PRE_PORT"
POST_PORT=$(free_port)
start_function postprocessor "$POST_PORT"

# --- the tests --------------------------------------------------------------------------------
export E2E_WORK=$WORK E2E_ENDPOINT=$ENDPOINT E2E_S3LOGS=$TARGET_DIR/debug/s3logs
export E2E_PREPROCESSOR_PORT=$PRE_PORT E2E_POSTPROCESSOR_PORT=$POST_PORT
export E2E_PREPROCESSOR_STDOUT=$WORK/preprocessor.out E2E_POSTPROCESSOR_STDOUT=$WORK/postprocessor.out
echo "e2e: moto on $ENDPOINT, functions on 127.0.0.1:$PRE_PORT and :$POST_PORT, work dir $WORK" >&2
"$PY" -m pytest -p no:cacheprovider tests/e2e "$@"
