//! The exact model the soak test (`tests/soak.rs`) checks a live database against,
//! with time in it: keys expire on the wall clock while the soak runs.
//!
//! The engine stamps a relative TTL with its own clock reading, which the test cannot
//! see; it only knows that the reading fell inside the call. So a deadline is an
//! interval (`lo..=hi`, in ms since the Unix epoch) and every read is timed: a key is
//! certainly live for a read that ended before `lo`, certainly gone for one that began
//! at or after `hi`, and either in between. Checks demand exactness for certain keys
//! and accept both answers, but nothing else, for the few in between.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use strata::{Collection, Doc, Filter, Hit, KeyTtl, Metric, Search};

use crate::oracle_distance;
use crate::torture::{self, Step};

/// Wall-clock milliseconds since the Unix epoch, as the engine counts them.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_millis() as u64
}

/// When a call ran: the engine read its clock somewhere in `start..=end`.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    pub start: u64,
    pub end: u64,
}

/// Runs `call` and says when it ran.
pub fn timed<T>(call: impl FnOnce() -> T) -> (T, Window) {
    let start = now_ms();
    let value = call();
    (
        value,
        Window {
            start,
            end: now_ms(),
        },
    )
}

/// Whether a key was live during a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Life {
    Live,
    Gone,
    /// Its deadline may have passed during the call: either answer is right.
    Unsure,
}

/// What the model knows of one key.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry<V> {
    pub value: V,
    /// `None`: persistent. `Some((lo, hi))`: the engine's deadline lies in `lo..=hi`.
    pub deadline: Option<(u64, u64)>,
}

impl<V> Entry<V> {
    fn life(&self, window: Window) -> Life {
        match self.deadline {
            None => Life::Live,
            Some((lo, _)) if window.end < lo => Life::Live,
            Some((_, hi)) if window.start >= hi => Life::Gone,
            Some(_) => Life::Unsure,
        }
    }
}

/// The exact contents of one collection.
#[derive(Clone, Debug, PartialEq)]
pub struct Table<V> {
    pub entries: BTreeMap<String, Entry<V>>,
}

impl<V> Default for Table<V> {
    fn default() -> Self {
        Table {
            entries: BTreeMap::new(),
        }
    }
}

impl<V: Clone + PartialEq + std::fmt::Debug> Table<V> {
    /// Whether `key` was live during `window`.
    pub fn life(&self, key: &str, window: Window) -> Life {
        self.entries
            .get(key)
            .map_or(Life::Gone, |entry| entry.life(window))
    }

    /// Forgets keys whose deadline certainly passed before `now`.
    pub fn prune(&mut self, now: u64) {
        self.entries
            .retain(|_, entry| entry.deadline.is_none_or(|(_, hi)| hi > now));
    }

    /// An upsert: the value, persistent.
    pub fn put(&mut self, key: &str, value: V) {
        self.put_until(key, value, None);
    }

    /// An upsert with a deadline.
    pub fn put_until(&mut self, key: &str, value: V, deadline: Option<(u64, u64)>) {
        let entry = Entry { value, deadline };
        self.entries.insert(key.to_string(), entry);
    }

    /// Checks what a delete (or `EXPIRE key 0`) of `key` during `window` returned, and
    /// applies it.
    pub fn delete(&mut self, key: &str, window: Window, returned: bool) -> Result<(), String> {
        expect_found(self.life(key, window), returned, key, "delete")?;
        self.entries.remove(key);
        Ok(())
    }

    /// Checks what `expire`/`expire_at` of `key` returned and applies it: the new
    /// deadline lies in `deadline` when it returned true.
    pub fn expire(
        &mut self,
        key: &str,
        window: Window,
        returned: bool,
        deadline: (u64, u64),
    ) -> Result<(), String> {
        expect_found(self.life(key, window), returned, key, "expire")?;
        match self.entries.get_mut(key) {
            Some(entry) if returned => entry.deadline = Some(deadline),
            _ => {
                self.entries.remove(key);
            }
        }
        Ok(())
    }

