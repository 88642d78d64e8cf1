//! Hardening (issue 11): an interrupt of a tool stops the processes it started.
//!
//! nvcc runs in a process group of its own (so a timeout can kill it with the cicc and
//! ptxas it starts), out of reach of the signal that stops the tool. These tests put a
//! fake nvcc on `--cuda-root` that records its PID, starts a grandchild (as nvcc starts
//! ptxas) and hangs; then they signal the real `sass-inspect` binary, and only it, the way
//! `kill -INT <pid>` or a CI runner's cancel does. Each time the tool must exit with
//! 128 + the signal, nvcc and its grandchild must be gone, and the out directory must hold
//! no half-written file. The last test stops a tool the way `cudadent verify` stops the
//! gate it runs: child_guard's two-step stop of the gate's process group.
//!
//! No GPU and no real toolchain needed: the fake toolchain is a shell script.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A CUDA root whose nvcc answers `--version`, then for a build records its PID and its
/// grandchild's in `pids/`, and hangs; cuobjdump only answers `--version`.
struct FakeToolchain {
    dir: tempfile::TempDir,
}

impl FakeToolchain {
    fn new() -> Self {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let bin = dir.path().join("root/bin");
        std::fs::create_dir_all(&bin).expect("mkdir");
        std::fs::create_dir_all(dir.path().join("pids")).expect("mkdir");
        let version = "echo 'Cuda compilation tools, release 13.0, V13.0.88'";
        let pids = dir.path().join("pids");
        let nvcc = format!(
            "#!/bin/sh\n\
             case \"$1\" in --version) {version}; exit 0;; esac\n\
             touch '{p}/nvcc-'$$\n\
             sleep 300 &\n\
             touch '{p}/child-'$!\n\
             wait\n",
            p = pids.display()
        );
        let cuobjdump = format!("#!/bin/sh\n{version}\n");
        for (name, body) in [("nvcc", nvcc), ("cuobjdump", cuobjdump)] {
            let p = bin.join(name);
            std::fs::write(&p, body).expect("write");
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        FakeToolchain { dir }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    /// `sass-inspect --quiet` on canon_3 with this toolchain, its own cache and out
    /// directory.
    fn sass_inspect(&self) -> Command {
        let mut c = self.sass_inspect_saying();
        c.arg("--quiet").stderr(Stdio::piped());
        c
    }

    /// The same without `--quiet` (it says when it waits for another run).
    fn sass_inspect_saying(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_sass-inspect"));
        c.args(["--config", "configs/canon_3.toml", "--out"])
            .arg(self.out())
            .arg("--cuda-root")
            .arg(self.root())
            .env("CUDADENT_CACHE_DIR", self.dir.path().join("cache"))
            .current_dir(repo())
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        c
    }

    /// The PIDs of every fake nvcc (builds for several archs may run at once) and of the
    /// children they started, as recorded so far.
    fn recorded(&self) -> Vec<(String, u32)> {
        let mut v: Vec<(String, u32)> = std::fs::read_dir(self.dir.path().join("pids"))
            .expect("pids")
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let (what, pid) = name.split_once('-')?;
                Some((what.to_string(), pid.parse().ok()?))
            })
            .collect();
        v.sort();
        v
    }

    /// Waits until a fake nvcc has started its child; `tool` must not end first.
    fn wait_for_nvcc(&self, mut tool: Option<&mut Child>) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.recorded().iter().any(|(w, _)| w == "child") {
            if let Some(t) = tool.as_mut() {
                if let Some(status) = t.try_wait().expect("try_wait") {
                    panic!("the tool ended before nvcc started: {status}");
                }
            }
            assert!(Instant::now() < deadline, "the fake nvcc never started");
            std::thread::sleep(Duration::from_millis(20));
        }
        // Let builds of the other archs start too, if they run in parallel.
        std::thread::sleep(Duration::from_millis(200));
    }

    /// Every recorded nvcc and child is gone within a few seconds.
    fn assert_all_dead(&self, when: &str) {
        let all = self.recorded();
        assert!(!all.is_empty());
        for (what, pid) in all {
            assert!(
                wait_dead(pid, Duration::from_secs(5)),
                "{when}: {what} {pid} outlived the tool"
            );
        }
    }
}

/// Gone, or a zombie (killed, waiting for init to reap it).
fn dead(pid: u32) -> bool {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    s.is_empty() || s.contains(") Z")
}

fn wait_dead(pid: u32, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if dead(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    dead(pid)
}

fn wait_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            return s;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("the tool did not exit within {within:?} of the signal");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Files under `dir` that are not whole evidence: temporaries or anything unparseable.
fn debris(dir: &Path) -> Vec<PathBuf> {
    let mut bad = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return bad;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            bad.extend(debris(&p));
        } else if p.extension().is_some_and(|x| x == "json")
            && serde_json::from_slice::<serde_json::Value>(&std::fs::read(&p).unwrap_or_default())
                .is_err()
        {
            bad.push(p);
        }
    }
    bad
}

