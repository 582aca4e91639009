#!/usr/bin/env bash
# `make build`: both Lambdas cross-compiled for arm64 (provided.al2023) and packaged by SAM in
# .aws-sam/build, ready for `sam deploy`. No Docker: SAM's rust-cargolambda build method runs
# `cargo lambda build --release --arm64 --bin <Binary>` in the workspace, and cargo-lambda links
# for aarch64 with zig; both come from PyPI into the main .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
source infra/venv.sh

ensure_main_venv
ensure_tool_venvs sam
# cargo-lambda, and zig (the ziglang package's `python-zig`), for SAM's build action to find.
export PATH="$PWD/.venv/bin:$PATH"
rustup target add aarch64-unknown-linux-gnu
# cargo-lambda's default release settings add panic=abort. Turn them off so the workspace's
# release profile applies as written: unwinding panics, which the Lambda runtime reports as
# errors, and codegen-units, LTO and strip as set there. Keep cargo-lambda's CPU tuning for
# Graviton, which Lambda's arm64 functions run on.
export CARGO_LAMBDA_BUILD='{disable_optimizations=true}'
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUSTFLAGS='-C target-cpu=neoverse-n1'

.venv-sam/bin/sam build --template template.yaml "$@"
