//! Spawn cost per namespace set: this crate's [`Command`](NsCommand) against the kernel's floor
//! and against `std::process::Command`.
//!
//! Every variant spawns `/bin/true` and waits for it. The sets:
//!
//! * (a) none;
//! * (b) user, rootless, the caller mapped to root (`map_root`);
//! * (c) user + pid + mnt + uts + ipc, rootless;
//! * (d) (c) + net;
//! * (e) (c) + cgroup;
//! * (f) pid + mnt + uts + ipc as root, without a user namespace.
//!
//! The spawners, side by side in each set:
//!
//! * `linux-namespaces`: one [`Command`](NsCommand), built once and reused, as a harness would;
//! * `floor clone3 (fork-like)`: a raw `clone3` with the set's flags and `CLONE_PIDFD` through
//!   `libc::syscall`, returning twice;
//! * `floor clone (vm+vfork)`: glibc's `clone()` with `CLONE_VM|CLONE_VFORK|CLONE_PIDFD` and the
//!   set's flags, on a stack of its own;
//! * `std`: `std::process::Command` (set a);
//! * `std + pre_exec unshare`: `std::process::Command` with a `pre_exec` hook that calls
//!   `unshare` (and writes the maps). `unshare(CLONE_NEWPID)` only moves the caller's future
//!   children, so for sets with a pid namespace the hook forks once more: the grandchild
//!   execs, the hook's process waits for it and exits with its status.
//!
//! Both floors run a child that does only what the set needs (for a user namespace: write
//! "deny" to `/proc/self/setgroups` and the single-line maps `0 <uid> 1`, `0 <gid> 1`), then
//! `execve`; the parent waits with `waitid(P_PIDFD)`.
//!
//! Rootless sets run unprivileged: when the bench runs as root they run in a forked worker that
//! dropped to uid/gid 65534 (`setgroups([])`, `setresgid`, `setresuid`,
//! `PR_SET_DUMPABLE`), which times its batches itself and sends the numbers back over a pipe.
//! Set (f) needs root and is left out otherwise.
//!
//! * `cargo bench --bench spawn` runs one criterion group per set.
//! * `cargo bench --bench spawn -- --report` runs the whole comparison in one process run
//!   without criterion, round-robin (a batch of each variant in turn, each batch after one untimed spawn, so noise from other
//!   processes hits all of them alike), and prints Markdown: per set and spawner the median and
//!   p90 in µs and the ratio to the set's best floor variant; (g) a parent with 4 GiB of touched
//!   memory against a small one; (h) two threads spawning at once against one; the machine.
//!   `SPAWN_BENCH_ROUNDS` (default 200; fewer rounds leave the ratios a few percent noisier) and `SPAWN_BENCH_BATCH` (default 8) set its length;
//!   `SPAWN_BENCH_SETS=afg` keeps only those parts (sets a-f in either mode, g and h in the
//!   report).
//! * `cargo bench --bench spawn -- --loop c linux_namespaces 2000` runs one case in a loop in
//!   one process (dropped to 65534 for a rootless set), for `perf record` or `strace`.

#![allow(unsafe_code)]

use std::ffi::{CStr, c_int};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::FromRawFd;
use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

use criterion::Criterion;
use linux_namespaces::{Command as NsCommand, NamespaceSet};

const PROGRAM: &CStr = c"/bin/true";
/// The uid and gid the rootless part runs as when the bench is root.
const NOBODY: u32 = 65534;

// ---------------------------------------------------------------------------------------------
// Sets and spawners

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Set {
    None,
    User,
    Container,
    ContainerNet,
    ContainerCgroup,
    RootContainer,
}

impl Set {
    const ALL: [Set; 6] = [
        Set::None,
        Set::User,
        Set::Container,
        Set::ContainerNet,
        Set::ContainerCgroup,
        Set::RootContainer,
    ];

