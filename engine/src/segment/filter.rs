//! The key filter of a segment (`keyfilter` file): a blocked Bloom filter over the
//! segment's keys, so that looking up a key a segment does not hold rarely touches its
//! key file.
//!
//! Why: every upsert must find the key's older row, if any, to mark it deleted (the
//! one-live-row invariant of `tables.rs`). A new key is absent from every segment,
//! and without a filter proving that costs a binary search per segment: ~17 probes of
//! the key file per 100,000-row segment, each a bounds-checked string compare. On a
//! million-row ingest into ten segments that was a third of the ingest time. LSM
//! stores answer the same question the same way (RocksDB's per-file Bloom filters).
//!
//! ```text
//! u32 probes (k) ‖ u32 0 ‖ u64 blocks ‖ pad to 64 ‖ blocks × 64-byte block (512 bits)
//! ```
//!
//! A key sets `k` bits in one block (one cache line): the block from the high half of
//! the key's 64-bit hash, the bits from 9-bit slices of a second hash. With 10 bits
//! per key and `k` = 7 about 1% of absent keys still need the binary search. The hash
//! is defined here, not taken from a crate, because it is part of the file format.
//!
//! A filter never answers "absent" for a key it was built with. Its file is
//! block-checked: the reader checks the header at open and each 64 KiB block of the
//! file the first time a lookup touches it, so a damaged filter is an error, never a
//! wrong "absent"; `verify` checks that it admits every key of the segment.

/// Filter bits per key: ~1% false positives at a cost of 1.25 bytes per row.
const BITS_PER_KEY: usize = 10;
/// Bits set per key. At most 7: each takes 9 bits of one 64-bit hash.
const PROBES: u32 = 7;
const BLOCK_BYTES: usize = 64;
const BLOCK_BITS: u64 = (BLOCK_BYTES * 8) as u64;
const HEADER_BYTES: usize = 64;

/// A filter body admitting `keys` (`count` of them).
pub(crate) fn encode<'a>(keys: impl Iterator<Item = &'a [u8]>, count: usize) -> Vec<u8> {
    let blocks = (count * BITS_PER_KEY).div_ceil(BLOCK_BITS as usize).max(1);
    let mut out = vec![0u8; HEADER_BYTES + blocks * BLOCK_BYTES];
    out[0..4].copy_from_slice(&PROBES.to_le_bytes());
    out[8..16].copy_from_slice(&(blocks as u64).to_le_bytes());
    for key in keys {
        let (block, bits) = locate(key, blocks as u64, PROBES);
        let block = &mut out[HEADER_BYTES + block * BLOCK_BYTES..][..BLOCK_BYTES];
        for bit in bits {
            block[bit / 8] |= 1 << (bit % 8);
        }
    }
    out
}

/// Bytes of the header a lookup reads (the rest of the header is padding).
pub(crate) const HEADER_READ: usize = 16;

/// Checks a filter body's header against the body's length; the reason if it does not
/// fit. `header` is at least the first [`HEADER_READ`] bytes of the body.
pub(crate) fn check_header(header: &[u8], body_len: usize) -> Result<(), String> {
    let probes = read_u32(header, 0).ok_or("header cut short")?;
    let blocks = read_u64(header, 8).ok_or("header cut short")?;
    if !(1..=PROBES).contains(&probes) {
        return Err(format!("{probes} probes per key; 1 to {PROBES} are valid"));
    }
    let expected = usize::try_from(blocks)
        .ok()
        .filter(|blocks| *blocks > 0)
        .and_then(|blocks| blocks.checked_mul(BLOCK_BYTES))
        .and_then(|bytes| bytes.checked_add(HEADER_BYTES));
    if expected != Some(body_len) {
        return Err(format!(
            "{blocks} blocks do not fit a body of {body_len} bytes"
        ));
    }
    Ok(())
}

/// Checks a whole filter body's header against its length.
#[cfg(test)]
pub(crate) fn check(body: &[u8]) -> Result<(), String> {
    check_header(body, body.len())
}

/// Where a key's bits lie: the byte range of its block in the body, and the bits.
pub(crate) struct Probe {
    pub block: std::ops::Range<usize>,
    bits: [u16; PROBES as usize],
    probes: usize,
}

impl Probe {
    /// Whether the block's bytes (`body[self.block]`) admit the key. False means absent.
    pub fn admits(&self, block: &[u8]) -> bool {
        block.len() == BLOCK_BYTES
            && self.bits[..self.probes]
                .iter()
                .all(|&bit| block[bit as usize / 8] & (1 << (bit % 8)) != 0)
    }
}

