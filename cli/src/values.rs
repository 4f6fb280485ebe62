//! Hash values to and from what collections store: field values converted for their
//! index field kinds (and back, byte for byte), and the `_rest` document encoding.

use serde_json::{json, Value as Json};
use strata::{FieldKind, Value};

use crate::keyspace::{Failure, Hash};

/// A stored value as the bytes a Redis client would get back.
pub fn value_bytes(value: &Value) -> Vec<u8> {
    match value {
        Value::Text(s) | Value::Tag(s) | Value::Json(s) => s.as_bytes().to_vec(),
        Value::Numeric(x) => crate::resp::format_double(*x).into_bytes(),
        Value::Vector(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
    }
}

/// A hash field's bytes as the value its index field takes, or why not. Redis would
/// store the hash and count an indexing failure; here the write is refused.
pub fn convert(key: &str, field: &str, kind: FieldKind, bytes: &[u8]) -> Result<Value, Failure> {
    let text = || {
        std::str::from_utf8(bytes).map(str::to_string).map_err(|_| {
            format!(
                "field `{field}` of `{key}` is not UTF-8 text, which its {} index field needs",
                kind.name()
            )
        })
    };
    Ok(match kind {
        // Only a collection made through the Rust API's JSON schemas has this field;
        // its documents are JSON, not hashes.
        FieldKind::Json => {
            return Err(format!(
                "`{key}` would go to a collection of JSON documents, which takes JSON.SET, \
                 not hash fields (and strata serve has no JSON.SET yet)"
            ))
        }
        FieldKind::Text(_) => Value::Text(text()?),
        FieldKind::Tag(_) => Value::Tag(text()?),
        FieldKind::Numeric => {
            let t = text()?;
            let x: f64 = t.trim().parse().map_err(|_| {
                format!("field `{field}` of `{key}` is `{t}`, not a number, and its index field is NUMERIC")
            })?;
            Value::Numeric(x)
        }
        FieldKind::Vector(options) => {
            if bytes.len() != options.dim * 4 {
                return Err(format!(
                    "field `{field}` of `{key}` is {} bytes; its index field holds {}-dimensional FLOAT32 vectors ({} bytes)",
                    bytes.len(),
                    options.dim,
                    options.dim * 4
                ));
            }
            Value::Vector(
                bytes
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
            )
        }
    })
}

fn encode_bytes(bytes: &[u8]) -> Json {
    match std::str::from_utf8(bytes) {
        Ok(s) => Json::String(s.to_string()),
        Err(_) => json!({ "x": bytes.iter().map(|b| format!("{b:02x}")).collect::<String>() }),
    }
}

fn decode_bytes(json: &Json) -> Option<Vec<u8>> {
    match json {
        Json::String(s) => Some(s.as_bytes().to_vec()),
        Json::Object(o) => {
            let hex = o.get("x")?.as_str()?;
            (0..hex.len())
                .step_by(2)
                .map(|i| {
                    hex.get(i..i + 2)
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                })
                .collect()
        }
        _ => None,
    }
}

/// The `_rest` document: a JSON array of `[name, value]`, each a string or, for bytes
/// that are not UTF-8, `{"x": hex}`.
pub fn encode_rest(hash: &Hash) -> String {
    Json::Array(
        hash.iter()
            .map(|(n, v)| Json::Array(vec![encode_bytes(n), encode_bytes(v)]))
            .collect(),
    )
    .to_string()
}

pub fn decode_rest(text: &str) -> Result<Hash, Failure> {
    let damaged = || "a `_rest` document is damaged; restore a backup".to_string();
    let json: Json = serde_json::from_str(text).map_err(|_| damaged())?;
    json.as_array()
        .ok_or_else(damaged)?
        .iter()
        .map(|pair| {
            let name = decode_bytes(pair.get(0).ok_or_else(damaged)?).ok_or_else(damaged)?;
            let value = decode_bytes(pair.get(1).ok_or_else(damaged)?).ok_or_else(damaged)?;
            Ok((name, value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rest_encoding_round_trips_binary() {
        let hash: Hash = vec![
            (b"a".to_vec(), vec![0xff, 0, 1]),
            (b"b".to_vec(), b"text".to_vec()),
        ];
        assert_eq!(decode_rest(&encode_rest(&hash)).unwrap(), hash);
        assert!(decode_rest("{").is_err());
    }
}
