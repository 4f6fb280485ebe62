//! The HNSW file: written once by [`HnswGraph::write_to`], then searched in place
//! (through mmap) by [`HnswView`].
//!
//! # Byte layout (format versions 1 and 2)
//!
//! Version 2 is version 1 plus 8-bit codes of the rows (see `sq8.rs`): each node's
//! code follows its level-0 list in one 64-byte-aligned record, so the lines that
//! bring a node's code to the distance kernel bring its list for the hop after, and
//! a quantiser section holds the per-dimension `min` and `scale`. A graph without
//! codes is written as version 1, which both versions' readers read.
//!
//! All integers little-endian. The file is a 128-byte header followed by five
//! sections; each section starts at the next multiple of 64 bytes after the previous
//! one ends (zero padding between), so a section's words are 4-byte aligned whenever
//! the file bytes are, and the level-0 lists sit on cache-line boundaries when the
//! mapping is page aligned. The file ends exactly where the last section ends.
//!
//! | offset | size | field |
//! |-------:|-----:|-------|
//! | 0      | 8    | magic `STRHNSW\0` |
//! | 8      | 4    | format version (1) |
//! | 12     | 4    | header length (128) |
//! | 16     | 4    | `n`: rows (nodes); ids are `0..n` |
//! | 20     | 4    | `dim`: floats per row of the vectors the graph was built over |
//! | 24     | 4    | metric: 1 = COSINE, 2 = L2, 3 = IP |
//! | 28     | 4    | `M` (upper-level list capacity) |
//! | 32     | 4    | `M0` (level-0 list capacity; 2*M) |
//! | 36     | 4    | EF_CONSTRUCTION used to build |
//! | 40     | 8    | seed of the level draw |
//! | 48     | 4    | entry point id (`u32::MAX` when `n == 0`) |
//! | 52     | 4    | max level (the entry point's level), at most 32 |
//! | 56     | 4    | `u`: number of nodes with level > 0 |
//! | 60     | 4    | codes: 0 = none (version 1), 1 = SQ8 (version 2) |
//! | 64     | 8    | `L`: words in the upper-links section (at most `u32::MAX`) |
//! | 72     | 8    | file length in bytes |
//! | 80     | 4    | body CRC32 (bytes 128 .. file length, padding included) |
//! | 84     | 40   | reserved, 0 |
//! | 124    | 4    | header CRC32 (bytes 0 .. 124) |
//!
//! Sections, in order:
//!
//! 1. **level 0**: `n` records of `R` bytes. Node `i`'s record starts at byte
//!    `i*R` of the section: a u32 count `c <= M0`, then `M0` u32 slots of which the
//!    first `c` are neighbour ids (the rest 0). Version 1: `R = 4*(1+M0)`.
//!    Version 2: then the node's `dim` code bytes, then zeros up to `R =
//!    4*(1+M0) + dim` rounded up to a multiple of 64. Fixed size, so a node's list
//!    is one multiply away and a hop reads a few consecutive cache lines.
//! 2. **inverse norms**: `n` f32, `1/|v_i|` (0 for a zero row), COSINE only; empty
//!    for L2 and IP. Version 2 follows it with the **quantiser**, a section of
//!    `dim` f32 `min`, then `dim` f32 `scale`: component `d` of a row is about
//!    `min[d] + scale[d] * code[d]` (COSINE: of the row scaled to unit norm); finite,
//!    `scale >= 0` (checked by `verify`).
//! 3. **upper nodes**: `u` u32, the ids with level > 0, strictly ascending (looked
//!    up by binary search; upper levels are visited a few times per query).
//! 4. **upper offsets**: `u + 1` u32 word offsets into section 5; the first is 0, the
//!    last is `L`. Upper node `j` with level `l` owns words
//!    `[off[j], off[j+1])` = `l` blocks of `1 + M` words (count `<= M`, then `M` id
//!    slots), for levels 1, 2, .., l.
//! 5. **upper links**: `L` u32.
//!
//! [`HnswView::open`] checks the header (magic, version, CRC, ranges) and that the
//! section sizes it implies add up to the byte length: O(1), the body is not read.
//! The search checks every id against `n` and clamps every count, so a damaged body
//! gives at worst wrong results, never a panic or an out-of-bounds read.
//! [`HnswView::verify`] reads everything: the body CRC and every structural rule
//! above.