    /// The criterion group name.
    fn id(self) -> &'static str {
        match self {
            Set::None => "a_none",
            Set::User => "b_user_rootless",
            Set::Container => "c_user_pid_mnt_uts_ipc_rootless",
            Set::ContainerNet => "d_c_plus_net_rootless",
            Set::ContainerCgroup => "e_c_plus_cgroup_rootless",
            Set::RootContainer => "f_pid_mnt_uts_ipc_root",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Set::None => "(a) none",
            Set::User => "(b) user, map_root, rootless",
            Set::Container => "(c) user+pid+mnt+uts+ipc, rootless",
            Set::ContainerNet => "(d) (c)+net, rootless",
            Set::ContainerCgroup => "(e) (c)+cgroup, rootless",
            Set::RootContainer => "(f) pid+mnt+uts+ipc, root",
        }
    }

    fn namespaces(self) -> NamespaceSet {
        let c = NamespaceSet::USER
            | NamespaceSet::PID
            | NamespaceSet::MOUNT
            | NamespaceSet::UTS
            | NamespaceSet::IPC;
        match self {
            Set::None => NamespaceSet::empty(),
            Set::User => NamespaceSet::USER,
            Set::Container => c,
            Set::ContainerNet => c | NamespaceSet::NET,
            Set::ContainerCgroup => c | NamespaceSet::CGROUP,
            Set::RootContainer => c - NamespaceSet::USER,
        }
    }

    fn rootless(self) -> bool {
        self.namespaces().contains(NamespaceSet::USER)
    }

    fn needs_root(self) -> bool {
        self == Set::RootContainer
    }

    fn spawners(self) -> &'static [Spawner] {
        use Spawner::*;
        match self {
            Set::None => &[Crate, CrateNew, FloorFork, FloorVfork, Std],
            _ => &[Crate, CrateNew, FloorFork, FloorVfork, StdUnshare],
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Spawner {
    Crate,
    /// A new `Command` built for every spawn (the plan is built every time).
    CrateNew,
    FloorFork,
    FloorVfork,
    Std,
    StdUnshare,
}

impl Spawner {
    fn id(self) -> &'static str {
        match self {
            Spawner::Crate => "linux_namespaces",
            Spawner::CrateNew => "linux_namespaces_new",
            Spawner::FloorFork => "floor_clone3_fork",
            Spawner::FloorVfork => "floor_clone_vm_vfork",
            Spawner::Std => "std",
            Spawner::StdUnshare => "std_pre_exec_unshare",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Spawner::Crate => "linux-namespaces `Command`",
            Spawner::CrateNew => "linux-namespaces, new `Command` per spawn",
            Spawner::FloorFork => "floor: `clone3` fork-like",
            Spawner::FloorVfork => "floor: `clone` VM+VFORK",
            Spawner::Std => "`std::process::Command`",
            Spawner::StdUnshare => "std + `pre_exec` unshare",
        }
    }

    fn is_floor(self) -> bool {
        matches!(self, Spawner::FloorFork | Spawner::FloorVfork)
    }
}

/// Every (set, spawner) pair; the index is the case's number on the worker pipe.
fn cases() -> Vec<(Set, Spawner)> {
    Set::ALL
        .iter()
        .flat_map(|&s| s.spawners().iter().map(move |&p| (s, p)))
        .collect()
}

