//! Shared helpers for Strata's integration tests: seeded data, schemas, an exact f64
//! oracle, and the deterministic write schedule that the crash tests replay.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use strata::{Doc, Metric, Schema, VectorIndex};

pub mod damaged;
pub mod json;
pub mod soak;
pub mod torture;

/// Dimension of the vectors in the crash and round-trip scenarios.
pub const DIM: usize = 8;

/// A schema with one field of every kind.
pub fn full_schema(metric: Metric) -> Schema {
    Schema::builder()
        .text("title")
        .tag("tags")
        .numeric("rank")
        .vector("embedding", DIM, metric, VectorIndex::flat())
        .build()
        .expect("valid schema")
}

/// [`full_schema`] with a small HNSW index on the vector field, so tests build graphs
/// quickly.
pub fn hnsw_schema(metric: Metric) -> Schema {
    Schema::builder()
        .text("title")
        .tag("tags")
        .numeric("rank")
        .vector("embedding", DIM, metric, VectorIndex::hnsw(8, 32))
        .build()
        .expect("valid schema")
}

/// [`full_schema`] with an IVF-PQ index on the vector field: segments of at least
/// `IVF_PQ_MIN_ROWS` rows train one.
pub fn ivfpq_schema(metric: Metric) -> Schema {
    Schema::builder()
        .text("title")
        .tag("tags")
        .numeric("rank")
        .vector("embedding", DIM, metric, VectorIndex::ivf_pq(16, 4))
        .build()
        .expect("valid schema")
}

/// Documents per acknowledged step of the crash writer's `write-ivfpq` mode.
pub const IVFPQ_BATCH: u64 = 512;

/// The vector the schedule writes for document `index`.
pub fn vector_for(index: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(index);
    (0..DIM).map(|_| rng.gen_range(-1.0..1.0)).collect()
}

/// The document the schedule writes under key `key_for(index)`.
pub fn doc_for(index: u64) -> Doc {
    Doc::new()
        .text("title", format!("document number {index}"))
        .tag(
            "tags",
            if index.is_multiple_of(2) {
                "even,all"
            } else {
                "odd,all"
            },
        )
        .numeric("rank", index as f64)
        .vector("embedding", vector_for(index))
}

/// Key of document `index`.
pub fn key_for(index: u64) -> String {
    format!("doc:{index}")
}

/// The crash writer's schedule: step `step` writes these document indexes in one call.
/// Every fifth step is a three-document `upsert_many`, so batches are exercised.
pub fn schedule_step(step: u64) -> std::ops::Range<u64> {
    let start = step / 5 * 7 + if step % 5 == 4 { 4 } else { step % 5 };
    let len = if step % 5 == 4 { 3 } else { 1 };
    start..start + len
}

/// A scratch directory, on tmpfs where the machine has one (`/dev/shm`): tests that
/// open hundreds of databases or flush hundreds of segments spend seconds in fsync on
/// a disk, and what they check does not depend on it.
pub fn scratch_dir() -> tempfile::TempDir {
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir() {
        if let Ok(dir) = tempfile::tempdir_in(shm) {
            return dir;
        }
    }
    tempfile::tempdir().expect("a temporary directory")
}

/// Seeded random vectors, row-major.
pub fn random_vectors(seed: u64, count: usize, dim: usize) -> Vec<Vec<f32>> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..count)
        .map(|_| (0..dim).map(|_| rng.gen_range(-1.0..1.0)).collect())
        .collect()
}

/// Distance in f64, independent of the engine's kernels, with Redis's semantics.
pub fn oracle_distance(metric: Metric, a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    match metric {
        Metric::L2 => a
            .iter()
            .zip(b)
            .map(|(x, y)| (*x as f64 - *y as f64).powi(2))
            .sum(),
        Metric::InnerProduct => 1.0 - dot,
        Metric::Cosine => {
            let norm_a = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
            let norm_b = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
            1.0 - dot / (norm_a * norm_b)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_covers_every_index_once_in_order() {
        let mut next = 0;
        for step in 0..100 {
            let range = schedule_step(step);
            assert_eq!(range.start, next, "step {step}");
            next = range.end;
        }
    }
}
