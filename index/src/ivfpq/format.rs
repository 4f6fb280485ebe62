//! The IVF-PQ file: written once by [`IvfPqIndex::write_to`], then searched in place
//! (through mmap) by [`IvfPqView`].
//!
//! # Byte layout (format version 1)
//!
//! All integers little-endian. A 128-byte header, then six sections, each starting at
//! the next multiple of 64 bytes (zero padding between); the file ends where the last
//! section ends.
//!
//! | offset | size | field |
//! |-------:|-----:|-------|
//! | 0      | 8    | magic `STRIVFPQ` |
//! | 8      | 4    | format version (1) |
//! | 12     | 4    | header length (128) |
//! | 16     | 4    | `n`: row id space; every id is below it |
//! | 20     | 4    | `dim` |
//! | 24     | 4    | metric: 1 = COSINE, 2 = L2, 3 = IP |
//! | 28     | 4    | `nlist`: coarse lists, 1..=65536 |
//! | 32     | 4    | `m`: sub-quantisers (bytes per code); divides `dim` |
//! | 36     | 4    | bits per code (8) |
//! | 40     | 8    | training seed |
//! | 48     | 4    | `e`: rows encoded, at most `n` |
//! | 52     | 4    | f32: coarse distortion of the training sample |
//! | 56     | 8    | file length in bytes |
//! | 64     | 4    | body CRC32 (bytes 128 .. file length, padding included) |
//! | 68     | 56   | reserved, 0 |
//! | 124    | 4    | header CRC32 (bytes 0 .. 124) |
//!
//! Sections:
//!
//! 1. **centroids**: `dim * nlist` f32, component-major (component `d` of every
//!    centroid, then `d + 1`); COSINE centroids are trained on unit vectors.
//! 2. **codebooks**: per sub-quantiser `j`, `(dim / m) * 256` f32, component-major:
//!    codeword `c`'s component `d` is at `j * (dim/m) * 256 + d * 256 + c`.
//! 3. **offsets**: `nlist + 1` u32; list `l` holds entries `offsets[l]..offsets[l+1]`;
//!    the first is 0, the last `e`, never decreasing.
//! 4. **ids**: `e` u32 row ids, grouped by list, ascending within a list, each row at
//!    most once.
//! 5. **terms**: L2 only, `e` f32 (`|r|² + 2<c, r>` of each entry's decoded residual
//!    `r` and centroid `c`); empty for COSINE and IP.
//! 6. **codes**: `e * m` bytes, entry order.
//!
//! [`IvfPqView::open`] checks the header (magic, version, CRC, ranges) and that the
//! sizes add up to the byte length: O(1); [`IvfPqHeader::read`] does the same from the
//! header's bytes alone. A search skips a list whose offsets are out of range, and the
//! caller's re-ranking skips an id past its vectors, so damage yields wrong results at
//! worst, never a panic; [`IvfPqView::verify`] checks the body CRC and every rule. (The
//! engine keeps the file block-checked, so damage at rest never reaches a search.)

use std::borrow::Cow;
use std::fmt;
use std::io::{self, Write};

use super::search::IvfPqRef;
use super::{IvfPqIndex, IvfPqParams, Meta, KSUB};
use crate::distance::Metric;

/// First eight bytes of every IVF-PQ file.
pub const MAGIC: [u8; 8] = *b"STRIVFPQ";
/// The format version this code writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// Bytes of the header.
pub const HEADER_LEN: usize = 128;

/// Why bytes are not a usable IVF-PQ file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IvfPqFormatError {
    /// Fewer bytes than the header needs.
    TooShort {
        /// Bytes given.
        len: usize,
        /// Bytes needed.
        need: u64,
    },
    /// Not an IVF-PQ file.
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
    /// The body's CRC does not match (found by [`IvfPqView::verify`]).
    BodyChecksum,
    /// A structural rule of the body is broken (found by [`IvfPqView::verify`]).
    BadBody {
        /// Which rule.
        what: &'static str,
        /// The list or entry where it was found.
        at: u64,
    },
}

