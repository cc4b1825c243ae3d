//! The inspector against util-linux `lsns(8)`.
//!
//! Sets up a crowd of 50 holder processes, each in new network, UTS and IPC namespaces with 3
//! extra children (200 extra processes, 150 extra namespaces; when not root, each holder also
//! gets a user namespace). Every one of the 200 holds a few fds of its own, for the fd scans
//! of both listers: its network and UTS namespace files (`/proc/self/ns/...`, opened) and a
//! socket. Then it measures:
//!
//! * `inspect::list(NamespaceSet::all())` in-process: with one thread, with `threads(2)`,
//!   without the fd scan, and plus a JSON rendering;
//! * process to process: the `lsns` example with `--json` against util-linux `lsns -J`.
//!
//! The medians that give the ratios come from interleaved rounds (each round runs every variant
//! once, starting one further on each time), so a machine whose speed drifts over the minutes
//! of a run (a VM beside other guests) slows all of them alike. It prints the ratio of medians
//! (`lsns -J` / ours) for each util-linux `lsns` it finds: `lsns` in `PATH`, and each path in
//! `LSNS_UL` (colon-separated; for example a build of current util-linux). The 3× target line
//! is printed for an `lsns` that scans fds and sockets as the example does (util-linux 2.41 and
//! later); an older one's ratio is printed without a target. Run with
//! `cargo bench --bench lsns`. With `LSNS_BENCH_HOLD` set, it only sets the crowd up and holds
//! it until its stdin ends, for profiling the listers by hand.

#![allow(unsafe_code)]

use std::cell::Cell;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use criterion::Criterion;
use linux_namespaces::NamespaceSet;
use linux_namespaces::inspect;

const HOLDERS: usize = 50;
const CHILDREN_PER_HOLDER: usize = 3;

/// Processes sitting in namespaces of their own until dropped.
struct Crowd {
    release: Option<std::fs::File>,
    holders: Vec<libc::pid_t>,
}

fn pipe() -> [libc::c_int; 2] {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
    let r = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(r, 0, "pipe2: {}", std::io::Error::last_os_error());
    fds
}

impl Crowd {
    /// Forks `holders` processes, each of which unshares `set` and forks `children` children;
    /// returns once every one of them exists (a byte per holder on a pipe, written after its
    /// children are forked). All of them block reading the release pipe until the crowd drops.
    fn new(holders: usize, children: usize, set: NamespaceSet) -> Crowd {
        let [ready_r, ready_w] = pipe();
        let [release_r, release_w] = pipe();
        let mut pids = Vec::with_capacity(holders);
        for _ in 0..holders {
            // SAFETY: the bench is single-threaded here; the child calls only
            // async-signal-safe functions (close, unshare, fork, write, read, waitpid, _exit)
            // and allocates nothing.
            let pid = unsafe { libc::fork() };
            assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
            if pid == 0 {
                // SAFETY: as above; the fds are this process's own copies.
                unsafe { holder(ready_r, ready_w, release_r, release_w, set, children) };
            }
            pids.push(pid);
        }
        // SAFETY: closing the parent's copies of the child-side ends.
        unsafe {
            libc::close(ready_w);
            libc::close(release_r);
        }
        let mut got = 0;
        let mut buf = [0u8; 64];
        while got < holders {
            // SAFETY: reading into a local buffer of the given length.
            let n = unsafe { libc::read(ready_r, buf.as_mut_ptr().cast(), buf.len()) };
            assert!(n > 0, "a holder failed to start (unshare({set}) refused?)");
            got += n as usize;
        }
        // SAFETY: our own fd, no longer needed.
        unsafe { libc::close(ready_r) };
        Crowd {
            // SAFETY: `release_w` is an open fd nothing else owns.
            release: Some(unsafe {
                <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(release_w)
            }),
            holders: pids,
        }
    }
}

/// Opens the caller's network and UTS namespace files and a socket, and leaves them open: the
/// fds each crowd process holds. Plain syscalls only (for a forked child).
///
/// # Safety
/// Only in a freshly forked child of a single-threaded parent.
unsafe fn hold_fds() {
    // SAFETY: open and socket with constant, NUL-terminated arguments.
    unsafe {
        libc::open(c"/proc/self/ns/net".as_ptr(), libc::O_RDONLY);
        libc::open(c"/proc/self/ns/uts".as_ptr(), libc::O_RDONLY);
        libc::socket(libc::AF_UNIX, libc::SOCK_DGRAM, 0);
    }
}