fn case_index(set: Set, spawner: Spawner) -> usize {
    cases()
        .iter()
        .position(|&c| c == (set, spawner))
        .expect("a listed case")
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// One spawn of `/bin/true` and the wait for it; panics unless it exits 0.
type Case = Box<dyn FnMut() + Send>;

fn make_case(set: Set, spawner: Spawner) -> Case {
    match spawner {
        Spawner::Crate => {
            let mut cmd = NsCommand::new("/bin/true");
            cmd.unshare(set.namespaces());
            if set.rootless() {
                cmd.map_root();
            }
            Box::new(move || {
                let status = cmd
                    .spawn()
                    .unwrap_or_else(|e| panic!("{}: {e}", set.label()))
                    .wait()
                    .expect("wait");
                assert!(status.success(), "{}: {status}", set.label());
            })
        }
        Spawner::CrateNew => Box::new(move || {
            let mut cmd = NsCommand::new("/bin/true");
            cmd.unshare(set.namespaces());
            if set.rootless() {
                cmd.map_root();
            }
            let status = cmd
                .spawn()
                .unwrap_or_else(|e| panic!("{}: {e}", set.label()))
                .wait()
                .expect("wait");
            assert!(status.success(), "{}: {status}", set.label());
        }),
        Spawner::FloorFork => {
            let mut floor = Floor::new(set.namespaces(), false);
            Box::new(move || floor.spawn_and_wait())
        }
        Spawner::FloorVfork => {
            let mut floor = Floor::new(set.namespaces(), true);
            Box::new(move || floor.spawn_and_wait())
        }
        Spawner::Std => {
            let mut cmd = std::process::Command::new("/bin/true");
            Box::new(move || assert!(cmd.status().expect("std spawn").success()))
        }
        Spawner::StdUnshare => {
            let mut cmd = std::process::Command::new("/bin/true");
            let flags = set.namespaces().bits() as c_int;
            let maps = Maps::for_self(set.rootless());
            let fork_again = set.namespaces().contains(NamespaceSet::PID);
            // SAFETY: the hook runs in std's forked child, which is single-threaded; it calls
            // only async-signal-safe functions (unshare, open, write, close, waitpid, _exit)
            // and fork (fine in a single-threaded process), and allocates nothing (the map
            // texts were built here, before).
            unsafe {
                cmd.pre_exec(move || {
                    if libc::unshare(flags) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    maps.write();
                    if fork_again {
                        let pid = libc::fork();
                        if pid < 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                        if pid > 0 {
                            libc::_exit(wait_pid(pid));
                        }
                    }
                    Ok(())
                });
            }
            Box::new(move || assert!(cmd.status().expect("std spawn").success()))
        }
    }
}

/// Waits for `pid` and turns its wait status into an exit code (128 + signal if killed).
///
/// # Safety
/// `pid` is a child of the caller.
unsafe fn wait_pid(pid: libc::pid_t) -> c_int {
    let mut st = 0;
    // SAFETY: `st` is a live local; the caller owns the child.
    while unsafe { libc::waitpid(pid, &mut st, 0) } < 0 {
        if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return 126;
        }
    }
    if libc::WIFEXITED(st) {
        libc::WEXITSTATUS(st)
    } else {
        128 + libc::WTERMSIG(st)
    }
}

#[path = "support/floor.rs"]
mod floor;
use floor::{Floor, Maps};

// ---------------------------------------------------------------------------------------------
// Running cases: here, or in a forked worker

/// The cases this process runs, each built on first use and kept (a reused `Command` is part
/// of what is measured).
struct Local {
    cases: Vec<Option<Case>>,
}

impl Local {
    fn new() -> Local {
        Local {
            cases: cases().iter().map(|_| None).collect(),
        }
    }

    /// Runs case `i` `iters` times after one untimed run; the nanoseconds of each timed run.
    /// The untimed run takes the cost of switching in: in the round-robin a variant always
    /// follows the same one, and the first of a set often follows another process's batch
    /// (the rootless worker's, or the root process's), with cold caches.
    fn run(&mut self, i: usize, iters: u32) -> Vec<u64> {
        let (set, spawner) = cases()[i];
        let case = self.cases[i].get_or_insert_with(|| make_case(set, spawner));
        case();
        (0..iters)
            .map(|_| {
                let t = Instant::now();
                case();
                t.elapsed().as_nanos() as u64
            })
            .collect()
    }
}

/// What a worker does right after the fork, before serving.
#[derive(Clone, Copy)]
enum Setup {
    Nothing,
    DropPrivileges,
    /// Map this many bytes and write every page, on the first request (so that the work does
    /// not overlap other measurements).
    TouchMemory(usize),
}

/// A forked process that runs cases on request: `(case: u32, iters: u32)` in, `iters` u64
/// nanosecond counts out.
struct Worker {
    pid: libc::pid_t,
    to: Option<File>,
    from: File,
}

const PREPARE: u32 = u32::MAX;