impl fmt::Display for IvfPqFormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IvfPqFormatError::TooShort { len, need } => {
                write!(f, "IVF-PQ file too short: {len} bytes, need {need}")
            }
            IvfPqFormatError::BadMagic => write!(f, "not an IVF-PQ file (bad magic)"),
            IvfPqFormatError::UnsupportedVersion(v) => {
                write!(f, "unsupported IVF-PQ format version {v}")
            }
            IvfPqFormatError::HeaderChecksum => write!(f, "IVF-PQ header checksum mismatch"),
            IvfPqFormatError::BadHeader(what) => write!(f, "bad IVF-PQ header: {what}"),
            IvfPqFormatError::SizeMismatch { expected, actual } => {
                write!(
                    f,
                    "IVF-PQ file is {actual} bytes, header describes {expected}"
                )
            }
            IvfPqFormatError::BodyChecksum => write!(f, "IVF-PQ body checksum mismatch"),
            IvfPqFormatError::BadBody { what, at } => {
                write!(f, "corrupt IVF-PQ index at {at}: {what}")
            }
        }
    }
}

impl std::error::Error for IvfPqFormatError {}

fn metric_code(metric: Metric) -> u32 {
    match metric {
        Metric::Cosine => 1,
        Metric::L2 => 2,
        Metric::InnerProduct => 3,
    }
}

/// Byte ranges of the six sections, from the header fields alone.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Layout {
    centroids: (u64, u64),
    codebooks: (u64, u64),
    offsets: (u64, u64),
    ids: (u64, u64),
    terms: (u64, u64),
    codes: (u64, u64),
}

impl Layout {
    fn new(meta: &Meta) -> Option<Layout> {
        let (dim, nlist, m, e) = (
            meta.dim as u64,
            meta.nlist as u64,
            meta.m as u64,
            meta.encoded as u64,
        );
        let mut end = HEADER_LEN as u64;
        let mut section = |bytes: u64| -> Option<(u64, u64)> {
            let start = end.checked_next_multiple_of(64)?;
            end = start.checked_add(bytes)?;
            Some((start, end))
        };
        let centroids = section(dim.checked_mul(nlist)?.checked_mul(4)?)?;
        let codebooks = section(dim.checked_mul(KSUB as u64 * 4)?)?;
        let offsets = section((nlist + 1) * 4)?;
        let ids = section(e * 4)?;
        let terms = section(if meta.metric == Metric::L2 { e * 4 } else { 0 })?;
        let codes = section(e.checked_mul(m)?)?;
        Some(Layout {
            centroids,
            codebooks,
            offsets,
            ids,
            terms,
            codes,
        })
    }

    fn file_len(&self) -> u64 {
        self.codes.1
    }
}

fn put_u32(buf: &mut [u8], at: usize, v: u32) {
    buf[at..at + 4].copy_from_slice(&v.to_le_bytes());
}
fn put_u64(buf: &mut [u8], at: usize, v: u64) {
    buf[at..at + 8].copy_from_slice(&v.to_le_bytes());
}
fn get_u32(buf: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]])
}
fn get_u64(buf: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&buf[at..at + 8]);
    u64::from_le_bytes(b)
}

fn le_bytes<T: bytemuck::Pod>(values: &[T]) -> Cow<'_, [u8]> {
    if cfg!(target_endian = "little") {
        Cow::Borrowed(bytemuck::cast_slice(values))
    } else {
        // Every section is made of 4-byte words.
        Cow::Owned(
            bytemuck::cast_slice::<T, [u8; 4]>(values)
                .iter()
                .flat_map(|w| [w[3], w[2], w[1], w[0]])
                .collect(),
        )
    }
}

/// A section's bytes and its byte range in the file.
type Section<'a> = (Cow<'a, [u8]>, (u64, u64));

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

impl IvfPqIndex {
    fn write_body<W: Write>(&self, w: &mut W, layout: &Layout) -> io::Result<()> {
        let sections: [Section<'_>; 6] = [
            (le_bytes(&self.centroids), layout.centroids),
            (le_bytes(&self.codebooks), layout.codebooks),
            (le_bytes(&self.offsets), layout.offsets),
            (le_bytes(&self.ids), layout.ids),
            (le_bytes(&self.terms), layout.terms),
            (Cow::Borrowed(&self.codes[..]), layout.codes),
        ];
        let mut pos = HEADER_LEN as u64;
        for (bytes, (start, _)) in sections {
            w.write_all(&[0u8; 64][..(start - pos) as usize])?;
            w.write_all(&bytes)?;
            pos = start + bytes.len() as u64;
        }
        Ok(())
    }

