//! A structural index of one log line: where its spaces are, one bit per byte, and what the
//! JSON writer needs to know about its bytes, all found in one pass over the line.
//!
//! The parser (`parse.rs`) finds the end of each of a line's thirty-odd tokens through this
//! index instead of searching the line anew for each: a search call per token cost its call and
//! a hard-to-predict exit, where the next set bit of a mask word is a `trailing_zeros`. The
//! record writer (`json.rs`) takes from the same pass whether the line holds bytes to escape and
//! how many quotes it holds, which was a second pass over the line of its own. Quotes are still
//! searched for: only the three quoted fields look for them, and over long distances, where a
//! search is cheap.
//!
//! The pass looks at 64 bytes at a time with no early exit. Each byte lane keeps its own flag
//! and quote count, and the 0-or-1 bytes of the space compare are gathered into mask bits by a
//! multiplication per 8 bytes, which the compiler turns into a few vector and multiply
//! instructions per block. Plain Rust, so it stays correct on any target.

/// Bytes per mask word.
const BLOCK: usize = 64;

/// Bytes per byte lane set: flags and quote counts are kept for 32 lanes, each block adding
/// its two halves to them.
const LANES: usize = 32;

/// Blocks whose quotes the byte lanes count before they are added up: each adds at most 2 to a
/// lane, which holds up to 255.
const BLOCKS_PER_COUNT: usize = 127;

/// The index of one line: see the module docs.
#[derive(Clone, Debug, Default)]
pub(crate) struct LineIndex {
    /// For each 64 bytes of the line, in order, the mask of its spaces: bit `i` of a word is
    /// the block's byte `i`. Bytes past the end of the line are not spaces.
    spaces: Vec<u64>,
    /// Whether the line holds a byte that is not plain ASCII text: see [`is_special`].
    special: bool,
    /// How many quotes the line holds.
    quotes: usize,
}

impl LineIndex {
    /// The index of `line`.
    pub(crate) fn of(line: &[u8]) -> LineIndex {
        let mut index = LineIndex::default();
        index.rebuild(line);
        index
    }

    /// Indexes `line`, reusing the memory of the line indexed before: the record writer indexes
    /// every line it writes.
    pub(crate) fn rebuild(&mut self, line: &[u8]) {
        self.spaces.clear();
        let (blocks, rest) = line.as_chunks::<BLOCK>();
        let mut special = [0; LANES];
        let mut quotes = 0;
        for group in blocks.chunks(BLOCKS_PER_COUNT) {
            let mut counts = [0; LANES];
            // Extended by the group at once: one capacity check, not one per block.
            let masks = group
                .iter()
                .map(|block| scan(block, 0, &mut special, &mut counts));
            self.spaces.extend(masks);
            quotes += sum_bytes(&counts);
        }
        if !rest.is_empty() {
            let mut counts = [0; LANES];
            let spaces = match line.last_chunk::<BLOCK>() {
                // The line's last 64 bytes, whose first ones were looked at already: their
                // quotes are not counted again and their bits are shifted out, so that bit 0 is
                // the first byte of the rest. A copy of the rest into a block of its own would
                // cost a call to `memcpy`.
                Some(last) => {
                    let scanned = BLOCK - rest.len();
                    scan(last, scanned, &mut special, &mut counts) >> scanned
                }
                // Shorter than a block: copied into a block of a byte that is nothing special.
                None => {
                    let mut last = [b'x'; BLOCK];
                    last[..rest.len()].copy_from_slice(rest);
                    scan(&last, 0, &mut special, &mut counts)
                }
            };
            self.spaces.push(spaces);
            quotes += sum_bytes(&counts);
        }
        self.special = special != [0; LANES];
        self.quotes = quotes;
    }

    /// Whether the line holds a control character, a backslash or a byte of a multi-byte
    /// character.
    pub(crate) fn has_special(&self) -> bool {
        self.special
    }

    /// How many quotes the line holds.
    pub(crate) fn quotes(&self) -> usize {
        self.quotes
    }