use std::borrow::Cow;
use std::fmt;
use std::io::{self, Write};

use super::build::MAX_LEVEL;
use super::search::GraphRef;
use super::sq8::{CodesRef, Sq8Codes};
use super::{HnswGraph, HnswIndex, HnswParams, Meta};
use crate::distance::Metric;

/// First eight bytes of every HNSW file.
pub const MAGIC: [u8; 8] = *b"STRHNSW\0";
/// The newest format version this code writes and reads (2: with 8-bit codes).
pub const FORMAT_VERSION: u32 = 2;
/// The version of a graph without codes, still written for one and read.
pub const FORMAT_VERSION_PLAIN: u32 = 1;
/// Bytes of the header.
pub const HEADER_LEN: usize = 128;

/// Why bytes are not a usable HNSW file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HnswFormatError {
    /// Fewer bytes than the header or the header's sizes require.
    TooShort {
        /// Bytes given.
        len: usize,
        /// Bytes needed.
        need: u64,
    },
    /// Not an HNSW file.
    BadMagic,
    /// Written by a format version this code does not read.
    UnsupportedVersion(u32),
    /// The header's CRC does not match.
    HeaderChecksum,
    /// A header field is out of range or inconsistent: which one.
    BadHeader(&'static str),
    /// The byte length differs from what the header describes.
    SizeMismatch {
        /// Length the header implies.
        expected: u64,
        /// Length given.
        actual: usize,
    },
    /// The body's CRC does not match (found by [`HnswView::verify`]).
    BodyChecksum,
    /// A structural rule of the body is broken (found by [`HnswView::verify`]).
    BadGraph {
        /// Which rule.
        what: &'static str,
        /// The node (or index) where it was found.
        at: u64,
    },
}

impl fmt::Display for HnswFormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HnswFormatError::TooShort { len, need } => {
                write!(f, "HNSW file too short: {len} bytes, need {need}")
            }
            HnswFormatError::BadMagic => write!(f, "not an HNSW file (bad magic)"),
            HnswFormatError::UnsupportedVersion(v) => {
                write!(f, "unsupported HNSW format version {v}")
            }
            HnswFormatError::HeaderChecksum => write!(f, "HNSW header checksum mismatch"),
            HnswFormatError::BadHeader(what) => write!(f, "bad HNSW header: {what}"),
            HnswFormatError::SizeMismatch { expected, actual } => {
                write!(
                    f,
                    "HNSW file is {actual} bytes, header describes {expected}"
                )
            }
            HnswFormatError::BodyChecksum => write!(f, "HNSW body checksum mismatch"),
            HnswFormatError::BadGraph { what, at } => {
                write!(f, "corrupt HNSW graph at {at}: {what}")
            }
        }
    }
}

impl std::error::Error for HnswFormatError {}

fn metric_code(metric: Metric) -> u32 {
    match metric {
        Metric::Cosine => 1,
        Metric::L2 => 2,
        Metric::InnerProduct => 3,
    }
}

/// Byte ranges of the sections, derived from the header fields alone.
#[derive(Clone, Copy, Debug)]
struct Layout {
    level0: (u64, u64),
    /// Bytes per level-0 record.
    record: u64,
    norms: (u64, u64),
    quantiser: (u64, u64),
    upper_nodes: (u64, u64),
    upper_offsets: (u64, u64),
    upper_links: (u64, u64),
}

impl Layout {
    fn new(meta: &Meta, upper_count: u64, links_len: u64, codes: bool) -> Option<Layout> {
        let n = meta.n as u64;
        let list = 4 * (meta.m0 as u64 + 1);
        let record = if codes {
            list.checked_add(meta.dim as u64)?
                .checked_next_multiple_of(64)?
        } else {
            list
        };
        let mut end = HEADER_LEN as u64;
        let mut section = |bytes: u64| -> Option<(u64, u64)> {
            let start = end.checked_next_multiple_of(64)?;
            end = start.checked_add(bytes)?;
            Some((start, end))
        };
        let level0 = section(n.checked_mul(record)?)?;
        let norms = section(if meta.metric == Metric::Cosine {
            4 * n
        } else {
            0
        })?;
        let quantiser = section(if codes { 8 * meta.dim as u64 } else { 0 })?;
        let upper_nodes = section(4 * upper_count)?;
        let upper_offsets = section(4 * (upper_count + 1))?;
        let upper_links = section(links_len.checked_mul(4)?)?;
        Some(Layout {
            level0,
            record,
            norms,
            quantiser,
            upper_nodes,
            upper_offsets,
            upper_links,
        })
    }

