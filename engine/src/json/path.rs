//! The JSONPath subset as a public type, for callers that keep JSON documents outside
//! a JSON collection (the RESP server's `JSON.GET`, `JSON.SET` and `JSON.DEL` on keys
//! no index watches) and want the same path rules the collections use.

use serde_json::Value as Json;

use crate::model::error::Result;
use crate::model::json_path::JsonPath as Parsed;
use crate::model::json_schema::parse_path;

/// A parsed JSONPath: `$`, `.name`, `['name']`, `[0]`, `[-1]`, `[*]`, `.*` and `..`.
///
/// ```
/// use serde_json::json;
/// use strata::JsonPath;
/// let mut doc = json!({"a": {"b": [1, 2, 3]}, "c": 4});
/// let path = JsonPath::parse("$.a.b[*]")?;
/// assert_eq!(path.select(&doc), vec![json!(1), json!(2), json!(3)]);
/// assert_eq!(JsonPath::parse("$.a.b[-1]")?.remove(&mut doc), 1);
/// assert_eq!(JsonPath::parse("$.c")?.set(&mut doc, &json!(5))?, 1);
/// assert_eq!(doc, json!({"a": {"b": [1, 2]}, "c": 5}));
/// # Ok::<(), strata::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct JsonPath {
    parsed: Parsed,
}

impl JsonPath {
    /// Parses `text`, which starts with `$`.
    ///
    /// # Errors
    /// [`crate::Error::InvalidJsonPath`] with the position and the reason.
    pub fn parse(text: &str) -> Result<JsonPath> {
        Ok(JsonPath {
            parsed: parse_path(text)?,
        })
    }

    /// Whether the path is `$`, the whole document.
    pub fn is_root(&self) -> bool {
        self.parsed.is_root()
    }

    /// The values the path selects in `doc`, in document order.
    pub fn select(&self, doc: &Json) -> Vec<Json> {
        self.parsed.select(doc).into_iter().cloned().collect()
    }

    /// Sets what the path selects to `value`, as `JSON.SET key path value`: a definite
    /// path whose last step is a member of an existing object adds the member. Returns
    /// how many locations were set (0, with `doc` unchanged, when none exists).
    ///
    /// # Errors
    /// [`crate::Error::InvalidArgument`] for an array index out of range; `doc` is
    /// unchanged.
    pub fn set(&self, doc: &mut Json, value: &Json) -> Result<usize> {
        self.parsed
            .set(doc, value)
            .map_err(|reason| crate::Error::InvalidArgument { reason })
    }

    /// Removes what the path selects (`JSON.DEL key path`) and returns how many values
    /// went. The root cannot be removed from itself: removing `$` gives 0.
    pub fn remove(&self, doc: &mut Json) -> usize {
        if self.is_root() {
            return 0;
        }
        let mut removed = 0;
        // Last first, so removing an array element does not shift one still to go,
        // and a node inside another goes before its container.
        for at in self.parsed.locations(doc).into_iter().rev() {
            let Some(split) = at.rfind('/') else {
                continue;
            };
            let token = at[split + 1..].replace("~1", "/").replace("~0", "~");
            match doc.pointer_mut(&at[..split]) {
                Some(Json::Object(members)) => removed += members.remove(&token).is_some() as usize,
                Some(Json::Array(elements)) => {
                    if let Ok(i) = token.parse::<usize>()
                        && i < elements.len()
                    {
                        elements.remove(i);
                        removed += 1;
                    }
                }
                _ => {}
            }
        }
        removed
    }
}