    /// Checks what `persist` of `key` returned and applies it.
    pub fn persist(&mut self, key: &str, window: Window, returned: bool) -> Result<(), String> {
        let life = self.life(key, window);
        let had_deadline = self
            .entries
            .get(key)
            .is_some_and(|entry| entry.deadline.is_some());
        match (life, returned) {
            (Life::Live, got) if got == had_deadline => {}
            (Life::Gone, false) | (Life::Unsure, _) => {}
            (life, got) => {
                return Err(format!(
                    "persist {key} returned {got}; the key is {life:?}, with a deadline: \
                     {had_deadline}"
                ))
            }
        }
        match self.entries.get_mut(key) {
            Some(entry) if returned => entry.deadline = None,
            Some(_) if life != Life::Live => {
                self.entries.remove(key);
            }
            _ => {}
        }
        Ok(())
    }

    /// Checks a read of `key` during `window` that found `got`.
    pub fn check_read(&self, key: &str, window: Window, got: Option<&V>) -> Result<(), String> {
        let want = self.entries.get(key).map(|entry| &entry.value);
        let right = match self.life(key, window) {
            Life::Live => got == want,
            Life::Gone => got.is_none(),
            Life::Unsure => got.is_none() || got == want,
        };
        if right {
            return Ok(());
        }
        Err(format!(
            "read of {key} found {got:?}; the model ({:?}) holds {want:?}",
            self.life(key, window)
        ))
    }

    /// Checks what `ttl(key)` said during `window`.
    pub fn check_ttl(&self, key: &str, window: Window, got: KeyTtl) -> Result<(), String> {
        let entry = self.entries.get(key);
        let deadline = entry.and_then(|entry| entry.deadline);
        let right = match (self.life(key, window), got, deadline) {
            (Life::Gone, KeyTtl::Missing, _) => true,
            (Life::Unsure, KeyTtl::Missing, _) => true,
            (Life::Live, KeyTtl::Persistent, None) => true,
            (Life::Live | Life::Unsure, KeyTtl::ExpiresIn(left), Some((lo, hi))) => {
                // The engine computed `deadline - now` with both inside their ranges.
                let left = left.as_millis() as u64;
                left >= lo.saturating_sub(window.end) && left <= hi.saturating_sub(window.start)
            }
            _ => false,
        };
        if right {
            return Ok(());
        }
        Err(format!(
            "ttl {key} said {got:?}; the model has it {:?} with deadline {deadline:?} \
             (the call ran {window:?})",
            self.life(key, window)
        ))
    }

    /// The keys matching `matches`: those certainly live and those that may be.
    pub fn matching(
        &self,
        window: Window,
        matches: impl Fn(&V) -> bool,
    ) -> (Vec<&String>, Vec<&String>) {
        let (mut certain, mut unsure) = (Vec::new(), Vec::new());
        for (key, entry) in &self.entries {
            if !matches(&entry.value) {
                continue;
            }
            match entry.life(window) {
                Life::Live => certain.push(key),
                Life::Unsure => unsure.push(key),
                Life::Gone => {}
            }
        }
        (certain, unsure)
    }

    /// Checks a count of the keys matching `matches` (`len`, `count`).
    pub fn check_count(
        &self,
        what: &str,
        window: Window,
        got: usize,
        matches: impl Fn(&V) -> bool,
    ) -> Result<(), String> {
        let (certain, unsure) = self.matching(window, matches);
        if got >= certain.len() && got <= certain.len() + unsure.len() {
            return Ok(());
        }
        Err(format!(
            "{what} is {got}; the model has {} live keys and {} about to expire",
            certain.len(),
            unsure.len()
        ))
    }

