//! `Segment::verify`: every byte of every file, checksums, cross-references and the
//! HNSW graphs' reachability, as `Database::verify` and compaction ask for.

use super::*;

impl Segment {
    /// Reads every byte of every file and checks its checksum, the key order and every
    /// document archive.
    pub fn verify(&self) -> Result<u64> {
        let mut bytes = 0u64;
        for record in &self.files {
            let kind = FileKind::from_file_name(&record.name).ok_or_else(|| Error::Corrupt {
                file: self.dir.join(&record.name),
                offset: 0,
                reason: "unknown segment file".into(),
            })?;
            let path = self.dir.join(&record.name);
            let (file, version) = kind.open(self.fs.as_ref(), &path)?;
            bytes += file.body().len() as u64;
            if kind.is_blocked() && version == kind.version() {
                BlockedFile::from_sealed(file)?.verify()?;
            } else {
                file.verify()?;
            }
        }
        let mut previous: Option<&str> = None;
        let n = self.row_count as usize;
        let sorted_at = 8 + 8 * (n + 1);
        for index in 0..n {
            let row = self.sorted_row(index)?;
            let key = self.key(row)?;
            if previous.is_some_and(|p| p >= key) {
                return Err(self
                    .keys
                    .corrupt(sorted_at as u64, "keys are not in strictly ascending order")
                    .into());
            }
            previous = Some(key);
            if !self.filter_admits(key)? {
                let filter = self.filter.as_ref().expect("only a filter rejects keys");
                return Err(filter
                    .corrupt(0, format!("the key filter rejects the key of row {row}"))
                    .into());
            }
        }
        for row in 0..self.row_count {
            self.stored_row(row)?;
        }
        for column in &self.columns {
            if let Some(file) = &column.graph {
                let view = HnswView::open(file.all()?)
                    .and_then(|view| view.verify().map(|()| view))
                    .map_err(|e| file.corrupt(0, e.to_string()))?;
                // A row no walk can reach is never found by a graph search: as good
                // as lost for k-NN, so it is damage even though every byte checks.
                let unreachable = view.graph_ref().unreachable_nodes(Some(&column.present));
                if let Some(&row) = unreachable.first() {
                    return Err(file
                        .corrupt(
                            0,
                            format!(
                                "{} rows (the first is row {row}) cannot be reached from \
                                 the HNSW entry point, so searches miss them; to rebuild \
                                 the graph, re-upsert one document of the collection and \
                                 run Database::compact, or restore a backup",
                                unreachable.len()
                            ),
                        )
                        .into());
                }
            }
            if let Some(file) = &column.ivfpq {
                file.verify(&column.present)?;
            }
        }
        for (position, file) in &self.field_indexes {
            let is_tags = self
                .files
                .iter()
                .any(|f| f.name == FileKind::Tags(*position).file_name());
            let checked = if is_tags {
                TagIndexView::open(file.all()?).and_then(|view| view.verify(self.row_count))
            } else {
                NumericIndexView::open(file.all()?).and_then(|view| view.verify(self.row_count))
            };
            checked.map_err(|e| file.corrupt(0, e.to_string()))?;
        }
        self.verify_texts()?;
        for column in &self.columns {
            if column
                .present
                .max()
                .is_some_and(|max| max >= self.row_count)
            {
                return Err(Error::Corrupt {
                    file: self.dir.join("rows"),
                    offset: 0,
                    reason: "presence bitmap names rows past the end".into(),
                });
            }
        }
        Ok(bytes)
    }
}
