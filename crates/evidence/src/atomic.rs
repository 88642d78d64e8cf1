use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock};

use crate::EvidenceError;

/// An advisory lock on an artifact directory, held until dropped.
///
/// An exclusive `flock` on the directory itself (no lock file to list, skip or leave
/// behind). Every [`write_atomic`] takes it around its critical section (clean stale
/// temporaries, write, rename), so that concurrent writers of one directory, threads or
/// processes, never trample each other's temporaries; a tool that writes several files
/// that belong together can hold it across all of them with [`lock_dir`]. Advisory: it
/// orders cudadent's writers only. The kernel releases it when the process dies.
#[derive(Debug)]
pub struct DirLock {
    dir: fs::File,
    path: PathBuf,
}

impl DirLock {
    /// The locked directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        let _ = self.dir.unlock();
    }
}

/// The error of `action` on `path`, for `map_err`.
fn io_at(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> EvidenceError {
    let path = path.to_path_buf();
    move |source| EvidenceError::Io {
        action,
        path,
        source,
    }
}

/// Creates `dir` if needed and takes its exclusive advisory lock, waiting for the holder.
pub fn lock_dir(dir: &Path) -> Result<DirLock, EvidenceError> {
    let err = |action| io_at(action, dir);
    fs::create_dir_all(dir).map_err(err("create directory"))?;
    let f = fs::File::open(dir).map_err(err("open directory"))?;
    f.lock().map_err(err("lock directory"))?;
    Ok(DirLock {
        dir: f,
        path: dir.to_path_buf(),
    })
}

/// Directories (canonical paths) this process holds a [`RunLock`] on.
static RUN_LOCKED: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
/// Serialises this process's writers in a run-locked directory (the flock is already ours).
static RUN_WRITERS: Mutex<()> = Mutex::new(());
/// Held for reading by every write in progress; [`stop_writes`] takes it for writing.
static WRITES: RwLock<()> = RwLock::new(());

fn poisoned_ok<T>(r: std::sync::LockResult<T>) -> T {
    r.unwrap_or_else(|e| e.into_inner())
}

/// A whole run's hold on its artifact directory (`artifacts/<gate>/<config>`), held until
/// dropped: a second run of the same gate and config, in another process, waits for it, so
/// the files of two runs are never mixed in one directory (and two benches of one config
/// never time each other). Within the holding process, [`write_atomic`] keeps working in
/// that directory (its threads are serialised by a mutex instead of the flock).
#[derive(Debug)]
pub struct RunLock {
    _lock: DirLock,
    canonical: PathBuf,
}

impl RunLock {
    /// The locked directory, canonical.
    pub fn path(&self) -> &Path {
        &self.canonical
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        let mut held = poisoned_ok(RUN_LOCKED.lock());
        if let Some(i) = held.iter().position(|p| *p == self.canonical) {
            held.swap_remove(i);
        }
    }
}

/// Creates `dir` if needed and takes its run lock. When another process holds it,
/// `on_wait` is called once (to say so), then this waits for the holder to finish.
pub fn lock_run(dir: &Path, on_wait: impl FnOnce()) -> Result<RunLock, EvidenceError> {
    let err = |action| io_at(action, dir);
    fs::create_dir_all(dir).map_err(err("create directory"))?;
    let canonical = dir.canonicalize().map_err(err("resolve directory"))?;
    if poisoned_ok(RUN_LOCKED.lock()).contains(&canonical) {
        return Err(EvidenceError::Io {
            action: "lock a directory this process already holds",
            path: canonical,
            source: std::io::Error::from(std::io::ErrorKind::WouldBlock),
        });
    }
    let f = fs::File::open(&canonical).map_err(err("open directory"))?;
    match f.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => {
            on_wait();
            f.lock().map_err(err("lock directory"))?;
        }
        Err(fs::TryLockError::Error(e)) => return Err(err("lock directory")(e)),
    }
    poisoned_ok(RUN_LOCKED.lock()).push(canonical.clone());
    Ok(RunLock {
        _lock: DirLock {
            dir: f,
            path: canonical.clone(),
        },
        canonical,
    })
}