    /// Checks the keys a query found (in any order) against `matches`.
    pub fn check_keys(
        &self,
        what: &str,
        window: Window,
        found: &[String],
        matches: impl Fn(&V) -> bool,
    ) -> Result<(), String> {
        let (certain, unsure) = self.matching(window, matches);
        let mut sorted: Vec<&String> = found.iter().collect();
        sorted.sort();
        if sorted.windows(2).any(|pair| pair[0] == pair[1]) {
            return Err(format!("{what} returned a key twice: {sorted:?}"));
        }
        let missing: Vec<_> = certain
            .iter()
            .filter(|key| sorted.binary_search(key).is_err())
            .collect();
        let extra: Vec<_> = sorted
            .iter()
            .filter(|key| !certain.contains(key) && !unsure.contains(key))
            .collect();
        if missing.is_empty() && extra.is_empty() {
            return Ok(());
        }
        Err(format!(
            "{what}: missing {missing:?}, not matching {extra:?}"
        ))
    }
}

/// `returned` is what a command that reports whether the key existed said.
fn expect_found(life: Life, returned: bool, key: &str, command: &str) -> Result<(), String> {
    match (life, returned) {
        (Life::Live, true) | (Life::Gone, false) | (Life::Unsure, _) => Ok(()),
        (life, returned) => Err(format!(
            "{command} {key} returned {returned}; the model has the key {life:?}"
        )),
    }
}

