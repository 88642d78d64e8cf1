//! Running one command with a timeout, its stdout and stderr captured in order through one
//! pipe. The command runs in its own process group; on timeout the whole group is killed
//! (compute-sanitizer, the oracle it launched, anything they started).

use std::ffi::OsString;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::parse::RecordedExit;

/// Most bytes of output kept; beyond it the output is cut and the run marked truncated.
pub const MAX_OUTPUT: usize = 256 << 20;

/// How long to wait for stragglers holding the pipe after the command itself ended.
const DRAIN_GRACE: Duration = Duration::from_secs(5);

/// What a finished command left.
#[derive(Debug, Clone)]
pub struct Captured {
    /// stdout and stderr, interleaved as written.
    pub output: Vec<u8>,
    /// How it ended.
    pub exit: RecordedExit,
    /// Wall time.
    pub wall_s: f64,
    /// Output beyond [`MAX_OUTPUT`] was dropped.
    pub truncated: bool,
}

/// Kills the process group of every child running now (this gate's and any other; see
/// [`child_guard`]).
pub fn kill_running() {
    child_guard::stop_running(std::time::Duration::ZERO);
}

fn kill_group(pid: u32) {
    child_guard::kill_group(pid);
}

/// Runs `program args...` with stdin closed, in a new process group, for at most `timeout`.
/// Errors only when the command cannot be started.
pub fn run_captured(
    program: &Path,
    args: &[OsString],
    timeout: Duration,
) -> std::io::Result<Captured> {
    use std::os::unix::process::ExitStatusExt;

    let (mut reader, writer) = os_pipe::pipe()?;
    let writer_err = writer.try_clone()?;
    let started = Instant::now();
    // Registered while it runs (spawned and registered under child_guard's lock), so an
    // interrupt of the gate stops it.
    let (mut child, registration) = {
        let mut cmd = Command::new(program);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(writer)
            .stderr(writer_err);
        child_guard::spawn(&mut cmd)?
        // `cmd` (holding the pipe's write ends) is dropped here, so the reader sees EOF
        // once every process of the group has closed its copies.
    };
    let pid = child.id();
    let buf = Arc::new(Mutex::new((Vec::<u8>::new(), false)));
    let (done_tx, done_rx) = mpsc::channel::<()>();
    {
        let buf = Arc::clone(&buf);
        std::thread::spawn(move || {
            let mut chunk = vec![0u8; 1 << 16];
            loop {
                match reader.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => {
                        let mut b = buf.lock().unwrap_or_else(|e| e.into_inner());
                        let room = MAX_OUTPUT.saturating_sub(b.0.len());
                        if n > room {
                            b.1 = true;
                        }
                        let take = n.min(room);
                        b.0.extend_from_slice(&chunk[..take]);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => break,
                }
            }
            let _ = done_tx.send(());
        });
    }
    let exit = loop {
        if let Some(status) = child.try_wait()? {
            break match (status.code(), status.signal()) {
                (Some(code), _) => RecordedExit::Code { code },
                (None, Some(signal)) => RecordedExit::Signal { signal },
                (None, None) => RecordedExit::Code { code: -1 },
            };
        }
        if started.elapsed() >= timeout {
            kill_group(pid);
            let _ = child.wait();
            break RecordedExit::Timeout {
                after_s: timeout.as_secs_f64(),
            };
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    drop(registration);
    // Killed by the interrupt handler: never record that as the tool's own crash.
    child_guard::park_if_interrupted();
    // The leader is gone; members of its group may still hold the pipe. Give them a moment,
    // then kill whatever is left of the group so nothing outlives the run.
    if done_rx.recv_timeout(DRAIN_GRACE).is_err() {
        kill_group(pid);
        let _ = done_rx.recv_timeout(Duration::from_secs(2));
    } else {
        kill_group(pid);
    }
    let wall_s = started.elapsed().as_secs_f64();
    let (output, truncated) = {
        let mut b = buf.lock().unwrap_or_else(|e| e.into_inner());
        (std::mem::take(&mut b.0), b.1)
    };
    Ok(Captured {
        output,
        exit,
        wall_s,
        truncated,
    })
}

/// A command line as one shell-quoted string, for logs and messages.
pub fn shell_line(program: &Path, args: &[OsString]) -> String {
    std::iter::once(program.as_os_str())
        .chain(args.iter().map(OsString::as_os_str))
        .map(|a| quote(&a.to_string_lossy()))
        .collect::<Vec<_>>()
        .join(" ")
}

fn quote(s: &str) -> String {
    let safe = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b));
    if safe {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    /// The tests below share the process-wide registry of running commands: one at a time.
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn serial() -> std::sync::MutexGuard<'static, ()> {
        SERIAL.lock().unwrap_or_else(|e| e.into_inner())
    }
    use super::*;

    fn sh(script: &str, timeout: Duration) -> Captured {
        run_captured(Path::new("/bin/sh"), &["-c".into(), script.into()], timeout)
            .expect("spawn sh")
    }

    #[test]
    fn captures_stdout_and_stderr_in_order_and_the_exit_code() {
        let _serial = serial();
        let c = sh(
            "echo one; echo two >&2; echo three; exit 3",
            Duration::from_secs(20),
        );
        assert_eq!(String::from_utf8_lossy(&c.output), "one\ntwo\nthree\n");
        assert_eq!(c.exit, RecordedExit::Code { code: 3 });
        assert!(!c.truncated);
    }

    #[test]
    fn a_signal_is_reported_as_such() {
        let _serial = serial();
        let c = sh("kill -SEGV $$", Duration::from_secs(20));
        assert_eq!(c.exit, RecordedExit::Signal { signal: 11 });
    }

    #[test]
    fn kill_running_stops_a_command_in_flight() {
        let _serial = serial();
        let t = std::thread::spawn(|| {
            run_captured(
                Path::new("/bin/sh"),
                &["-c".into(), "sleep 30".into()],
                Duration::from_secs(60),
            )
        });
        let deadline = Instant::now() + Duration::from_secs(5);
        while child_guard::running_groups().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let started = Instant::now();
        kill_running();
        let c = t.join().expect("thread").expect("ran");
        assert!(
            matches!(c.exit, RecordedExit::Signal { signal: 9 | 15 }),
            "{:?}",
            c.exit
        );
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the command was not stopped"
        );
        assert!(child_guard::running_groups().is_empty());
    }

    #[test]
    fn timeout_kills_the_whole_process_group() {
        let _serial = serial();
        // A grandchild that would outlive its parent and keep the pipe open.
        let c = sh("sleep 60 & echo $!; sleep 60", Duration::from_millis(300));
        assert!(
            matches!(c.exit, RecordedExit::Timeout { .. }),
            "{:?}",
            c.exit
        );
        assert!(c.wall_s < 10.0, "took {} s", c.wall_s);
        let pid: u32 = String::from_utf8_lossy(&c.output)
            .trim()
            .parse()
            .expect("pid printed");
        // Killed, and reaped by init (it was orphaned): no such process, or a zombie.
        std::thread::sleep(Duration::from_millis(200));
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        assert!(
            state.is_empty() || state.contains(") Z"),
            "grandchild still running: {state}"
        );
    }

    #[test]
    fn quoting() {
        let _serial = serial();
        assert_eq!(
            shell_line(
                Path::new("/x/cs"),
                &["--tool".into(), "memcheck".into(), "a b".into()]
            ),
            "/x/cs --tool memcheck 'a b'"
        );
    }
}
