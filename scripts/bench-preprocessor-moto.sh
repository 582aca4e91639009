#!/usr/bin/env bash
# The real preprocessor, as Lambda runs it, against moto: MB/s and the function's peak RSS for a
# small and a large raw log object. The goal: peak RSS flat in object size (within 10%) and under
# 128 MiB at the default settings, because the object is streamed, never held.
#
# Starts moto_server (S3 and Firehose) on 127.0.0.1, deploys the template's buckets and delivery
# stream into it, generates each object with the corpus generator (the same bytes on every
# machine), uploads it, and runs the release `preprocessor` binary under a local Lambda Runtime
# API (scripts/bench_preprocessor_moto.py) with the template's environment and one S3 event.
# The template's MALLOC_MMAP_THRESHOLD_ is what keeps the peak flat; the bench runs with it because
# it runs with the template's environment. The last line compares the peak RSS of the last size
# with the first's (by default: 1 GB against 20 MB).
# Sizes: BENCH_MOTO_SIZES (default "20000000 1000000000" bytes).
# Needs the project venv (`make venv`: moto_server, boto3).
set -euo pipefail
cd "$(dirname "$0")/.."

sizes=${BENCH_MOTO_SIZES:-20000000 1000000000}
venv=$PWD/.venv
data=bench-data
mkdir -p "$data"
for tool in python moto_server; do
    [[ -x $venv/bin/$tool ]] || { echo "no $venv/bin/$tool; install the test tools with: make venv" >&2; exit 1; }
done

cargo build --release --quiet -p preprocessor --bin preprocessor -p s3-access-log --example corpus
target=$(cargo metadata --format-version 1 --no-deps | "$venv/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')

port=$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
moto_log=$(mktemp)
results=$(mktemp)
setsid "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$moto_log" 2>&1 &
moto=$!
stop_moto() {
    kill -TERM -- "-$moto" 2>/dev/null || true
    wait "$moto" 2>/dev/null || true
    rm -f "$moto_log" "$results"
}
trap stop_moto EXIT
for _ in $(seq 100); do
    "$venv/bin/python" -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.5)" 2>/dev/null && break
    kill -0 "$moto" 2>/dev/null || { cat "$moto_log" >&2; exit 1; }
    sleep 0.2
done

echo "preprocessor (release) through moto, default settings (PACKING=packed, MAX_OBJECT_BYTES 1 GiB):"
for bytes in $sizes; do
    object=$data/raw-$bytes.log
    if [[ ! -s $object ]]; then
        "$target/release/examples/corpus" --bytes "$bytes" >"$object.tmp" 2>/dev/null
        mv "$object.tmp" "$object"
    fi
    "$venv/bin/python" scripts/bench_preprocessor_moto.py --endpoint "http://127.0.0.1:$port" \
        --binary "$target/release/preprocessor" "$object" | tee -a "$results"
done
# The goal in one line: the last object's peak against the first's.
awk '/peak RSS/ { for (i = 1; i < NF; i++) if ($i == "RSS") rss[++n] = $(i + 1) }
    END { if (n > 1) printf "peak RSS %.1f MiB for the last object, %+.1f%% against %.1f MiB for the first (goal: within 10%%, under 128 MiB)\n", rss[n], (rss[n] / rss[1] - 1) * 100, rss[1] }' "$results"