/// The probe of `key` in a filter whose body starts with `header` and is `body_len`
/// bytes long; `None` when the header does not fit the length (a damaged filter
/// admits everything: it costs speed, never rows).
pub(crate) fn probe(header: &[u8], body_len: usize, key: &[u8]) -> Option<Probe> {
    check_header(header, body_len).ok()?;
    let probes = read_u32(header, 0)?;
    let blocks = (body_len - HEADER_BYTES) / BLOCK_BYTES;
    let (block, offsets) = locate(key, blocks as u64, probes);
    let mut bits = [0u16; PROBES as usize];
    for (slot, offset) in bits.iter_mut().zip(offsets) {
        *slot = offset as u16;
    }
    let start = HEADER_BYTES + block * BLOCK_BYTES;
    Some(Probe {
        block: start..start + BLOCK_BYTES,
        bits,
        probes: probes as usize,
    })
}

/// Whether `key` may be in the set the filter was built from. False means absent.
/// A body that fails [`check_header`] admits everything. (The reader probes through
/// its block checks instead: [`probe`], then [`Probe::admits`].)
#[cfg(test)]
pub(crate) fn may_contain(body: &[u8], key: &[u8]) -> bool {
    match probe(body, body.len(), key) {
        None => true,
        Some(probe) => body
            .get(probe.block.clone())
            .is_none_or(|block| probe.admits(block)),
    }
}

/// The block of `key` and the bit offsets inside it.
fn locate(key: &[u8], blocks: u64, probes: u32) -> (usize, impl Iterator<Item = usize>) {
    let hash = hash(key);
    // Multiply-shift maps the high 32 bits onto 0..blocks without a division.
    let block = (((hash >> 32) * blocks) >> 32) as usize;
    let bits = mix(hash ^ 0x2545_F491_4F6C_DD1D);
    let offsets = (0..probes).map(move |i| ((bits >> (9 * i)) % BLOCK_BITS) as usize);
    (block, offsets)
}

/// A 64-bit hash of `key`, 8 bytes at a time, each step through [`mix`]. Part of the
/// file format: changing it makes every written filter wrong.
fn hash(key: &[u8]) -> u64 {
    let mut state = 0x9E37_79B9_7F4A_7C15 ^ key.len() as u64;
    let mut chunks = key.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        state = mix(state ^ u64::from_le_bytes(word));
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        let mut word = [0u8; 8];
        word[..tail.len()].copy_from_slice(tail);
        state = mix(state ^ u64::from_le_bytes(word));
    }
    mix(state)
}

/// The SplitMix64 finaliser: a bijection on u64 whose every output bit depends on
/// every input bit.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn read_u64(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

// The header fills one cache line, so blocks start cache-line aligned in the
// page-aligned map and a lookup touches one line of the body.
const _: () = assert!(HEADER_BYTES.is_multiple_of(BLOCK_BYTES) && HEADER_BYTES >= 16);

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(range: std::ops::Range<u32>) -> Vec<String> {
        range.map(|i| format!("doc:{i}")).collect()
    }

    #[test]
    fn admits_every_key_and_few_others() {
        let present = keys(0..10_000);
        let body = encode(present.iter().map(|k| k.as_bytes()), present.len());
        check(&body).unwrap();
        assert!(present.iter().all(|k| may_contain(&body, k.as_bytes())));
        let absent = keys(10_000..110_000);
        let false_positives = absent
            .iter()
            .filter(|k| may_contain(&body, k.as_bytes()))
            .count();
        // ~1% expected; 2% leaves room for the blocked layout's uneven loads.
        assert!(false_positives < 2_000, "{false_positives} false positives");
    }

    #[test]
    fn empty_and_tiny_sets() {
        let body = encode(std::iter::empty(), 0);
        check(&body).unwrap();
        assert!(!may_contain(&body, b"anything"));
        let body = encode(
            [b"".as_slice(), b"a", b"a long key of 23 bytes."].into_iter(),
            3,
        );
        for key in [b"".as_slice(), b"a", b"a long key of 23 bytes."] {
            assert!(may_contain(&body, key));
        }
    }

    #[test]
    fn damage_is_detected_and_admits_everything() {
        let body = encode([b"k".as_slice()].into_iter(), 1);
        assert!(check(&body[..body.len() - 1]).is_err());
        assert!(check(&body[..10]).is_err());
        let mut bad = body.clone();
        bad[0] = 9;
        assert!(check(&bad).is_err());
        assert!(may_contain(&bad, b"not there"));
        let mut bad = body;
        bad[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(check(&bad).is_err());
    }

    #[test]
    fn the_hash_is_stable() {
        // Written filters depend on these values: a change here breaks the format.
        // (Checked against an independent re-implementation of the description above.)
        assert_eq!(hash(b""), 0xe220_a839_7b1d_cdaf);
        assert_eq!(hash(b"doc:123456789"), 0x0593_34d3_9faf_e813);
        assert_eq!(hash(b"doc:1"), hash(b"doc:1"));
        assert_ne!(hash(b"doc:1"), hash(b"doc:2"));
    }
}
