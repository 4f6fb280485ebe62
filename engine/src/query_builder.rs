//! The query-string builder: a RediSearch-dialect query with its parameters, bound to
//! the collection it runs on. It parses into the same `Search` the typed builder makes.

use strata_query::{ParamValue, Params, Value};

use crate::collection::Collection;
use crate::model::error::Result;
use crate::read::execute::Explain;
use crate::read::search::{decode_blob, Hit, Param, ParamKind, Search, SearchResults};

/// A query in the RediSearch dialect, with its parameters; see [`Collection::query`].
#[derive(Debug)]
#[must_use]
pub struct QueryBuilder<'c> {
    collection: &'c Collection,
    text: String,
    args: Vec<String>,
    params: Params,
    /// Blob parameters, decoded in `search`, where a bad one can be reported.
    blobs: Vec<(String, Vec<u8>)>,
    ef_runtime: Option<usize>,
    nprobe: Option<usize>,
    refine: Option<usize>,
}

impl<'c> QueryBuilder<'c> {
    pub(crate) fn new(collection: &'c Collection, text: &str) -> QueryBuilder<'c> {
        QueryBuilder {
            collection,
            text: text.to_string(),
            args: Vec::new(),
            params: Params::new(),
            blobs: Vec::new(),
            ef_runtime: None,
            nprobe: None,
            refine: None,
        }
    }

    /// Binds `$name` to a value (a vector for KNN and VECTOR_RANGE, text or a number
    /// elsewhere), like `PARAMS`. A vector may be given as `f32`s or, as Redis clients
    /// send it, as little-endian FLOAT32 bytes (`&bytes[..]`); a blob whose length is
    /// not a multiple of 4 is refused when the query runs.
    pub fn param(mut self, name: &str, value: impl Into<Param>) -> QueryBuilder<'c> {
        self.blobs.retain(|(blob, _)| blob != name);
        match value.into().0 {
            ParamKind::Value(value) => {
                self.params.insert(name, value);
            }
            ParamKind::Blob(bytes) => self.blobs.push((name.to_string(), bytes)),
        }
        self
    }

    /// Overrides `EF_RUNTIME` of the KNN clause.
    pub fn ef_runtime(mut self, ef: usize) -> QueryBuilder<'c> {
        self.ef_runtime = Some(ef);
        self
    }

    /// Overrides `NPROBE` of the KNN clause (IVF-PQ lists scanned per segment).
    pub fn nprobe(mut self, nprobe: usize) -> QueryBuilder<'c> {
        self.nprobe = Some(nprobe);
        self
    }

    /// Overrides `REFINE` of the KNN clause (IVF-PQ candidates re-ranked, times k).
    pub fn refine(mut self, refine: usize) -> QueryBuilder<'c> {
        self.refine = Some(refine);
        self
    }

    /// FT.SEARCH options after the query string, as separate arguments: `RETURN`,
    /// `SORTBY`, `LIMIT`, `NOCONTENT`, `PARAMS`, `DIALECT`.
    pub fn args<I, S>(mut self, args: I) -> QueryBuilder<'c>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    fn search(&self) -> Result<Search> {
        let limits = self.collection.limits().query();
        let mut query = strata_query::parse_search(&self.text, &self.args, &limits)?;
        if let Some(clause) = &mut query.vector {
            let literal = |value: Option<usize>| value.map(|v| Value::Literal(v as u64));
            clause.ef_runtime = literal(self.ef_runtime).or(clause.ef_runtime.take());
            clause.nprobe = literal(self.nprobe).or(clause.nprobe.take());
            clause.refine = literal(self.refine).or(clause.refine.take());
        }
        let mut params = self.params.clone();
        for (name, blob) in &self.blobs {
            params.insert(name, ParamValue::Vector(decode_blob(name, blob)?));
        }
        Ok(Search { query, params })
    }

    /// Runs the query. Without `LIMIT`, at most 10 results come back, as in RediSearch.
    pub fn run(self) -> Result<Vec<Hit>> {
        self.collection.search(&self.search()?)
    }

    /// Runs the query and returns the page with the total number of matching
    /// documents, as FT.SEARCH does: `LIMIT 0 0` returns only the total. For KNN the
    /// total is the number of neighbours found (at most k).
    pub fn run_with_total(self) -> Result<SearchResults> {
        self.collection.search_page(&self.search()?)
    }

    /// How the query would run: per source, live and matching rows and the strategy.
    pub fn explain(self) -> Result<Explain> {
        self.collection.explain(&self.search()?)
    }
}
