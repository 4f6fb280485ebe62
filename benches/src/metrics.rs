//! What the bench measures besides time: recall, latency percentiles, resident
//! memory, bytes on disk, and the machine it ran on.

use std::path::Path;
use std::time::Duration;

use crate::{BenchError, Result};

/// Recall of one query: |first `k` returned ∩ first `k` of truth| / that truth's size,
/// as the data set's README defines it. Order inside the top `k` does not matter;
/// a repeated returned id counts once. When the truth is shorter than `k` (a filter
/// with few matches) the denominator is its length; when it is empty, returning
/// nothing is perfect and returning anything is wrong.
pub fn recall_at_k(returned: &[u32], truth: &[u32], k: usize) -> f64 {
    let truth = &truth[..k.min(truth.len())];
    let returned = &returned[..k.min(returned.len())];
    if truth.is_empty() {
        return if returned.is_empty() { 1.0 } else { 0.0 };
    }
    let found = returned
        .iter()
        .enumerate()
        .filter(|(i, id)| !returned[..*i].contains(id) && truth.contains(id))
        .count();
    found as f64 / truth.len() as f64
}

/// Mean of [`recall_at_k`] over queries; `returned[i]` answers the query of `truth[i]`.
pub fn mean_recall(returned: &[Vec<u32>], truth: &[Vec<u32>], k: usize) -> f64 {
    if returned.is_empty() {
        return 0.0;
    }
    let total: f64 = returned
        .iter()
        .zip(truth)
        .map(|(r, t)| recall_at_k(r, t, k))
        .sum();
    total / returned.len() as f64
}

/// Latency summary of a run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Latency {
    /// Queries per second: queries / total wall time of the loop.
    pub qps: f64,
    /// Median, in microseconds.
    pub p50_us: f64,
    /// 99th percentile, in microseconds.
    pub p99_us: f64,
}

impl Latency {
    /// Summarises per-query latencies measured in a loop that took `total`.
    pub fn from_samples(samples: &[Duration], total: Duration) -> Latency {
        let mut micros: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e6).collect();
        micros.sort_by(f64::total_cmp);
        let seconds = total.as_secs_f64();
        Latency {
            qps: if seconds > 0.0 {
                samples.len() as f64 / seconds
            } else {
                0.0
            },
            p50_us: percentile(&micros, 50.0),
            p99_us: percentile(&micros, 99.0),
        }
    }
}

/// Nearest-rank percentile of sorted values (0 for none): the smallest value with at
/// least `p`% of the values at or below it.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    // 0.999 * 1000 is 999.0000000000001 in floating point: without the tolerance the
    // 99.9th percentile of 1000 values would be the maximum.
    let rank = ((p / 100.0) * sorted.len() as f64 - 1e-9).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Mebibytes (2^20 bytes): what `_mb` means in reports.
pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Resident memory of this process (`VmRSS` of `/proc/self/status`) in bytes;
/// `None` where there is no such file (not Linux).
pub fn rss_bytes() -> Option<u64> {
    rss().map(|rss| rss.total)
}

/// The peak resident memory of this process (`VmHWM` of `/proc/self/status`) in
/// bytes; `None` where there is no such file (not Linux).
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status_kib(&status, "VmHWM:")
}

/// Resident memory split by kind, in bytes.
///
/// The split matters for a database that maps its files: `file` pages are page cache
/// shared with the kernel, dropped under memory pressure and re-read on demand, while
/// `anon` is heap the process owns. A FLAT search maps every vector in, which shows up
/// as `file`, not as memory the engine holds on to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rss {
    /// `VmRSS`: everything resident.
    pub total: u64,
    /// `RssAnon`: heap and other private memory.
    pub anon: u64,
    /// `RssFile`: pages of mapped files (and the executable).
    pub file: u64,
}

/// This process's [`Rss`] now; `None` where `/proc/self/status` is missing (not Linux).
pub fn rss() -> Option<Rss> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    Some(Rss {
        total: status_kib(&status, "VmRSS:")?,
        anon: status_kib(&status, "RssAnon:").unwrap_or(0),
        file: status_kib(&status, "RssFile:").unwrap_or(0),
    })
}

/// Bytes this process has caused to be read from storage (`read_bytes` of
/// `/proc/self/io`): reads served by the page cache do not count, page faults that go
/// to disk do. `None` where the file is missing or unreadable.
pub fn disk_read_bytes() -> Option<u64> {
    let io = std::fs::read_to_string("/proc/self/io").ok()?;
    let line = io.lines().find(|line| line.starts_with("read_bytes:"))?;
    line.trim_start_matches("read_bytes:").trim().parse().ok()
}

