"""Rewrites the client address of every line of a raw access log as a bucket whose clients repeat.

Usage: zipf_remote_ip.py IN_LOG OUT_LOG

The generated corpus draws a fresh random address for nearly every request, the worst case for a
dictionary. Real buckets see the same clients again and again; this models that by drawing each
line's address from 20,000 addresses with Zipf weights (the k-th most frequent has weight 1/k),
with a fixed seed so the output, and the Parquet sizes measured from it, are the same every run.
Only the fifth space-separated field (remote_ip) changes; the rest of each line is kept byte for
byte, so every other column of the Parquet file is the corpus's own.
"""

import itertools
import random
import sys

ADDRESSES = 20_000
SEED = 11


def main(argv):
    source, target = argv
    rng = random.Random(SEED)
    addresses = [
        f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}".encode()
        for _ in range(ADDRESSES)
    ]
    cumulative = list(itertools.accumulate(1 / rank for rank in range(1, ADDRESSES + 1)))
    with open(source, "rb") as lines, open(target, "wb") as out:
        while batch := lines.readlines(1 << 24):
            drawn = rng.choices(addresses, cum_weights=cumulative, k=len(batch))
            for line, address in zip(batch, drawn):
                fields = line.split(b" ", 5)
                if len(fields) == 6:
                    fields[4] = address
                    line = b" ".join(fields)
                out.write(line)


if __name__ == "__main__":
    main(sys.argv[1:])
