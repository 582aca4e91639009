#!/usr/bin/env bash
# Throughput of the postprocessor's engine next to `gzip -dc > /dev/null` on the same object.
#
# The object is what Firehose hands the postprocessor: gzip NDJSON records, several gzip members
# back to back. It is made from the deterministic corpus (crates/s3-access-log/examples/corpus)
# by `s3logs run`, whose per-hour objects are concatenated into one multi-member gzip file
# (about 240 MB of records by default). The engine runs as `s3logs audit --json`, which is the
# postprocessor's code path (pipeline::audit::Auditor::audit_object on a Records object, hits to
# stdout) without the S3 download. Each command runs RUNS times; the fastest run is reported,
# with its peak RSS.
#
#   scripts/bench-postprocessor.sh            # RAW_BYTES=140000000 RUNS=3 to change the defaults
set -euo pipefail
cd "$(dirname "$0")/.."

RAW_BYTES=${RAW_BYTES:-140000000}
RUNS=${RUNS:-3}
DATA=bench-data/postprocessor
OBJECT=$DATA/records.ndjson.gz

cargo build --release --quiet -p s3logs
cargo build --release --quiet -p s3-access-log --example corpus
S3LOGS=target/release/s3logs

mkdir -p "$DATA"
if [[ ! -s $OBJECT || "$(cat "$DATA/raw-bytes" 2>/dev/null)" != "$RAW_BYTES" ]]; then
    echo "making the object from $RAW_BYTES bytes of corpus log lines..." >&2
    target/release/examples/corpus --bytes "$RAW_BYTES" > "$DATA/access.log"
    "$S3LOGS" run "$DATA/access.log" --out "$DATA/run" --fresh --rules sigv2 --json > /dev/null
    # Concatenated gzip files are one multi-member gzip stream, the shape Firehose writes.
    find "$DATA/run/records" -name '*.gz' | sort | xargs cat > "$OBJECT"
    echo "$RAW_BYTES" > "$DATA/raw-bytes"
    rm -f "$DATA/access.log"
fi

compressed=$(stat -c %s "$OBJECT")
decompressed=$(gzip -dc "$OBJECT" | wc -c)
records=$(gzip -dc "$OBJECT" | wc -l)

# Prints "seconds peak_kb" of the fastest of RUNS runs of the command (stdout to /dev/null).
fastest() {
    local best="" line
    for _ in $(seq "$RUNS"); do
        if [[ -x /usr/bin/time ]]; then
            /usr/bin/time -o "$DATA/time.txt" -f "%e %M" "$@" > /dev/null 2>&1
            line=$(tail -1 "$DATA/time.txt")
        else
            # Without GNU time (Debian package `time`): elapsed only.
            local start end
            start=$(date +%s.%N); "$@" > /dev/null 2>&1; end=$(date +%s.%N)
            line="$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.2f", e - s }') 0"
        fi
        if [[ -z $best ]] || awk -v a="${line%% *}" -v b="${best%% *}" 'BEGIN { exit !(a < b) }'; then
            best=$line
        fi
    done
    echo "$best"
}

row() {
    local label=$1 seconds=$2 kb=$3
    awk -v l="$label" -v s="$seconds" -v kb="$kb" -v d="$decompressed" -v c="$compressed" 'BEGIN {
        if (s <= 0) s = 0.01
        printf "%-48s %8.2f %14.0f %14.0f %10.1f\n", l, s, d / s / 1e6, c / s / 1e6, kb / 1024
    }'
}

printf 'object: %s: %.1f MB gzip, %.1f MB of NDJSON, %d records, %d gzip members\n' "$OBJECT" \
    "$(awk -v c="$compressed" 'BEGIN { print c / 1e6 }')" "$(awk -v d="$decompressed" 'BEGIN { print d / 1e6 }')" \
    "$records" "$(find "$DATA/run/records" -name '*.gz' | wc -l)"
printf '%-48s %8s %14s %14s %10s\n' "command (fastest of $RUNS)" "seconds" "MB/s decoded" "MB/s gzip" "peak MiB"
read -r s kb < <(fastest gzip -dc "$OBJECT")
row "gzip -dc > /dev/null" "$s" "$kb"
read -r s kb < <(fastest "$S3LOGS" audit --json --rules sigv2 "$OBJECT")
row "postprocessor engine, RULES=sigv2 (default)" "$s" "$kb"
read -r s kb < <(fastest "$S3LOGS" audit --json --rules all "$OBJECT")
row "postprocessor engine, RULES=all" "$s" "$kb"
read -r s kb < <(fastest "$S3LOGS" audit --json --rules all --summary "$OBJECT")
row "postprocessor engine, RULES=all OUTPUT=summary" "$s" "$kb"
