//! TexMex `.fvecs` / `.ivecs` files: each row is a little-endian `i32` dimension `d`
//! followed by `d` little-endian values (`f32` or `i32`). No header; every row of a
//! file must have the same `d`.
//!
//! Files come from elsewhere, so nothing about them is trusted: a bad dimension, a row
//! whose dimension differs from the first, or a truncated last row is an error naming
//! the file, the row and the byte offset, never a panic or a silently short matrix.

use std::fs::File;
use std::io::{BufReader, BufWriter, ErrorKind, Read, Write};
use std::path::Path;

use crate::{BenchError, Result};

/// Largest dimension accepted in a file: far above any embedding, low enough that a
/// garbage header cannot make the reader reserve gigabytes for one row.
pub const MAX_FILE_DIM: usize = 1 << 20;

/// A value type of a TexMex file.
pub trait Element: Copy + Default + std::fmt::Debug {
    /// The file kind, for messages: `fvecs` or `ivecs`.
    const KIND: &'static str;
    /// Decodes one little-endian value.
    fn from_le(bytes: [u8; 4]) -> Self;
    /// Encodes one little-endian value.
    fn to_le(self) -> [u8; 4];
}

impl Element for f32 {
    const KIND: &'static str = "fvecs";
    fn from_le(bytes: [u8; 4]) -> f32 {
        f32::from_le_bytes(bytes)
    }
    fn to_le(self) -> [u8; 4] {
        self.to_le_bytes()
    }
}

impl Element for i32 {
    const KIND: &'static str = "ivecs";
    fn from_le(bytes: [u8; 4]) -> i32 {
        i32::from_le_bytes(bytes)
    }
    fn to_le(self) -> [u8; 4] {
        self.to_le_bytes()
    }
}

/// Rows of equal length, stored row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Matrix<T> {
    dim: usize,
    data: Vec<T>,
}

impl<T: Element> Matrix<T> {
    /// A matrix of `dim` columns over row-major `data`; `data.len()` must be a multiple
    /// of `dim`, and `dim` at least 1.
    pub fn new(dim: usize, data: Vec<T>) -> Result<Matrix<T>> {
        if dim == 0 || !data.len().is_multiple_of(dim) {
            return Err(BenchError::new(format!(
                "a matrix of dimension {dim} cannot hold {} values",
                data.len()
            )));
        }
        Ok(Matrix { dim, data })
    }

    /// Values per row.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.data.len() / self.dim
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Row `index`; panics past the end, like slice indexing (callers iterate `0..len`).
    pub fn row(&self, index: usize) -> &[T] {
        &self.data[index * self.dim..(index + 1) * self.dim]
    }

    /// The rows, in order.
    pub fn rows(&self) -> std::slice::ChunksExact<'_, T> {
        self.data.chunks_exact(self.dim)
    }

    /// Keeps the first `rows` rows.
    pub fn truncate(&mut self, rows: usize) {
        self.data.truncate(rows.saturating_mul(self.dim));
    }
}

/// Reads a `.fvecs` file; `limit` stops after that many rows (the rest is not read).
pub fn read_fvecs(path: &Path, limit: Option<usize>) -> Result<Matrix<f32>> {
    read(path, limit)
}

/// Reads an `.ivecs` file; `limit` stops after that many rows (the rest is not read).
pub fn read_ivecs(path: &Path, limit: Option<usize>) -> Result<Matrix<i32>> {
    read(path, limit)
}

/// Reads a TexMex file of `T` values. An empty file is an error: no data set has
/// zero rows, and the dimension would be unknown.
pub fn read<T: Element>(path: &Path, limit: Option<usize>) -> Result<Matrix<T>> {
    let shown = path.display();
    let file = File::open(path)
        .map_err(|e| BenchError::new(format!("cannot open {} file {shown}: {e}", T::KIND)))?;
    let file_len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let io_error = |e: std::io::Error| BenchError::new(format!("cannot read {shown}: {e}"));

    let mut dim = 0usize;
    let mut data: Vec<T> = Vec::new();
    let mut rows = 0usize;
    let mut offset = 0u64;
    let mut row_bytes = Vec::new();
    while limit.is_none_or(|limit| rows < limit) {
        let mut header = [0u8; 4];
        match read_full(&mut reader, &mut header).map_err(io_error)? {
            0 => break,
            4 => {}
            got => {
                return Err(BenchError::new(format!(
                    "{shown}: truncated row {rows} at byte {offset}: \
                     {got} bytes of its 4-byte dimension, then end of file"
                )))
            }
        }
        let row_dim = i32::from_le_bytes(header);
        if rows == 0 {
            dim = usize::try_from(row_dim)
                .ok()
                .filter(|d| (1..=MAX_FILE_DIM).contains(d))
                .ok_or_else(|| {
                    BenchError::new(format!(
                        "{shown}: row 0 declares dimension {row_dim}; \
                         expected 1..={MAX_FILE_DIM} (is this a {} file?)",
                        T::KIND
                    ))
                })?;
            // Reserve from the file size, so the vector is allocated once; the size
            // only bounds what is read, it is not trusted for the row count.
            let expected_rows = (file_len / (4 + 4 * dim as u64)) as usize;
            let expected_rows = limit.map_or(expected_rows, |l| l.min(expected_rows));
            data.reserve_exact(expected_rows.saturating_mul(dim));
            row_bytes = vec![0u8; 4 * dim];
        } else if usize::try_from(row_dim).ok() != Some(dim) {
            return Err(BenchError::new(format!(
                "{shown}: row {rows} at byte {offset} declares dimension {row_dim}, \
                 but row 0 declares {dim}; every row must have the same dimension"
            )));
        }
        let got = read_full(&mut reader, &mut row_bytes).map_err(io_error)?;
        if got != row_bytes.len() {
            return Err(BenchError::new(format!(
                "{shown}: truncated row {rows} at byte {offset}: \
                 {got} of its {} value bytes, then end of file",
                row_bytes.len()
            )));
        }
        data.extend(
            row_bytes
                .chunks_exact(4)
                .map(|b| T::from_le([b[0], b[1], b[2], b[3]])),
        );
        rows += 1;
        offset += 4 + row_bytes.len() as u64;
    }
    if rows == 0 {
        return Err(BenchError::new(format!("{shown}: no rows")));
    }
    Matrix::new(dim, data)
}