fn pipe() -> (File, File) {
    let mut fds = [0; 2];
    // SAFETY: `fds` is an array of two ints for pipe2 to fill.
    let r = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(r, 0, "pipe2: {}", std::io::Error::last_os_error());
    // SAFETY: two fresh fds nothing else owns.
    unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) }
}

impl Worker {
    /// Forks the worker. Call while this process is single-threaded.
    fn start(setup: Setup) -> Worker {
        let (req_r, req_w) = pipe();
        let (resp_r, resp_w) = pipe();
        // SAFETY: the bench is single-threaded when workers start (before criterion or any
        // thread), so the child may allocate and run ordinary code; it ends with _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
        if pid == 0 {
            drop(req_w);
            drop(resp_r);
            let code = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                serve(setup, req_r, resp_w)
            })) {
                Ok(()) => 0,
                Err(_) => 101,
            };
            // SAFETY: ends the worker without running the parent's destructors twice.
            unsafe { libc::_exit(code) };
        }
        Worker {
            pid,
            to: Some(req_w),
            from: resp_r,
        }
    }

    fn request(&mut self, case: u32, iters: u32) -> Vec<u64> {
        let mut req = [0u8; 8];
        req[..4].copy_from_slice(&case.to_ne_bytes());
        req[4..].copy_from_slice(&iters.to_ne_bytes());
        let to = self.to.as_mut().expect("open");
        to.write_all(&req).expect("worker gone");
        let n = if case == PREPARE { 1 } else { iters as usize };
        let mut buf = vec![0u8; n * 8];
        self.from
            .read_exact(&mut buf)
            .expect("the worker died (its panic message is above)");
        buf.chunks_exact(8)
            .map(|c| u64::from_ne_bytes(c.try_into().expect("8 bytes")))
            .collect()
    }

    fn prepare(&mut self) {
        self.request(PREPARE, 0);
    }

    fn run(&mut self, case: usize, iters: u32) -> Vec<u64> {
        self.request(case as u32, iters)
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        drop(self.to.take());
        // SAFETY: our own child.
        unsafe { wait_pid(self.pid) };
    }
}

fn drop_privileges() {
    // SAFETY: credential syscalls on the calling (forked, single-threaded) process.
    unsafe {
        assert_eq!(libc::setgroups(0, std::ptr::null()), 0, "setgroups");
        assert_eq!(libc::setresgid(NOBODY, NOBODY, NOBODY), 0, "setresgid");
        assert_eq!(libc::setresuid(NOBODY, NOBODY, NOBODY), 0, "setresuid");
        // Keeps /proc/self/{uid_map,gid_map,setgroups} ours after the uid change.
        assert_eq!(libc::prctl(libc::PR_SET_DUMPABLE, 1, 0, 0, 0), 0, "prctl");
    }
}

/// Maps `len` bytes and writes every page, with 4 KiB pages (MADV_NOHUGEPAGE), so the page
/// tables are as large as a busy heap's. Kept for the worker's life.
fn touch_memory(len: usize) {
    // SAFETY: a fresh private anonymous mapping; written only here, inside its bounds.
    unsafe {
        let p = libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        assert_ne!(p, libc::MAP_FAILED, "mmap {len}");
        libc::madvise(p, len, libc::MADV_NOHUGEPAGE);
        let page = libc::sysconf(libc::_SC_PAGESIZE) as usize;
        let bytes = p.cast::<u8>();
        let mut off = 0;
        while off < len {
            bytes.add(off).write_volatile(1);
            off += page;
        }
    }
}

fn serve(setup: Setup, mut from: File, mut to: File) {
    if let Setup::DropPrivileges = setup {
        drop_privileges();
    }
    let mut local = Local::new();
    let mut req = [0u8; 8];
    while from.read_exact(&mut req).is_ok() {
        let case = u32::from_ne_bytes(req[..4].try_into().expect("4 bytes"));
        let iters = u32::from_ne_bytes(req[4..].try_into().expect("4 bytes"));
        let out = if case == PREPARE {
            if let Setup::TouchMemory(len) = setup {
                touch_memory(len);
            }
            vec![0]
        } else {
            local.run(case as usize, iters)
        };
        let bytes: Vec<u8> = out.iter().flat_map(|n| n.to_ne_bytes()).collect();
        to.write_all(&bytes).expect("parent gone");
    }
}