/// For an interrupt handler: waits for the atomic writes in progress to finish, then makes
/// every later [`write_atomic`] of this process wait forever (the process is about to exit),
/// so that no file is written after the interrupt.
pub fn stop_writes() {
    std::mem::forget(poisoned_ok(WRITES.write()));
}

/// What keeps other writers of one directory out during a write.
enum WriteGuard {
    /// Another process may write here: the directory's flock.
    Dir(#[allow(dead_code)] DirLock),
    /// This process holds the run lock: only its own threads can write here.
    Run(#[allow(dead_code)] MutexGuard<'static, ()>),
}

fn guard_dir(dir: &Path) -> Result<WriteGuard, EvidenceError> {
    if let Ok(c) = dir.canonicalize() {
        if poisoned_ok(RUN_LOCKED.lock()).contains(&c) {
            return Ok(WriteGuard::Run(poisoned_ok(RUN_WRITERS.lock())));
        }
    }
    lock_dir(dir).map(WriteGuard::Dir)
}

/// The temporary file name for `file_name`: `.{file_name}.{pid}.{n}.tmp`, unique per
/// process and call, so that two threads writing one path never share a temporary.
fn temp_name(file_name: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!(".{file_name}.{}.{n}.tmp", std::process::id())
}

/// The writer's PID in a temporary name written by [`write_atomic`] (this version's
/// `.{name}.{pid}.{n}.tmp` or the older `.{name}.{pid}.tmp`), or None for other files.
fn temp_owner(name: &str) -> Option<u32> {
    let inner = name.strip_prefix('.')?.strip_suffix(".tmp")?;
    let mut parts = inner.rsplitn(3, '.');
    let last = parts.next()?;
    let before = parts.next()?;
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(last) {
        return None;
    }
    match parts.next() {
        // `.{name}.{pid}.{n}.tmp`
        Some(name) if all_digits(before) && !name.is_empty() => before.parse().ok(),
        // `.{name}.{pid}.tmp`
        _ if !before.is_empty() => last.parse().ok(),
        _ => None,
    }
}

/// Whether process `pid` is alive. Where `/proc` is absent nothing is known: alive.
fn pid_alive(pid: u32) -> bool {
    let proc = Path::new("/proc");
    !proc.join("self").exists() || proc.join(pid.to_string()).exists()
}

/// Removes the temporaries that writers killed mid-write left in `dir` (their PID is
/// gone; or it is ours, which under the directory lock means an earlier process that had
/// our PID). Returns how many were removed. Call with the directory lock held.
pub fn clean_stale_temporaries(dir: &Path) -> usize {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    let me = std::process::id();
    let mut removed = 0;
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = temp_owner(&name.to_string_lossy()) else {
            continue;
        };
        let is_file = e.file_type().map(|t| t.is_file()).unwrap_or(false);
        if is_file && (pid == me || !pid_alive(pid)) && fs::remove_file(e.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// Writes `bytes` to `path` atomically: into a temporary file beside it, flushed to disk,
/// then renamed over `path`. Readers see either the old file or the new one, never a part.
/// Parent directories are created as needed.
///
/// Under the directory's lock ([`lock_dir`]), it first removes temporaries that killed
/// writers left behind ([`clean_stale_temporaries`]), so an interrupted run's debris is
/// gone after the next run writes there.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), EvidenceError> {
    let io = io_at;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let _writing = poisoned_ok(WRITES.read());
    let _lock = guard_dir(dir)?;
    clean_stale_temporaries(dir);
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".to_string());
    // A leading dot and a `.tmp` suffix: artifact-check and MANIFEST listing skip these.
    let tmp = dir.join(temp_name(&file_name));
    let result = (|| {
        let mut f = fs::File::create(&tmp).map_err(io("create", &tmp))?;
        f.write_all(bytes).map_err(io("write", &tmp))?;
        f.sync_all().map_err(io("sync", &tmp))?;
        fs::rename(&tmp, path).map_err(io("rename", path))?;
        // Make the rename itself durable; a failure here loses nothing already renamed.
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Serialises `value` as pretty JSON (with a trailing newline) and writes it atomically.
pub fn write_json_atomic<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), EvidenceError> {
    let mut text = serde_json::to_vec_pretty(value).map_err(|source| EvidenceError::Json {
        what: path.display().to_string(),
        source,
    })?;
    text.push(b'\n');
    write_atomic(path, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("a/b/summary.json");
        write_atomic(&p, b"first version, long").expect("write 1");
        write_atomic(&p, b"second").expect("write 2");
        assert_eq!(fs::read(&p).expect("read"), b"second");
        let left: Vec<_> = fs::read_dir(p.parent().expect("parent"))
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from("summary.json")]);
    }

    #[test]
    fn temp_names_are_recognised_with_their_writer() {
        assert_eq!(temp_owner(".summary.json.123.7.tmp"), Some(123));
        assert_eq!(temp_owner(".summary.json.123.tmp"), Some(123));
        assert_eq!(temp_owner(".a.b.c.json.42.0.tmp"), Some(42));
        assert_eq!(temp_owner(&temp_name("x.json")), Some(std::process::id()));
        for other in [
            "summary.json",
            ".summary.json",
            ".x.tmp",
            "..1.tmp",
            ".x.abc.tmp",
            "x.1.tmp",
        ] {
            assert_eq!(temp_owner(other), None, "{other}");
        }
    }

    #[test]
    fn stale_temporaries_of_dead_writers_are_removed_live_ones_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        // A child that has exited: its PID is free (or reused much later).
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("spawn true");
        let dead = child.id();
        child.wait().expect("wait");
        let stale = dir.path().join(format!(".summary.json.{dead}.0.tmp"));
        let stale_old_form = dir.path().join(format!(".a.txt.{dead}.tmp"));
        let live = dir.path().join(".summary.json.1.0.tmp"); // PID 1 is always alive
        let unrelated = dir.path().join(".keep.tmp");
        for p in [&stale, &stale_old_form, &live, &unrelated] {
            fs::write(p, b"{\"half\": ").expect("plant");
        }
        write_atomic(&dir.path().join("summary.json"), b"{}").expect("write");
        assert!(
            !stale.exists() && !stale_old_form.exists(),
            "stale temporaries remain"
        );
        assert!(live.exists(), "a live writer's temporary was removed");
        assert!(unrelated.exists(), "a file not ours was removed");
        assert_eq!(
            fs::read(dir.path().join("summary.json")).expect("read"),
            b"{}"
        );
    }

    #[test]
    fn lock_dir_excludes_a_second_holder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let held = lock_dir(dir.path()).expect("lock");
        let again = fs::File::open(dir.path()).expect("open");
        assert!(matches!(
            again.try_lock(),
            Err(fs::TryLockError::WouldBlock)
        ));
        drop(held);
        again.try_lock().expect("free after drop");
    }

    #[test]
    fn a_run_lock_excludes_other_processes_but_not_this_ones_writes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path().join("oracle/canon_3");
        let run = lock_run(&d, || panic!("nobody else holds it")).expect("run lock");
        // Another open file description (as another process would have) cannot lock it.
        let other = fs::File::open(&d).expect("open");
        assert!(matches!(
            other.try_lock(),
            Err(fs::TryLockError::WouldBlock)
        ));
        // Our own writes go on (they would deadlock on the flock otherwise).
        write_atomic(&d.join("summary.json"), b"{}").expect("write under the run lock");
        // Taking it twice in one process is refused, not a deadlock.
        assert!(lock_run(&d, || ()).is_err());
        drop(run);
        other.try_lock().expect("free after drop");
        other.unlock().expect("unlock");
        // Without the run lock, writes take the directory flock again.
        write_atomic(&d.join("summary.json"), b"[]").expect("write");
        assert_eq!(fs::read(d.join("summary.json")).expect("read"), b"[]");
    }

    #[test]
    fn failed_write_keeps_previous_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("x.json");
        write_atomic(&p, b"old").expect("write");
        // Renaming a file over a non-empty directory fails: the old evidence must survive.
        let blocker = dir.path().join("blocked");
        fs::create_dir_all(blocker.join("inner")).expect("mkdir");
        assert!(write_atomic(&blocker, b"new").is_err());
        assert_eq!(fs::read(&p).expect("read"), b"old");
    }
}
