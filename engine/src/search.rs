//! Search requests and their results.

use crate::doc::Doc;

/// A k-nearest-neighbour search over one vector field.
///
/// ```
/// use strata::Search;
/// let request = Search::knn("embedding", &[0.1, 0.2, 0.3], 10).return_fields(["title"]);
/// # let _ = request;
/// ```
#[derive(Clone, Debug, PartialEq)]
#[must_use]
pub struct Search {
    pub(crate) field: String,
    pub(crate) vector: Vec<f32>,
    pub(crate) k: usize,
    pub(crate) return_fields: Option<Vec<String>>,
}

impl Search {
    /// The `k` documents whose `field` vectors are nearest to `vector`.
    pub fn knn(field: &str, vector: &[f32], k: usize) -> Search {
        Search {
            field: field.to_string(),
            vector: vector.to_vec(),
            k,
            return_fields: None,
        }
    }

    /// Returns only these fields with each hit, like RediSearch's `RETURN`. Vector
    /// fields are returned only when named here. An empty list is `NOCONTENT`.
    pub fn return_fields<I, S>(mut self, fields: I) -> Search
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.return_fields = Some(fields.into_iter().map(Into::into).collect());
        self
    }

    /// Returns keys and distances only, like RediSearch's `NOCONTENT`.
    pub fn no_content(self) -> Search {
        self.return_fields(Vec::<String>::new())
    }
}

/// One search result.
#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    /// The document's key.
    pub key: String,
    /// Distance to the query under the field's metric (smaller is nearer): COSINE is
    /// `1 - cosine similarity`, IP is `1 - dot product`, L2 is the *squared* Euclidean
    /// distance, as in Redis.
    pub distance: f32,
    /// The returned fields: by default every non-vector field; see
    /// [`Search::return_fields`].
    pub doc: Doc,
}
