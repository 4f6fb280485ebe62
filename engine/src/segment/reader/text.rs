//! A segment's text indexes: the block-checked `text-<f>` files, or for a segment
//! written before text indexes existed, one built from the stored text on first use.

use roaring::RoaringBitmap;

use super::{Segment, TextIndex};
use crate::model::error::{Error, Result};
use crate::text::file::TextIndexView;

impl Segment {
    /// Runs `read` over the text index of the TEXT field at `position` (`None` when
    /// the field is not one): the file's bytes, each block checked on first use, or
    /// the index built from the stored text for a segment written without one.
    fn with_text<T: Default>(
        &self,
        position: u16,
        read: impl FnOnce(&TextIndexView<'_>) -> std::result::Result<T, String>,
    ) -> Result<T> {
        let Some((_, index)) = self.texts.iter().find(|(p, _)| *p == position) else {
            return Ok(T::default());
        };
        match index {
            TextIndex::File(file) => {
                let corrupt = |reason: String| -> Error { file.corrupt(0, reason).into() };
                let view = TextIndexView::open(file.all()?, self.row_count).map_err(corrupt)?;
                read(&view).map_err(corrupt)
            }
            TextIndex::Built(analyzer, built) => {
                let bytes = match built.get() {
                    Some(bytes) => bytes,
                    None => {
                        let mut texts = Vec::with_capacity(self.row_count as usize);
                        for row in 0..self.row_count {
                            texts.push(self.stored_row(row)?.values.into_iter().find_map(
                                |(field, value)| match value {
                                    crate::model::stored::StoredValue::Text(text)
                                        if field == position =>
                                    {
                                        Some(text)
                                    }
                                    _ => None,
                                },
                            ));
                        }
                        let body =
                            crate::text::file::encode(analyzer, texts.iter().map(Option::as_deref));
                        built.get_or_init(|| body)
                    }
                };
                let view = TextIndexView::open(bytes, self.row_count).map_err(|reason| {
                    Error::Corrupt {
                        file: self.dir.clone(),
                        offset: 0,
                        reason,
                    }
                })?;
                read(&view).map_err(|reason| Error::Corrupt {
                    file: self.dir.clone(),
                    offset: 0,
                    reason,
                })
            }
        }
    }

    /// Rows holding `term` in the TEXT field at `position`, with positions.
    pub fn text_postings(&self, position: u16, term: &str) -> Result<Vec<crate::text::Posting>> {
        self.with_text(position, |view| view.postings(term))
    }

    /// Rows holding a raw word `matches` accepts in the TEXT field at `position`.
    pub fn text_rows_matching(
        &self,
        position: u16,
        matches: &dyn Fn(&str) -> bool,
        stems: bool,
    ) -> Result<RoaringBitmap> {
        self.with_text(position, |view| view.rows_matching(matches, stems))
    }

    /// Rows holding the raw (unstemmed) `word` in the TEXT field at `position`.
    pub fn text_raw_postings(
        &self,
        position: u16,
        word: &str,
    ) -> Result<Vec<crate::text::Posting>> {
        self.with_text(position, |view| view.raw_postings(word))
    }

    /// The number of indexed words of `row` in the TEXT field at `position`.
    pub fn text_length(&self, position: u16, row: u32) -> Result<u32> {
        self.with_text(position, |view| view.length(row))
    }

    /// The number of indexed words of each of `rows` in the TEXT field at `position`.
    pub fn text_lengths(&self, position: u16, rows: &[u32]) -> Result<Vec<u32>> {
        self.with_text(position, |view| {
            rows.iter().map(|row| view.length(*row)).collect()
        })
    }

    /// The sum of the lengths of `rows` in the TEXT field at `position`.
    pub fn text_total_length(&self, position: u16, rows: &RoaringBitmap) -> Result<u64> {
        self.with_text(position, |view| view.total_length(rows))
    }

    /// Checks every byte of every text index.
    pub(crate) fn verify_texts(&self) -> Result<()> {
        for (position, _) in &self.texts {
            self.with_text(*position, |view| view.verify())?;
        }
        Ok(())
    }
}
