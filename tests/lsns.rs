//! The `lsns` example against util-linux `lsns(8)` on the same system state.
//!
//! The tests set up processes in namespaces of their own (which nothing else can join or leave
//! while the test holds them) and compare those exactly; for the rest of the system, where
//! other tests and programs start and stop processes all the time, a namespace's count is
//! compared only when it did not change across the comparison, and the whole comparison is
//! retried a few times before a mismatch counts.

mod common;

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use common::*;
use serde_json::Value;

/// The example binary, built (once per test run) by cargo with the profile of this test
/// binary: `cargo test` builds examples only when no target is selected, so `cargo test --test
/// lsns` would otherwise find none or a stale one. Cargo releases its build lock while tests
/// run, so the nested build does not wait for the outer one.
fn example() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| example_binary("lsns", &[]))
}

/// `uid` to run as (and the same gid), or the caller's own.
fn as_user(cmd: &mut Command, uid: Option<u32>) -> &mut Command {
    if let Some(uid) = uid {
        // std also drops the supplementary groups when root changes uid.
        cmd.uid(uid).gid(uid);
    }
    cmd
}

fn ours(args: &[&str], uid: Option<u32>) -> Output {
    as_user(Command::new(example()).args(args), uid)
        .output()
        .expect("run the lsns example")
}

fn util_linux(args: &[&str], uid: Option<u32>) -> Output {
    as_user(Command::new("lsns").args(args), uid)
        .output()
        .expect("run util-linux lsns (is util-linux installed?)")
}

/// One line of either tool's JSON, with lsns's 0 for "no parent/owner" read as none.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Row {
    ns: u64,
    kind: String,
    nprocs: u64,
    pid: Option<u64>,
    user: Option<String>,
    command: Option<String>,
    pns: Option<u64>,
    ons: Option<u64>,
}

fn rows(out: &Output, who: &str) -> BTreeMap<u64, Row> {
    try_rows(out, who).unwrap_or_else(|e| panic!("{e}"))
}

