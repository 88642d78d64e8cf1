//! child-guard owns one promise: a child process a cudadent tool starts (nvcc,
//! compute-sanitizer, python3, another cudadent gate) never outlives the tool.
//!
//! - Every child runs in a process group of its own ([`output`], or [`spawn`] for callers
//!   that manage the child themselves), so a timeout can kill it together with
//!   everything it started (nvcc's cicc and ptxas, the oracle under compute-sanitizer).
//! - Its group is registered while it runs. A terminal's Ctrl-C reaches only the tool's own
//!   group, and `kill -INT <tool>` only the tool, so the tool must stop its children itself:
//!   [`install_interrupt_handler`] does, on SIGINT, SIGTERM and SIGHUP.
//! - Stopping is two-step ([`stop_running`]): SIGTERM to every registered group first, so a
//!   child that is itself a cudadent tool stops *its* children the same way, then SIGKILL
//!   to whatever is left after a grace period.

use std::io;
use std::process::{Command, Output};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a stopped group gets between SIGTERM and SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(3);

/// Set once an interrupt arrived: the process is on its way out.
static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether an interrupt arrived ([`install_interrupt_handler`]).
pub fn interrupted() -> bool {
    INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst)
}

/// After an interrupt, a thread that would go on (report the child the handler killed as a
/// failure, exit with its own code) parks here instead; the handler exits the process.
pub fn park_if_interrupted() {
    while interrupted() {
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Held while a child is spawned and registered, and while [`stop_running`] collects the
/// groups: a child is either registered before the stop (and stopped) or spawned after it
/// (and, once the process is interrupted, never spawned at all).
static SPAWNING: Mutex<()> = Mutex::new(());

fn spawning() -> std::sync::MutexGuard<'static, ()> {
    SPAWNING.lock().unwrap_or_else(|e| e.into_inner())
}

/// Under the spawn lock: parks (forever) if the process was interrupted, else runs `spawn`.
fn spawn_unless_interrupted<T>(spawn: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
    let guard = spawning();
    if interrupted() {
        drop(guard);
        park_if_interrupted();
    }
    spawn()
}

/// Process groups (leader PIDs) of the children running now.
static RUNNING: Mutex<Vec<u32>> = Mutex::new(Vec::new());

fn running() -> std::sync::MutexGuard<'static, Vec<u32>> {
    RUNNING.lock().unwrap_or_else(|e| e.into_inner())
}

/// The process groups registered now (for tests and diagnostics).
pub fn running_groups() -> Vec<u32> {
    running().clone()
}

/// A registered process group; dropping it unregisters the group (it does not kill it).
#[derive(Debug)]
pub struct Registration {
    pgid: u32,
}

impl Registration {
    /// The registered group.
    pub fn pgid(&self) -> u32 {
        self.pgid
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut r = running();
        if let Some(i) = r.iter().position(|&p| p == self.pgid) {
            r.swap_remove(i);
        }
    }
}

/// Registers the process group led by `pgid` (a child spawned in its own group) so
/// that [`stop_running`] stops it, until the returned guard is dropped.
fn register(pgid: u32) -> Registration {
    running().push(pgid);
    Registration { pgid }
}

/// Spawns `cmd` in a process group of its own and registers the group, atomically with
/// respect to [`stop_running`]; after an interrupt it never spawns (the thread parks).
pub fn spawn(cmd: &mut Command) -> io::Result<(std::process::Child, Registration)> {
    spawn_unless_interrupted(|| {
        let child = in_own_group(cmd).spawn()?;
        let registration = register(child.id());
        Ok((child, registration))
    })
}

/// Makes `cmd` start a process group of its own (its PID is the group's ID).
fn in_own_group(cmd: &mut Command) -> &mut Command {
    use std::os::unix::process::CommandExt;
    cmd.process_group(0)
}

