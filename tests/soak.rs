//! Load: many spawns from a parent full of busy threads, failures mixed in, and an init that
//! must reap a thousand orphans. `LNS_SOAK_SPAWNS` sets the soak size (1,000 by default, as CI
//! runs it; 10,000 for the full run: `LNS_SOAK_SPAWNS=10000 cargo test --release --test soak`).

mod common;

use std::io::{BufRead, BufReader};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use common::*;
use linux_namespaces::{Command, Error, Mount, NamespaceSet, Propagation, Stdio};

fn spawns() -> usize {
    std::env::var("LNS_SOAK_SPAWNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
}

/// 200 threads that allocate, take a shared lock and park briefly, over and over, so that
/// spawns happen while other threads hold the allocator's and other locks.
struct Busy {
    stop: Arc<AtomicBool>,
    work: Arc<AtomicU64>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Busy {
    fn start(n: usize) -> Busy {
        let stop = Arc::new(AtomicBool::new(false));
        let work = Arc::new(AtomicU64::new(0));
        let lock = Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
        let threads = (0..n)
            .map(|i| {
                let (stop, work, lock) = (stop.clone(), work.clone(), lock.clone());
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let v = vec![i as u8; 64 + i % 512];
                        lock.lock().unwrap().extend_from_slice(&v[..8]);
                        lock.lock().unwrap().truncate(1024);
                        work.fetch_add(1, Ordering::Relaxed);
                        // A load pattern, not a wait for anything: let the spawner run too.
                        std::thread::park_timeout(Duration::from_micros(200));
                    }
                })
            })
            .collect();
        Busy {
            stop,
            work,
            threads,
        }
    }

    fn finish(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            t.thread().unpark();
            t.join().unwrap();
        }
        self.work.load(Ordering::Relaxed)
    }
}

fn typical() -> Command {
    let mut c = Command::new("/bin/true");
    c.unshare(
        NamespaceSet::USER
            | NamespaceSet::PID
            | NamespaceSet::MOUNT
            | NamespaceSet::UTS
            | NamespaceSet::IPC,
    )
    .map_root();
    c
}

#[test]
fn soak_spawns_from_a_parent_with_200_busy_threads() {
    rootless(|| {
        let n = spawns();
        let fds = open_fds();
        let mounts = mountinfo();
        let busy = Busy::start(200);
        let mut cmd = typical();
        let mut ok = 0;
        for i in 0..n {
            let st = cmd.status().map_err(|e| format!("spawn {i}: {e}"))?;
            ensure!(st.success(), "spawn {i}: {st}");
            ok += 1;
        }
        let work = busy.finish();
        ensure!(ok == n, "{ok} of {n} statuses");
        ensure!(work > 0, "the busy threads did nothing");
        ensure!(no_children(), "zombie or child left");
        ensure!(open_fds() == fds, "fds grew: {:?} vs {fds:?}", open_fds());
        ensure!(mountinfo() == mounts, "mount table changed");
        eprintln!("soak: {n} spawns, busy threads did {work} rounds");
        Ok(())
    })
    .unwrap()
}

#[test]
fn every_tenth_spawn_fails_at_a_step_and_nothing_leaks() {
    rootless(|| {
        let fds = open_fds();
        let mounts = mountinfo();
        let mut good = typical();
        let mut bad = typical();
        bad.mount(Mount::propagation("/", Propagation::Private).recursive())
            .mount(Mount::bind("/nonexistent-lns-source", "/mnt"));
        let (mut ok, mut failed) = (0, 0);
        for i in 0..1000 {
            if i % 10 == 9 {
                match bad.spawn() {
                    Err(Error::Spawn { step, source, .. })
                        if step.mount_index() == Some(1)
                            && source.raw_os_error() == Some(libc::ENOENT) =>
                    {
                        failed += 1
                    }
                    other => {
                        return Err(format!(
                            "spawn {i}: expected a mount failure, got {other:?}"
                        ));
                    }
                }
            } else {
                let st = good.status().map_err(|e| format!("spawn {i}: {e}"))?;
                ensure!(st.success(), "spawn {i}: {st}");
                ok += 1;
            }
        }
        ensure!(ok == 900 && failed == 100, "{ok} ok, {failed} failed");
        ensure!(no_children(), "zombie or child left");
        ensure!(open_fds() == fds, "fds grew: {:?} vs {fds:?}", open_fds());
        ensure!(mountinfo() == mounts, "mount table changed");
        Ok(())
    })
    .unwrap()
}

#[test]
fn init_reaps_a_thousand_orphans_and_forwards_signals() {
    rootless(|| {
        // The program orphans 1,000 processes (each subshell starts `true` and exits at once),
        // then counts zombies in its pid namespace until init has reaped them all, reports, and
        // waits for SIGTERM, which reaches it through init.
        let script = r#"
            i=0
            while [ $i -lt 1000 ]; do ( true & ); i=$((i+1)); done
            tries=0
            while :; do
                z=0
                for s in /proc/[0-9]*/stat; do
                    read -r line < "$s" 2>/dev/null || continue
                    case "$line" in *") Z "*) z=$((z+1));; esac
                done
                tries=$((tries+1))
                [ $z -eq 0 ] && break
                [ $tries -ge 300 ] && break
            done
            echo "zombies $z"
            trap 'exit 3' TERM
            echo ready
            # `wait` returns at once when a trapped signal comes, and the trap runs: exit 3,
            # whatever else happens (a `read`, ended by the signal or by stdin closing, could
            # race the trap).
            while :; do sleep 1000 & wait $!; done
        "#;
        let mut child = Command::new("/bin/sh")
            .args(["-c", script])
            .unshare(NamespaceSet::USER | NamespaceSet::PID | NamespaceSet::MOUNT)
            .map_root()
            .mount(Mount::propagation("/", Propagation::Private).recursive())
            .mount(Mount::proc("/proc"))
            .init(true)
            .stdin(Stdio::Piped)
            .stdout(Stdio::Piped)
            .spawn()
            .map_err(|e| e.to_string())?;
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).map_err(|e| e.to_string())?;
        ensure_eq!(line.trim(), "zombies 0");
        line.clear();
        out.read_line(&mut line).map_err(|e| e.to_string())?;
        ensure_eq!(line.trim(), "ready");
        child
            .signal(linux_namespaces::Signal::TERM)
            .map_err(|e| e.to_string())?;
        let st = child.wait().map_err(|e| e.to_string())?;
        ensure!(
            st.code() == Some(3),
            "init exited with {st}, not the program's 3"
        );
        ensure!(no_children(), "child left");
        Ok(())
    })
    .unwrap()
}
