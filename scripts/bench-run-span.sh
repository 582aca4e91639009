#!/usr/bin/env bash
# Peak memory of `s3logs run` on logs spanning many hours: the memory must not grow with the
# span, because `run` holds at most a fixed number of hour partitions open.
#
# The corpus comes from the same deterministic generator as scripts/bench.sh; its timestamps
# are then rewritten so the lines, in order, climb through BENCH_HOURS consecutive hours, as a
# long history of S3 logs read in name (so time) order does.
set -euo pipefail
cd "$(dirname "$0")/.."

bytes=${BENCH_BYTES:-200000000}
hours=${BENCH_HOURS:-20000}
data=bench-data
corpus=$data/corpus-$bytes.log
spread=$data/corpus-$bytes-$hours-hours.log
out=$data/run-span-out
mkdir -p "$data"

cargo build --release --quiet -p s3logs
cargo build --release --quiet -p s3-access-log --example corpus
if [[ ! -s $corpus ]]; then
    echo "generating $corpus ($bytes bytes)"
    ./target/release/examples/corpus --bytes "$bytes" > "$corpus.tmp"
    mv "$corpus.tmp" "$corpus"
fi
if [[ ! -s $spread ]]; then
    echo "spreading $corpus over $hours hours"
    # Line n of N gets hour floor(n * hours / N) after 2020-01-01 00:00 UTC; minutes and
    # seconds are kept.
    lines=$(wc -l < "$corpus")
    LC_ALL=C perl -MPOSIX=strftime -pe '
        BEGIN { ($hours, $lines) = splice(@ARGV, 0, 2); $base = 1577836800 }
        my $hour = strftime("%d/%b/%Y:%H", gmtime($base + int(($. - 1) * $hours / $lines) * 3600));
        s{\[\d\d/\w{3}/\d{4}:\d\d}{[$hour};
    ' "$hours" "$lines" "$corpus" > "$spread.tmp"
    mv "$spread.tmp" "$spread"
fi

rm -rf "$out"
log=$(mktemp)
/usr/bin/time -v -o "$log" ./target/release/s3logs run "$spread" --out "$out" --rules sigv2 --json > /dev/null
rss_kib=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$log")
seconds=$(awk -F': ' '/Elapsed \(wall clock\)/ { print $2 }' "$log")
partitions=$(find "$out/records" -mindepth 4 -maxdepth 4 -type d | wc -l)
objects=$(find "$out/records" -type f -name '*.gz' | wc -l)
rm -f "$log"
awk -v r="$rss_kib" -v b="$(stat -c %s "$spread")" -v h="$hours" -v p="$partitions" -v o="$objects" -v s="$seconds" 'BEGIN {
    printf "s3logs run, %.1f MB spanning %d hours: peak RSS %.1f MiB (%d hour partitions, %d objects, %s wall)\n",
        b / 1e6, h, r / 1024, p, o, s
}'