fn group(pgid: u32) -> Option<rustix::process::Pid> {
    i32::try_from(pgid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
}

/// Sends `signal` to group `pgid`; a group that is already gone is not an error.
fn signal_group(pgid: u32, signal: rustix::process::Signal) {
    if let Some(p) = group(pgid) {
        let _ = rustix::process::kill_process_group(p, signal);
    }
}

/// Kills every process of group `pgid` (SIGKILL). A group already gone is not an error.
pub fn kill_group(pgid: u32) {
    signal_group(pgid, rustix::process::Signal::KILL);
}

/// Whether any process of group `pgid` still exists (zombies count until reaped).
pub fn group_alive(pgid: u32) -> bool {
    group(pgid).is_some_and(|p| rustix::process::test_kill_process_group(p).is_ok())
}

/// Stops every registered group: SIGTERM, then SIGKILL to groups still alive after
/// `grace`. Returns the groups that were stopped.
pub fn stop_running(grace: Duration) -> Vec<u32> {
    let groups: Vec<u32> = {
        let _no_spawns = spawning();
        running().drain(..).collect()
    };
    for &g in &groups {
        signal_group(g, rustix::process::Signal::TERM);
    }
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline && groups.iter().any(|&g| group_alive(g)) {
        std::thread::sleep(Duration::from_millis(20));
    }
    for &g in &groups {
        kill_group(g);
    }
    groups
}

/// Runs `expr` (a single command, with its redirections already chosen) in a process group
/// of its own, registered while it runs, and returns its output like
/// [`duct::Expression::run`]. After the command ends, whatever it left running in its group
/// is killed, so nothing it started outlives it.
pub fn output(expr: &duct::Expression) -> io::Result<Output> {
    let (handle, pids, registrations) = spawn_unless_interrupted(|| {
        let handle = expr
            .before_spawn(|cmd| {
                in_own_group(cmd);
                Ok(())
            })
            .start()?;
        let pids = handle.pids();
        let registrations: Vec<Registration> = pids.iter().map(|&p| register(p)).collect();
        Ok((handle, pids, registrations))
    })?;
    let result = handle.into_output();
    drop(registrations);
    for p in pids {
        kill_group(p);
    }
    // Killed by the interrupt handler: never report that as the command's own failure.
    park_if_interrupted();
    result
}

/// On SIGINT, SIGTERM or SIGHUP: mark the process interrupted (threads that finish waiting
/// for a child park instead of reporting it: [`park_if_interrupted`]), run `before_exit` (a binary uses it to let an atomic
/// write in progress finish and refuse new ones), stop every registered child group
/// ([`stop_running`]), then exit with 128 + the signal, as a shell reports it.
pub fn install_interrupt_handler(before_exit: fn()) -> io::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    std::thread::spawn(move || {
        if let Some(sig) = signals.forever().next() {
            INTERRUPTED.store(true, std::sync::atomic::Ordering::SeqCst);
            before_exit();
            stop_running(STOP_GRACE);
            std::process::exit(128 + sig);
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tests share the process-wide registry: one at a time.
    static SERIAL: Mutex<()> = Mutex::new(());

    fn serial() -> std::sync::MutexGuard<'static, ()> {
        SERIAL.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn state(pid: u32) -> String {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default()
    }

    /// Gone, or a zombie waiting for init.
    fn dead(pid: u32) -> bool {
        let s = state(pid);
        s.is_empty() || s.contains(") Z")
    }

    #[test]
    fn output_runs_in_its_own_group_and_unregisters() {
        let _s = serial();
        let me = rustix::process::getpgrp().as_raw_nonzero().get() as u32;
        let o = output(
            &duct::cmd!("sh", "-c", "ps -o pgid= -p $$")
                .stdout_capture()
                .unchecked(),
        )
        .expect("sh runs");
        let pgid: u32 = String::from_utf8_lossy(&o.stdout)
            .trim()
            .parse()
            .expect("pgid");
        assert_ne!(pgid, me, "the child shares the caller's process group");
        assert!(running_groups().is_empty());
    }

    #[test]
    fn output_kills_what_the_command_left_behind() {
        let _s = serial();
        let o = output(
            &duct::cmd!("sh", "-c", "sleep 60 >/dev/null 2>&1 & echo $!")
                .stdout_capture()
                .unchecked(),
        )
        .expect("sh runs");
        let pid: u32 = String::from_utf8_lossy(&o.stdout)
            .trim()
            .parse()
            .expect("pid");
        std::thread::sleep(Duration::from_millis(200));
        assert!(dead(pid), "the background sleep outlived its command");
    }

    /// `sh -c script` through [`output`] on a thread, once its group is registered.
    fn running_in_thread(
        script: &'static str,
    ) -> std::thread::JoinHandle<io::Result<std::process::Output>> {
        let t = std::thread::spawn(move || {
            output(&duct::cmd!("sh", "-c", script).stdout_null().unchecked())
        });
        let deadline = Instant::now() + Duration::from_secs(5);
        while running_groups().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        t
    }

    #[test]
    fn stop_running_terminates_a_registered_group_in_flight() {
        let _s = serial();
        let t = running_in_thread("sleep 60 & sleep 60");
        let started = Instant::now();
        let stopped = stop_running(Duration::from_secs(2));
        assert_eq!(stopped.len(), 1);
        let out = t.join().expect("thread").expect("ran");
        assert!(!out.status.success());
        assert!(started.elapsed() < Duration::from_secs(5));
        std::thread::sleep(Duration::from_millis(100));
        assert!(!group_alive(stopped[0]), "members of the group survived");
    }

    #[test]
    fn stop_running_escalates_to_sigkill_when_term_is_ignored() {
        let _s = serial();
        let t = running_in_thread("trap '' TERM; while :; do sleep 0.05; done");
        // Let the shell install its trap.
        std::thread::sleep(Duration::from_millis(200));
        let started = Instant::now();
        stop_running(Duration::from_millis(300));
        let out = t.join().expect("thread").expect("ran");
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(out.status.signal(), Some(9), "{:?}", out.status);
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
