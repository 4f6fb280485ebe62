//! What changed about a sealed segment's rows after it was written: deletions (from
//! deletes, and from upserts that moved a key to newer data) and TTL changes. Kept in
//! memory, persisted as the segment's `state-<version>` file at each flush, and named
//! by version in the manifest.

use std::collections::BTreeMap;

use roaring::RoaringBitmap;

use crate::model::codec::{put_u32, put_u64, Reader};
use crate::segment::Segment;

/// Deletions and deadline changes of one segment's rows.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Overlay {
    pub deleted: RoaringBitmap,
    /// Deadlines set after the segment was written: `Some(ms)`, or `None` for PERSIST.
    pub deadlines: BTreeMap<u32, Option<u64>>,
}

impl Overlay {
    /// The deadline in force for `row` of a segment.
    pub fn deadline(&self, segment: &Segment, row: u32) -> Option<u64> {
        self.deadline_over(row, segment.deadline(row))
    }

    /// The deadline in force for `row`, whose source gave it `base`.
    pub fn deadline_over(&self, row: u32, base: Option<u64>) -> Option<u64> {
        match self.deadlines.get(&row) {
            Some(changed) => *changed,
            None => base,
        }
    }

    /// Marks `row` deleted; a deleted row has no deadline to keep.
    pub fn delete(&mut self, row: u32) {
        self.deleted.insert(row);
        self.deadlines.remove(&row);
    }

    /// Whether `row` is neither deleted nor expired at `now_ms`.
    pub fn is_live(&self, segment: &Segment, row: u32, now_ms: u64) -> bool {
        !self.deleted.contains(row)
            && self
                .deadline(segment, row)
                .is_none_or(|deadline| deadline > now_ms)
    }

    /// Rows that are not live at `now_ms` (deleted or expired).
    pub fn dead_rows(&self, segment: &Segment, now_ms: u64) -> RoaringBitmap {
        let mut dead = self.deleted.clone();
        for row in segment.expired_by(now_ms) {
            if !self.deadlines.contains_key(&row) {
                dead.insert(row);
            }
        }
        for (row, deadline) in &self.deadlines {
            if deadline.is_some_and(|deadline| deadline <= now_ms) {
                dead.insert(*row);
            }
        }
        dead
    }

    /// `u32 len ‖ roaring deletions ‖ u64 count ‖ count × (u32 row, u32 has, u64 deadline)`
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut deleted = self.deleted.clone();
        deleted.optimize();
        put_u32(&mut out, deleted.serialized_size() as u32);
        deleted
            .serialize_into(&mut out)
            .expect("writing to a Vec cannot fail");
        put_u64(&mut out, self.deadlines.len() as u64);
        for (row, deadline) in &self.deadlines {
            put_u32(&mut out, *row);
            put_u32(&mut out, deadline.is_some() as u32);
            put_u64(&mut out, deadline.unwrap_or(0));
        }
        out
    }

    /// Decodes a state file body of a segment of `row_count` rows.
    pub fn decode(body: &[u8], row_count: u32) -> Result<Overlay, String> {
        let mut reader = Reader::new(body);
        let len = reader.u32()? as usize;
        let deleted = RoaringBitmap::deserialize_from(reader.take(len)?)
            .map_err(|e| format!("bad deletion bitmap: {e}"))?;
        if deleted.max().is_some_and(|max| max >= row_count) {
            return Err("deletion bitmap names rows past the end".into());
        }
        let count = reader.u64()?;
        let mut deadlines = BTreeMap::new();
        for _ in 0..count {
            let row = reader.u32()?;
            let has = reader.u32()?;
            let deadline = reader.u64()?;
            if row >= row_count || has > 1 {
                return Err(format!("bad deadline entry for row {row}"));
            }
            deadlines.insert(row, (has == 1).then_some(deadline));
        }
        if reader.remaining() != 0 {
            return Err("trailing bytes".into());
        }
        Ok(Overlay { deleted, deadlines })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlays_round_trip_and_are_bounds_checked() {
        let mut overlay = Overlay::default();
        overlay.deleted.insert(3);
        overlay.deleted.insert(9);
        overlay.deadlines.insert(4, Some(1_000));
        overlay.deadlines.insert(5, None);
        let bytes = overlay.encode();
        assert_eq!(Overlay::decode(&bytes, 10).unwrap(), overlay);
        assert!(
            Overlay::decode(&bytes, 9).is_err(),
            "row 9 is past a 9-row segment"
        );
        for len in 0..bytes.len() {
            assert!(Overlay::decode(&bytes[..len], 10).is_err());
        }
    }
}