/// A predicate both the engine (as a filter) and the model (on a document) evaluate.
#[derive(Clone, Debug)]
pub enum Pred {
    All,
    /// A TAG field holds the value (case-insensitive, as TAG fields compare).
    Tag(&'static str, &'static str),
    /// A NUMERIC field lies in `low..=high`.
    Range(&'static str, f64, f64),
    /// A TEXT field holds the word (lowercase, a word the analyser keeps whole).
    Word(&'static str, String),
    And(Box<Pred>, Box<Pred>),
    Not(Box<Pred>),
}

impl Pred {
    pub fn filter(&self) -> Filter {
        match self {
            Pred::All => Filter::all(),
            Pred::Tag(field, value) => Filter::tag(field, [*value]),
            Pred::Range(field, low, high) => Filter::range(field, *low..=*high),
            Pred::Word(field, word) => Filter::text(field, word),
            Pred::And(a, b) => a.filter().and(b.filter()),
            Pred::Not(inner) => inner.filter().not(),
        }
    }

    pub fn matches(&self, doc: &Doc) -> bool {
        match self {
            Pred::All => true,
            Pred::Tag(field, value) => doc.get_tag(field).is_some_and(|tags| {
                tags.split(',')
                    .any(|tag| tag.trim().eq_ignore_ascii_case(value))
            }),
            Pred::Range(field, low, high) => doc
                .get_numeric(field)
                .is_some_and(|number| number >= *low && number <= *high),
            Pred::Word(field, word) => doc.get_text(field).is_some_and(|text| {
                text.split(|c: char| !c.is_alphanumeric())
                    .any(|token| token.eq_ignore_ascii_case(word))
            }),
            Pred::And(a, b) => a.matches(doc) && b.matches(doc),
            Pred::Not(inner) => !inner.matches(doc),
        }
    }
}

/// A k-NN question: the `k` documents whose `field` is nearest to `query`.
#[derive(Clone, Copy, Debug)]
pub struct Knn<'a> {
    pub field: &'a str,
    pub metric: Metric,
    pub query: &'a [f32],
    pub k: usize,
}

/// Checks a k-NN answer that must be exact: every hit a live matching key at its true
/// distance, nearest first, each key once, and no live matching key left out that is
/// nearer than the last hit (ties within rounding may go either way). `vector_of`
/// gives a document's vector, `None` when it has none.
pub fn check_exact_knn<V: Clone + PartialEq + std::fmt::Debug>(
    table: &Table<V>,
    window: Window,
    ask: Knn,
    hits: &[Hit],
    pred: &Pred,
    project: impl Fn(&V) -> Doc,
) -> Result<(), String> {
    let k = ask.k;
    let candidates = knn_candidates(table, window, ask, pred, &project);
    check_hits(hits, &candidates)?;
    let certain: Vec<&(String, f64, bool)> = candidates.iter().filter(|c| c.2).collect();
    let possible = candidates.len();
    if hits.len() < k.min(certain.len()) || hits.len() > k.min(possible) {
        return Err(format!(
            "{} hits for k = {k}; the model has {} live matches and {} about to expire",
            hits.len(),
            certain.len(),
            possible - certain.len()
        ));
    }
    let last = hits.last().map_or(f64::INFINITY, |hit| hit.distance as f64);
    for (key, distance, _) in certain {
        let found = hits.iter().any(|hit| &hit.key == key);
        if !found && (hits.len() < k || *distance < last - tolerance(last)) {
            return Err(format!(
                "{key} at {distance} is missing; the last of {} hits is at {last}",
                hits.len()
            ));
        }
    }
    Ok(())
}

/// Recall of an approximate k-NN answer, after checking that every hit is a live
/// matching key at its true distance, nearest first and once: `(true neighbours
/// found, neighbours asked for)`. Keys about to expire count as neighbours only when
/// returned.
pub fn knn_recall<V: Clone + PartialEq + std::fmt::Debug>(
    table: &Table<V>,
    window: Window,
    ask: Knn,
    hits: &[Hit],
    project: impl Fn(&V) -> Doc,
) -> Result<(usize, usize), String> {
    let candidates = knn_candidates(table, window, ask, &Pred::All, &project);
    check_hits(hits, &candidates)?;
    let mut truth: Vec<&(String, f64, bool)> = candidates
        .iter()
        .filter(|(key, _, certain)| *certain || hits.iter().any(|hit| &hit.key == key))
        .collect();
    truth.truncate(ask.k);
    let Some(boundary) = truth.last().map(|(_, distance, _)| *distance) else {
        return Ok((0, 0));
    };
    // A hit tied with the k-th true neighbour is as good as it.
    let found = hits
        .iter()
        .filter(|hit| (hit.distance as f64) <= boundary + tolerance(boundary))
        .count()
        .min(truth.len());
    Ok((found, truth.len()))
}

fn tolerance(distance: f64) -> f64 {
    1e-4 * distance.abs().max(1.0)
}

/// `(key, true distance, certainly live)` of every matching key with a vector that
/// may be live, nearest first.
fn knn_candidates<V: Clone + PartialEq + std::fmt::Debug>(
    table: &Table<V>,
    window: Window,
    ask: Knn,
    pred: &Pred,
    project: &impl Fn(&V) -> Doc,
) -> Vec<(String, f64, bool)> {
    let mut candidates: Vec<(String, f64, bool)> = table
        .entries
        .iter()
        .filter_map(|(key, entry)| {
            let life = entry.life(window);
            if life == Life::Gone {
                return None;
            }
            let doc = project(&entry.value);
            if !pred.matches(&doc) {
                return None;
            }
            let distance = oracle_distance(ask.metric, ask.query, doc.get_vector(ask.field)?);
            Some((key.clone(), distance, life == Life::Live))
        })
        .collect();
    candidates.sort_by(|a, b| a.1.total_cmp(&b.1));
    candidates
}

/// Every hit is a candidate at its true distance, nearest first, each key once.
fn check_hits(hits: &[Hit], candidates: &[(String, f64, bool)]) -> Result<(), String> {
    for (rank, hit) in hits.iter().enumerate() {
        let Some((_, distance, _)) = candidates.iter().find(|c| c.0 == hit.key) else {
            return Err(format!(
                "hit {rank} is {} at {}, not a live matching key with a vector",
                hit.key, hit.distance
            ));
        };
        let got = hit.distance as f64;
        if got.is_nan() || (got - distance).abs() > tolerance(*distance) {
            return Err(format!(
                "hit {rank} is {} at {got}; its true distance is {distance}",
                hit.key
            ));
        }
        if let Some(previous) = rank.checked_sub(1).map(|r| &hits[r]) {
            if previous.key == hit.key || hits[..rank].iter().any(|h| h.key == hit.key) {
                return Err(format!("{} is returned twice", hit.key));
            }
            if (previous.distance as f64) > got + tolerance(got) {
                return Err(format!(
                    "hit {rank} ({got}) is nearer than the hit before it ({})",
                    previous.distance
                ));
            }
        }
    }
    Ok(())
}

/// A k-NN search with `pred` as its pre-filter, keys and distances only.
pub fn knn(
    collection: &Collection,
    ask: Knn,
    pred: &Pred,
    ef: Option<usize>,
) -> (strata::Result<Vec<Hit>>, Window) {
    let mut request = Search::knn(ask.field, ask.query, ask.k).no_content();
    if !matches!(pred, Pred::All) {
        request = request.filter(pred.filter());
    }
    if let Some(ef) = ef {
        request = request.ef_runtime(ef);
    }
    timed(|| collection.search(&request))
}

/// A deadline `ttl` after a call that ran during `window`.
pub fn deadline_after(window: Window, ttl: Duration) -> (u64, u64) {
    let ttl = ttl.as_millis() as u64;
    (window.start + ttl, window.end + ttl)
}

/// What the torture step did to the keys the model tracks.
pub fn apply_torture(table: &mut Table<Doc>, step: &Step, window: Window) {
    match step {
        Step::Upsert(key, doc) => table.put(key, doc.clone()),
        Step::UpsertMany(batch) => {
            for (key, doc) in batch {
                table.put(key, doc.clone());
            }
        }
        Step::Delete(key) | Step::ExpireNow(key) => {
            table.entries.remove(key);
        }
        Step::Expire(key) => {
            if let Some(entry) = table.entries.get_mut(key) {
                entry.deadline = Some(deadline_after(window, torture::FAR_TTL));
            }
        }
        Step::Persist(key) => {
            if let Some(entry) = table.entries.get_mut(key) {
                entry.deadline = None;
            }
        }
        Step::Flush | Step::Compact => {}
    }
}

/// A `crash_writer` child running phase `phase` of the torture workload.
#[derive(Debug)]
pub struct TortureChild<'a> {
    /// The `crash_writer` binary.
    pub exe: &'a Path,
    /// `always`, `everysec` or `never`.
    pub durability: &'a str,
    pub phase: u64,
    pub memtable_rows: usize,
}