    /// Writes the index in the format above.
    pub fn write_to<W: Write>(&self, mut w: W) -> io::Result<()> {
        let layout = Layout::new(&self.meta)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "IVF-PQ index too large"))?;
        let mut crc = CrcSink(crc32fast::Hasher::new());
        self.write_body(&mut crc, &layout)?;
        let meta = &self.meta;
        let mut h = [0u8; HEADER_LEN];
        h[0..8].copy_from_slice(&MAGIC);
        put_u32(&mut h, 8, FORMAT_VERSION);
        put_u32(&mut h, 12, HEADER_LEN as u32);
        put_u32(&mut h, 16, meta.n);
        put_u32(&mut h, 20, meta.dim);
        put_u32(&mut h, 24, metric_code(meta.metric));
        put_u32(&mut h, 28, meta.nlist);
        put_u32(&mut h, 32, meta.m);
        put_u32(&mut h, 36, 8);
        put_u64(&mut h, 40, meta.seed);
        put_u32(&mut h, 48, meta.encoded);
        put_u32(&mut h, 52, meta.distortion.to_bits());
        put_u64(&mut h, 56, layout.file_len());
        put_u32(&mut h, 64, crc.0.finalize());
        let header_crc = crc32fast::hash(&h[..124]);
        put_u32(&mut h, 124, header_crc);
        w.write_all(&h)?;
        self.write_body(&mut w, &layout)
    }

    /// The serialised index.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_to(&mut out)
            .expect("writing to a Vec cannot fail");
        out
    }
}

/// The 4-byte words of a section: borrowed when aligned on a little-endian machine
/// (the mmap case), decoded into a copy otherwise.
fn words<T: bytemuck::Pod>(bytes: &[u8]) -> Cow<'_, [T]> {
    #[cfg(target_endian = "little")]
    if let Ok(words) = bytemuck::try_cast_slice(bytes) {
        return Cow::Borrowed(words);
    }
    Cow::Owned(
        bytes
            .chunks_exact(4)
            .map(|c| bytemuck::cast(u32::from_le_bytes([c[0], c[1], c[2], c[3]])))
            .collect(),
    )
}

/// An IVF-PQ index searched straight from its file bytes (typically an mmap).
#[derive(Clone, Debug)]
pub struct IvfPqView<'a> {
    meta: Meta,
    body: &'a [u8],
    body_crc: u32,
    centroids: Cow<'a, [f32]>,
    codebooks: Cow<'a, [f32]>,
    offsets: Cow<'a, [u32]>,
    ids: Cow<'a, [u32]>,
    terms: Cow<'a, [f32]>,
    codes: &'a [u8],
}

fn bad(what: &'static str) -> IvfPqFormatError {
    IvfPqFormatError::BadHeader(what)
}

/// What an IVF-PQ file's header says, checked: read by [`IvfPqHeader::read`] from the
/// first [`HEADER_LEN`] bytes and the file's length alone, so a caller that checks
/// bytes before trusting them (block by block) needs only the first block at open.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IvfPqHeader {
    meta: Meta,
    layout: Layout,
    body_crc: u32,
}

impl IvfPqHeader {
    /// Checks the header (magic, version, CRC, ranges) and that the sizes it implies
    /// add up to `file_len`. Reads `header` only, which holds at least the first
    /// [`HEADER_LEN`] bytes of the file (more are ignored).
    pub fn read(header: &[u8], file_len: usize) -> Result<IvfPqHeader, IvfPqFormatError> {
        if header.len() < HEADER_LEN || file_len < HEADER_LEN {
            return Err(IvfPqFormatError::TooShort {
                len: file_len.min(header.len()),
                need: HEADER_LEN as u64,
            });
        }
        let h = &header[..HEADER_LEN];
        if h[0..8] != MAGIC {
            return Err(IvfPqFormatError::BadMagic);
        }
        let version = get_u32(h, 8);
        if version != FORMAT_VERSION {
            return Err(IvfPqFormatError::UnsupportedVersion(version));
        }
        if crc32fast::hash(&h[..124]) != get_u32(h, 124) {
            return Err(IvfPqFormatError::HeaderChecksum);
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
            nlist: get_u32(h, 28),
            m: get_u32(h, 32),
            seed: get_u64(h, 40),
            encoded: get_u32(h, 48),
            distortion: f32::from_bits(get_u32(h, 52)),
        };
        if meta.dim == 0 || meta.m == 0 || meta.m as usize > IvfPqParams::MAX_M {
            return Err(bad("dim / M"));
        }
        if !meta.dim.is_multiple_of(meta.m) {
            return Err(bad("M does not divide dim"));
        }
        if meta.nlist == 0 || meta.nlist as usize > IvfPqParams::MAX_NLIST {
            return Err(bad("nlist"));
        }
        if get_u32(h, 36) != 8 {
            return Err(bad("bits per code"));
        }
        if meta.encoded > meta.n || meta.n == u32::MAX {
            return Err(bad("counts"));
        }
        let layout = Layout::new(&meta).ok_or(bad("sizes overflow"))?;
        let recorded_len = get_u64(h, 56);
        if layout.file_len() != recorded_len {
            return Err(bad("file length"));
        }
        if file_len as u64 != recorded_len {
            return Err(IvfPqFormatError::SizeMismatch {
                expected: recorded_len,
                actual: file_len,
            });
        }
        Ok(IvfPqHeader {
            meta,
            layout,
            body_crc: get_u32(h, 64),
        })
    }

