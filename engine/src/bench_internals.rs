//! Internals reachable from the micro benches in `benches/` (feature `bench-internals`),
//! so that costs below the public API are measured on the real code. Not part of the
//! API: hidden, and absent from normal builds.

use crate::model::codec::Record;
use crate::model::doc::Value;
use crate::model::schema::{Metric, Schema, VectorIndex};
use crate::write::live_memtable::LiveMemtable;

/// A [`LiveMemtable`] over [`bench_schema`].
#[derive(Debug)]
pub struct LiveMemtableBench {
    memtable: LiveMemtable,
}

/// Schema position of the vector field.
const VECTOR: u16 = 5;

/// Three TAG fields, two NUMERIC fields and one FLOAT32 vector field (position 5).
fn bench_schema(dim: usize) -> Schema {
    Schema::builder()
        .tag("t0")
        .tag("t1")
        .tag("t2")
        .numeric("n0")
        .numeric("n1")
        .vector("v", dim, Metric::L2, VectorIndex::flat())
        .build()
        .expect("a valid bench schema")
}

fn bench_record(tags: [String; 3], numbers: [f64; 2], vector: Vec<f32>) -> Record {
    let [t0, t1, t2] = tags;
    let [n0, n1] = numbers;
    Record {
        values: vec![
            (0, Value::Tag(t0)),
            (1, Value::Tag(t1)),
            (2, Value::Tag(t2)),
            (3, Value::Numeric(n0)),
            (4, Value::Numeric(n1)),
            (VECTOR, Value::Vector(vector)),
        ],
        deadline: None,
    }
}

impl LiveMemtableBench {
    /// An empty memtable whose vectors have `dim` components.
    ///
    /// # Panics
    ///
    /// When `dim` is not a valid dimension (1 to 32,768).
    pub fn new(dim: usize, capacity_rows: usize) -> LiveMemtableBench {
        let schema = bench_schema(dim);
        LiveMemtableBench {
            memtable: LiveMemtable::new(&schema, capacity_rows),
        }
    }

    /// Appends one row as the writer would (the record already validated).
    pub fn append(
        &self,
        key: String,
        tags: [String; 3],
        numbers: [f64; 2],
        vector: Vec<f32>,
    ) -> u32 {
        let record = bench_record(tags, numbers, vector);
        self.memtable.append(key, record, None, 0)
    }

    /// The vector of `slot`, as a graph walk or an exact scan reads it.
    #[inline]
    pub fn vector(&self, slot: u32) -> Option<&[f32]> {
        self.memtable.vector(VECTOR, slot)
    }
}
