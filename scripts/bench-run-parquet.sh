#!/usr/bin/env bash
# `s3logs run` peak RSS in its worst case for memory: 32 hour partitions open at once, each
# receiving lines in turn, so every open Parquet object holds a row group's rows. Prints, for
# gzip and Parquet objects, one worker's CPU time, peak RSS (target: 64 MiB) and output size.
#
# The input is the plain sample logs repeated to BENCH_BYTES (256 MiB by default), the time of
# line n moved into hour n mod 32 (two days of March 2026). BENCH_DIR puts it elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."

bytes=${BENCH_BYTES:-268435456}
data=${BENCH_DIR:-bench-data}
mkdir -p "$data"
cargo build --release --quiet -p s3logs

input=$data/interleaved-32-hours.log
python3 - "$bytes" "$input" <<'PY'
import glob, re, sys
target, path = int(sys.argv[1]), sys.argv[2]
time = re.compile(r'\[\d\d/\w{3}/\d{4}:\d\d:(\d\d):(\d\d) [+-]\d{4}\]')
lines = [line for name in sorted(glob.glob('samples/*/*')) if not name.endswith('.gz')
         for line in open(name, encoding='utf-8', errors='replace') if time.search(line)]
size = n = 0
with open(path, 'w') as out:
    while size < target:
        for line in lines:
            day, hour = 1 + (n % 32) // 24, (n % 32) % 24
            line = time.sub(lambda m: f'[{day:02d}/Mar/2026:{hour:02d}:{m[1]}:{m[2]} +0000]', line, count=1)
            out.write(line)
            size += len(line)
            n += 1
PY

for format in json parquet; do
    out=$data/run-parquet-out
    rm -rf "$out"
    /usr/bin/time -f "$format: %U s user, peak RSS %M KiB" ./target/release/s3logs run "$input" \
        --out "$out" --format "$format" --jobs 1 --rules sigv2 --json 2>&1 > /dev/null | tail -1
    echo "  objects: $(du -sh "$out/records" | cut -f1)"
done
rm -rf "$data/run-parquet-out" "$input"