/// Where the cases of each set run: here, or (rootless sets, when root) in the dropped worker.
struct Runners {
    local: Local,
    rootless: Option<Worker>,
}

impl Runners {
    fn start() -> Runners {
        Runners {
            local: Local::new(),
            rootless: is_root().then(|| Worker::start(Setup::DropPrivileges)),
        }
    }

    fn run(&mut self, set: Set, spawner: Spawner, iters: u32) -> Vec<u64> {
        let i = case_index(set, spawner);
        match &mut self.rootless {
            Some(w) if set.rootless() => w.run(i, iters),
            _ => self.local.run(i, iters),
        }
    }
}

/// Left out: needs root and is not, or not among the letters in `SPAWN_BENCH_SETS` (if set).
fn skipped(set: Set) -> bool {
    !chosen(&set.id()[..1]) || (set.needs_root() && !is_root())
}

/// Whether part `letter` (a-h) runs: all of them unless `SPAWN_BENCH_SETS` names some.
fn chosen(letter: &str) -> bool {
    std::env::var("SPAWN_BENCH_SETS").map_or(true, |v| v.contains(letter))
}

// ---------------------------------------------------------------------------------------------
// criterion

fn criterion_groups(runners: &mut Runners) {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30)
        .configure_from_args();
    for set in Set::ALL {
        if skipped(set) {
            eprintln!(
                "{}: left out (needs root, or not in SPAWN_BENCH_SETS)",
                set.id()
            );
            continue;
        }
        let mut g = c.benchmark_group(set.id());
        for &spawner in set.spawners() {
            g.bench_function(spawner.id(), |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    let mut left = iters;
                    while left > 0 {
                        let n = left.min(10_000);
                        let ns: u64 = runners.run(set, spawner, n as u32).iter().sum();
                        total += Duration::from_nanos(ns);
                        left -= n;
                    }
                    total
                })
            });
        }
        g.finish();
    }
    c.final_summary();
}

// ---------------------------------------------------------------------------------------------
// --report

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Stats {
    median: f64,
    p90: f64,
}

/// Median and 90th percentile, in µs.
fn stats(samples: &[u64]) -> Stats {
    let mut s = samples.to_vec();
    s.sort_unstable();
    let at = |q: f64| s[((q * s.len() as f64).ceil() as usize).clamp(1, s.len()) - 1] as f64 / 1e3;
    let median = if s.len().is_multiple_of(2) {
        (s[s.len() / 2 - 1] + s[s.len() / 2]) as f64 / 2e3
    } else {
        s[s.len() / 2] as f64 / 1e3
    };
    Stats {
        median,
        p90: at(0.9),
    }
}

fn machine() -> String {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "?".into());
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "?".into());
    format!("Linux {release}, {cpus} CPUs (nproc), {model}")
}

/// Runs `variants` round-robin: each round runs a batch of every variant, starting one further
/// along each round so that no variant always follows the same one.
fn round_robin<K: Copy>(
    variants: &[K],
    rounds: usize,
    mut batch: impl FnMut(K) -> Vec<u64>,
) -> Vec<Vec<u64>> {
    let mut samples = vec![Vec::new(); variants.len()];
    for r in 0..rounds {
        for k in 0..variants.len() {
            let i = (r + k) % variants.len();
            samples[i].extend(batch(variants[i]));
        }
    }
    samples
}

/// What the report found, for the targets and the README paragraph.
#[derive(Default)]
struct Found {
    /// Per set: this crate's median and its ratio to the set's best floor.
    sets: Vec<(Set, f64, f64)>,
    /// Per set: a new `Command` per spawn, its ratio to the set's best floor.
    new_per_spawn: Vec<(Set, f64)>,
    /// Set (a): this crate's median over std's.
    a_vs_std: Option<f64>,
    /// This crate: 4 GiB parent median over small parent median.
    big_vs_small: Option<f64>,
    /// This crate: two threads' throughput over one thread's.
    two_vs_one: Option<f64>,
}