    /// The first space at or after `from`.
    ///
    /// The space is looked for in the rest of `from`'s word and in the next word at once, the
    /// word it is in picked without a branch: a token crosses into the next word about one time
    /// in three, unpredictably (the 76-byte Host Id always). Only a token longer than 64 bytes
    /// can end past the next word and take the loop.
    #[inline]
    pub(crate) fn next_space(&self, from: usize) -> Option<usize> {
        let mut block = from / BLOCK;
        let offset = from % BLOCK;
        let here = self.spaces.get(block)? >> offset;
        let next = self.spaces.get(block + 1).copied().unwrap_or(0);
        // 64 past the start of the next word when it holds no space.
        let in_next = BLOCK - offset + next.trailing_zeros() as usize;
        let found = if here != 0 {
            here.trailing_zeros() as usize
        } else {
            in_next
        };
        if found < 2 * BLOCK - offset {
            return Some(from + found);
        }
        block += 2;
        loop {
            let word = *self.spaces.get(block)?;
            if word != 0 {
                return Some(block * BLOCK + word.trailing_zeros() as usize);
            }
            block += 1;
        }
    }
}

/// Looks at a block: sets the flag of each byte lane that holds a special byte (to 0xff, the
/// compare's own result, where a `bool` lane would be cut back to 0 or 1 at each block), counts
/// the quotes of the bytes from `from` on, and returns the mask of the block's spaces.
#[inline(always)]
fn scan(block: &[u8; BLOCK], from: usize, special: &mut [u8; LANES], counts: &mut [u8; LANES]) -> u64 {
    let (halves, _) = block.as_chunks::<LANES>();
    for (half, offset) in halves.iter().zip([0, LANES]) {
        let lanes = special.iter_mut().zip(counts.iter_mut()).zip(half).enumerate();
        for (lane, ((flag, count), &byte)) in lanes {
            *flag |= 0u8.wrapping_sub(u8::from(is_special(byte)));
            *count += u8::from(byte == b'"') & u8::from(offset + lane >= from);
        }
    }
    let spaces = block.map(|byte| u8::from(byte == b' '));
    let (words, _) = spaces.as_chunks::<8>();
    words
        .iter()
        .rev()
        .fold(0, |mask, word| (mask << 8) | gather(word))
}

/// Bit `i` of the result is the low bit of byte `i` of `bytes`, which are all 0 or 1.
///
/// The multiplier holds `2^(7 - j)` in its byte `j`, so that byte `i`'s bit lands on bit
/// `56 + i` of the product; no two of the 64 partial products share a bit, so none carries
/// into the top byte.
#[inline(always)]
fn gather(bytes: &[u8; 8]) -> u64 {
    u64::from_le_bytes(*bytes).wrapping_mul(0x0102_0408_1020_4080) >> 56
}

/// The sum of 32 byte counters, added as 16-bit lanes of four words: no lane can overflow
/// (4 words of 2 bytes of at most 255 each, then 4 lanes), and no byte is added up alone.
fn sum_bytes(counts: &[u8; LANES]) -> usize {
    const LOW_BYTES: u64 = 0x00ff_00ff_00ff_00ff;
    let (words, _) = counts.as_chunks::<8>();
    let lanes: u64 = words
        .iter()
        .map(|word| {
            let word = u64::from_le_bytes(*word);
            (word & LOW_BYTES) + ((word >> 8) & LOW_BYTES)
        })
        .sum();
    // Multiplying by four ones adds the four 16-bit lanes into the top one.
    usize::from((lanes.wrapping_mul(0x0001_0001_0001_0001) >> 48) as u16)
}