/// The holder's life: new namespaces, children, readiness, then wait for the release.
///
/// # Safety
/// Only in a freshly forked child of a single-threaded parent.
unsafe fn holder(
    ready_r: libc::c_int,
    ready_w: libc::c_int,
    release_r: libc::c_int,
    release_w: libc::c_int,
    set: NamespaceSet,
    children: usize,
) -> ! {
    // SAFETY: plain syscalls in the forked child (see the caller).
    unsafe {
        libc::close(ready_r);
        libc::close(release_w);
        if libc::unshare(set.bits() as libc::c_int) != 0 {
            libc::_exit(1);
        }
        for _ in 0..children {
            let pid = libc::fork();
            if pid == 0 {
                libc::close(ready_w);
                hold_fds();
                wait_for_release(release_r);
                libc::_exit(0);
            }
            if pid < 0 {
                libc::_exit(1);
            }
        }
        // After the forks: each child opens fds of its own (its own socket, say).
        hold_fds();
        libc::write(ready_w, b"x".as_ptr().cast(), 1);
        libc::close(ready_w);
        wait_for_release(release_r);
        // Reap the children, so no zombie outlives the crowd.
        while libc::waitpid(-1, std::ptr::null_mut(), 0) > 0 {}
        libc::_exit(0);
    }
}

/// Blocks until every write end of the release pipe is closed.
///
/// # Safety
/// `fd` is an open pipe read end.
unsafe fn wait_for_release(fd: libc::c_int) {
    let mut b = 0u8;
    // SAFETY: reading one byte into a local.
    while unsafe { libc::read(fd, (&raw mut b).cast(), 1) } != 0 {}
}

impl Drop for Crowd {
    fn drop(&mut self) {
        drop(self.release.take());
        for &pid in &self.holders {
            // SAFETY: waiting for our own child; a null status pointer is allowed.
            unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
        }
    }
}

/// The example, built with the release profile (cargo bench does not build examples).
fn example_binary() -> PathBuf {
    let out = Command::new(env!("CARGO"))
        .args([
            "build",
            "--offline",
            "--release",
            "--example",
            "lsns",
            "--message-format=json",
        ])
        .arg("--manifest-path")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
        .stderr(Stdio::inherit())
        .output()
        .expect("run cargo build --example lsns");
    assert!(out.status.success(), "cargo build --example lsns failed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "lsns")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .expect("cargo reported no lsns executable")
}

/// Runs a lister to completion; its output size. Our example must succeed every time.
/// util-linux 2.38 `lsns` gives up (status 1) when a process exits at the wrong moment of its
/// scan, which other activity on the machine can cause: such runs are counted, not fatal (they
/// end early, so they flatter `lsns`, if anything).
fn run(program: &Path, args: &[&str], failures: &Cell<usize>, must_succeed: bool) -> usize {
    let out = Command::new(program)
        .args(args)
        .stderr(Stdio::null())
        .output()
        .expect("spawn");
    if !out.status.success() {
        assert!(
            !must_succeed,
            "{} {args:?}: {}",
            program.display(),
            out.status
        );
        failures.set(failures.get() + 1);
    }
    out.stdout.len()
}

fn list_without_fds() -> Vec<inspect::NamespaceInfo> {
    inspect::list_with(&inspect::ListOptions::new(NamespaceSet::all()).open_fds(false))
        .expect("list")
}

fn list_two_threads() -> Vec<inspect::NamespaceInfo> {
    inspect::list_with(&inspect::ListOptions::new(NamespaceSet::all()).threads(2)).expect("list")
}

/// The listing rendered as `lsns -J` renders it (the columns of its default output), with
/// serde_json: a stand-in for the example's own rendering that does not tie the bench to
/// the example's internals.
fn list_json() -> String {
    let list = inspect::list(NamespaceSet::all()).expect("list");
    let rows: Vec<serde_json::Value> = list
        .iter()
        .map(|n| {
            serde_json::json!({
                "ns": n.id.ino(),
                "type": n.id.kind().proc_name(),
                "nprocs": n.nprocs(),
                "pid": n.pid,
                "user": n.uid.or(n.owner_uid),
                "command": n.command,
            })
        })
        .collect();
    serde_json::json!({ "namespaces": rows }).to_string()
}

/// A named thing to time.
type Variant<'a> = (String, Box<dyn FnMut() + 'a>);