fn report() {
    let rounds = env_usize("SPAWN_BENCH_ROUNDS", 200);
    let batch = env_usize("SPAWN_BENCH_BATCH", 8) as u32;
    // All forks happen here, while the process is single-threaded.
    let mut runners = Runners::start();
    let g_workers = chosen("g").then(|| {
        (
            Worker::start(Setup::Nothing),
            Worker::start(Setup::TouchMemory(4 << 30)),
        )
    });

    let me = if is_root() {
        "root; the rootless sets in a worker process at uid/gid 65534"
    } else {
        "an unprivileged user"
    };
    println!("## Spawn cost: `/bin/true`, spawn + wait\n");
    println!("Machine: {}. Run as {me}.\n", machine());
    let mut found = Found::default();
    report_sets(&mut runners, rounds, batch, &mut found);
    if let Some((small, big)) = g_workers {
        report_memory(small, big, rounds, batch, &mut found);
    }
    if chosen("h") {
        report_threads(rounds, &mut found);
    }
    report_targets(&found);
}

/// (a)-(f): every variant of every set, round-robin.
fn report_sets(runners: &mut Runners, rounds: usize, batch: u32, found: &mut Found) {
    let variants: Vec<(Set, Spawner)> = cases().into_iter().filter(|(s, _)| !skipped(*s)).collect();
    if variants.is_empty() {
        return;
    }
    for &(s, p) in &variants {
        runners.run(s, p, 5); // warm-up: build the case, fault in the code
    }
    let samples = round_robin(&variants, rounds, |(s, p)| runners.run(s, p, batch));
    println!(
        "Each variant: {rounds} rounds x {batch} spawns, round-robin over all variants of all sets; \
         the ratio is the median over the median of the set's faster floor variant.\n"
    );
    println!("| set | spawner | median µs | p90 µs | × best floor |");
    println!("|---|---|---:|---:|---:|");
    for set in Set::ALL {
        if skipped(set) {
            println!(
                "| {} | (left out: needs root, or not chosen) | | | |",
                set.label()
            );
            continue;
        }
        let of: Vec<(Spawner, Stats)> = variants
            .iter()
            .zip(&samples)
            .filter(|((s, _), _)| *s == set)
            .map(|((_, p), v)| (*p, stats(v)))
            .collect();
        let floor = of
            .iter()
            .filter(|(p, _)| p.is_floor())
            .map(|(_, st)| st.median)
            .fold(f64::INFINITY, f64::min);
        for (p, st) in &of {
            let ratio = st.median / floor;
            let bold = if *p == Spawner::Crate { "**" } else { "" };
            println!(
                "| {} | {} | {:.1} | {:.1} | {bold}{:.2}{bold} |",
                set.label(),
                p.label(),
                st.median,
                st.p90,
                ratio
            );
            if *p == Spawner::Crate {
                found.sets.push((set, st.median, ratio));
            }
            if *p == Spawner::CrateNew {
                found.new_per_spawn.push((set, ratio));
            }
        }
        if set == Set::None {
            let median = |sp| of.iter().find(|(p, _)| *p == sp).map(|(_, st)| st.median);
            found.a_vs_std = median(Spawner::Crate)
                .zip(median(Spawner::Std))
                .map(|(c, s)| c / s);
        }
    }
    println!();
}

