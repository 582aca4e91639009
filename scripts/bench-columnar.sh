#!/usr/bin/env bash
# Columnar output on 1 M generated requests (the deterministic corpus of
# crates/s3-access-log/examples/corpus): what Parquet saves and what writing it costs.
#
#  a. Output sizes: the raw log; gzip NDJSON as Firehose writes it in JSON mode (our records,
#     gzip level 6); Parquet from this project's writer (crates/columnar) with gzip pages (the
#     compression the template asks Firehose's conversion for) and with Snappy pages (what
#     `s3logs parse --format parquet` and `s3logs run --format parquet` write), and the objects of
#     `s3logs run --format parquet` (a row group every 512 KiB of rows, for its memory bound).
#  b. For each named query (infra/athena/*.sql and infra/athena/detections/*.sql; the view's own
#     definition and the CloudTrail query, which reads another table, left out): the bytes it
#     must read from Parquet, against the whole gzip NDJSON, which a query over JSON reads in full.
#     The columns a query references come from DuckDB's parse tree of the query
#     (json_serialize_sql: every column reference that names a column of the file), plus the
#     columns the records_dedup view reads for its window (record_id, log_file), since every named
#     query reads the view; the bytes are the compressed column chunks of those columns in the
#     file's footer (scripts/bench_columnar.py says exactly how). Firehose's own Parquet writer
#     (its record format conversion) cannot run here, so these are the figures of our writer;
#     Firehose's pages, dictionaries and row groups differ.
#  c. Parquet writing on one core (taskset -c 0): raw log MB/s over wall time and over user CPU
#     time, and peak RSS (/usr/bin/time -v), for `s3logs parse --format parquet` and
#     `s3logs run --format parquet --jobs 1 --rules sigv2` (the Lambda's default rule; its audit
#     of the objects it wrote is included), and for the writer alone from raw lines
#     (crates/columnar's parquet_file example). Both commands write rows straight from the lines,
#     as the writer alone does, through the engine that decides every record. Each runs RUNS
#     times.
#  d. The postprocessor's engine over Parquet: `s3logs audit --json --rules sigv2` (the
#     postprocessor's code path and default rule, without the S3 download) on the gzip-page
#     and the Snappy Parquet files, and on the gzip NDJSON for comparison.
#  e. The writer's per-row-group dictionary choice on client addresses (gzip pages): the
#     `remote_ip` chunks of the corpus, where nearly every address is new, and of the same log
#     with each address redrawn from 20,000 with Zipf weights (scripts/zipf_remote_ip.py), as a
#     bucket whose clients repeat: their bytes, and the encodings the footer lists.
#
#   scripts/bench-columnar.sh        # REQUESTS=1000000 RUNS=3 BENCH_DIR=bench-data/columnar
set -euo pipefail
cd "$(dirname "$0")/.."

requests=${REQUESTS:-1000000}
runs=${RUNS:-3}
data=${BENCH_DIR:-bench-data/columnar}
python=${PYTHON:-.venv/bin/python}
mkdir -p "$data"

cargo build --release --quiet -p s3logs --bin s3logs -p s3-access-log --example corpus \
    -p columnar --example parquet_file
s3logs=target/release/s3logs

log=$data/access.log
if [[ ! -s $log || $(wc -l < "$log") -ne $requests ]]; then
    # Lines average 646 bytes; the generator stops on the closed pipe once head has enough.
    { target/release/examples/corpus --bytes $((requests * 700)) 2> /dev/null || true; } |
        head -n "$requests" > "$log"
fi
lines=$(wc -l < "$log")
if [[ $lines -ne $requests ]]; then
    echo "bench-columnar: the corpus has $lines lines, not $requests" >&2
    exit 1
fi
raw=$(stat -c %s "$log")
cat "$log" > /dev/null # page cache, so the figures are the writers', not the disk's

"$s3logs" parse --quiet "$log" | gzip -6 > "$data/records.ndjson.gz"
target/release/examples/parquet_file write --gzip 6 "$log" "$data/gzip.parquet" 2> /dev/null
"$s3logs" parse --quiet "$log" --format parquet --output "$data/snappy.parquet"
rm -rf "$data/run"
"$s3logs" run "$log" --out "$data/run" --format parquet --jobs 1 --rules sigv2 --json > /dev/null 2>&1