    fn file_len(&self) -> u64 {
        self.upper_links.1
    }
}

fn put_u32(buf: &mut [u8], at: usize, v: u32) {
    buf[at..at + 4].copy_from_slice(&v.to_le_bytes());
}
fn put_u64(buf: &mut [u8], at: usize, v: u64) {
    buf[at..at + 8].copy_from_slice(&v.to_le_bytes());
}
fn get_u32(buf: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&buf[at..at + 4]);
    u32::from_le_bytes(b)
}
fn get_u64(buf: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&buf[at..at + 8]);
    u64::from_le_bytes(b)
}

/// Writes `words` little-endian.
fn put_words<W: Write>(w: &mut W, words: &[u32]) -> io::Result<()> {
    if cfg!(target_endian = "little") {
        w.write_all(bytemuck::cast_slice(words))
    } else {
        let bytes: Vec<u8> = words.iter().flat_map(|v| v.to_le_bytes()).collect();
        w.write_all(&bytes)
    }
}

/// A `Write` that only feeds a CRC, to checksum the body before the header is out.
struct CrcSink(crc32fast::Hasher);
impl Write for CrcSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl HnswGraph {
    fn layout(&self) -> Option<Layout> {
        Layout::new(
            &self.meta,
            self.upper_nodes.len() as u64,
            self.upper_links.len() as u64,
            self.sq8.is_some(),
        )
    }

    /// Size of the serialised graph in bytes.
    pub fn serialized_len(&self) -> u64 {
        self.layout().map_or(0, |l| l.file_len())
    }

    fn write_body<W: Write>(&self, w: &mut W, layout: &Layout) -> io::Result<()> {
        let norm_words: &[u32] = bytemuck::cast_slice(&self.inv_norms);
        let quantiser: Vec<u32> = self.sq8.as_ref().map_or_else(Vec::new, |c| {
            c.min.iter().chain(&c.scale).map(|x| x.to_bits()).collect()
        });
        let sections: [(&[u32], (u64, u64)); 6] = [
            (&self.level0, layout.level0),
            (norm_words, layout.norms),
            (&quantiser, layout.quantiser),
            (&self.upper_nodes, layout.upper_nodes),
            (&self.upper_offsets, layout.upper_offsets),
            (&self.upper_links, layout.upper_links),
        ];
        let mut pos = HEADER_LEN as u64;
        for (i, (words, (start, end))) in sections.into_iter().enumerate() {
            w.write_all(&[0u8; 64][..(start - pos) as usize])?;
            match &self.sq8 {
                Some(codes) if i == 0 => self.write_records(w, &codes.codes, layout.record)?,
                _ => put_words(w, words)?,
            }
            pos = end;
        }
        Ok(())
    }

    /// The level-0 section of version 2: per node its list, its code, zeros.
    fn write_records<W: Write>(&self, w: &mut W, codes: &[u8], record: u64) -> io::Result<()> {
        let words = self.meta.m0 as usize + 1;
        let dim = self.meta.dim as usize;
        let mut buf = vec![0u8; record as usize];
        for (list, code) in self.level0.chunks_exact(words).zip(codes.chunks_exact(dim)) {
            for (slot, word) in buf.chunks_exact_mut(4).zip(list) {
                slot.copy_from_slice(&word.to_le_bytes());
            }
            buf[4 * words..4 * words + dim].copy_from_slice(code);
            w.write_all(&buf)?;
        }
        Ok(())
    }

