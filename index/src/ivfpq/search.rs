//! Search: rank the lists, build one table per query, scan the codes of the probed
//! lists for the `k * refine` best approximate distances among the rows the filter
//! accepts, then re-rank those candidates with exact distances.

use super::kernels::{adc, dot_to_all, l2_to_all};
use super::{IvfPqError, IvfPqSearch, Meta, KSUB};
use crate::distance::Metric;
use crate::hnsw::RowFilter;
use crate::topk::{Neighbor, TopK};

/// An index borrowed from an owned [`super::IvfPqIndex`] or from file bytes.
#[derive(Clone, Copy, Debug)]
pub struct IvfPqRef<'a> {
    pub(crate) meta: Meta,
    pub(crate) centroids: &'a [f32],
    pub(crate) codebooks: &'a [f32],
    pub(crate) offsets: &'a [u32],
    pub(crate) ids: &'a [u32],
    pub(crate) terms: &'a [f32],
    pub(crate) codes: &'a [u8],
}

impl IvfPqRef<'_> {
    /// Rows of the id space (rows encoded and not).
    pub fn len(&self) -> usize {
        self.meta.n as usize
    }

    /// Whether the id space is empty.
    pub fn is_empty(&self) -> bool {
        self.meta.n == 0
    }

    /// Rows encoded (those that had a vector).
    pub fn encoded(&self) -> usize {
        self.meta.encoded as usize
    }

    /// Floats per vector.
    pub fn dim(&self) -> usize {
        self.meta.dim as usize
    }

    /// The metric the index was trained for.
    pub fn metric(&self) -> Metric {
        self.meta.metric
    }

    /// Coarse lists trained.
    pub fn nlist(&self) -> usize {
        self.meta.nlist as usize
    }

    /// Bytes per code.
    pub fn m(&self) -> usize {
        self.meta.m as usize
    }

    /// Mean squared distance of the training sample to its nearest centroid.
    pub fn distortion(&self) -> f32 {
        self.meta.distortion
    }

    /// Bytes a search reads besides the re-ranked vectors: centroids, codebooks,
    /// list offsets, ids, correction terms and codes.
    pub fn resident_bytes(&self) -> usize {
        4 * (self.centroids.len() + self.codebooks.len() + self.offsets.len())
            + 4 * (self.ids.len() + self.terms.len())
            + self.codes.len()
    }

    /// The `k` rows nearest to `query` among those `filter` accepts (all when
    /// `None`), nearest first, with exact distances computed from `vectors` (the
    /// row-major vectors the index was built over). Probes `nprobe` lists, and more
    /// while fewer than `k * refine` accepted rows were found, so it returns `k` rows
    /// whenever `k` encoded rows match.
    ///
    /// A filter comes with the number of rows it accepts. A filtered search keeps
    /// probing until it has scanned the share `nprobe / nlist` of those rows, the
    /// share an unfiltered search scans of all rows: filters correlate with the
    /// vectors (a topic is a region of the space), so the nearest lists can be full of
    /// matching rows that are still not the nearest matching ones.
    pub fn search(
        &self,
        vectors: &[f32],
        query: &[f32],
        k: usize,
        params: IvfPqSearch,
        filter: Option<(&dyn RowFilter, usize)>,
    ) -> Result<Vec<Neighbor>, IvfPqError> {
        let dim = self.dim();
        if query.len() != dim {
            return Err(IvfPqError::DimensionMismatch {
                what: "query",
                expected: dim,
                got: query.len(),
            });
        }
        let n = self.len();
        if vectors.len() != n * dim {
            return Err(IvfPqError::DimensionMismatch {
                what: "vectors",
                expected: n * dim,
                got: vectors.len(),
            });
        }
        if k == 0 || self.encoded() == 0 {
            return Ok(Vec::new());
        }
        let wanted = k.saturating_mul(params.refine.max(1));
        let candidates = self.candidates(query, wanted, params.nprobe.max(1), filter);
        let mut top = TopK::new(k);
        let metric = self.metric();
        for candidate in candidates {
            let row = candidate.id as usize;
            if let Some(vector) = vectors.get(row * dim..(row + 1) * dim) {
                top.push(Neighbor {
                    id: candidate.id,
                    distance: metric.distance(query, vector),
                });
            }
        }
        Ok(top.into_sorted_vec())
    }

    /// The first half of [`IvfPqRef::search`]: the `k * refine` rows with the best
    /// approximate distances among those `filter` accepts (see `search` for how many
    /// lists are probed), nearest first, for a caller that re-ranks them from vectors
    /// it reads row by row (a mapped file checked block by block) rather than from one
    /// slice.
    pub fn approximate(
        &self,
        query: &[f32],
        k: usize,
        params: IvfPqSearch,
        filter: Option<(&dyn RowFilter, usize)>,
    ) -> Result<Vec<Neighbor>, IvfPqError> {
        if query.len() != self.dim() {
            return Err(IvfPqError::DimensionMismatch {
                what: "query",
                expected: self.dim(),
                got: query.len(),
            });
        }
        if k == 0 || self.encoded() == 0 {
            return Ok(Vec::new());
        }
        let wanted = k.saturating_mul(params.refine.max(1));
        Ok(self.candidates(query, wanted, params.nprobe.max(1), filter))
    }

    /// The `wanted` best rows by approximate distance (not sorted).
    fn candidates(
        &self,
        query: &[f32],
        wanted: usize,
        nprobe: usize,
        filter: Option<(&dyn RowFilter, usize)>,
    ) -> Vec<Neighbor> {
        let (nlist, m, dsub) = (self.nlist(), self.m(), self.meta.dsub());
        let metric = self.metric();
        let mut q = query.to_vec();
        if metric == Metric::Cosine {
            let norm = q.iter().map(|x| x * x).sum::<f32>().sqrt();
            if norm > 0.0 {
                q.iter_mut().for_each(|x| *x /= norm);
            }
        }
        // Per list, the part of the approximate distance that depends on the list
        // only, and the key the lists are probed by. Rows were assigned to their
        // nearest centroid by L2, so L2 and COSINE probe by L2 too: a mean of unit
        // vectors is shorter than one, and ranking by `<q, c>` alone would favour the
        // tight clusters. IP probes by inner product, as maximum-inner-product search
        // must.
        let mut base = vec![0.0f32; nlist];
        let mut key = vec![0.0f32; nlist];
        match metric {
            Metric::L2 => {
                l2_to_all(&q, self.centroids, nlist, &mut base);
                key.copy_from_slice(&base);
            }
            Metric::Cosine => {
                dot_to_all(&q, self.centroids, nlist, &mut base);
                base.iter_mut().for_each(|b| *b = 1.0 - *b);
                l2_to_all(&q, self.centroids, nlist, &mut key);
            }
            Metric::InnerProduct => {
                dot_to_all(&q, self.centroids, nlist, &mut base);
                base.iter_mut().for_each(|b| *b = 1.0 - *b);
                key.copy_from_slice(&base);
            }
        }
        let mut order: Vec<u32> = (0..nlist as u32).collect();
        order
            .sort_unstable_by(|&a, &b| key[a as usize].total_cmp(&key[b as usize]).then(a.cmp(&b)));

        // T[j][c] = <q_j, codeword_jc>; L2 uses -2T, the others -T.
        let scale = if metric == Metric::L2 { -2.0 } else { -1.0 };
        let mut tables = vec![[0.0f32; KSUB]; m];
        for (j, table) in tables.iter_mut().enumerate() {
            let book = &self.codebooks[j * dsub * KSUB..(j + 1) * dsub * KSUB];
            dot_to_all(&q[j * dsub..(j + 1) * dsub], book, KSUB, table);
            table.iter_mut().for_each(|t| *t *= scale);
        }

        let target = match filter {
            Some((_, accepted)) => wanted.max(accepted.saturating_mul(nprobe) / nlist.max(1)),
            None => wanted,
        };
        let filter = filter.map(|(rows, _)| rows);
        let mut top = TopK::new(wanted);
        let mut found = 0usize;
        let encoded = self.encoded();
        for (probed, &list) in order.iter().enumerate() {
            if probed >= nprobe && found >= target {
                break;
            }
            let list = list as usize;
            let (start, end) = (self.offsets[list] as usize, self.offsets[list + 1] as usize);
            // A damaged offset table skips the list instead of reading out of bounds.
            if start > end || end > encoded {
                continue;
            }
            let list_base = base[list];
            let ids = &self.ids[start..end];
            let codes = &self.codes[start * m..end * m];
            let terms = self.terms.get(start..end);
            for (index, (&id, code)) in ids.iter().zip(codes.chunks_exact(m)).enumerate() {
                if filter.is_some_and(|f| !f.matches(id)) {
                    continue;
                }
                found += 1;
                let term = terms.map_or(0.0, |t| t[index]);
                top.push(Neighbor {
                    id,
                    distance: list_base + term + adc(&tables, code),
                });
            }
        }
        top.into_sorted_vec()
    }
}
