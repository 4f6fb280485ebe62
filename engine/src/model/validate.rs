//! The checks a write or a query must pass before anything is logged: keys, vectors
//! (dimension, finite components, length) and field values against their schema. The
//! write path applies them again to records read back from the WAL.

use crate::model::codec::Record;
use crate::model::doc::Value;
use crate::model::error::{Error, Result};
use crate::model::schema::{FieldKind, Schema};

/// Longest document key, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;

pub(crate) fn validate_key(key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(Error::InvalidKey {
            reason: "a key must not be empty".to_string(),
        });
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(Error::InvalidKey {
            reason: format!(
                "the key is {} bytes; keys are at most {MAX_KEY_BYTES} bytes",
                key.len()
            ),
        });
    }
    Ok(())
}

/// The largest squared length (sum of squared components) a stored or query vector
/// may have: a quarter of `f32::MAX`. The kernels compute in f32, and between two
/// such vectors every intermediate is finite: both squared norms, the dot product
/// (at most the product of the norms) and the squared L2 distance (at most
/// `2|a|² + 2|b|²`). Larger finite components used to overflow a norm to infinity,
/// which made COSINE rank the vector first at distance 0 (FLAT), treat it as a zero
/// vector (HNSW), or return NaN.
pub const MAX_VECTOR_NORM_SQUARED: f64 = f32::MAX as f64 / 4.0;

/// Checks a vector given to a write or a query: its dimension, finite components and
/// a squared length of at most [`MAX_VECTOR_NORM_SQUARED`].
pub(crate) fn check_vector(field: &str, vector: &[f32], dim: usize) -> Result<()> {
    check_vector_shape(field, vector, dim)?;
    // In f64, where the sum of squares of finite f32 values cannot overflow.
    let norm_squared: f64 = vector.iter().map(|v| f64::from(*v).powi(2)).sum();
    if norm_squared > MAX_VECTOR_NORM_SQUARED {
        return Err(Error::InvalidArgument {
            reason: format!(
                "the vector for field `{field}` has a squared length of {norm_squared:e}, \
                 over the limit of {MAX_VECTOR_NORM_SQUARED:e} (f32::MAX / 4) past which \
                 distances overflow; scale it down (COSINE ignores the length)"
            ),
        });
    }
    Ok(())
}

/// Dimension and finite components: what a logged vector must have. The length limit
/// is not applied to the log, so a WAL written before it was introduced still opens.
fn check_vector_shape(field: &str, vector: &[f32], dim: usize) -> Result<()> {
    if vector.len() != dim {
        return Err(Error::DimensionMismatch {
            field: field.to_string(),
            expected: dim,
            found: vector.len(),
        });
    }
    if let Some((index, value)) = vector.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(Error::NonFinite {
            field: field.to_string(),
            index,
            value: *value as f64,
        });
    }
    Ok(())
}

pub(crate) fn check_value(field: &str, kind: FieldKind, value: &Value, logged: bool) -> Result<()> {
    let mismatch = || Error::FieldType {
        field: field.to_string(),
        expected: kind.name(),
        found: value.kind_name(),
    };
    match (kind, value) {
        (FieldKind::Text, Value::Text(_)) | (FieldKind::Tag(_), Value::Tag(_)) => Ok(()),
        (FieldKind::Numeric, Value::Numeric(number)) => {
            if number.is_nan() {
                return Err(Error::NonFinite {
                    field: field.to_string(),
                    index: 0,
                    value: *number,
                });
            }
            Ok(())
        }
        (FieldKind::Vector(vector), Value::Vector(components)) if logged => {
            check_vector_shape(field, components, vector.dim)
        }
        (FieldKind::Vector(vector), Value::Vector(components)) => {
            check_vector(field, components, vector.dim)
        }
        _ => Err(mismatch()),
    }
}

/// Checks a record read back from the WAL against its schema; the error describes the
/// mismatch (which means the log was not written by these rules).
pub(crate) fn check_logged_record(
    schema: &Schema,
    record: &Record,
) -> std::result::Result<(), String> {
    let mut previous: Option<u16> = None;
    for (position, value) in &record.values {
        if previous.is_some_and(|p| p >= *position) {
            return Err("record fields out of order".to_string());
        }
        previous = Some(*position);
        let field = schema
            .fields()
            .get(*position as usize)
            .ok_or_else(|| format!("field position {position} outside the schema"))?;
        check_value(&field.name, field.kind, value, true).map_err(|e| e.to_string())?;
    }
    Ok(())
}