/// A control character, a backslash or a byte of a multi-byte character: what the record
/// writer must look at before it copies a value as it is.
#[inline(always)]
fn is_special(byte: u8) -> bool {
    (byte < 0x20) | (byte == b'\\') | (byte >= 0x80)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// What the index must say, found one byte at a time.
    fn naive_next(line: &[u8], byte: u8, from: usize) -> Option<usize> {
        (from..line.len()).find(|&at| line[at] == byte)
    }

    /// Checks every search from every place of `line` against the byte loop.
    fn check(line: &[u8]) {
        let index = LineIndex::of(line);
        let shown = String::from_utf8_lossy(line);
        for from in 0..=line.len() + BLOCK {
            assert_eq!(
                index.next_space(from),
                naive_next(line, b' ', from),
                "{from} {shown}"
            );
        }
        assert_eq!(
            index.quotes(),
            line.iter().filter(|&&b| b == b'"').count(),
            "{shown}"
        );
        assert_eq!(
            index.has_special(),
            line.iter().any(|&b| is_special(b)),
            "{shown}"
        );
    }

    /// Every length around the block size, with a space, a quote or a special byte at its
    /// first byte, its last and a block boundary, among lookalikes of them.
    #[test]
    fn indexes_every_length() {
        let fillers: [u8; 4] = [b'a', b'!', b'#', 0xa0];
        for len in [0, 1, 2, 7, 8, 9, 63, 64, 65, 127, 128, 129, 200] {
            for filler in fillers {
                let clean = vec![filler; len];
                check(&clean);
                for at in [0, len / 2, 63, 64, len.saturating_sub(1)] {
                    for byte in [b' ', b'"', b'\\', b'\t', 0xff] {
                        if at < len {
                            let mut line = clean.clone();
                            line[at] = byte;
                            check(&line);
                        }
                    }
                }
            }
        }
    }

    /// Quotes are counted exactly whatever their number and place, and one special byte
    /// anywhere is seen, in lines far longer than a block.
    #[test]
    fn counts_quotes_and_finds_special_bytes_anywhere() {
        for len in [0, 1, 63, 64, 65, 8159, 8192, 20_000] {
            let all_quotes = LineIndex::of(&vec![b'"'; len]);
            assert_eq!(
                (all_quotes.quotes(), all_quotes.has_special()),
                (len, false),
                "{len}"
            );
            let mut every_third = b"a\"b".repeat(len / 3);
            every_third.push(0x7f);
            let index = LineIndex::of(&every_third);
            assert_eq!(
                (index.quotes(), index.has_special()),
                (len / 3, false),
                "{len}: DEL is not special"
            );
            for special in [0x00, b'\t', 0x1f, b'\\', 0x80, 0xff] {
                for at in [0, len / 2, len.saturating_sub(1)]
                    .into_iter()
                    .filter(|&at| at < len)
                {
                    let mut line = vec![b'x'; len];
                    line[at] = special;
                    let index = LineIndex::of(&line);
                    assert_eq!(
                        (index.quotes(), index.has_special()),
                        (0, true),
                        "{special:#x} at {at} of {len}"
                    );
                }
            }
        }
    }

    #[test]
    fn reads_a_real_line() {
        let line = br#"owner bucket [06/Feb/2019:00:00:38 +0000] 192.0.2.3 - 3E57 REST.GET.OBJECT a.jpg "GET /a.jpg HTTP/1.1" 200 - 113 113 7 - "-" "S3Console/0.4" - id SigV4"#;
        let index = LineIndex::of(line);
        let cases: [(usize, Option<usize>); 5] = [
            (0, Some(5)),
            (5, Some(5)),
            (6, Some(12)),
            (82, Some(85)),
            (line.len() - 5, None),
        ];
        for (from, space) in cases {
            assert_eq!(index.next_space(from), space, "{from}");
        }
        assert_eq!(index.quotes(), 6);
        assert!(!index.has_special());
    }

    /// Indexing a line after another leaves nothing of the first.
    #[test]
    fn a_rebuilt_index_is_the_new_lines() {
        let mut index = LineIndex::of(&[b'"'; 300]);
        index.rebuild(b"a b\\");
        assert_eq!(
            (index.next_space(2), index.next_space(0), index.quotes()),
            (None, Some(1), 0)
        );
        assert!(index.has_special());
        index.rebuild(&[b' '; 100]);
        index.rebuild(b"");
        assert_eq!((index.next_space(0), index.quotes()), (None, 0));
        assert!(!index.has_special());
    }

    proptest! {
        #[test]
        fn agrees_with_a_byte_loop(
            line in proptest::collection::vec(
                prop_oneof![Just(b' '), Just(b'"'), Just(b'a'), any::<u8>()],
                0..300,
            )
        ) {
            check(&line);
        }
    }
}
