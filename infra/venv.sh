# Sourced by infra/check.sh and infra/build.sh: project-local virtualenvs for the infra tools.
#
# aws-sam-cli and checkov pin dependency versions that conflict with moto (and with each other),
# so each tool lives in its own venv next to the main .venv. A venv is rebuilt only when its
# requirements file changes: the file's hash is stamped inside the venv after a good install.

# ensure_venv DIR REQUIREMENTS: create or refresh DIR from the pinned REQUIREMENTS file.
ensure_venv() {
    local venv=$1 requirements=$2
    local stamp="$venv/.requirements.sha256" want started
    want=$(sha256sum "$requirements" | cut -d' ' -f1)
    if [[ -x $venv/bin/python && -f $stamp && $(<"$stamp") == "$want" ]]; then
        return 0
    fi
    started=$SECONDS
    echo "infra: installing $requirements into $venv" >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check --no-input -r "$requirements"
    echo "$want" >"$stamp"
    echo "infra: $venv ready in $((SECONDS - started)) s" >&2
}

# ensure_main_venv: the project's .venv (cfn-lint, duckdb, cargo-lambda, zig) is the Makefile's.
ensure_main_venv() {
    make --no-print-directory venv >&2
}

# ensure_tool_venvs NAME...: sam and/or checkov venvs, installed in parallel (each takes ~40 s).
ensure_tool_venvs() {
    local name pids=() failed=0
    for name in "$@"; do
        ensure_venv ".venv-$name" "infra/requirements-$name.txt" &
        pids+=($!)
    done
    for pid in "${pids[@]}"; do
        wait "$pid" || failed=1
    done
    return "$failed"
}

export SAM_CLI_TELEMETRY=0
# The infra tests run from the source tree; keep it free of __pycache__ folders.
export PYTHONDONTWRITEBYTECODE=1
# SAM CLI needs a Region to load, even for commands that call no AWS API.
export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-${AWS_REGION:-us-east-1}}