/// (g): a 4 GiB parent against a small one, both forked workers, set (a).
fn report_memory(mut small: Worker, mut big: Worker, rounds: usize, batch: u32, found: &mut Found) {
    let g_rounds = (rounds / 2).max(5);
    big.prepare();
    small.prepare();
    let spawners = [Spawner::Crate, Spawner::FloorFork, Spawner::FloorVfork];
    let variants: Vec<(bool, Spawner)> = spawners
        .iter()
        .flat_map(|&p| [(false, p), (true, p)])
        .collect();
    let mut run = |(in_big, p): (bool, Spawner), n| {
        let worker = if in_big { &mut big } else { &mut small };
        worker.run(case_index(Set::None, p), n)
    };
    for &v in &variants {
        run(v, 3);
    }
    let samples = round_robin(&variants, g_rounds, |v| run(v, batch));
    drop(big);
    drop(small);
    println!("### (g) a parent with 4 GiB of touched memory (set a)\n");
    println!(
        "Both parents are forked workers; the big one mapped 4 GiB (4 KiB pages: MADV_NOHUGEPAGE) \
         and wrote every page. {g_rounds} rounds x {batch} spawns, round-robin.\n"
    );
    println!("| spawner | small parent median µs | 4 GiB parent median µs | 4 GiB / small |");
    println!("|---|---:|---:|---:|");
    for (k, p) in spawners.iter().enumerate() {
        let (s, b) = (stats(&samples[2 * k]), stats(&samples[2 * k + 1]));
        let ratio = b.median / s.median;
        println!(
            "| {} | {:.1} | {:.1} | {:.2} |",
            p.label(),
            s.median,
            b.median,
            ratio
        );
        if *p == Spawner::Crate {
            found.big_vs_small = Some(ratio);
        }
    }
    println!();
}

/// (h): two threads spawning at once against one, set (a), in this process.
fn report_threads(rounds: usize, found: &mut Found) {
    let per_thread = env_usize("SPAWN_BENCH_THREAD_SPAWNS", 100);
    let h_rounds = (rounds / 4).max(3);
    println!("### (h) two threads spawning at once vs one thread (set a)\n");
    println!(
        "Per round and spawner: one thread does {per_thread} spawns, then two threads (a spawner \
         each) do {per_thread} each at once; {h_rounds} rounds. Throughput ratio: spawns per \
         second with two threads over spawns per second with one.\n"
    );
    println!("| spawner | 1 thread, spawns/s | 2 threads, spawns/s | throughput ratio |");
    println!("|---|---:|---:|---:|");
    let spawners = [Spawner::Crate, Spawner::FloorVfork];
    let mut cases: Vec<Vec<Case>> = spawners
        .iter()
        .map(|&p| (0..2).map(|_| make_case(Set::None, p)).collect())
        .collect();
    for c in cases.iter_mut().flatten() {
        c();
    }
    let mut one = [Duration::ZERO; 2];
    let mut two = [Duration::ZERO; 2];
    for _ in 0..h_rounds {
        for (k, c) in cases.iter_mut().enumerate() {
            one[k] += threaded(&mut c[..1], per_thread);
            two[k] += threaded(&mut c[..], per_thread);
        }
    }
    for (k, p) in spawners.iter().enumerate() {
        let rate1 = (h_rounds * per_thread) as f64 / one[k].as_secs_f64();
        let rate2 = (h_rounds * per_thread * 2) as f64 / two[k].as_secs_f64();
        println!(
            "| {} | {:.0} | {:.0} | {:.2} |",
            p.label(),
            rate1,
            rate2,
            rate2 / rate1
        );
        if *p == Spawner::Crate {
            found.two_vs_one = Some(rate2 / rate1);
        }
    }
    println!();
}

