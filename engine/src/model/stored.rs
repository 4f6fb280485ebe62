//! The archived form of a row's non-vector values in a segment's `docs` file, read
//! back with rkyv's validation (no unchecked access to bytes from disk).

use crate::model::doc::Value;

/// A non-vector value as stored in a segment.
#[derive(Clone, Debug, PartialEq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub(crate) enum StoredValue {
    Text(String),
    Tag(String),
    Numeric(f64),
}

impl StoredValue {
    pub fn into_value(self) -> Value {
        match self {
            StoredValue::Text(text) => Value::Text(text),
            StoredValue::Tag(text) => Value::Tag(text),
            StoredValue::Numeric(number) => Value::Numeric(number),
        }
    }
}

/// A row's non-vector values by schema position, ascending.
#[derive(Clone, Debug, PartialEq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub(crate) struct StoredRow {
    pub values: Vec<(u16, StoredValue)>,
}

/// Validates and decodes one archived row.
pub(crate) fn decode_row(bytes: &[u8]) -> Result<StoredRow, String> {
    let archived = rkyv::access::<ArchivedStoredRow, rkyv::rancor::Error>(bytes)
        .map_err(|e| format!("invalid document archive: {e}"))?;
    rkyv::deserialize::<StoredRow, rkyv::rancor::Error>(archived)
        .map_err(|e| format!("undecodable document archive: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip_and_garbage_is_refused() {
        let row = StoredRow {
            values: vec![
                (0, StoredValue::Text("hello".into())),
                (2, StoredValue::Numeric(2.5)),
                (3, StoredValue::Tag("a,b".into())),
            ],
        };
        let bytes = rkyv::to_bytes::<rkyv::rancor::Error>(&row).unwrap();
        assert_eq!(decode_row(&bytes).unwrap(), row);
        let mut damaged = bytes.to_vec();
        let last = damaged.len() - 1;
        damaged[last] = 0xff;
        damaged[last - 4] = 0x7f;
        let _ = decode_row(&damaged); // must not panic, whatever it says
        assert!(decode_row(&bytes[..bytes.len() / 2]).is_err());
    }
}