    /// Writes the graph in the format above.
    pub fn write_to<W: Write>(&self, mut w: W) -> io::Result<()> {
        let layout = self
            .layout()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "HNSW graph too large"))?;
        let mut crc = CrcSink(crc32fast::Hasher::new());
        self.write_body(&mut crc, &layout)?;
        let meta = &self.meta;
        let mut h = [0u8; HEADER_LEN];
        h[0..8].copy_from_slice(&MAGIC);
        let (version, codes) = match self.sq8 {
            Some(_) => (FORMAT_VERSION, 1),
            None => (FORMAT_VERSION_PLAIN, 0),
        };
        put_u32(&mut h, 8, version);
        put_u32(&mut h, 12, HEADER_LEN as u32);
        put_u32(&mut h, 16, meta.n);
        put_u32(&mut h, 20, meta.dim);
        put_u32(&mut h, 24, metric_code(meta.metric));
        put_u32(&mut h, 28, meta.m);
        put_u32(&mut h, 32, meta.m0);
        put_u32(&mut h, 36, meta.ef_construction);
        put_u64(&mut h, 40, meta.seed);
        put_u32(&mut h, 48, meta.entry);
        put_u32(&mut h, 52, meta.max_level);
        put_u32(&mut h, 56, self.upper_nodes.len() as u32);
        put_u32(&mut h, 60, codes);
        put_u64(&mut h, 64, self.upper_links.len() as u64);
        put_u64(&mut h, 72, layout.file_len());
        put_u32(&mut h, 80, crc.0.finalize());
        let header_crc = crc32fast::hash(&h[..124]);
        put_u32(&mut h, 124, header_crc);
        w.write_all(&h)?;
        self.write_body(&mut w, &layout)
    }

    /// The serialised graph.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.serialized_len() as usize);
        self.write_to(&mut out)
            .expect("writing to a Vec cannot fail");
        out
    }
}

/// The words of a section: borrowed when the bytes are 4-byte aligned on a
/// little-endian machine (the normal, mmap case), decoded into a copy otherwise.
fn words(bytes: &[u8]) -> Cow<'_, [u32]> {
    #[cfg(target_endian = "little")]
    if let Ok(words) = bytemuck::try_cast_slice(bytes) {
        return Cow::Borrowed(words);
    }
    Cow::Owned(
        bytes
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    )
}

fn floats(bytes: &[u8]) -> Cow<'_, [f32]> {
    #[cfg(target_endian = "little")]
    if let Ok(floats) = bytemuck::try_cast_slice(bytes) {
        return Cow::Borrowed(floats);
    }
    Cow::Owned(
        bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    )
}

/// An HNSW graph searched straight from its file bytes (typically an mmap).
#[derive(Clone, Debug)]
pub struct HnswView<'a> {
    meta: Meta,
    body: &'a [u8],
    body_crc: u32,
    level0: Cow<'a, [u32]>,
    inv_norms: Cow<'a, [f32]>,
    upper_nodes: Cow<'a, [u32]>,
    upper_offsets: Cow<'a, [u32]>,
    upper_links: Cow<'a, [u32]>,
    /// Words per level-0 record.
    l0_stride: usize,
    /// Version 2: the level-0 section's bytes (codes inside) and the quantiser.
    codes: Option<(&'a [u8], Cow<'a, [f32]>)>,
}

fn bad(what: &'static str) -> HnswFormatError {
    HnswFormatError::BadHeader(what)
}

impl HnswIndex for HnswView<'_> {
    fn graph_ref(&self) -> GraphRef<'_> {
        GraphRef {
            meta: self.meta,
            level0: &self.level0,
            inv_norms: &self.inv_norms,
            upper_nodes: &self.upper_nodes,
            upper_offsets: &self.upper_offsets,
            upper_links: &self.upper_links,
            l0_stride: self.l0_stride,
            codes: self.codes.as_ref().map(|(bytes, quantiser)| {
                let dim = self.meta.dim as usize;
                CodesRef {
                    bytes,
                    stride: self.l0_stride * 4,
                    offset: 4 * (self.meta.m0 as usize + 1),
                    dim,
                    min: &quantiser[..dim],
                    scale: &quantiser[dim..],
                }
            }),
        }
    }
}