fn interrupt_stops_nvcc(signal: &str, expected_exit: i32) {
    let fake = FakeToolchain::new();
    let mut tool = fake.sass_inspect().spawn().expect("start sass-inspect");
    fake.wait_for_nvcc(Some(&mut tool));
    // The signal goes to the tool alone, not to its process group.
    let k = Command::new("kill")
        .args([&format!("-{signal}"), &tool.id().to_string()])
        .status()
        .expect("kill");
    assert!(k.success());
    let status = wait_exit(&mut tool, Duration::from_secs(20));
    let mut stderr = String::new();
    if let Some(mut e) = tool.stderr.take() {
        use std::io::Read;
        let _ = e.read_to_string(&mut stderr);
    }
    assert_eq!(
        status.code(),
        Some(expected_exit),
        "{signal}: {status}; {stderr}"
    );
    fake.assert_all_dead(signal);
    assert!(debris(&fake.out()).is_empty(), "{:?}", debris(&fake.out()));
}

#[test]
fn sigint_to_the_tool_alone_stops_nvcc_and_its_children() {
    interrupt_stops_nvcc("INT", 130);
}

#[test]
fn sigterm_to_the_tool_alone_stops_nvcc_and_its_children() {
    interrupt_stops_nvcc("TERM", 143);
}

#[test]
fn sighup_to_the_tool_alone_stops_nvcc_and_its_children() {
    interrupt_stops_nvcc("HUP", 129);
}

/// `cudadent verify` runs each gate in a process group of its own and, when interrupted,
/// stops it with child_guard (SIGTERM to the group, SIGKILL after a grace period). The gate
/// must pass the stop on to its own children, which live in groups of their own.
#[test]
fn a_gate_stopped_like_verify_stops_it_stops_its_nvcc() {
    let fake = FakeToolchain::new();
    let expr = duct::cmd(
        env!("CARGO_BIN_EXE_sass-inspect"),
        [
            "--config".into(),
            "configs/canon_3.toml".into(),
            "--quiet".into(),
            "--out".into(),
            fake.out().into_os_string(),
            "--cuda-root".into(),
            fake.root().into_os_string(),
        ],
    )
    .env("CUDADENT_CACHE_DIR", fake.dir.path().join("cache"))
    .dir(repo())
    .stdout_null()
    .stderr_capture()
    .unchecked();
    let gate = std::thread::spawn(move || child_guard::output(&expr));
    fake.wait_for_nvcc(None);
    let started = Instant::now();
    let stopped = child_guard::stop_running(child_guard::STOP_GRACE);
    assert_eq!(stopped.len(), 1, "one gate was running");
    let out = gate.join().expect("thread").expect("gate ran");
    assert_eq!(
        out.status.code(),
        Some(143),
        "the gate did not handle SIGTERM: {}; {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        started.elapsed() < child_guard::STOP_GRACE,
        "the gate needed SIGKILL"
    );
    fake.assert_all_dead("stopped like verify");
}

/// Asserts that `run` has not ended and `deadline` has not passed (waiting until `what`),
/// then pauses briefly.
fn still_running(run: &mut Child, log: &Path, deadline: Instant, what: &str) {
    assert!(
        run.try_wait().expect("try_wait").is_none(),
        "the second run ended before it {what}: {}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
    assert!(Instant::now() < deadline, "the second run never {what}");
    std::thread::sleep(Duration::from_millis(20));
}

/// Two runs of one gate on one config against one out directory (a CI matrix on one
/// runner): the second waits for the first's run lock, says so, and starts its own work
/// only once the first has ended.
#[test]
fn a_second_run_of_the_same_gate_and_config_waits_for_the_first() {
    let fake = FakeToolchain::new();
    let mut first = fake.sass_inspect().spawn().expect("start the first run");
    fake.wait_for_nvcc(Some(&mut first));
    let before = fake.recorded();
    let log = fake.dir.path().join("second.stderr");
    let mut second = fake
        .sass_inspect_saying()
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("start the second run");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("waiting for another run of stats on canon_3")
    {
        still_running(&mut second, &log, deadline, "said it waits");
    }
    // While it waits it starts nothing.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        fake.recorded(),
        before,
        "the second run built while the first held the lock"
    );
    let kill = |c: &Child| {
        Command::new("kill")
            .args(["-INT", &c.id().to_string()])
            .status()
            .expect("kill")
    };
    kill(&first);
    assert_eq!(
        wait_exit(&mut first, Duration::from_secs(20)).code(),
        Some(130)
    );
    // Now the second run gets the lock and starts its own nvcc.
    let deadline = Instant::now() + Duration::from_secs(60);
    while fake.recorded().len() <= before.len() {
        still_running(&mut second, &log, deadline, "started building");
    }
    kill(&second);
    assert_eq!(
        wait_exit(&mut second, Duration::from_secs(20)).code(),
        Some(130)
    );
    fake.assert_all_dead("two runs");
}
