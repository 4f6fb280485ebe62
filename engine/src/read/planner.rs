//! The planner: per source, whether a vector query walks the index (HNSW graph,
//! IVF-PQ lists) or scores the filter's matches exactly, from a cost model fitted to
//! measurements; and the defaults a query leaves to it.

use strata_index::ivfpq::IvfPqSearch;
use strata_query::HybridPolicy;

use crate::model::schema::VectorIndex;
use crate::read::execute::{Knn, Strategy};

/// `NPROBE` when a query gives none: [`DEFAULT_NPROBE`] without a filter, up to
/// [`FILTERED_NPROBE_FACTOR`] times it for a filter matching 30% of the rows or fewer,
/// in a straight line in between. A filter's nearest matches lie farther from the
/// query than its nearest rows, in more lists: on real-pypi-50k (NLIST 256, M 48,
/// REFINE 8, benches/README.md "Filtered IVF-PQ") recall@10 at NPROBE 32 / 64 / 128 was
/// 0.84 / 0.91 / 0.97 for a 10% filter, 0.86 / 0.92 / 0.96 for 30% and 0.81 / 0.90 /
/// 0.96 for 14%, where it is 0.92 / 0.95 / 0.97 unfiltered; REFINE 16 or 32 gained at
/// most 0.01. Between 30% and 100% the line is an interpolation, not a measurement.
pub(crate) fn default_nprobe(matching: u64, live: u64) -> usize {
    if live == 0 || matching >= live {
        return DEFAULT_NPROBE;
    }
    let selectivity = matching as f64 / live as f64;
    let extra = (FILTERED_NPROBE_FACTOR - 1) as f64 * ((1.0 - selectivity) / 0.7).min(1.0);
    (DEFAULT_NPROBE as f64 * (1.0 + extra)).round() as usize
}

/// `NPROBE` when a query gives none: with `REFINE` 8, recall@10 0.92 on
/// real-pypi-50k at NLIST 256, M 48 (benches/README.md, "IVF-PQ"); faiss's
/// IndexIVFPQ + IndexRefineFlat reaches the same recall there.
pub(crate) const DEFAULT_NPROBE: usize = 32;
/// `REFINE` when a query gives none.
pub(crate) const DEFAULT_REFINE: usize = 8;
/// How many times [`DEFAULT_NPROBE`] a selective filter probes by default (see
/// `default_nprobe`).
pub(crate) const FILTERED_NPROBE_FACTOR: usize = 4;

/// IVF-PQ's share of the planner's cost model, in the same unit (one float scored
/// by exact search, ~0.4 ns): a code byte looked up in the distance table costs
/// about 1.8 (34 ns per 48-byte code with its heap push), and a filter check per
/// scanned row about 20 (a roaring lookup; a row the filter rejects is never scored).
/// Fitted to the p50 latencies of real-pypi-50k at NLIST 256, M 48: unfiltered at
/// NPROBE 32 and under a 10% filter at NPROBE 128 (benches/README.md, "Filtered
/// IVF-PQ"), where the index answered in 380 us what exact search over the 5,036
/// matches took 1,430 us for.
const IVF_CODE_BYTE_COST: f64 = 1.8;
const IVF_FILTER_CHECK_COST: f64 = 20.0;

/// `EF_RUNTIME` when a query gives none, as in Redis.
pub(crate) const DEFAULT_EF_RUNTIME: usize = 10;

/// The planner's cost model, in units of one float scored by exact search. Exact
/// search over the filter's matches costs `matches * dim`. A filtered graph walk
/// visits about `ef / selectivity` nodes, and one visit (a neighbour list, its
/// distances, the heaps) costs about this many floats, almost whatever the dimension:
/// measured ~1.4 us per visit against ~0.4 ns per float scored, on 20k x 64 synthetic
/// rows and on real-pypi-50k (384-d) with `benches/src/bin/sweep.rs` and `ann`
/// (benches/README.md, "planner"). The walk pays when
/// `matches * dim >= GRAPH_VISIT_COST * ef * live / matches`.
pub(crate) const GRAPH_VISIT_COST: f64 = 3_500.0;

/// The planner for an IVF-PQ field: the index when scanning its lists (enough of
/// them to find `REFINE * k` matching rows) and re-ranking costs less than scoring
/// every matching row exactly; `HYBRID_POLICY` forces either side.
pub(crate) fn choose_ivfpq(
    knn: &Knn,
    params: IvfPqSearch,
    lists: Option<usize>,
    m: usize,
    filtered: bool,
    matching: u64,
    live: u64,
) -> Strategy {
    let Some(lists) = lists else {
        return Strategy::ExactOverBitmap;
    };
    let dim = knn.vector.len() as f64;
    let (matching, live) = (matching as f64, live as f64);
    let candidates = (knn.k * params.refine.max(1)) as f64;
    let probed = live * params.nprobe.min(lists) as f64 / lists as f64;
    let scanned = probed.max(candidates * live / matching.max(1.0));
    let scored = scanned * (matching / live.max(1.0)).min(1.0);
    let checks = if filtered { scanned } else { 0.0 };
    let ivf_cost = (256.0 + lists as f64) * dim
        + checks * IVF_FILTER_CHECK_COST
        + scored * IVF_CODE_BYTE_COST * m as f64
        + candidates * dim;
    match knn.policy {
        Some(HybridPolicy::AdhocBruteForce) => Strategy::ExactOverBitmap,
        Some(HybridPolicy::Batches) => Strategy::IvfPqScan,
        None if matching * dim >= ivf_cost => Strategy::IvfPqScan,
        None => Strategy::ExactOverBitmap,
    }
}

/// The planner: how a source answers a vector query given how many rows match.
pub(crate) fn choose_strategy(
    index: VectorIndex,
    dim: usize,
    has_graph: bool,
    policy: Option<HybridPolicy>,
    ef: usize,
    matching: u64,
    live: u64,
) -> Strategy {
    let matching = matching as f64;
    let exact_cost = matching * dim as f64;
    let graph_cost = GRAPH_VISIT_COST * ef as f64 * live as f64 / matching.max(1.0);
    match (index, policy) {
        (VectorIndex::Hnsw { .. }, Some(HybridPolicy::Batches)) if has_graph => {
            Strategy::GraphTraversal
        }
        (VectorIndex::Hnsw { .. }, None) if has_graph && exact_cost >= graph_cost => {
            Strategy::GraphTraversal
        }
        _ => Strategy::ExactOverBitmap,
    }
}
