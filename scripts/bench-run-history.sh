#!/usr/bin/env bash
# `s3logs run` over a year of history: MB/s with one worker and with every core, and peak RSS,
# which must stay flat in the span of hours and under 64 MiB + 16 MiB per worker.
#
# The corpus comes from the deterministic generator (`corpus --span-hours`): BENCH_BYTES of log
# lines whose timestamps climb through each span in BENCH_HOURS, as a history read in name
# (so time) order. With BENCH_FILES=N the corpus is also cut into N files (at line ends), as
# S3 delivers it, and run again, parallel over inputs instead of within one.
#
# Each run audits in `run`'s default table mode, once per rule selection in BENCH_RULES
# (default: every detection, then `sigv2` alone). The table mode is what the memory goal is
# about: it keeps client groups and window counters for the whole run.
#
# The machine may be shared: the 1-minute load average is printed beside every figure, as
# the wall-clock time is only the command's when nothing else runs; the CPU time (user +
# system) and the cores it kept busy on average tell the work apart from the waiting. With
# BENCH_RUNS=N each pair of runs (one worker, all cores) is repeated N times, interleaved, so
# the two see the same load. BENCH_DIR puts the corpus
# and the output elsewhere (a tmpfs, when the disk is short of space: a 1 GB corpus and its
# ~0.4 GB of objects are needed at once).
set -euo pipefail
cd "$(dirname "$0")/.."

bytes=${BENCH_BYTES:-1000000000}
spans=${BENCH_HOURS:-8760}
files=${BENCH_FILES:-}
runs=${BENCH_RUNS:-1}
rule_sets=${BENCH_RULES:-all sigv2}
data=${BENCH_DIR:-bench-data}
cores=$(nproc)
mkdir -p "$data"

cargo build --release --quiet -p s3logs
cargo build --release --quiet -p s3-access-log --example corpus

# One run: label, input, jobs, rules; prints MB/s, peak RSS against the target, the load average.
measure() {
    local label=$1 input=$2 jobs=$3 rules=$4
    local out=$data/run-history-out log load
    rm -rf "$out"
    log=$(mktemp)
    load=$(cut -d' ' -f1 /proc/loadavg)
    /usr/bin/time -v -o "$log" ./target/release/s3logs run "$input" --out "$out" --jobs "$jobs" \
        --rules "$rules" > /dev/null 2> "$log.stderr"
    local rss_kib seconds cpu objects partitions
    rss_kib=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$log")
    cpu=$(awk -F': ' '/(User|System) time \(seconds\)/ { s += $2 } END { print s }' "$log")
    seconds=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s }' "$log")
    objects=$(find "$out/records" -type f -name '*.gz' | wc -l)
    partitions=$(find "$out/records" -mindepth 4 -maxdepth 4 -type d | wc -l)
    awk -v label="$label, --rules $rules" -v j="$jobs" -v b="$size" -v s="$seconds" -v r="$rss_kib" -v o="$objects" \
        -v p="$partitions" -v c="$cpu" -v l1="$load" -v l2="$(cut -d' ' -f1 /proc/loadavg)" 'BEGIN {
        if (s < 0.001) s = 0.001
        target = 64 + 16 * j
        printf "%-44s --jobs %-2d %6.1f MB/s  %6.2f s wall  %6.2f s CPU (%.2f cores)  peak RSS %5.1f MiB (target < %d MiB: %s)  %d hour partitions, %d objects  load %s..%s\n",
            label, j, b / s / 1e6, s, c, c / s, r / 1024, target, (r / 1024 < target ? "met" : "MISSED"), p, o, l1, l2
    }'
    rm -f "$log" "$log.stderr"
    rm -rf "$out"
}

echo "s3logs run, $cores cores ($(nproc --all) online); load average = 1-minute, before..after each run"
for hours in $spans; do
    corpus=$data/history-$bytes-$hours-hours.log
    if [[ ! -s $corpus ]]; then
        echo "generating $corpus"
        ./target/release/examples/corpus --bytes "$bytes" --span-hours "$hours" > "$corpus.tmp"
        mv "$corpus.tmp" "$corpus"
    fi
    size=$(stat -c %s "$corpus")
    # Warm the page cache so the figure is the command's, not the disk's.
    cat "$corpus" > /dev/null
    label=$(awk -v b="$size" -v h="$hours" 'BEGIN { printf "%.0f MB, %d h, one file", b / 1e6, h }')
    for ((run = 0; run < runs; run++)); do
        for rules in $rule_sets; do
            measure "$label" "$corpus" 1 "$rules"
            measure "$label" "$corpus" "$cores" "$rules"
        done
    done
    if [[ -n $files ]]; then
        split_dir=$data/history-$bytes-$hours-hours-$files-files
        if [[ ! -d $split_dir ]]; then
            mkdir -p "$split_dir.tmp"
            split -n "l/$files" -d -a 5 "$corpus" "$split_dir.tmp/part-"
            mv "$split_dir.tmp" "$split_dir"
        fi
        label=$(awk -v b="$size" -v h="$hours" -v f="$files" 'BEGIN { printf "%.0f MB, %d h, %d files", b / 1e6, h, f }')
        for ((run = 0; run < runs; run++)); do
            for rules in $rule_sets; do
                measure "$label" "$split_dir" 1 "$rules"
                measure "$label" "$split_dir" "$cores" "$rules"
            done
        done
    fi
done