impl TortureChild<'_> {
    /// Runs the child on the database at `path`, waits for `wait_acks`
    /// acknowledgements, sleeps `delay`, SIGKILLs it and returns how many steps it
    /// acknowledged in all.
    pub fn run_and_kill(
        &self,
        path: &Path,
        wait_acks: u64,
        delay: Duration,
    ) -> Result<u64, String> {
        let mut child = Command::new(self.exe)
            .args([
                path.to_str().expect("a UTF-8 path"),
                self.durability,
                "torture",
            ])
            .args([self.phase.to_string(), self.memtable_rows.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("spawn crash_writer: {e}"))?;
        let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
        let mut acked = 0;
        let mut read_ack = |acked: &mut u64| -> Result<bool, String> {
            let mut line = String::new();
            if stdout.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
                return Ok(false);
            }
            if line.trim_end() != format!("ack {acked}") {
                return Err(format!("the child acknowledged {line:?} after {acked}"));
            }
            *acked += 1;
            Ok(true)
        };
        while acked < wait_acks && read_ack(&mut acked)? {}
        std::thread::sleep(delay);
        // A no-op error if it already exited, which its stderr then explains.
        let _ = child.kill();
        let status = child.wait().map_err(|e| e.to_string())?;
        while read_ack(&mut acked)? {}
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .expect("piped")
            .read_to_string(&mut stderr)
            .map_err(|e| e.to_string())?;
        if !stderr.is_empty() || status.code().is_some() {
            return Err(format!(
                "the torture child failed by itself ({status}) after {acked} acks: {stderr}"
            ));
        }
        Ok(acked)
    }
}