/// The targets, met or not, and a paragraph for the README.
fn report_targets(found: &Found) {
    let mark = |ok: bool| if ok { "met" } else { "NOT met" };
    println!("### Targets (ratios from this run)\n");
    if let Some((set, _, worst)) = found
        .sets
        .iter()
        .copied()
        .max_by(|a, b| a.2.total_cmp(&b.2))
    {
        println!(
            "- every set within 1.10x of its best floor: worst {worst:.2}x, {} ({})",
            set.label(),
            mark(worst <= 1.10)
        );
    }
    if let Some((set, worst)) = found
        .new_per_spawn
        .iter()
        .copied()
        .max_by(|a, b| a.1.total_cmp(&b.1))
    {
        println!(
            "- a new `Command` per spawn within 1.03x of the best floor in every set, as the table prints it (2 decimals): worst {worst:.3}x, {} ({})",
            set.label(),
            mark((worst * 100.0).round() <= 103.0)
        );
    }
    if let Some(r) = found.a_vs_std {
        println!(
            "- set (a) no slower than `std::process::Command`: {r:.3}x ({})",
            mark(r <= 1.0)
        );
    }
    if let Some(r) = found.big_vs_small {
        println!(
            "- 4 GiB parent within 1.2x of a small one: {r:.2}x ({})",
            mark(r <= 1.2)
        );
    }
    if let Some(r) = found.two_vs_one {
        println!(
            "- two threads at least 1.8x one thread: {r:.2}x ({})",
            mark(r >= 1.8)
        );
    }
    let (Some(fastest), Some(slowest)) = (
        found.sets.iter().map(|s| s.1).reduce(f64::min),
        found.sets.iter().map(|s| s.1).reduce(f64::max),
    ) else {
        return;
    };
    let worst = found.sets.iter().map(|s| s.2).fold(0.0, f64::max);
    println!("\n### For the README\n");
    print!(
        "On {}, spawning `/bin/true` with a reused `Command` and waiting for it takes \
         {fastest:.0}-{slowest:.0} µs (median) depending on the namespaces, at most {worst:.2}x \
         the kernel's floor measured in the same run (a raw `clone3`/`clone` whose child does \
         only what the namespaces need, then `execve`)",
        machine()
    );
    if let Some(r) = found.a_vs_std {
        print!("; without namespaces it takes {r:.2}x the time of `std::process::Command`");
    }
    println!(".");
    if let (Some(g), Some(h)) = (found.big_vs_small, found.two_vs_one) {
        println!(
            "The child shares the parent's memory until `execve` (`CLONE_VM|CLONE_VFORK`), so a \
             parent with 4 GiB of touched memory spawns at {g:.2}x the time of a small one, and \
             two threads spawning at once get {h:.2}x the throughput of one."
        );
    }
    println!("Rerun with `cargo bench --bench spawn -- --report`.");
}

/// Runs `n` spawns on each case, one thread per case, all started at once; the wall time from
/// the start until the last one is done.
fn threaded(cases: &mut [Case], n: usize) -> Duration {
    let barrier = std::sync::Barrier::new(cases.len() + 1);
    std::thread::scope(|s| {
        let barrier = &barrier;
        let handles: Vec<_> = cases
            .iter_mut()
            .map(|c| {
                s.spawn(move || {
                    barrier.wait();
                    for _ in 0..n {
                        c();
                    }
                })
            })
            .collect();
        barrier.wait();
        let t = Instant::now();
        for h in handles {
            h.join().expect("spawning thread");
        }
        t.elapsed()
    })
}

/// `--loop <set letter> <spawner id> <n>`: runs one case `n` times in this process (rootless
/// sets after dropping privileges, when root) and prints the mean, for `perf record`/`strace`.
fn profile_loop(args: &[String]) {
    let [set, spawner, n] = args else {
        panic!("--loop <a..f> <spawner id> <n>");
    };
    let set = Set::ALL
        .into_iter()
        .find(|s| s.id().starts_with(set.as_str()))
        .expect("a set letter, a to f");
    let spawner = set
        .spawners()
        .iter()
        .copied()
        .find(|p| p.id() == spawner)
        .expect("a spawner id of that set");
    let n: u32 = n.parse().expect("a count");
    if set.rootless() && is_root() {
        drop_privileges();
    }
    let mut local = Local::new();
    local.run(case_index(set, spawner), 5);
    let ns: u64 = local.run(case_index(set, spawner), n).iter().sum();
    println!(
        "{} {}: {n} spawns, mean {:.1} µs",
        set.id(),
        spawner.id(),
        ns as f64 / n as f64 / 1e3
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--report") {
        report();
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--loop") {
        profile_loop(&args[i + 1..]);
        return;
    }
    let mut runners = Runners::start();
    criterion_groups(&mut runners);
}