    /// Rows of the id space (every id is below it).
    pub fn len(&self) -> usize {
        self.meta.n as usize
    }

    /// Whether the id space is empty.
    pub fn is_empty(&self) -> bool {
        self.meta.n == 0
    }

    /// Floats per vector.
    pub fn dim(&self) -> usize {
        self.meta.dim as usize
    }

    /// The metric the index was trained for.
    pub fn metric(&self) -> Metric {
        self.meta.metric
    }

    /// Coarse lists trained.
    pub fn nlist(&self) -> usize {
        self.meta.nlist as usize
    }
}

impl<'a> IvfPqView<'a> {
    /// Checks the header and the sizes (not the body) and borrows the sections.
    pub fn open(bytes: &'a [u8]) -> Result<IvfPqView<'a>, IvfPqFormatError> {
        let IvfPqHeader {
            meta,
            layout,
            body_crc,
        } = IvfPqHeader::read(bytes, bytes.len())?;
        let section = |(start, end): (u64, u64)| &bytes[start as usize..end as usize];
        Ok(IvfPqView {
            meta,
            body: &bytes[HEADER_LEN..],
            body_crc,
            centroids: words(section(layout.centroids)),
            codebooks: words(section(layout.codebooks)),
            offsets: words(section(layout.offsets)),
            ids: words(section(layout.ids)),
            terms: words(section(layout.terms)),
            codes: section(layout.codes),
        })
    }

    /// The borrowed form searches run on.
    pub fn as_ref(&self) -> IvfPqRef<'_> {
        IvfPqRef {
            meta: self.meta,
            centroids: &self.centroids,
            codebooks: &self.codebooks,
            offsets: &self.offsets,
            ids: &self.ids,
            terms: &self.terms,
            codes: self.codes,
        }
    }

    /// Full check: the body CRC, then every rule of the layout (offsets from 0 to
    /// `e` never decreasing, ids below `n`, ascending within a list and each at most
    /// once, every float finite). O(file size).
    pub fn verify(&self) -> Result<(), IvfPqFormatError> {
        if crc32fast::hash(self.body) != self.body_crc {
            return Err(IvfPqFormatError::BodyChecksum);
        }
        let body_err = |what, at: usize| IvfPqFormatError::BadBody {
            what,
            at: at as u64,
        };
        let offsets = &self.offsets;
        if offsets.first() != Some(&0) || offsets.last() != Some(&self.meta.encoded) {
            return Err(body_err("list offsets do not span the entries", 0));
        }
        if let Some(list) = offsets.windows(2).position(|w| w[0] > w[1]) {
            return Err(body_err("list offsets decrease", list));
        }
        let mut seen = roaring::RoaringBitmap::new();
        for (list, range) in offsets.windows(2).enumerate() {
            let ids = &self.ids[range[0] as usize..range[1] as usize];
            if ids.windows(2).any(|w| w[0] >= w[1]) {
                return Err(body_err("ids not ascending within a list", list));
            }
            for &id in ids {
                if id >= self.meta.n || !seen.insert(id) {
                    return Err(body_err("id out of range or listed twice", list));
                }
            }
        }
        for (what, values) in [
            ("centroid not finite", &self.centroids),
            ("codeword not finite", &self.codebooks),
            ("correction term not finite", &self.terms),
        ] {
            if let Some(at) = values.iter().position(|v| !v.is_finite()) {
                return Err(body_err(what, at));
            }
        }
        Ok(())
    }
}