impl<'a> HnswView<'a> {
    /// Checks the header and the sizes (not the body) and borrows the sections.
    pub fn open(bytes: &'a [u8]) -> Result<HnswView<'a>, HnswFormatError> {
        if bytes.len() < HEADER_LEN {
            return Err(HnswFormatError::TooShort {
                len: bytes.len(),
                need: HEADER_LEN as u64,
            });
        }
        let h = &bytes[..HEADER_LEN];
        if h[0..8] != MAGIC {
            return Err(HnswFormatError::BadMagic);
        }
        let version = get_u32(h, 8);
        if version != FORMAT_VERSION && version != FORMAT_VERSION_PLAIN {
            return Err(HnswFormatError::UnsupportedVersion(version));
        }
        if crc32fast::hash(&h[..124]) != get_u32(h, 124) {
            return Err(HnswFormatError::HeaderChecksum);
        }
        if get_u32(h, 12) != HEADER_LEN as u32 {
            return Err(bad("header length"));
        }
        let metric = match get_u32(h, 24) {
            1 => Metric::Cosine,
            2 => Metric::L2,
            3 => Metric::InnerProduct,
            _ => return Err(bad("metric")),
        };
        let meta = Meta {
            n: get_u32(h, 16),
            dim: get_u32(h, 20),
            metric,
            m: get_u32(h, 28),
            m0: get_u32(h, 32),
            ef_construction: get_u32(h, 36),
            seed: get_u64(h, 40),
            entry: get_u32(h, 48),
            max_level: get_u32(h, 52),
        };
        let upper_count = get_u32(h, 56);
        let codes = match (version, get_u32(h, 60)) {
            (FORMAT_VERSION_PLAIN, 0) => false,
            (FORMAT_VERSION, 1) => true,
            _ => return Err(bad("code kind")),
        };
        let links_len = get_u64(h, 64);
        let file_len = get_u64(h, 72);
        let max_m = HnswParams::MAX_M as u32;
        if meta.m < 2 || meta.m > max_m || meta.m0 < 1 || meta.m0 > 2 * max_m {
            return Err(bad("M / M0"));
        }
        if meta.dim == 0 {
            return Err(bad("dim"));
        }
        if meta.max_level > MAX_LEVEL {
            return Err(bad("max level"));
        }
        if meta.n == u32::MAX || upper_count > meta.n || links_len > u32::MAX as u64 {
            return Err(bad("counts"));
        }
        let empty_ok = meta.entry == u32::MAX && meta.max_level == 0 && upper_count == 0;
        if (meta.n == 0 && !empty_ok) || (meta.n > 0 && meta.entry >= meta.n) {
            return Err(bad("entry point"));
        }
        if (meta.max_level > 0) != (upper_count > 0) {
            return Err(bad("max level vs upper nodes"));
        }
        let layout = Layout::new(&meta, upper_count as u64, links_len, codes)
            .ok_or(bad("sizes overflow"))?;
        if layout.file_len() != file_len {
            return Err(bad("file length"));
        }
        if (bytes.len() as u64) < file_len {
            return Err(HnswFormatError::TooShort {
                len: bytes.len(),
                need: file_len,
            });
        }
        if bytes.len() as u64 != file_len {
            return Err(HnswFormatError::SizeMismatch {
                expected: file_len,
                actual: bytes.len(),
            });
        }
        let section = |(start, end): (u64, u64)| &bytes[start as usize..end as usize];
        Ok(HnswView {
            meta,
            body: &bytes[HEADER_LEN..],
            body_crc: get_u32(h, 80),
            level0: words(section(layout.level0)),
            l0_stride: layout.record as usize / 4,
            codes: codes.then(|| (section(layout.level0), floats(section(layout.quantiser)))),
            inv_norms: floats(section(layout.norms)),
            upper_nodes: words(section(layout.upper_nodes)),
            upper_offsets: words(section(layout.upper_offsets)),
            upper_links: words(section(layout.upper_links)),
        })
    }

    /// An owned copy (e.g. to keep after the mapping is gone).
    pub fn to_graph(&self) -> HnswGraph {
        let words = self.meta.m0 as usize + 1;
        let g = self.graph_ref();
        HnswGraph {
            meta: self.meta,
            level0: self
                .level0
                .chunks_exact(self.l0_stride)
                .flat_map(|record| &record[..words])
                .copied()
                .collect(),
            sq8: g.codes.map(|c| Sq8Codes {
                min: c.min.to_vec(),
                scale: c.scale.to_vec(),
                codes: (0..self.meta.n)
                    .flat_map(|id| {
                        let at = id as usize * c.stride + c.offset;
                        &c.bytes[at..at + c.dim]
                    })
                    .copied()
                    .collect(),
            }),
            inv_norms: self.inv_norms.to_vec(),
            upper_nodes: self.upper_nodes.to_vec(),
            upper_offsets: self.upper_offsets.to_vec(),
            upper_links: self.upper_links.to_vec(),
        }
    }

    /// Full check: the body CRC, then every rule of the layout (counts within
    /// capacity, ids below `n`, upper nodes ascending, offsets consistent, upper links
    /// pointing at nodes that have that level, the entry point on the top level).
    /// O(file size); meant for open-time paranoia, scrubbing and tests.
    pub fn verify(&self) -> Result<(), HnswFormatError> {
        if crc32fast::hash(self.body) != self.body_crc {
            return Err(HnswFormatError::BodyChecksum);
        }
        let g = self.graph_ref();
        let (n, m, m0) = (self.meta.n, self.meta.m as usize, self.meta.m0 as usize);
        let graph_err = |what, at: u64| HnswFormatError::BadGraph { what, at };
        if let Some(c) = g.codes {
            let bad_step = |s: &f32| !s.is_finite() || *s < 0.0;
            if c.min.iter().any(|m| !m.is_finite()) || c.scale.iter().any(bad_step) {
                return Err(graph_err("quantiser not finite or negative", 0));
            }
        }
        for (node, block) in self.level0.chunks_exact(self.l0_stride).enumerate() {
            let count = block[0] as usize;
            if count > m0 {
                return Err(graph_err("level-0 count above M0", node as u64));
            }
            if block[1..1 + count].iter().any(|&id| id >= n) {
                return Err(graph_err("level-0 neighbour id out of range", node as u64));
            }
        }
        if self.upper_nodes.windows(2).any(|w| w[0] >= w[1])
            || self.upper_nodes.last().is_some_and(|&l| l >= n)
        {
            return Err(graph_err("upper nodes not ascending ids below n", 0));
        }
        let offsets = &self.upper_offsets;
        if offsets.first() != Some(&0)
            || offsets.last().map(|&l| l as usize) != Some(self.upper_links.len())
        {
            return Err(graph_err("upper offsets do not span the links", 0));
        }
        // Levels first (checked), so the link check below can look any node's up.
        for (slot, pair) in offsets.windows(2).enumerate() {
            let words = pair[1]
                .checked_sub(pair[0])
                .ok_or(graph_err("upper offsets decrease", slot as u64))?;
            let level = words as usize / (m + 1);
            if !(words as usize).is_multiple_of(m + 1)
                || level == 0
                || level > self.meta.max_level as usize
            {
                return Err(graph_err("upper node's level out of range", slot as u64));
            }
        }
        let level_of = |slot: usize| (offsets[slot + 1] - offsets[slot]) as usize / (m + 1);
        let mut top = 0;
        for (slot, pair) in offsets.windows(2).enumerate() {
            let level = level_of(slot);
            top = top.max(level);
            let node = self.upper_nodes[slot];
            for lv in 1..=level as u32 {
                let list = g
                    .list(node, lv)
                    .ok_or(graph_err("upper list missing", node as u64))?;
                let start = pair[0] as usize + (lv as usize - 1) * (m + 1);
                if self.upper_links[start] as usize > m {
                    return Err(graph_err("upper count above M", node as u64));
                }
                for &id in list {
                    let ok = self
                        .upper_nodes
                        .binary_search(&id)
                        .is_ok_and(|s| level_of(s) >= lv as usize);
                    if !ok {
                        return Err(graph_err(
                            "upper link to a node without that level",
                            node as u64,
                        ));
                    }
                }
            }
        }
        if n > 0 {
            let entry_level = self
                .upper_nodes
                .binary_search(&self.meta.entry)
                .map_or(0, level_of);
            if top != self.meta.max_level as usize || entry_level != top {
                return Err(graph_err(
                    "entry point is not on the top level",
                    self.meta.entry as u64,
                ));
            }
        }
        Ok(())
    }
}