/// The `kB` figure of the line starting with `label`, in bytes.
fn status_kib(status: &str, label: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with(label))?;
    let kib: u64 = line
        .trim_start_matches(label)
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// Sum of the sizes of the files under `dir`, recursively (symbolic links are counted
/// as links, not followed). Apparent sizes, not allocated blocks: a sparse or
/// preallocated file counts as its length.
pub fn dir_size(dir: &Path) -> Result<u64> {
    let error = |e: std::io::Error| BenchError::new(format!("cannot size {}: {e}", dir.display()));
    let mut total = 0;
    for entry in std::fs::read_dir(dir).map_err(error)? {
        let entry = entry.map_err(error)?;
        let meta = std::fs::symlink_metadata(entry.path()).map_err(error)?;
        total += if meta.is_dir() {
            dir_size(&entry.path())?
        } else {
            meta.len()
        };
    }
    Ok(total)
}

/// The machine a report was measured on.
#[derive(Clone, Debug, PartialEq)]
pub struct Machine {
    /// CPU model name from `/proc/cpuinfo`, or `unknown`.
    pub cpu: String,
    /// Logical CPUs this process may run on.
    pub cores: usize,
}

impl Machine {
    /// Describes this machine.
    pub fn detect() -> Machine {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|info| cpu_model(&info))
            .unwrap_or_else(|| "unknown".to_string());
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Machine { cpu, cores }
    }
}

fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo
        .lines()
        .find(|line| line.starts_with("model name"))
        .and_then(|line| line.split_once(':'))
        .map(|(_, model)| model.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recall_counts_the_overlap_of_the_top_k() {
        let truth = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
        assert_eq!(
            recall_at_k(&[10, 9, 8, 7, 6, 5, 4, 3, 2, 1], &truth, 10),
            1.0
        );
        assert_eq!(
            recall_at_k(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 11], &truth, 10),
            0.9
        );
        // Only the first k returned ids count, and only the first k of the truth.
        assert_eq!(recall_at_k(&[11, 12, 1], &truth, 2), 0.0);
        assert_eq!(recall_at_k(&[1], &truth, 10), 0.1);
        assert_eq!(recall_at_k(&[], &truth, 10), 0.0);
        // Duplicates count once.
        assert_eq!(recall_at_k(&[1, 1, 1], &truth, 10), 0.1);
    }

    #[test]
    fn short_and_empty_truths() {
        assert_eq!(recall_at_k(&[4, 7, 9], &[7, 4], 10), 1.0);
        assert_eq!(recall_at_k(&[4, 8], &[7, 4], 10), 0.5);
        assert_eq!(recall_at_k(&[], &[], 10), 1.0);
        assert_eq!(recall_at_k(&[3], &[], 10), 0.0);
    }

    #[test]
    fn mean_recall_averages_queries() {
        let returned = vec![vec![1, 2], vec![3, 9]];
        let truth = vec![vec![1, 2], vec![3, 4]];
        assert_eq!(mean_recall(&returned, &truth, 2), 0.75);
        assert_eq!(mean_recall(&[], &[], 10), 0.0);
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&values, 50.0), 50.0);
        assert_eq!(percentile(&values, 99.0), 99.0);
        assert_eq!(percentile(&[5.0], 99.0), 5.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
        let samples = [Duration::from_micros(10), Duration::from_micros(30)];
        let latency = Latency::from_samples(&samples, Duration::from_millis(1));
        assert_eq!((latency.p50_us, latency.p99_us), (10.0, 30.0));
        assert!((latency.qps - 2000.0).abs() < 1e-9);
    }

    #[test]
    fn proc_files_parse() {
        assert_eq!(
            status_kib("Name: x\nVmRSS:\t  2048 kB\n", "VmRSS:"),
            Some(2048 * 1024)
        );
        assert_eq!(status_kib("Name: x\n", "VmRSS:"), None);
        let status = "VmRSS:\t 30 kB\nRssAnon:\t 10 kB\nRssFile:\t 20 kB\n";
        assert_eq!(status_kib(status, "RssFile:"), Some(20 * 1024));
        assert!(rss().is_none_or(|rss| rss.total >= rss.anon));
        let before = disk_read_bytes();
        assert!(before.is_none_or(|b| disk_read_bytes().is_some_and(|a| a >= b)));
        assert_eq!(
            cpu_model("processor\t: 0\nmodel name\t: AMD EPYC 7B13\n").as_deref(),
            Some("AMD EPYC 7B13")
        );
    }

    #[test]
    fn dir_size_sums_files_recursively() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), [0u8; 100]).unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/b"), [0u8; 23]).unwrap();
        assert_eq!(dir_size(dir.path()).unwrap(), 123);
    }
}