fn try_rows(out: &Output, who: &str) -> Result<BTreeMap<u64, Row>, String> {
    if !out.status.success() {
        return Err(format!(
            "{who} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let doc: Value = serde_json::from_slice(&out.stdout).map_err(|e| {
        format!(
            "{who} printed invalid JSON ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    })?;
    let list = doc["namespaces"]
        .as_array()
        .ok_or_else(|| format!("{who}: no \"namespaces\" array"))?;
    let mut map = BTreeMap::new();
    for r in list {
        let num = |k: &str| r[k].as_u64().filter(|n| *n != 0);
        let text = |k: &str| r[k].as_str().map(str::to_string);
        let field = |k: &str| format!("{who}: no {k} in {r}");
        let row = Row {
            ns: r["ns"].as_u64().ok_or_else(|| field("ns"))?,
            kind: text("type").ok_or_else(|| field("type"))?,
            nprocs: r["nprocs"].as_u64().ok_or_else(|| field("nprocs"))?,
            pid: num("pid"),
            user: text("user"),
            command: text("command"),
            pns: num("pns"),
            ons: num("ons"),
        };
        if let Some(twice) = map.insert(row.ns, row) {
            return Err(format!("{who} lists {twice:?} twice"));
        }
    }
    Ok(map)
}

/// `lsns` with the columns our JSON has, as a flat list.
const LSNS_JSON: &[&str] = &[
    "-J",
    "--list",
    "-o",
    "NS,TYPE,NPROCS,PID,USER,COMMAND,PNS,ONS",
];

/// A namespace the test made, and what both tools must say about it.
struct Expected {
    ns: u64,
    kind: NamespaceKind,
    pids: Vec<u32>,
}

/// The namespaces of kinds `set` that holder `h` is in and we are not, with their members:
/// the holder, plus for a holder with its own pid namespace the middle process that forked it
/// (in every new namespace but the pid one).
fn expected_for(h: &Holder, set: NamespaceSet) -> Vec<Expected> {
    let middle = if set.has(NamespaceKind::Pid) {
        Some(ppid_of(h.pid))
    } else {
        None
    };
    set.kinds()
        .map(|kind| {
            let id = Namespace::open(h.pid, kind).unwrap().id();
            assert_ne!(
                id,
                Namespace::current(kind).unwrap().id(),
                "holder shares our {kind}"
            );
            let mut pids = vec![h.pid];
            if let (Some(m), false) = (middle, kind == NamespaceKind::Pid) {
                pids.push(m);
            }
            pids.sort_unstable();
            Expected {
                ns: id.ino(),
                kind,
                pids,
            }
        })
        .collect()
}

fn ppid_of(pid: u32) -> u32 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .expect("read status")
        .lines()
        .find_map(|l| l.strip_prefix("PPid:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("PPid")
}

/// The children of `pid` (as the caller's pid namespace numbers them).
fn children_of(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .expect("read children")
        .split_whitespace()
        .map(|c| c.parse().expect("child pid"))
        .collect()
}

/// A process in new pid and network namespaces whose child, pid 1 there, keeps a zombie child
/// unreaped. The kernel takes a zombie out of every namespace but its pid and user ones, and
/// `lsns` counts it in those: the pid namespace has 2 processes, the network namespace 2 (the
/// forking process and pid 1), not 3.
struct ZombieNest {
    forked: libc::pid_t,
    init: u32,
    zombie: u32,
    release: Option<std::fs::File>,
}

fn raw_pipe() -> [libc::c_int; 2] {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two fds pipe2 writes.
    let r = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(r, 0, "pipe2: {}", std::io::Error::last_os_error());
    fds
}

impl ZombieNest {
    fn new() -> ZombieNest {
        let [ready_r, ready_w] = raw_pipe();
        let [release_r, release_w] = raw_pipe();
        // SAFETY: the harness is multithreaded, so until _exit the forked processes call only
        // async-signal-safe functions and allocate nothing.
        let forked = unsafe { libc::fork() };
        assert!(forked >= 0, "fork: {}", std::io::Error::last_os_error());
        if forked == 0 {
            // SAFETY: see above; every fd and pointer is this process's own.
            unsafe {
                // Keep only stdio, our readiness write end and release read end: holding
                // other tests' pipe ends would keep their processes waiting.
                let (lo, hi) = (ready_w.min(release_r) as u32, ready_w.max(release_r) as u32);
                libc::close_range(3, lo - 1, 0);
                if hi > lo + 1 {
                    libc::close_range(lo + 1, hi - 1, 0);
                }
                libc::close_range(hi + 1, u32::MAX, 0);
                if libc::unshare(libc::CLONE_NEWPID | libc::CLONE_NEWNET) != 0 {
                    libc::_exit(1);
                }
                let init = libc::fork();
                if init == 0 {
                    let zombie = libc::fork();
                    if zombie == 0 {
                        libc::_exit(0);
                    }
                    let mut info: libc::siginfo_t = std::mem::zeroed();
                    if zombie < 0
                        || libc::waitid(
                            libc::P_PID,
                            zombie as libc::id_t,
                            &mut info,
                            libc::WEXITED | libc::WNOWAIT,
                        ) != 0
                    {
                        libc::_exit(1);
                    }
                    libc::write(ready_w, b"z".as_ptr().cast(), 1);
                    libc::close(ready_w);
                    let mut b = 0u8;
                    while libc::read(release_r, (&raw mut b).cast(), 1) > 0 {}
                    libc::_exit(0);
                }
                libc::close(ready_w);
                if init > 0 {
                    libc::waitpid(init, std::ptr::null_mut(), 0);
                }
                libc::_exit(0);
            }
        }
        // SAFETY: closing the parent's copies of the child-side ends, and wrapping the two
        // parent-side fds nothing else owns.
        let (ready, release) = unsafe {
            libc::close(ready_w);
            libc::close(release_r);
            (own(ready_r), own(release_w))
        };
        // One byte once the zombie exists; EOF if any step failed.
        let mut byte = [0u8; 1];
        let n = std::io::Read::read(&mut std::fs::File::from(ready), &mut byte)
            .expect("read readiness");
        assert_eq!(n, 1, "the zombie nest failed to start");
        let init = children_of(forked as u32);
        assert_eq!(init.len(), 1, "{init:?}");
        let zombie = children_of(init[0]);
        assert_eq!(zombie.len(), 1, "{zombie:?}");
        ZombieNest {
            forked,
            init: init[0],
            zombie: zombie[0],
            release: Some(std::fs::File::from(release)),
        }
    }

    fn expected(&self) -> Vec<Expected> {
        let ns = |kind| Namespace::open(self.init, kind).unwrap().id().ino();
        let sorted = |mut v: Vec<u32>| {
            v.sort_unstable();
            v
        };
        vec![
            Expected {
                ns: ns(NamespaceKind::Pid),
                kind: NamespaceKind::Pid,
                pids: sorted(vec![self.init, self.zombie]),
            },
            Expected {
                ns: ns(NamespaceKind::Network),
                kind: NamespaceKind::Network,
                pids: sorted(vec![self.forked as u32, self.init]),
            },
        ]
    }
}

impl Drop for ZombieNest {
    fn drop(&mut self) {
        drop(self.release.take());
        wait(self.forked);
    }
}

/// The scenario's namespaces are listed by both tools, identically, in every run.
fn check_scenario(
    expected: &[Expected],
    runs: [(&str, &BTreeMap<u64, Row>); 3],
) -> Result<(), String> {
    for e in expected {
        let [(_, first), ..] = runs;
        let reference = first
            .get(&e.ns)
            .ok_or_else(|| format!("{}:[{}] missing from our listing", e.kind, e.ns))?;
        for (who, run) in runs {
            let r = run
                .get(&e.ns)
                .ok_or_else(|| format!("{who} misses {}:[{}]", e.kind, e.ns))?;
            ensure!(
                r.kind == e.kind.proc_name(),
                "{who}: {r:?} is not {}",
                e.kind
            );
            ensure!(
                r.nprocs == e.pids.len() as u64,
                "{who}: {}:[{}] has {} processes, the test put {:?} there",
                e.kind,
                e.ns,
                r.nprocs,
                e.pids
            );
            ensure!(
                r.pid == Some(u64::from(e.pids[0])),
                "{who}: {}:[{}] shows pid {:?}, lowest is {}",
                e.kind,
                e.ns,
                r.pid,
                e.pids[0]
            );
            ensure!(
                r == reference,
                "{who} and our first run disagree:\n  {r:?}\n  {reference:?}"
            );
        }
    }
    Ok(())
}

/// Every namespace `lsns` lists is in ours with the same type, count, shown process and
/// relations wherever our two runs around it agree (the namespace was quiet meanwhile); and
/// every namespace with processes that both our runs list alike is in `lsns`'s.
fn check_system(
    before: &BTreeMap<u64, Row>,
    lsns: &BTreeMap<u64, Row>,
    after: &BTreeMap<u64, Row>,
) -> Result<(), String> {
    for (ns, l) in lsns {
        let (b, a) = (before.get(ns), after.get(ns));
        let Some(ours) = b.or(a) else {
            return Err(format!("lsns lists {l:?}, ours does not (in either run)"));
        };
        ensure!(
            ours.kind == l.kind,
            "type of {ns}: ours {ours:?}, lsns {l:?}"
        );
        ensure!(
            ours.pns == l.pns && ours.ons == l.ons,
            "relations of {ns}: ours {ours:?}, lsns {l:?}"
        );
        if let (Some(b), true) = (b, b.is_some() && b == a) {
            ensure!(
                b.nprocs == l.nprocs && b.pid == l.pid && b.user == l.user,
                "{ns} was stable in ours but lsns differs:\n  ours {b:?}\n  lsns {l:?}"
            );
        }
    }
    for (ns, b) in before {
        if b.nprocs > 0 && after.get(ns) == Some(b) {
            ensure!(
                lsns.contains_key(ns),
                "ours lists {b:?} in both runs, lsns does not"
            );
        }
    }
    Ok(())
}

/// Runs ours, `lsns`, ours; the scenario must hold in every attempt, the whole system in one.
///
/// util-linux 2.38 `lsns` itself gives up (status 1, no output) when a process exits at the
/// wrong moment of its scan (it takes ESRCH for a fatal error); such a run is retried too.
fn compare(args: &[&str], uid: Option<u32>, expected: &[Expected]) {
    const ATTEMPTS: usize = 20;
    let mut lsns_args = LSNS_JSON.to_vec();
    lsns_args.extend_from_slice(args);
    let mut our_args = vec!["--json"];
    our_args.extend_from_slice(args);
    let mut last = String::new();
    for _ in 0..ATTEMPTS {
        let before = rows(&ours(&our_args, uid), "ours");
        let lsns = try_rows(&util_linux(&lsns_args, uid), "lsns");
        let after = rows(&ours(&our_args, uid), "ours");
        let lsns = match lsns {
            Ok(l) => l,
            Err(e) => {
                last = e;
                continue;
            }
        };
        check_scenario(
            expected,
            [
                ("ours (before)", &before),
                ("lsns", &lsns),
                ("ours (after)", &after),
            ],
        )
        .unwrap();
        assert!(!lsns.is_empty(), "lsns listed nothing");
        match check_system(&before, &lsns, &after) {
            Ok(()) => return,
            Err(e) => last = e,
        }
    }
    panic!("{ATTEMPTS} comparisons in a row disagreed; the last: {last}");
}

#[test]
#[ignore = "needs root"]
fn json_agrees_with_util_linux_on_the_whole_system() {
    assert_root("json_agrees_with_util_linux_on_the_whole_system");
    let a = Holder::new(NamespaceSet::NET | NamespaceSet::UTS | NamespaceSet::IPC);
    let b = Holder::new(NamespaceSet::NET | NamespaceSet::UTS | NamespaceSet::IPC);
    let c = Holder::new(NamespaceSet::PID | NamespaceSet::UTS);
    let d = Holder::rootless(NamespaceSet::USER | NamespaceSet::PID | NamespaceSet::NET);
    let e = Holder::new(NamespaceSet::MOUNT | NamespaceSet::CGROUP);
    let mut expected = expected_for(
        &a,
        NamespaceSet::NET | NamespaceSet::UTS | NamespaceSet::IPC,
    );
    expected.extend(expected_for(
        &b,
        NamespaceSet::NET | NamespaceSet::UTS | NamespaceSet::IPC,
    ));
    expected.extend(expected_for(&c, NamespaceSet::PID | NamespaceSet::UTS));
    expected.extend(expected_for(
        &d,
        NamespaceSet::USER | NamespaceSet::PID | NamespaceSet::NET,
    ));
    expected.extend(expected_for(&e, NamespaceSet::MOUNT | NamespaceSet::CGROUP));
    let nest = ZombieNest::new();
    expected.extend(nest.expected());
    assert_eq!(expected.len(), 15);
    compare(&[], None, &expected);
}

#[test]
#[ignore = "needs root"]
fn type_filter_agrees_with_util_linux() {
    assert_root("type_filter_agrees_with_util_linux");
    let h = Holder::new(NamespaceSet::NET | NamespaceSet::UTS | NamespaceSet::IPC);
    let expected: Vec<_> = expected_for(
        &h,
        NamespaceSet::NET | NamespaceSet::UTS | NamespaceSet::IPC,
    )
    .into_iter()
    .filter(|e| e.kind != NamespaceKind::Ipc)
    .collect();
    compare(&["-t", "net", "--type", "uts"], None, &expected);
    let only = rows(&ours(&["-J", "-tnet", "--type=uts"], None), "ours");
    assert!(
        only.values().all(|r| r.kind == "net" || r.kind == "uts"),
        "{only:?}"
    );
    assert!(only.values().any(|r| r.kind == "net") && only.values().any(|r| r.kind == "uts"));
}

#[test]
#[ignore = "needs root"]
fn task_filter_lists_the_namespaces_of_one_process_like_util_linux() {
    assert_root("task_filter_lists_the_namespaces_of_one_process_like_util_linux");
    let set = NamespaceSet::USER | NamespaceSet::PID | NamespaceSet::UTS;
    let h = Holder::rootless(set);
    let pid = h.pid.to_string();
    compare(&["-p", &pid], None, &expected_for(&h, set));
    // Exactly one namespace per kind, the process's own.
    let listed = rows(&ours(&["--json", "--task", &pid], None), "ours");
    let theirs = linux_namespaces::inspect::NamespaceIds::of(h.pid).unwrap();
    let want: BTreeMap<u64, String> = theirs
        .iter()
        .map(|id| (id.ino(), id.kind().proc_name().to_string()))
        .collect();
    let got: BTreeMap<u64, String> = listed.values().map(|r| (r.ns, r.kind.clone())).collect();
    assert_eq!(got, want);
}

#[test]
#[ignore = "needs root"]
fn unprivileged_listing_agrees_with_util_linux() {
    assert_root("unprivileged_listing_agrees_with_util_linux");
    let mine = Holder::rootless(NamespaceSet::USER | NamespaceSet::NET | NamespaceSet::UTS);
    let roots = Holder::new(NamespaceSet::UTS);
    let roots_uts = Namespace::open(roots.pid, NamespaceKind::Uts)
        .unwrap()
        .id()
        .ino();
    let expected = expected_for(
        &mine,
        NamespaceSet::USER | NamespaceSet::NET | NamespaceSet::UTS,
    );
    compare(&[], Some(UNPRIVILEGED), &expected);
    let listed = rows(&ours(&["-J"], Some(UNPRIVILEGED)), "ours");
    assert!(
        !listed.contains_key(&roots_uts),
        "an unprivileged listing shows a namespace only root's process is in"
    );
    assert!(listed.values().all(|r| r.user.as_deref() != Some("root")));
}

/// The user name of `uid` per /etc/passwd, or the number.
fn user_name(uid: u32) -> String {
    std::fs::read_to_string("/etc/passwd")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() > 2 && f[2] == uid.to_string()).then(|| f[0].to_string())
        })
        .unwrap_or_else(|| uid.to_string())
}

#[test]
fn table_has_the_lsns_columns() {
    let h = Holder::rootless(NamespaceSet::USER | NamespaceSet::UTS);
    let uid = if is_root() {
        UNPRIVILEGED
    } else {
        rustix::process::geteuid().as_raw()
    };
    let out = ours(&[], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stderr.is_empty());
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NS", "TYPE", "NPROCS", "PID", "USER", "COMMAND"]);
    let uts = Namespace::open(h.pid, NamespaceKind::Uts).unwrap().id();
    let line = lines
        .clone()
        .find(|l| l.split_whitespace().next() == Some(uts.ino().to_string().as_str()))
        .unwrap_or_else(|| panic!("{uts} not in\n{text}"));
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(fields[1], "uts", "{line}");
    assert_eq!(fields[2], "1", "{line}");
    assert_eq!(fields[3], h.pid.to_string(), "{line}");
    assert_eq!(fields[4], user_name(uid), "{line}");
    // The command is the holder's whole command line, the rest of the line.
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", h.pid)).unwrap();
    let program = String::from_utf8_lossy(cmdline.split(|b| *b == 0).next().unwrap()).into_owned();
    assert!(line.contains(&program), "{line}");
    // Sorted by inode, like lsns.
    let inodes: Vec<u64> = lines
        .map(|l| l.split_whitespace().next().unwrap().parse().unwrap())
        .collect();
    assert!(inodes.windows(2).all(|w| w[0] < w[1]), "{inodes:?}");
}

/// A command line with a newline, a tab and a backslash: the table shows it on one row, with
/// the bytes escaped as util-linux does (`\x0a`, `\x09`, and `\x5c` for a backslash before
/// `x`), so no process can forge rows; the JSON keeps the text, JSON-escaped.
#[test]
fn control_characters_in_a_command_cannot_forge_rows() {
    let arg = "a\nb\tc\\xd";
    let mut child = linux_namespaces::Command::new("/bin/sh")
        .args(["-c", "read x", arg])
        .unshare(NamespaceSet::USER | NamespaceSet::UTS)
        .map_root()
        .stdin(linux_namespaces::Stdio::Piped)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let uts = Namespace::open(child.id(), NamespaceKind::Uts)
        .unwrap()
        .id()
        .ino()
        .to_string();

    let out = ours(&["-t", "uts"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    assert!(
        lines.next().unwrap().trim_start().starts_with("NS"),
        "{text}"
    );
    for row in lines.clone() {
        let first = row.split_whitespace().next().unwrap_or("");
        assert!(
            first.parse::<u64>().is_ok(),
            "a row that is not a namespace: {row:?}\n{text}"
        );
    }
    let mine: Vec<&str> = lines
        .filter(|r| r.split_whitespace().next() == Some(uts.as_str()))
        .collect();
    assert_eq!(mine.len(), 1, "{text}");
    assert!(
        mine[0].ends_with(r"/bin/sh -c read x a\x0ab\x09c\x5cxd"),
        "{:?}",
        mine[0]
    );

    let json = rows(&ours(&["-J", "-t", "uts"], None), "ours");
    let row = &json[&uts.parse::<u64>().unwrap()];
    assert_eq!(
        row.command.as_deref(),
        Some(format!("/bin/sh -c read x {arg}").as_str())
    );
    drop(child.stdin.take());
    child.wait().unwrap();
}

fn one_line_error(args: &[&str], needle: &str) {
    let out = ours(args, None);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {}", out.status);
    assert!(
        out.stdout.is_empty(),
        "{args:?} printed {:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{args:?}: {err:?}");
    assert!(
        err.starts_with("lsns: ") && err.contains(needle),
        "{args:?}: {err:?}"
    );
}

#[test]
fn bad_arguments_are_one_line_errors_with_status_1() {
    one_line_error(&["-t", "bogus"], "unknown namespace type: bogus");
    one_line_error(&["--type"], "requires an argument");
    one_line_error(&["-p", "abc"], "invalid PID argument");
    one_line_error(&["-p", "0"], "invalid PID argument");
    one_line_error(&["--frobnicate"], "unrecognized option");
    one_line_error(&["-x"], "invalid option");
    one_line_error(&["--json=yes"], "takes no argument");
    one_line_error(&["extra"], "unexpected argument");
    let pid_max = std::fs::read_to_string("/proc/sys/kernel/pid_max").unwrap();
    one_line_error(&["-p", pid_max.trim()], "does not exist");
}

#[test]
fn help_prints_usage_and_succeeds() {
    for flag in ["-h", "--help"] {
        let out = ours(&[flag], None);
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.starts_with("Usage: lsns"), "{text}");
        for opt in ["--json", "--type", "--task", "--help"] {
            assert!(text.contains(opt), "usage lacks {opt}");
        }
    }
}
