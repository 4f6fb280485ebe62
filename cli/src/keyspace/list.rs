//! Lists (`LPUSH`, `RPUSH`, `LRANGE`, `LTRIM`, `LLEN`), for the session pattern: push
//! the item viewed, trim to the last N, expire the session. No index takes a list, so
//! each lives whole in `_rest`; a write re-stores it, which suits lists kept short.

use std::sync::atomic::Ordering;
use std::time::Duration;

use strata::Doc;

use super::{fail, ttl_of, Failure, KeyKind, Keyspace, WRONGTYPE};
use crate::values::{decode_rest_value, encode_list_rest, RestValue};

/// A stored list's items and TTL.
type Stored = (Vec<Vec<u8>>, Option<Duration>);

/// Redis's inclusive `start stop` over a list of `len` items (negative counts from
/// the end) as a range of positions; empty when it selects nothing.
pub fn span(len: usize, start: i64, stop: i64) -> std::ops::Range<usize> {
    let len = len as i64;
    let start = if start < 0 { len + start } else { start }.max(0);
    let stop = if stop < 0 { len + stop } else { stop }.min(len - 1);
    if start > stop {
        return 0..0;
    }
    start as usize..stop as usize + 1
}

impl Keyspace {
    /// Pushes `values` one by one at the head (`LPUSH`) or the tail (`RPUSH`);
    /// returns the length after. With `only_existing` (`LPUSHX`) a missing key stays
    /// missing and 0 comes back.
    pub fn list_push(
        &self,
        key: &str,
        values: &[Vec<u8>],
        front: bool,
        only_existing: bool,
    ) -> Result<i64, Failure> {
        let _guard = self.writes.lock();
        let (mut items, ttl) = match self.load_list(key)? {
            Some(found) => found,
            None if only_existing => return Ok(0),
            None => (Vec::new(), None),
        };
        for value in values {
            if front {
                items.insert(0, value.clone());
            } else {
                items.push(value.clone());
            }
        }
        self.save_list(key, &items, ttl)?;
        Ok(items.len() as i64)
    }

    /// `LRANGE key start stop`.
    pub fn list_range(&self, key: &str, start: i64, stop: i64) -> Result<Vec<Vec<u8>>, Failure> {
        let items = self.load_list(key)?.map(|(i, _)| i).unwrap_or_default();
        Ok(items[span(items.len(), start, stop)].to_vec())
    }

    /// `LTRIM key start stop`: keeps only that range; a list left empty is deleted.
    pub fn list_trim(&self, key: &str, start: i64, stop: i64) -> Result<(), Failure> {
        let _guard = self.writes.lock();
        let Some((items, ttl)) = self.load_list(key)? else {
            return Ok(());
        };
        let kept = span(items.len(), start, stop);
        if kept.len() == items.len() {
            return Ok(());
        }
        self.save_list(key, &items[kept], ttl)
    }

    /// `LLEN key`.
    pub fn list_len(&self, key: &str) -> Result<i64, Failure> {
        Ok(self.load_list(key)?.map_or(0, |(i, _)| i.len() as i64))
    }

    /// Pops up to `count` items from the head (`LPOP`) or the tail (`RPOP`); `None`
    /// when the key is missing. A list left empty is deleted.
    pub fn list_pop(
        &self,
        key: &str,
        front: bool,
        count: usize,
    ) -> Result<Option<Vec<Vec<u8>>>, Failure> {
        let _guard = self.writes.lock();
        let Some((mut items, ttl)) = self.load_list(key)? else {
            return Ok(None);
        };
        let n = count.min(items.len());
        let popped: Vec<Vec<u8>> = if front {
            items.drain(..n).collect()
        } else {
            items.drain(items.len() - n..).rev().collect()
        };
        if n > 0 {
            self.save_list(key, &items, ttl)?;
        }
        Ok(Some(popped))
    }

    fn load_list(&self, key: &str) -> Result<Option<Stored>, Failure> {
        if let Some(row) = self.rest.get(key).map_err(fail)? {
            return match decode_rest_value(row.get_text("h").unwrap_or("[]"))? {
                RestValue::List(items) => Ok(Some((items, ttl_of(&self.rest, key)?))),
                _ => Err(WRONGTYPE.to_string()),
            };
        }
        self.check_not_indexed_as_other(key, KeyKind::List)?;
        Ok(None)
    }

    /// Stores the list with its TTL (an upsert replaces a TTL; list writes keep it);
    /// an empty list deletes the key, as in Redis.
    fn save_list(
        &self,
        key: &str,
        items: &[Vec<u8>],
        ttl: Option<Duration>,
    ) -> Result<(), Failure> {
        if items.is_empty() {
            self.rest.delete(key).map_err(fail)?;
            return Ok(());
        }
        self.rest_used.store(true, Ordering::Relaxed);
        self.rest
            .upsert(key, Doc::new().text("h", encode_list_rest(items)))
            .map_err(fail)?;
        if let Some(ttl) = ttl {
            self.rest.expire(key, ttl).map_err(fail)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::span;

    #[test]
    fn spans_follow_redis_ranges() {
        assert_eq!(span(5, 0, -1), 0..5);
        assert_eq!(span(5, -2, -1), 3..5);
        assert_eq!(span(5, 1, 100), 1..5);
        assert_eq!(span(5, -100, 1), 0..2);
        assert_eq!(span(5, 3, 1), 0..0);
        assert_eq!(span(5, 7, 9), 0..0);
        assert_eq!(span(0, 0, -1), 0..0);
    }
}
