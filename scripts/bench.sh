#!/usr/bin/env bash
# Whole-process benchmark of `s3logs parse`: MB/s, lines/s and peak RSS on a generated corpus.
#
# The corpus is generated deterministically (same bytes on every machine) from the parser's own
# renderer: a typical mix of modern and older lines, presigned URLs, lifecycle and batch records,
# quotes inside quoted fields and a few lines that do not parse.
set -euo pipefail
cd "$(dirname "$0")/.."

bytes=${BENCH_BYTES:-250000000}
data=bench-data
corpus=$data/corpus-$bytes.log
mkdir -p "$data"

cargo build --release --quiet -p s3logs --bin s3logs -p s3-access-log --example corpus
if [[ ! -s $corpus ]]; then
    echo "generating $corpus ($bytes bytes)"
    ./target/release/examples/corpus --bytes "$bytes" > "$corpus.tmp"
    mv "$corpus.tmp" "$corpus"
fi

size=$(stat -c %s "$corpus")
lines=$(wc -l < "$corpus")
# Warm the page cache so the figure is the parser's, not the disk's.
cat "$corpus" > /dev/null

measure() {
    local label=$1; shift
    local log
    log=$(mktemp)
    /usr/bin/time -f '%e %M' -o "$log" "$@" > /dev/null 2>&1
    read -r seconds rss_kib < "$log"
    rm -f "$log"
    awk -v label="$label" -v s="$seconds" -v b="$size" -v l="$lines" -v r="$rss_kib" 'BEGIN {
        if (s < 0.001) s = 0.001
        printf "%-28s %8.0f MB/s %10.0f lines/s   peak RSS %6.1f MiB   (%.1f MB, %d lines, %.2f s)\n",
            label, b / s / 1e6, l / s, r / 1024, b / 1e6, l, s
    }'
}

echo "s3logs parse, one core, output to /dev/null:"
measure "parse (plain)" taskset -c 0 ./target/release/s3logs parse --quiet "$corpus" --output /dev/null
if [[ ! -s $corpus.gz ]]; then gzip -1 -c "$corpus" > "$corpus.gz"; fi
measure "parse (gzip input)" taskset -c 0 ./target/release/s3logs parse --quiet "$corpus.gz" --output /dev/null

for extra in scripts/bench-preprocessor.sh scripts/bench-postprocessor.sh; do
    if [[ -x $extra ]]; then "$extra" "$corpus"; fi
done