/// Fills `buf` as far as the input allows; returns the bytes read (short only at the
/// end of the input).
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Writes `matrix` as a TexMex file.
pub fn write<T: Element>(path: &Path, matrix: &Matrix<T>) -> Result<()> {
    let shown = path.display();
    let io_error = |e: std::io::Error| BenchError::new(format!("cannot write {shown}: {e}"));
    let dim = i32::try_from(matrix.dim())
        .map_err(|_| BenchError::new(format!("dimension {} too large", matrix.dim())))?;
    let mut out = BufWriter::new(File::create(path).map_err(io_error)?);
    for row in matrix.rows() {
        out.write_all(&dim.to_le_bytes()).map_err(io_error)?;
        for value in row {
            out.write_all(&value.to_le()).map_err(io_error)?;
        }
    }
    out.flush().map_err(io_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Matrix<f32> {
        Matrix::new(3, vec![1.0, -2.5, 0.0, 4.0, 5.0, f32::MIN_POSITIVE]).unwrap()
    }

    #[test]
    fn round_trip_through_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.fvecs");
        write(&path, &sample()).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 2 * (4 + 3 * 4));
        assert_eq!(read_fvecs(&path, None).unwrap(), sample());

        let ids = Matrix::new(2, vec![7, 0, -1, i32::MAX]).unwrap();
        let path = dir.path().join("x.ivecs");
        write(&path, &ids).unwrap();
        assert_eq!(read_ivecs(&path, None).unwrap(), ids);
    }

    #[test]
    fn limit_reads_a_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.fvecs");
        write(&path, &sample()).unwrap();
        let first = read_fvecs(&path, Some(1)).unwrap();
        assert_eq!(first.len(), 1);
        assert_eq!(first.row(0), &[1.0, -2.5, 0.0]);
        assert_eq!(read_fvecs(&path, Some(10)).unwrap().len(), 2);
    }

    fn error_of(bytes: &[u8]) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.fvecs");
        std::fs::write(&path, bytes).unwrap();
        read_fvecs(&path, None).unwrap_err().to_string()
    }

    fn row(dim: i32, values: &[f32]) -> Vec<u8> {
        let mut bytes = dim.to_le_bytes().to_vec();
        for v in values {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        bytes
    }

    #[test]
    fn truncated_rows_are_errors() {
        let mut bytes = row(2, &[1.0, 2.0]);
        bytes.extend_from_slice(&row(2, &[3.0, 4.0])[..10]);
        let message = error_of(&bytes);
        assert!(message.contains("truncated row 1 at byte 12"), "{message}");

        let mut bytes = row(2, &[1.0, 2.0]);
        bytes.extend_from_slice(&[2, 0]);
        let message = error_of(&bytes);
        assert!(message.contains("truncated row 1"), "{message}");
    }

    #[test]
    fn dimension_mismatch_is_an_error() {
        let mut bytes = row(2, &[1.0, 2.0]);
        bytes.extend_from_slice(&row(3, &[3.0, 4.0, 5.0]));
        let message = error_of(&bytes);
        assert!(
            message.contains("row 1 at byte 12 declares dimension 3"),
            "{message}"
        );
    }

    #[test]
    fn bad_headers_and_empty_files_are_errors() {
        assert!(error_of(&row(0, &[])).contains("dimension 0"));
        assert!(error_of(&row(-5, &[1.0])).contains("dimension -5"));
        // A huge declared dimension must be refused before anything is allocated.
        assert!(error_of(&row(i32::MAX, &[1.0])).contains("expected 1..="));
        assert!(error_of(&[]).contains("no rows"));
        let missing = read_fvecs(Path::new("/nonexistent/x.fvecs"), None).unwrap_err();
        assert!(missing.to_string().contains("cannot open fvecs file"));
    }

    #[test]
    fn matrix_rejects_ragged_data() {
        assert!(Matrix::new(3, vec![1.0f32; 4]).is_err());
        assert!(Matrix::<f32>::new(0, vec![]).is_err());
    }
}
