#!/usr/bin/env bash
# Preprocessor figures, from release builds, without a network:
#   - lines/s and MB/s through the handler's real code path (S3 notification -> streamed object ->
#     parse -> pack -> batch -> a sink that only counts),
#   - Firehose records and billed 5 KB units per 1,000 lines, packed and one line per record,
#   - billed bytes per line in Parquet mode (RECORD_KEYS=compact) against JSON mode (full) and
#     against the raw line, on the shared corpus,
#   - PutRecordBatch calls per 100,000 lines,
#   - peak RSS while streaming a 1 GB object (the example's own VmHWM and GNU time's %M).
# Sizes: BENCH_BYTES (default 1 GB) for the packed run, BENCH_LINE_BYTES (default 100 MB) for the
# line-per-record run, BENCH_CORPUS_BYTES (default 200 MB) for the run on the shared corpus.
set -euo pipefail
cd "$(dirname "$0")/.."

bytes=${BENCH_BYTES:-1000000000}
line_bytes=${BENCH_LINE_BYTES:-100000000}
corpus_bytes=${BENCH_CORPUS_BYTES:-200000000}
bench=target/release/examples/throughput

cargo build --release --quiet -p preprocessor --example throughput

timed() {
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -f "peak RSS (GNU time)             %M KiB" "$@"
    else
        "$@"
    fi
}

echo "== PACKING=packed, ${bytes} bytes of generated log lines streamed through the handler"
timed "$bench" --bytes "$bytes"
echo
echo "== PACKING=line (one line per Firehose record), ${line_bytes} bytes"
timed "$bench" --bytes "$line_bytes" --packing line
echo
echo "== PACKING=gzip (packed records, each a gzip member), ${bytes} bytes"
timed "$bench" --bytes "$bytes" --packing gzip

# The shared corpus (a richer mix of line shapes), when the s3-access-log example is there.
if [ -f crates/s3-access-log/examples/corpus/main.rs ]; then
    mkdir -p bench-data
    corpus=bench-data/preprocessor-corpus.log
    cargo run --release --quiet -p s3-access-log --example corpus -- --bytes "$corpus_bytes" > "$corpus"
    for packing in packed line gzip; do
        echo
        echo "== PACKING=${packing}, the s3-access-log corpus (${corpus_bytes} bytes) on stdin"
        timed "$bench" --stdin --packing "$packing" < "$corpus"
    done
    # Every record repeats the raw object's name (LogFile), so the object is named as a deployed
    # stack's raw bucket names S3's log objects.
    object=s3logs-raw-123456789012-eu-west-1/logs/2026-12-01-12-00-00-0123456789ABCDEF
    for keys in full compact; do
        echo
        echo "== RECORD_KEYS=${keys} (OutputFormat=$([ "$keys" = compact ] && echo parquet || echo json)), PACKING=packed, the corpus, object s3://${object}"
        "$bench" --stdin --record-keys "$keys" --object "$object" < "$corpus"
    done
fi
