//! Result folders that are all-new or all-old.
//!
//! A run writes a dozen files. Written one by one into the results folder, an interrupt
//! (Ctrl-C, a `kill`, a full disk) between two of them would leave a folder mixing new CSVs
//! with old charts, or half a set. So every set is written into a temporary sibling folder
//! (`.<name>.tmp-<pid>-<n>`) and swapped in with two renames at the end. The swap holds the
//! same lock as the interrupt handler ([`interrupted`]), which removes every temporary folder
//! still registered and exits; an interrupt during the swap waits for it to finish.
//!
//! A folder is only ever replaced if it is empty or holds realtime-lab results (every set
//! carries a `.realtime-lab` file; older sets a `conditions.txt` or `shard.txt`): `--out ~`
//! with a scenario named like one of your own folders is refused rather than destroying it.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use anyhow::{bail, Context};

/// Temporary folders being written; the lock is also held while a folder is swapped in.
static PENDING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// The file every result set carries, so a folder is known to be realtime-lab's own.
pub(crate) const MARKER: &str = ".realtime-lab";

/// Files that mark a folder as realtime-lab results: the marker, or what sets written before
/// it existed always had.
const MARKERS: [&str; 3] = [MARKER, "conditions.txt", "shard.txt"];

/// Environment variable of the interrupt test: stop as an interrupt would after writing this
/// many files of a set (see `tests/interrupt.rs`).
pub(crate) const STOP_AFTER_ENV: &str = "REALTIME_LAB_TEST_STOP_AFTER_FILES";

/// The interrupt handler: wait for a swap in progress, remove every temporary folder still
/// being written, print `message` and exit with `code` — all while holding the lock, so no
/// other thread can start a swap or a temporary folder between the clean-up and the exit.
pub(crate) fn interrupted(code: i32, message: &str) -> ! {
    let mut pending = PENDING.lock().unwrap_or_else(|e| e.into_inner());
    for dir in pending.drain(..) {
        let _ = fs::remove_dir_all(dir);
    }
    if !message.is_empty() {
        eprintln!("{message}");
    }
    std::process::exit(code);
}

/// A temporary folder the interrupt handler removes (a `tempfile::TempDir` a long command
/// works in, say); the guard forgets it when dropped.
pub(crate) struct Registered(PathBuf);

/// Register `dir` for removal on an interrupt until the returned guard is dropped.
pub(crate) fn remove_on_interrupt(dir: &Path) -> Registered {
    PENDING
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(dir.to_path_buf());
    Registered(dir.to_path_buf())
}

impl Drop for Registered {
    fn drop(&mut self) {
        PENDING
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|p| p != &self.0);
    }
}

/// A temporary folder being filled, to be swapped in for the real one.
pub(crate) struct Stage {
    tmp: PathBuf,
    written: Vec<String>,
    stop_after: Option<usize>,
}

impl Stage {
    /// The temporary folder (to read back what was written, e.g. CSV for the charts).
    pub(crate) fn dir(&self) -> &Path {
        &self.tmp
    }

    /// Write one file of the set.
    pub(crate) fn write(&mut self, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
        if self.stop_after == Some(self.written.len()) {
            // the test hook: behave exactly as the interrupt handler does
            interrupted(130, "");
        }
        write_file(&self.tmp.join(name), bytes)?;
        self.written.push(name.to_string());
        Ok(())
    }

    /// Write several files.
    pub(crate) fn write_all(&mut self, files: &[(String, Vec<u8>)]) -> anyhow::Result<()> {
        files.iter().try_for_each(|(n, b)| self.write(n, b))
    }
}