size() { stat -c %s "$1"; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1e6 }'; }
run_bytes=$(find "$data/run/records" -name '*.parquet' -printf '%s\n' | awk '{ s += $1 } END { print s }')
echo "a. output sizes, $lines requests"
printf '  %-58s %9s MB %6s bytes/request\n' "what" "size" ""
for entry in "raw log:$raw" \
    "gzip NDJSON (Firehose JSON mode; gzip -6):$(size "$data/records.ndjson.gz")" \
    "Parquet, gzip pages (crates/columnar, gzip level 6):$(size "$data/gzip.parquet")" \
    "Parquet, Snappy pages (s3logs parse --format parquet):$(size "$data/snappy.parquet")" \
    "Parquet objects of s3logs run --format parquet (Snappy):$run_bytes"; do
    printf '  %-58s %9s MB %6d\n' "${entry%:*}" "$(mb "${entry##*:}")" $((${entry##*:} / lines))
done

echo
echo "b. bytes each named query reads: Parquet column chunks against the whole gzip NDJSON"
mapfile -t queries < <(ls infra/athena/*.sql infra/athena/detections/*.sql | grep -v records_dedup_view)
"$python" scripts/bench_columnar.py infra/athena/records_dedup_view.sql "$data/records.ndjson.gz" \
    "gzip=$data/gzip.parquet" "snappy=$data/snappy.parquet" -- "${queries[@]}"

# Runs a command RUNS times on core 0 and prints one line per run: wall and user seconds, raw
# log MB/s over each, peak RSS.
measure() {
    local label=$1; shift
    local report=$data/time.txt
    for run in $(seq "$runs"); do
        rm -rf "$data/run"
        taskset -c 0 /usr/bin/time -v -o "$report" "$@" > /dev/null 2>&1
        awk -F': ' -v label="$label" -v run="$run" -v raw="$raw" '
            /Elapsed \(wall clock\)/ { n = split($2, t, ":"); wall = t[n] + (n > 1 ? t[n - 1] * 60 : 0) }
            /User time/ { user = $2 }
            /System time/ { sys = $2 }
            /Maximum resident set size/ { rss = $2 }
            END {
                if (wall < 0.01) wall = 0.01
                if (user < 0.01) user = 0.01
                printf "  %-44s run %d: %6.2f s wall %5.0f MB/s   %6.2f s user %5.0f MB/s   %5.2f s sys   peak RSS %5.1f MiB\n",
                    label, run, wall, raw / wall / 1e6, user, raw / user / 1e6, sys, rss / 1024
            }' "$report"
    done
}

echo
echo "c. Parquet writing on one core, $(mb "$raw") MB of raw log (target: 300 MB/s, peak RSS 64 MiB)"
measure "writer alone, from lines (parquet_file)" \
    target/release/examples/parquet_file write "$log" "$data/write.parquet"
measure "s3logs parse --format parquet" \
    "$s3logs" parse --quiet "$log" --format parquet --output "$data/write.parquet"
measure "s3logs run --format parquet --rules sigv2" \
    "$s3logs" run "$log" --out "$data/run" --format parquet --jobs 1 --rules sigv2 --json

echo
echo "d. postprocessor engine (s3logs audit --json --rules sigv2), raw log MB/s it covers"
measure "over Parquet, gzip pages" "$s3logs" audit --json --rules sigv2 "$data/gzip.parquet"
measure "over Parquet, Snappy pages" "$s3logs" audit --json --rules sigv2 "$data/snappy.parquet"
measure "over gzip NDJSON" "$s3logs" audit --json --rules sigv2 "$data/records.ndjson.gz"

echo
echo "e. remote_ip with gzip pages: fresh addresses (the corpus) and repeating ones (Zipf over 20,000)"
"$python" scripts/zipf_remote_ip.py "$log" "$data/zipf.log"
target/release/examples/parquet_file write --gzip 6 "$data/zipf.log" "$data/zipf.parquet" 2> /dev/null
for entry in "corpus:$data/gzip.parquet" "zipf:$data/zipf.parquet"; do
    "$python" - "${entry%%:*}" "${entry#*:}" << 'EOF'
import sys, duckdb
label, path = sys.argv[1:]
size, groups, encodings = duckdb.sql(
    "SELECT sum(total_compressed_size), count(*), string_agg(DISTINCT encodings, ' | ') "
    "FROM parquet_metadata(?) WHERE path_in_schema = 'remote_ip'", params=[path]).fetchone()
print(f"  {label:8} {size / 1e6:6.2f} MB in {groups} row groups; encodings: {encodings}")
EOF
done

rm -rf "$data/run" "$data/write.parquet" "$data/time.txt" "$data/zipf.log" "$data/zipf.parquet"
if [[ -z ${KEEP:-} ]]; then
    rm -f "$data/records.ndjson.gz" "$data/gzip.parquet" "$data/snappy.parquet" "$log"
fi
