//! Create once, join many: spawning into a [`NamespaceGroup`] against creating the same
//! namespaces for every spawn.
//!
//! The set is user + net + uts + ipc with the host name set and loopback up, the rootless
//! test-harness case. Each iteration spawns `/bin/true` and waits for it, through a `Command`
//! built once (its plan is reused), so the difference is what the kernel does per spawn:
//!
//! * `unshare per spawn`: `clone3` with `CLONE_NEWUSER|CLONE_NEWNET|CLONE_NEWUTS|CLONE_NEWIPC`,
//!   the id maps written, `sethostname`, `lo` brought up; the namespaces are torn down when
//!   the child exits (a network namespace's teardown runs later on a kernel workqueue, and
//!   still costs);
//! * `join group`: a plain `clone3` and four `setns(2)` calls into namespaces that exist;
//! * `no namespaces`: the floor, a plain spawn.
//!
//! Also measured: `NamespaceGroup::create` itself (the one-time cost). Prints criterion's
//! figures, then medians of plain repeated runs (taken before criterion runs) and the ratio.
//! Run with `cargo bench --bench reuse`; as root, set `REUSE_BENCH_UID=65534` to measure
//! rootless (the bench drops to that uid and gid before it starts; criterion then cannot write
//! its reports into a root-owned `target/criterion` and says so, but its figures and the
//! medians print).

#![allow(unsafe_code)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;
use linux_namespaces::{Command, GroupSetup, NamespaceGroup, NamespaceSet, Stdio};

const SET: NamespaceSet = NamespaceSet::USER
    .union(NamespaceSet::NET)
    .union(NamespaceSet::UTS)
    .union(NamespaceSet::IPC);

const PROGRAM: &str = "/bin/true";

fn per_spawn() -> Command {
    let mut cmd = Command::new(PROGRAM);
    cmd.unshare(SET)
        .map_root()
        .hostname("bench")
        .loopback_up(true)
        .stdin(Stdio::Null)
        .env_clear();
    cmd
}

fn joined(group: &NamespaceGroup) -> Command {
    let mut cmd = group.command(PROGRAM);
    cmd.stdin(Stdio::Null).env_clear();
    cmd
}

fn plain() -> Command {
    let mut cmd = Command::new(PROGRAM);
    cmd.stdin(Stdio::Null).env_clear();
    cmd
}

fn run(cmd: &mut Command) {
    let status = cmd.status().expect("spawn");
    assert!(status.success(), "{status}");
}

fn median(mut f: impl FnMut(), runs: usize) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort_unstable();
    times[runs / 2]
}

/// Drops to `uid` (and the same gid) when asked, before anything else runs.
fn maybe_drop_privileges() {
    let Some(uid) = std::env::var("REUSE_BENCH_UID")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
    else {
        return;
    };
    // SAFETY: plain credential syscalls, called while the bench is still single-threaded.
    // Changing credentials makes the process non-dumpable, which would leave its (and its
    // children's) /proc files owned by root: the child could not write its own setgroups and
    // id maps. Dumpable again, as an unprivileged user's process normally is.
    let failed = unsafe {
        libc::setgroups(0, std::ptr::null()) != 0
            || libc::setresgid(uid, uid, uid) != 0
            || libc::setresuid(uid, uid, uid) != 0
            || libc::prctl(libc::PR_SET_DUMPABLE, 1, 0, 0, 0) != 0
    };
    assert!(
        !failed,
        "dropping to uid {uid}: {}",
        std::io::Error::last_os_error()
    );
}

fn main() {
    maybe_drop_privileges();
    let uid = rustix::process::geteuid().as_raw();
    let group = NamespaceGroup::create(SET, GroupSetup::new().hostname("bench").loopback_up(true))
        .expect("create the group");
    let (mut unshared, mut join, mut floor) = (per_spawn(), joined(&group), plain());
    // Both work before anything is timed.
    run(&mut unshared);
    run(&mut join);
    run(&mut floor);

    const RUNS: usize = 301;
    // The cheap ones first: a network namespace is torn down after its last process exits,
    // on a kernel workqueue, and that work competes with whatever runs next; it belongs to
    // the per-spawn figure.
    let none = median(|| run(&mut floor), RUNS);
    let joins = median(|| run(&mut join), RUNS);
    let per = median(|| run(&mut unshared), RUNS);
    let create = median(
        || {
            black_box(
                NamespaceGroup::create(SET, GroupSetup::new().hostname("bench").loopback_up(true))
                    .expect("create"),
            );
        },
        101,
    );
    let mut c = Criterion::default()
        .sample_size(50)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .configure_from_args();
    {
        let mut g = c.benchmark_group("reuse");
        g.bench_function("no namespaces", |b| b.iter(|| run(black_box(&mut floor))));
        g.bench_function("join group (user,net,uts,ipc)", |b| {
            b.iter(|| run(black_box(&mut join)))
        });
        g.bench_function("unshare per spawn (user,net,uts,ipc)", |b| {
            b.iter(|| run(black_box(&mut unshared)))
        });
        g.bench_function("NamespaceGroup::create", |b| {
            b.iter(|| {
                black_box(
                    NamespaceGroup::create(
                        SET,
                        GroupSetup::new().hostname("bench").loopback_up(true),
                    )
                    .expect("create"),
                )
            })
        });
        g.finish();
    }
    c.final_summary();

    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!("uid {uid}, set {SET}, program {PROGRAM}; medians of {RUNS} spawn-and-wait runs:");
    println!("  unshare per spawn:      {:9.1} us", us(per));
    println!("  join group:             {:9.1} us", us(joins));
    println!("  no namespaces (floor):  {:9.1} us", us(none));
    println!(
        "  NamespaceGroup::create: {:9.1} us (median of 101)",
        us(create)
    );
    println!(
        "ratio unshare-per-spawn / join-group: {:.2}x",
        us(per) / us(joins)
    );
    println!(
        "join overhead over the floor: {:.1} us; break-even after {:.1} spawns",
        us(joins) - us(none),
        us(create) / (us(per) - us(joins)).max(f64::MIN_POSITIVE)
    );
}