/// Fill a new folder with `fill` and put it in the place of `dir` at once. With `keep`, the
/// files already in `dir` are copied in first (a redraw keeps the CSVs it was drawn from).
/// Returns the files `fill` wrote, under `dir`.
pub(crate) fn replace(
    dir: &Path,
    keep: bool,
    fill: impl FnOnce(&mut Stage) -> anyhow::Result<()>,
) -> anyhow::Result<Vec<PathBuf>> {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let name = dir
        .file_name()
        .with_context(|| format!("{}: not a folder name", dir.display()))?
        .to_string_lossy()
        .into_owned();
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // a redraw (`keep`) works on a folder whose CSV files were just read
    if dir.exists() && !keep && !is_results_or_empty(dir) {
        bail!(
            "{} exists and does not hold realtime-lab results (no {}); choose another --out or move it",
            dir.display(),
            MARKERS.join(", ")
        );
    }
    fs::create_dir_all(&parent).with_context(|| format!("cannot create {}", parent.display()))?;
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = parent.join(format!(".{name}.tmp-{}-{n}", std::process::id()));
    {
        // registered and created under the lock: the interrupt handler sees it or it does not
        // exist yet (and then the handler exits before it can be created)
        let mut pending = PENDING.lock().unwrap_or_else(|e| e.into_inner());
        fs::create_dir(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        pending.push(tmp.clone());
    }
    let mut stage = Stage {
        tmp: tmp.clone(),
        written: Vec::new(),
        // the test hook exists only in debug builds (the test suite's)
        stop_after: if cfg!(debug_assertions) {
            std::env::var(STOP_AFTER_ENV)
                .ok()
                .and_then(|v| v.parse().ok())
        } else {
            None
        },
    };
    let result = prepare(&tmp, dir, keep)
        .and_then(|()| fill(&mut stage))
        .and_then(|()| write_file(&tmp.join(MARKER), b"results written by realtime-lab\n"));
    let mut pending = PENDING.lock().unwrap_or_else(|e| e.into_inner());
    pending.retain(|p| p != &tmp);
    match result {
        Ok(()) => swap(&tmp, dir, &parent, &name, n).inspect_err(|_| {
            let _ = fs::remove_dir_all(&tmp);
        })?,
        Err(e) => {
            let _ = fs::remove_dir_all(&tmp);
            return Err(e);
        }
    }
    drop(pending);
    Ok(stage.written.iter().map(|f| dir.join(f)).collect())
}

fn is_results_or_empty(dir: &Path) -> bool {
    MARKERS.iter().any(|m| dir.join(m).is_file())
        || fs::read_dir(dir).is_ok_and(|mut d| d.next().is_none())
}

/// Write one file into a temporary folder, under the lock: the interrupt handler, which takes
/// the lock before removing the folder, never races a file being created in it (a file created
/// while the folder is being removed would leave it behind).
fn write_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let _lock = PENDING.lock().unwrap_or_else(|e| e.into_inner());
    let mut f =
        fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

fn prepare(tmp: &Path, dir: &Path, keep: bool) -> anyhow::Result<()> {
    if keep && dir.is_dir() {
        for entry in fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                let bytes = fs::read(entry.path())
                    .with_context(|| format!("cannot copy {}", entry.path().display()))?;
                write_file(&tmp.join(entry.file_name()), &bytes)?;
            }
        }
    }
    Ok(())
}

/// Put `tmp` in the place of `dir` (the caller holds the lock).
fn swap(tmp: &Path, dir: &Path, parent: &Path, name: &str, n: usize) -> anyhow::Result<()> {
    if dir.exists() {
        let old = parent.join(format!(".{name}.old-{}-{n}", std::process::id()));
        fs::rename(dir, &old).with_context(|| format!("cannot move {} aside", dir.display()))?;
        if let Err(e) = fs::rename(tmp, dir) {
            let _ = fs::rename(&old, dir); // put the old set back
            return Err(e).with_context(|| format!("cannot replace {}", dir.display()));
        }
        fs::remove_dir_all(&old).with_context(|| format!("cannot remove {}", old.display()))?;
    } else {
        fs::rename(tmp, dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(text: &str) -> Vec<(String, Vec<u8>)> {
        ["summary.csv", "a.svg"]
            .iter()
            .map(|f| (f.to_string(), format!("{text} {f}").into_bytes()))
            .collect()
    }

    #[test]
    fn a_folder_is_replaced_whole_and_leaves_no_temporaries() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("run");
        replace(&dir, false, |s| s.write_all(&set("old"))).unwrap();
        fs::write(dir.join("stale.png"), b"x").unwrap();
        replace(&dir, false, |s| s.write_all(&set("new"))).unwrap();
        assert_eq!(fs::read(dir.join("a.svg")).unwrap(), b"new a.svg");
        assert!(
            !dir.join("stale.png").exists(),
            "a file of the old set survived"
        );
        let names: Vec<_> = fs::read_dir(root.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["run"], "temporary folders left behind");
    }

    #[test]
    fn keep_carries_the_other_files_over() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("run");
        replace(&dir, false, |s| s.write_all(&set("old"))).unwrap();
        replace(&dir, true, |s| s.write("a.svg", b"redrawn")).unwrap();
        assert_eq!(fs::read(dir.join("a.svg")).unwrap(), b"redrawn");
        assert_eq!(
            fs::read(dir.join("summary.csv")).unwrap(),
            b"old summary.csv"
        );
    }

    #[test]
    fn a_folder_that_does_not_hold_results_is_never_replaced() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("documents");
        fs::create_dir(&dir).unwrap();
        fs::write(dir.join("thesis.tex"), b"precious").unwrap();
        let e = replace(&dir, false, |s| s.write_all(&set("new")))
            .unwrap_err()
            .to_string();
        assert!(e.contains("does not hold realtime-lab results"), "{e}");
        assert_eq!(fs::read(dir.join("thesis.tex")).unwrap(), b"precious");
    }
}