/// Runs every variant once per round, `rounds` times, in rotating order; the median time of
/// each.
fn interleaved(variants: &mut [Variant<'_>], rounds: usize) -> Vec<Duration> {
    let mut times = vec![Vec::with_capacity(rounds); variants.len()];
    let n = variants.len();
    for round in 0..rounds {
        // Each round starts one variant further on, so each follows every other equally
        // often (the first after util-linux's `lsns` runs measurably slower).
        for i in (0..n).map(|k| (round + k) % n) {
            let t = Instant::now();
            (variants[i].1)();
            times[i].push(t.elapsed());
        }
    }
    times
        .into_iter()
        .map(|mut t| {
            t.sort_unstable();
            t[rounds / 2]
        })
        .collect()
}

/// Whether the `lsns` whose `--version` line is `version` scans open fds and sockets for
/// namespaces, as the example does: util-linux 2.41 and later.
fn scans_fds(version: &str) -> bool {
    let release = version.rsplit(' ').next().unwrap_or("");
    let mut numbers = release.split('.').map(|n| n.parse::<u32>().ok());
    match (numbers.next().flatten(), numbers.next().flatten()) {
        (Some(major), Some(minor)) => (major, minor) >= (2, 41),
        _ => false,
    }
}

/// The util-linux `lsns` programs to compare with, with their `--version` line: `lsns` in
/// `PATH` if there is one, then each path in `LSNS_UL` (colon-separated).
fn util_linux_listers() -> Vec<(PathBuf, String)> {
    let extra = std::env::var_os("LSNS_UL").unwrap_or_default();
    std::iter::once(PathBuf::from("lsns"))
        .chain(std::env::split_paths(&extra).filter(|p| !p.as_os_str().is_empty()))
        .filter_map(|path| {
            let out = Command::new(&path).arg("--version").output().ok()?;
            let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
            out.status.success().then_some((path, version))
        })
        .collect()
}

fn main() {
    let example = example_binary();
    let listers = util_linux_listers();
    assert!(
        !listers.is_empty(),
        "no util-linux lsns to compare with: none in PATH and LSNS_UL unset"
    );
    for (path, version) in &listers {
        println!("util-linux lsns: {} ({version})", path.display());
    }
    let root = rustix::process::geteuid().is_root();
    let set = if root {
        NamespaceSet::NET | NamespaceSet::UTS | NamespaceSet::IPC
    } else {
        NamespaceSet::USER | NamespaceSet::NET | NamespaceSet::UTS | NamespaceSet::IPC
    };
    let baseline = inspect::list(NamespaceSet::all()).expect("list");
    let crowd = Crowd::new(HOLDERS, CHILDREN_PER_HOLDER, set);
    let listed = inspect::list(NamespaceSet::all()).expect("list");
    let procs = |l: &[inspect::NamespaceInfo]| {
        l.iter()
            .filter(|n| n.id.kind() == linux_namespaces::NamespaceKind::Network)
            .map(|n| n.nprocs())
            .sum::<usize>()
    };
    println!(
        "crowd: {} holders x {} children in new {set}: {} namespaces and {} processes before, \
         {} and {} now",
        HOLDERS,
        CHILDREN_PER_HOLDER,
        baseline.len(),
        procs(&baseline),
        listed.len(),
        procs(&listed)
    );
    assert!(listed.len() >= baseline.len() + HOLDERS * set.kinds().count());
    // The crowd's processes are in network namespaces the baseline did not have (other
    // processes on the machine come and go meanwhile, so totals are not compared).
    let crowd_procs: usize = listed
        .iter()
        .filter(|n| n.id.kind() == linux_namespaces::NamespaceKind::Network)
        .filter(|n| !baseline.iter().any(|b| b.id == n.id))
        .map(|n| n.nprocs())
        .sum();
    assert!(crowd_procs >= HOLDERS * (1 + CHILDREN_PER_HOLDER));
    if std::env::var_os("LSNS_BENCH_HOLD").is_some() {
        // For profiling the listers by hand: keep the crowd until stdin ends.
        println!(
            "crowd ready (pid {}); holding it until stdin ends",
            std::process::id()
        );
        std::io::copy(&mut std::io::stdin(), &mut std::io::sink()).expect("read stdin");
        return;
    }

    let ours_failed = Cell::new(0);
    let lsns_failed: Vec<Cell<usize>> = listers.iter().map(|_| Cell::new(0)).collect();
    let mut c = Criterion::default()
        .sample_size(40)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(6))
        .configure_from_args();
    {
        let mut g = c.benchmark_group("lsns");
        g.bench_function("inspect::list(all)", |b| {
            b.iter(|| black_box(inspect::list(NamespaceSet::all()).expect("list")))
        });
        g.bench_function("inspect::list(all), threads(2)", |b| {
            b.iter(|| black_box(list_two_threads()))
        });
        g.bench_function("inspect::list(all), no fd scan", |b| {
            b.iter(|| black_box(list_without_fds()))
        });
        g.bench_function("inspect::list(all) + json", |b| {
            b.iter(|| black_box(list_json()))
        });
        g.bench_function("process: example --json", |b| {
            b.iter(|| black_box(run(&example, &["--json"], &ours_failed, true)))
        });
        g.bench_function("process: util-linux lsns -J", |b| {
            b.iter(|| black_box(run(&listers[0].0, &["-J"], &lsns_failed[0], false)))
        });
        g.finish();
    }
    c.final_summary();

    // Medians of interleaved rounds, for the ratios (criterion's figures are slope/mean
    // estimates of one variant after another).
    let rounds: usize = std::env::var("LSNS_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(101);
    let mut variants: Vec<Variant<'_>> = vec![
        (
            "inspect::list(all), in-process".into(),
            Box::new(|| drop(black_box(inspect::list(NamespaceSet::all()).expect("list")))),
        ),
        (
            "the same with threads(2)".into(),
            Box::new(|| drop(black_box(list_two_threads()))),
        ),
        (
            "the same without the fd scan".into(),
            Box::new(|| drop(black_box(list_without_fds()))),
        ),
        (
            "inspect::list(all) + json, in-process".into(),
            Box::new(|| drop(black_box(list_json()))),
        ),
        (
            "example --json, process".into(),
            Box::new(|| {
                black_box(run(&example, &["--json"], &ours_failed, true));
            }),
        ),
    ];
    let example_at = variants.len() - 1;
    let listers_at = variants.len();
    for ((path, _), failed) in listers.iter().zip(&lsns_failed) {
        variants.push((
            format!("{} -J, process", path.display()),
            Box::new(move || {
                black_box(run(path, &["-J"], failed, false));
            }),
        ));
    }
    let medians = interleaved(&mut variants, rounds);
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("medians of {rounds} interleaved rounds:");
    for ((name, _), m) in variants.iter().zip(&medians) {
        println!("  {name:<44} {:8.3} ms", ms(*m));
    }
    let ours = medians[example_at];
    for (i, (path, version)) in listers.iter().enumerate() {
        let theirs = medians[listers_at + i];
        let ratio = ms(theirs) / ms(ours);
        // The target compares like with like: an `lsns` that scans fds and sockets too.
        let target = if scans_fds(version) {
            format!(
                "both scan fds; target at least 3x: {}",
                if ratio >= 3.0 { "met" } else { "NOT met" }
            )
        } else {
            "no fd scan before util-linux 2.41: not like for like, no target".to_string()
        };
        println!(
            "ratio {} -J ({version}) / example --json: {ratio:.2}x ({target})",
            path.display()
        );
    }
    println!(
        "runs that failed: example {}, util-linux lsns {:?}",
        ours_failed.get(),
        lsns_failed.iter().map(Cell::get).collect::<Vec<_>>()
    );
    drop(crowd);
}
