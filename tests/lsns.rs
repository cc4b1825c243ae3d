//! The `lsns` example against util-linux `lsns(8)` on the same system state.
//!
//! The tests set up processes in namespaces of their own (which nothing else can join or leave
//! while the test holds them) and compare those exactly; for the rest of the system, where
//! other tests and programs start and stop processes all the time, a namespace's count is
//! compared only when it did not change across the comparison, and the whole comparison is
//! retried a few times before a mismatch counts.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
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
///
/// Always with the `net` feature (the NETNSID column): one binary for every test here.
fn example() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| example_binary("lsns", &["net"]))
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
    let top = doc["namespaces"]
        .as_array()
        .ok_or_else(|| format!("{who}: no \"namespaces\" array"))?;
    // A tree nests rows under "children".
    let mut list = Vec::new();
    let mut todo: Vec<&Value> = top.iter().rev().collect();
    while let Some(r) = todo.pop() {
        list.push(r);
        if let Some(kids) = r["children"].as_array() {
            todo.extend(kids.iter().rev());
        }
    }
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
    // The very same command line: ours takes every util-linux option.
    let our_args = lsns_args.clone();
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
    // (Namespaces without processes, kept by a bind mount anyone sees, show their owner.)
    assert!(
        listed
            .values()
            .all(|r| r.nprocs == 0 || r.user.as_deref() != Some("root")),
        "{listed:?}"
    );
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
    // A process tree, as util-linux prints by default: the top-level rows (whose COMMAND
    // carries no tree branch) are sorted by inode, like lsns; a namespace first seen in a
    // child process follows its parent's row.
    let inodes: Vec<u64> = lines
        .filter(|l| {
            let command = l.split_whitespace().nth(5).unwrap_or("");
            !command.starts_with(['└', '├', '│'])
        })
        .map(|l| l.split_whitespace().next().unwrap().parse().unwrap())
        .collect();
    assert!(inodes.windows(2).all(|w| w[0] < w[1]), "{inodes:?}\n{text}");
}

/// A command line with a newline, a tab and a backslash: the table shows it on one row, with
/// the bytes escaped as util-linux does (`\x0a`, `\x09`, and `\x5c` for a backslash before
/// `x`), so no process can forge rows; the JSON keeps the text, JSON-escaped.
#[test]
fn control_characters_in_a_command_cannot_forge_rows() {
    let arg = "a\nb\tc\\xd";
    let mut child = linux_namespaces::Command::new("/bin/sh")
        .args(["-c", "echo ready; read x", arg])
        .unshare(NamespaceSet::USER | NamespaceSet::UTS)
        .map_root()
        .stdin(linux_namespaces::Stdio::Piped)
        .stdout(linux_namespaces::Stdio::Piped)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // spawn() returns once execve is past its point of no return, which can be before the
    // kernel has set up the new command line: wait for the shell to speak.
    let mut ready = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert_eq!(ready, "ready\n");
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
        mine[0].ends_with(r"/bin/sh -c echo ready; read x a\x0ab\x09c\x5cxd"),
        "{:?}",
        mine[0]
    );

    let json = rows(&ours(&["-J", "-t", "uts"], None), "ours");
    let row = &json[&uts.parse::<u64>().unwrap()];
    assert_eq!(
        row.command.as_deref(),
        Some(format!("/bin/sh -c echo ready; read x {arg}").as_str())
    );
    drop(child.stdin.take());
    child.wait().unwrap();
}

/// Status, stdout and stderr of our `lsns` with `args`, run as `uid` (or the caller).
fn run(args: &[&str], uid: Option<u32>) -> (i32, String, String) {
    let out = ours(args, uid);
    (
        out.status.code().expect("exited"),
        String::from_utf8(out.stdout).expect("UTF-8 stdout"),
        String::from_utf8(out.stderr).expect("UTF-8 stderr"),
    )
}

/// Stdout of a run that must succeed without a word on stderr.
fn stdout_of(args: &[&str], uid: Option<u32>) -> String {
    let (code, out, err) = run(args, uid);
    assert_eq!((code, err.as_str()), (0, ""), "{args:?} printed {out:?}");
    out
}

/// The uid a rootless case runs `lsns` as: 65534 when the suite is root, else the caller.
fn lsns_uid(root: bool) -> Option<u32> {
    (!root && is_root()).then_some(UNPRIVILEGED)
}

fn holder(root: bool, set: NamespaceSet) -> Holder {
    if root {
        Holder::new(set)
    } else {
        Holder::rootless(set)
    }
}

fn ino_of(pid: u32, kind: NamespaceKind) -> u64 {
    Namespace::open(pid, kind).unwrap().id().ino()
}

fn my_ino(kind: NamespaceKind) -> u64 {
    Namespace::current(kind).unwrap().id().ino()
}

/// `root` and `rootless` tests running `$body(root: bool)`: rootless, the holders drop to
/// uid 65534 and so does `lsns` (when the suite is root).
macro_rules! both_modes {
    ($name:ident, $body:path) => {
        mod $name {
            use super::*;
            #[test]
            fn rootless() {
                $body(false)
            }
            #[test]
            #[ignore = "needs root"]
            fn root() {
                assert_root(concat!(stringify!($name), "::root"));
                $body(true)
            }
        }
    };
}

/// util-linux case lsns/filter: `-Q "NS == <inode> && NPROCS == 1"` picks the one user
/// namespace a lone process is in, with `-Q` and `--filter`.
fn filter_by_inode_and_count(root: bool) {
    let h = holder(root, NamespaceSet::USER | NamespaceSet::UTS);
    let ino = ino_of(h.pid, NamespaceKind::User);
    let expr = format!("NS == {ino} && NPROCS == 1");
    for opt in ["-Q", "--filter"] {
        let out = stdout_of(&["-n", "--raw", "-o", "PID", opt, &expr], lsns_uid(root));
        assert_eq!(out, format!("{}\n", h.pid), "{opt}");
    }
    // The same namespace with a count it does not have: nothing.
    let none = format!("NS == {ino} && NPROCS == 2");
    assert_eq!(
        stdout_of(&["-n", "-r", "-o", "PID", "-Q", &none], lsns_uid(root)),
        ""
    );
}
both_modes!(filter_selects_by_inode_and_count, filter_by_inode_and_count);

/// util-linux case lsns/ioctl_ns: `lsns [-t KIND] -n -o NS,PNS,ONS <namespace>` prints, for
/// each process of a child user namespace and of a child pid namespace, the namespace, its
/// parent and its owner.
fn parent_and_owner_of_a_namespace(root: bool) {
    let h = holder(root, NamespaceSet::USER | NamespaceSet::PID);
    let (user, pid) = (
        ino_of(h.pid, NamespaceKind::User),
        ino_of(h.pid, NamespaceKind::Pid),
    );
    let (my_user, my_pid) = (my_ino(NamespaceKind::User), my_ino(NamespaceKind::Pid));
    let u = user.to_string();
    let out = stdout_of(
        &[
            "--type",
            "user",
            "--noheadings",
            "--output",
            "NS,PNS,ONS",
            &u,
        ],
        lsns_uid(root),
    );
    let want = format!("{user} {my_user} {my_user}");
    // One row per process (the holder and the process that forked it), all alike.
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(out.lines().all(|l| l == want), "{out:?} != {want:?}");
    let p = pid.to_string();
    let out = stdout_of(&["-t", "pid", "-n", "-o", "NS,PNS,ONS", &p], lsns_uid(root));
    assert_eq!(out, format!("{pid} {my_pid} {user}\n"));
    // The default columns of a namespace's process list: PID PPID USER COMMAND, the holder
    // under the process that forked it.
    let out = stdout_of(&[&u], lsns_uid(root));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["PID", "PPID", "USER", "COMMAND"]
    );
    // Compared field by field: the numbers are right-aligned under PID and PPID, so a pid
    // shorter than its heading has more than one blank before it.
    let middle = ppid_of(h.pid).to_string();
    let fields = |l: &str| l.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
    assert_eq!(
        lines[1].split_whitespace().next(),
        Some(middle.as_str()),
        "{out}"
    );
    assert_eq!(fields(lines[2]), format!("{} {middle}", h.pid), "{out}");
    assert!(lines[2].contains(" └─"), "{out}");
    // With -t of another kind the namespace is not found.
    let (code, out, err) = run(&["-t", "net", &u], lsns_uid(root));
    assert_eq!((code, out.as_str()), (1, ""));
    assert_eq!(err, format!("lsns: not found namespace: {user}\n"));
}
both_modes!(
    namespace_argument_lists_its_processes,
    parent_and_owner_of_a_namespace
);

/// util-linux case lsns/filedesc: a network namespace only an open file descriptor holds
/// (no process is in it, no bind mount) is listed, `net 0 root`.
#[test]
#[ignore = "needs root"]
fn namespace_held_only_by_an_fd_is_listed() {
    assert_root("namespace_held_only_by_an_fd_is_listed");
    // In a forked child, so that the only fd is this child's: a fork by another test thread
    // would copy an fd of the harness's process (until that child closes or execs it), and
    // the namespace would outlive the fd dropped here for a moment. The example is built (or
    // found) first, so that the child never waits on a lock another thread held at the fork.
    example();
    in_child(|| {
        let h = Holder::new(NamespaceSet::NET);
        let ns = Namespace::open(h.pid, NamespaceKind::Network).unwrap();
        drop(h);
        let id = ns.id();
        let expr = format!("NS == {}", id.ino());
        let out = stdout_of(
            &[
                "--noheadings",
                "--raw",
                "--output",
                "TYPE,NPROCS,USER",
                "-Q",
                &expr,
            ],
            None,
        );
        assert_eq!(out, "net 0 root\n");
        drop(ns);
        // Gone from the listing, or (when another lister, such as a concurrent test's `lsns`,
        // duplicated the fd to look at it and still holds its copy) listed without this
        // process among its holders.
        let me = std::process::id();
        let after = linux_namespaces::inspect::list(NamespaceSet::NET).unwrap();
        if let Some(n) = after.iter().find(|n| n.id == id) {
            assert!(
                n.fds.iter().all(|(pid, _)| *pid != me),
                "the dropped fd is still listed: {n:?}"
            );
        }
        Ok(())
    })
    .unwrap();
}

/// util-linux case lsns/netns-from-sock: a network namespace only a socket holds: NS, TYPE
/// net, NPROCS 0, no PID or COMMAND, USER root; each column alone, status 0.
#[cfg(feature = "net")]
#[test]
#[ignore = "needs root"]
fn namespace_held_only_by_a_socket_is_listed() {
    assert_root("namespace_held_only_by_a_socket_is_listed");
    let h = Holder::new(NamespaceSet::NET);
    let ns = Namespace::open(h.pid, NamespaceKind::Network).unwrap();
    let ino = ns.id().ino();
    let socket = linux_namespaces::net::Netlink::open(&ns).unwrap();
    drop(ns);
    drop(h);
    let expr = format!("NS == {ino}");
    let ino = ino.to_string();
    for (column, want) in [
        ("COMMAND", ""),
        ("NPROCS", "0"),
        ("NS", ino.as_str()),
        ("PID", ""),
        ("TYPE", "net"),
        ("USER", "root"),
    ] {
        let out = stdout_of(
            &[
                "--noheadings",
                "--raw",
                "--output",
                column,
                "--filter",
                &expr,
            ],
            None,
        );
        assert_eq!(out, format!("{want}\n"), "{column}");
    }
    drop(socket);
}

/// A free nsid for a test to give a namespace (nsids are per network namespace).
#[cfg(feature = "net")]
fn fresh_nsid(salt: u32) -> u32 {
    1_000_000 + (std::process::id() % 100_000) * 10 + salt
}

/// util-linux case lsns/netnsid: NETNSID of a process's network namespace is the id our
/// namespace gave it (what `ip link` shows as link-netnsid); before that, "unassigned".
#[cfg(feature = "net")]
#[test]
#[ignore = "needs root"]
fn netnsid_of_a_process_namespace() {
    assert_root("netnsid_of_a_process_namespace");
    let h = Holder::new(NamespaceSet::NET);
    let pid = h.pid.to_string();
    let args = ["-n", "-o", "NETNSID", "--type", "net", "--task", &pid];
    assert_eq!(stdout_of(&args, None).trim(), "unassigned");
    let ns = Namespace::open(h.pid, NamespaceKind::Network).unwrap();
    let me = Namespace::current(NamespaceKind::Network).unwrap();
    let netlink = linux_namespaces::net::Netlink::open(&me).unwrap();
    let id = fresh_nsid(1);
    netlink.set_nsid(&ns, id).unwrap();
    assert_eq!(stdout_of(&args, None).trim(), id.to_string());
    // Not a network namespace: empty.
    let uts = ["-n", "-o", "NETNSID", "--type", "uts", "--task", &pid];
    assert_eq!(stdout_of(&uts, None), "\n");
    // The default columns of `-t net` have NETNSID and NSFS before COMMAND.
    let out = stdout_of(&["-t", "net", "-p", &pid], None);
    let header: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NS", "TYPE", "NPROCS", "PID", "USER", "NETNSID", "NSFS", "COMMAND"
        ]
    );
}

/// A bind mount of a network namespace, removed again on drop.
struct Persisted {
    mounts: Vec<PersistedNamespace>,
    _dir: common::spawn::TempDir,
}

impl Drop for Persisted {
    fn drop(&mut self) {
        for m in self.mounts.drain(..) {
            m.remove(true).expect("remove the bind mount");
        }
    }
}

fn persist(ns: &Namespace, names: &[&str]) -> Persisted {
    let dir = common::spawn::tempdir().unwrap();
    let mounts = names
        .iter()
        .map(|n| ns.persist(dir.path().join(n)).unwrap())
        .collect();
    Persisted { mounts, _dir: dir }
}

/// util-linux case lsns/netnsid-for-persistent-namespaces: a network namespace only a bind
/// mount keeps, with an nsid: `--filter "NETNSID == '<id>'"` finds it, showing the id, type
/// net and the mount point.
#[cfg(feature = "net")]
#[test]
#[ignore = "needs root"]
fn netnsid_filter_finds_a_persistent_namespace() {
    assert_root("netnsid_filter_finds_a_persistent_namespace");
    let h = Holder::new(NamespaceSet::NET);
    let ns = Namespace::open(h.pid, NamespaceKind::Network).unwrap();
    drop(h);
    let name = format!("LSNS-OURS-{}", std::process::id());
    let kept = persist(&ns, &[&name]);
    let me = Namespace::current(NamespaceKind::Network).unwrap();
    let id = fresh_nsid(2);
    linux_namespaces::net::Netlink::open(&me)
        .unwrap()
        .set_nsid(&ns, id)
        .unwrap();
    drop(ns);
    let expr = format!("NETNSID == '{id}'");
    let out = |col: &str| {
        stdout_of(
            &["--raw", "--noheadings", "--filter", &expr, "--output", col],
            None,
        )
    };
    assert_eq!(out("NETNSID"), format!("{id}\n"));
    assert_eq!(out("TYPE"), "net\n");
    assert_eq!(out("NPROCS"), "0\n");
    let nsfs = out("NSFS");
    assert_eq!(
        nsfs.trim_end().rsplit('/').next(),
        Some(name.as_str()),
        "{nsfs}"
    );
    // -P lists it (it has no process).
    let p = stdout_of(&["-P", "-n", "-r", "-o", "NETNSID", "-Q", &expr], None);
    assert_eq!(p, format!("{id}\n"));
    drop(kept);
}

/// util-linux case lsns/nsfs: NSFS shows every mount point of a namespace, one per line, or
/// with `--nowrap` on one line separated by commas; JSON keeps the newline.
#[test]
#[ignore = "needs root"]
fn nsfs_lists_every_mount_point() {
    assert_root("nsfs_lists_every_mount_point");
    let h = Holder::new(NamespaceSet::NET);
    let ns = Namespace::open(h.pid, NamespaceKind::Network).unwrap();
    let kept = persist(&ns, &["first", "second"]);
    let paths: Vec<String> = kept
        .mounts
        .iter()
        .map(|m| m.path.display().to_string())
        .collect();
    let pid = h.pid.to_string();
    let lines = stdout_of(&["-n", "-o", "NSFS", "--type", "net", "--task", &pid], None);
    let got: Vec<&str> = lines.lines().map(str::trim_end).collect();
    assert_eq!(got, paths, "{lines:?}");
    let one = stdout_of(
        &[
            "-n", "-o", "NSFS", "--nowrap", "--type", "net", "--task", &pid,
        ],
        None,
    );
    assert_eq!(one, format!("{}\n", paths.join(",")));
    // The second line of a multi-line cell leaves the columns before it empty.
    let two = stdout_of(&["-n", "-o", "NS,NSFS", "-t", "net", "-p", &pid], None);
    let l: Vec<&str> = two.lines().collect();
    assert_eq!(l[0], format!("{} {}", ns.id().ino(), paths[0]));
    assert_eq!(l[1], format!("{} {}", " ".repeat(10), paths[1]));
    let json = stdout_of(&["-J", "-o", "NSFS", "-t", "net", "-p", &pid], None);
    let v: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["namespaces"][0]["nsfs"], paths.join("\n"));
    drop(kept);
}

/// The JSON of every column: numbers as numbers, text as strings, empty cells null; PNS and
/// ONS 0 where there is none.
fn json_types_of_every_column(root: bool) {
    let h = holder(root, NamespaceSet::USER | NamespaceSet::UTS);
    let uts = ino_of(h.pid, NamespaceKind::Uts);
    let user = ino_of(h.pid, NamespaceKind::User);
    let expr = format!("NS == {uts}");
    let json = stdout_of(&["-J", "--output-all", "-Q", &expr], lsns_uid(root));
    let v: Value = serde_json::from_str(&json).unwrap();
    let rows = v["namespaces"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{json}");
    let r = &rows[0];
    // Keys in column order (serde_json sorts them, so look at the text).
    let mut keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_by_key(|k| json.find(&format!("\"{k}\":")).unwrap());
    assert_eq!(
        keys,
        [
            "ns", "type", "path", "nprocs", "pid", "ppid", "command", "uid", "user", "netnsid",
            "nsfs", "pns", "ons"
        ]
    );
    assert_eq!(r["ns"], uts);
    assert_eq!(r["type"], "uts");
    assert_eq!(r["path"], format!("/proc/{}/ns/uts", h.pid));
    assert_eq!(r["nprocs"], 1);
    assert_eq!(r["pid"], h.pid);
    assert_eq!(r["ppid"], ppid_of(h.pid));
    assert!(r["command"].is_string());
    assert!(r["uid"].is_number());
    assert!(r["user"].is_string());
    assert_eq!(r["netnsid"], Value::Null);
    assert_eq!(r["nsfs"], Value::Null);
    assert_eq!(r["pns"], 0);
    assert_eq!(r["ons"], user);
    // Exact layout: three spaces an indent, "},{" between rows.
    assert!(
        json.starts_with("{\n   \"namespaces\": [\n      {\n         \"ns\": "),
        "{json}"
    );
    // Nothing selected: an empty array.
    let none = stdout_of(&["-J", "-Q", "NS == 1"], lsns_uid(root));
    assert_eq!(none, "{\n   \"namespaces\": [\n\n   ]\n}\n");
    assert_eq!(stdout_of(&["-Q", "NS == 1"], lsns_uid(root)), "");
}
both_modes!(json_has_typed_values, json_types_of_every_column);

/// The trees: `--tree=owner` (the default of `-T`) hangs namespaces under their owner user
/// namespace, `--tree=parent` pid namespaces under their parent, and the default listing is
/// a process tree, flat with `-l`.
fn trees(root: bool) {
    let h = holder(
        root,
        NamespaceSet::USER | NamespaceSet::PID | NamespaceSet::UTS,
    );
    let user = ino_of(h.pid, NamespaceKind::User);
    let uts = ino_of(h.pid, NamespaceKind::Uts);
    let pid = ino_of(h.pid, NamespaceKind::Pid);
    let find = |v: &Value, ino: u64| -> Option<Value> {
        // Rows without children have `null` there: skipped, not the end of the search.
        let mut todo = vec![v["namespaces"].clone()];
        while let Some(next) = todo.pop() {
            let Value::Array(a) = next else { continue };
            for r in a {
                if r["ns"] == ino {
                    return Some(r);
                }
                todo.push(r["children"].clone());
            }
        }
        None
    };
    let kids = |r: &Value| -> Vec<u64> {
        r["children"]
            .as_array()
            .map(|a| a.iter().map(|c| c["ns"].as_u64().unwrap()).collect())
            .unwrap_or_default()
    };
    for args in [
        &["-J", "-T"][..],
        &["-J", "--tree=owner"],
        &["-J", "--tree", "-l"],
    ] {
        let text = stdout_of(args, lsns_uid(root));
        let v: Value = serde_json::from_str(&text).unwrap();
        let u = find(&v, user).unwrap_or_else(|| panic!("{args:?}: no {user} in {text}"));
        let k = kids(&u);
        assert!(k.contains(&uts) && k.contains(&pid), "{args:?}: {k:?}");
    }
    let v: Value = serde_json::from_str(&stdout_of(
        &["-J", "--tree=parent", "-t", "pid"],
        lsns_uid(root),
    ))
    .unwrap();
    let mine = find(&v, my_ino(NamespaceKind::Pid)).expect("our pid namespace");
    assert!(kids(&mine).contains(&pid), "{mine}");
    // Table: the tree is drawn in the NS column, which is then left-aligned.
    let table = stdout_of(
        &["-T", "-o", "NS,TYPE", "-t", "user", "-t", "uts"],
        lsns_uid(root),
    );
    assert!(table.starts_with("NS "), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with(&format!("└─{uts} ")) || l.contains(&format!("─{uts} "))),
        "{table}"
    );
    // The default JSON is a process tree; -l makes it flat.
    let flat: Value = serde_json::from_str(&stdout_of(&["-J", "-l"], lsns_uid(root))).unwrap();
    assert!(
        flat["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r.get("children").is_none())
    );
}
both_modes!(tree_shapes, trees);

/// PNS and ONS of namespaces with processes, in a column or only in a filter (the example
/// reads relations only when one of them asks).
fn relations_on_request(root: bool) {
    let h = holder(root, NamespaceSet::USER | NamespaceSet::UTS);
    let (uts, user) = (
        ino_of(h.pid, NamespaceKind::Uts),
        ino_of(h.pid, NamespaceKind::User),
    );
    let column = stdout_of(
        &["-n", "-r", "-o", "NS,ONS", "-Q", &format!("NS == {uts}")],
        lsns_uid(root),
    );
    assert_eq!(column, format!("{uts} {user}\n"));
    let filtered = stdout_of(
        &[
            "-n",
            "-r",
            "-o",
            "NS",
            "-t",
            "uts",
            "-Q",
            &format!("ONS == {user}"),
        ],
        lsns_uid(root),
    );
    assert_eq!(filtered, format!("{uts}\n"), "filtered on ONS alone");
    let parent = stdout_of(
        &[
            "-n",
            "-r",
            "-o",
            "NS",
            "-t",
            "user",
            "-Q",
            &format!("PNS == {}", my_ino(NamespaceKind::User)),
        ],
        lsns_uid(root),
    );
    assert!(
        parent.lines().any(|l| l == user.to_string()),
        "filtered on PNS alone: {parent}"
    );
}
both_modes!(relations_columns_and_filters, relations_on_request);

/// Raw output: one space between cells, blanks and backslashes as `\xHH`, no alignment;
/// `-n` drops the header; table output is aligned with numbers on the right.
fn raw_and_table_formats(root: bool) {
    let h = holder(root, NamespaceSet::USER | NamespaceSet::UTS);
    let uts = ino_of(h.pid, NamespaceKind::Uts);
    let expr = format!("NS == {uts}");
    let raw = stdout_of(
        &["-r", "-o", "NS,TYPE,NPROCS,COMMAND", "-Q", &expr],
        lsns_uid(root),
    );
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", h.pid)).unwrap();
    let command: String = String::from_utf8_lossy(&cmdline)
        .trim_end_matches('\0')
        .replace('\0', " ");
    let escaped = command.replace('\\', "\\x5c").replace(' ', "\\x20");
    assert_eq!(
        raw,
        format!("NS TYPE NPROCS COMMAND\n{uts} uts 1 {escaped}\n")
    );
    let table = stdout_of(&["-o", "NPROCS,TYPE", "-Q", &expr], lsns_uid(root));
    assert_eq!(table, "NPROCS TYPE\n     1 uts\n");
    let bare = stdout_of(&["-n", "-o", "TYPE,NPROCS", "-Q", &expr], lsns_uid(root));
    // No header: a column is as wide as its data (widened to its hint only when the data is
    // wider than the header would have been: TYPE to 5, not NPROCS with one digit).
    assert_eq!(bare, "uts   1\n");
    // -o +LIST appends to the default columns.
    let plus = stdout_of(&["-o", "+PNS,ONS", "-l", "-Q", &expr], lsns_uid(root));
    let head: Vec<&str> = plus.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        head,
        [
            "NS", "TYPE", "NPROCS", "PID", "USER", "COMMAND", "PNS", "ONS"
        ]
    );
    // Piped output is never truncated, however long the command.
    let long = "x".repeat(500);
    // `spawn` returns once `execve` is past its point of no return, before the new program's
    // command line is set up: the line the shell prints says it runs.
    let mut child = linux_namespaces::Command::new("/bin/sh")
        .args(["-c", "echo up; read x", &long])
        .unshare(NamespaceSet::USER | NamespaceSet::UTS)
        .map_root()
        .stdin(linux_namespaces::Stdio::Piped)
        .stdout(linux_namespaces::Stdio::Piped)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut up = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.as_mut().unwrap()),
        &mut up,
    )
    .unwrap();
    assert_eq!(up, "up\n");
    let e = format!("NS == {}", ino_of(child.id(), NamespaceKind::Uts));
    let out = stdout_of(&["-n", "-o", "COMMAND", "-Q", &e], None);
    assert_eq!(out, format!("/bin/sh -c echo up; read x {long}\n"));
    drop(child.stdin.take());
    child.wait().unwrap();
}
both_modes!(raw_and_table, raw_and_table_formats);

/// `-P` lists only namespaces without processes; `-p` with a pid that does not exist prints
/// nothing and succeeds (as util-linux, also 2.38).
#[test]
fn persistent_and_task_options() {
    let out = stdout_of(&["-P", "-n", "-r", "-o", "NPROCS"], None);
    assert!(out.lines().all(|l| l == "0"), "{out}");
    let pid_max = std::fs::read_to_string("/proc/sys/kernel/pid_max").unwrap();
    let pid_max = pid_max.trim();
    assert_eq!(
        run(&["-p", pid_max], None),
        (0, String::new(), String::new())
    );
    // util-linux 2.38 gives up (status 1) when a process exits at the wrong moment of its
    // scan, which the other tests' processes can make happen: a few tries.
    let theirs = (0..10)
        .map(|_| util_linux(&["-p", pid_max], None))
        .find(|o| o.status.code() != Some(1))
        .expect("util-linux lsns -p failed 10 times");
    assert_eq!(theirs.status.code(), Some(0));
    assert!(theirs.stdout.is_empty());
    // -p: exactly the process's own namespaces, one per kind.
    let me = std::process::id().to_string();
    let out = stdout_of(&["-p", &me, "-n", "-r", "-o", "TYPE,NS", "-l"], None);
    assert_eq!(out.lines().count(), 8, "{out}");
    for line in out.lines() {
        let (kind, ino) = line.split_once(' ').unwrap();
        let kind = NamespaceKind::from_proc_name(kind).unwrap();
        assert_eq!(ino, my_ino(kind).to_string());
    }
}

/// Filter expressions end to end: word and symbol operators, strings, regexes, parentheses,
/// bare columns; the messages and statuses of util-linux for bad ones.
#[test]
fn filter_language() {
    let h = Holder::rootless(NamespaceSet::USER | NamespaceSet::UTS);
    let uts = ino_of(h.pid, NamespaceKind::Uts);
    let pick = |expr: &str| stdout_of(&["-n", "-r", "-o", "NS", "-Q", expr], None);
    let me = format!("{uts}\n");
    for expr in [
        format!("NS == {uts}"),
        format!("NS eq {uts} and TYPE == \"uts\""),
        format!("(NS == {uts} || NS == 1) && NPROCS >= 1"),
        format!("NS == {uts} AND NOT (TYPE != 'uts')"),
        format!("NS == {uts} && TYPE =~ \"^u.s$\" && TYPE !~ 'net'"),
        format!("NS == {uts} && PID && !NSFS"),
        format!("NS == '{uts}'"),
        format!("NS >= {uts} && NS le {uts} && NPROCS < 1.5"),
    ] {
        assert_eq!(pick(&expr), me, "{expr}");
    }
    assert_eq!(pick(&format!("NS == {uts} && TYPE == 'net'")), "");
    // Bad expressions: one line, status 1, nothing on stdout.
    for (expr, msg) in [
        ("NS ==", "syntax error, unexpected end of file"),
        (
            "NS == 1 )",
            "syntax error, unexpected ')', expecting end of file",
        ),
        ("NS =~ \"(\"", "Unmatched ( or \\("),
    ] {
        let (code, out, err) = run(&["-Q", expr], None);
        assert_eq!((code, out.as_str()), (1, ""), "{expr}");
        assert_eq!(err, format!("lsns: failed to parse \"{expr}\": {msg}\n"));
    }
    let (code, out, err) = run(&["-Q", "FOO == 1 || BAR"], None);
    assert_eq!((code, out.as_str()), (1, ""));
    assert_eq!(
        err,
        "lsns: unknown column: FOO\nlsns: unknown column: BAR\nlsns: failed to initialize filter\n"
    );
    let (code, out, err) = run(&["-Q", "TYPE == 5"], None);
    assert_eq!((code, out.as_str()), (1, ""));
    assert_eq!(err, "lsns: failed to apply filter: Invalid argument\n");
}

/// `-H` lists the columns (also as JSON and raw); `-V` the version; `-h` the usage.
#[test]
fn columns_version_and_help() {
    let names = [
        "NS", "TYPE", "PATH", "NPROCS", "PID", "PPID", "COMMAND", "UID", "USER", "NETNSID", "NSFS",
        "PNS", "ONS",
    ];
    let out = stdout_of(&["-H"], None);
    let got: Vec<&str> = out
        .lines()
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(got, names);
    assert!(out.lines().next().unwrap().contains("<integer>"));
    let v: Value = serde_json::from_str(&stdout_of(&["--list-columns", "-J"], None)).unwrap();
    let cols = v["lsns-columns"].as_array().unwrap();
    assert_eq!(cols.len(), 13);
    assert_eq!(cols[9]["holder"], "NETNSID");
    assert_eq!(cols[9]["type"], "<string>");
    assert!(cols[9]["description"].is_string());
    let raw = stdout_of(&["-H", "-r"], None);
    assert!(raw.starts_with("NS <integer> "), "{raw}");
    assert!(stdout_of(&["-V"], None).starts_with("lsns from "));
    for flag in ["-h", "--help"] {
        let text = stdout_of(&[flag], None);
        assert!(text.starts_with("Usage:\n lsns [options]"), "{text}");
        for opt in [
            "--json",
            "--list",
            "--noheadings",
            "--output",
            "--output-all",
            "--persistent",
            "--task",
            "--filter",
            "--raw",
            "--notruncate",
            "--nowrap",
            "--type",
            "--tree",
            "--list-columns",
            "--help",
            "--version",
        ] {
            assert!(text.contains(opt), "usage lacks {opt}");
        }
    }
}

/// Bad input: util-linux's message (one line, or two with the "Try" hint for option
/// errors), status 1, nothing on stdout; the same status as Debian's util-linux 2.38 where it
/// has the option.
#[test]
fn bad_input_fails_like_util_linux() {
    let cases: &[(&[&str], &str, bool)] = &[
        (
            &["-t", "bogus"],
            "lsns: unknown namespace type: bogus\n",
            true,
        ),
        (&["-o", "NS,BOGUS"], "lsns: unknown column: BOGUS\n", true),
        (&["-p", "abc"], "lsns: invalid PID argument: 'abc'\n", true),
        (
            &["-p", "0"],
            "lsns: invalid PID argument: '0': Numerical result out of range\n",
            false,
        ),
        (
            &["--frobnicate"],
            "lsns: unrecognized option '--frobnicate'\nTry 'lsns --help' for more information.\n",
            true,
        ),
        (
            &["-x"],
            "lsns: invalid option -- 'x'\nTry 'lsns --help' for more information.\n",
            true,
        ),
        (
            &["--type"],
            "lsns: option '--type' requires an argument\nTry 'lsns --help' for more information.\n",
            true,
        ),
        (
            &["--json=yes"],
            "lsns: option '--json' doesn't allow an argument\nTry 'lsns --help' for more information.\n",
            true,
        ),
        (
            &["extra"],
            "lsns: invalid namespace argument: 'extra'\n",
            true,
        ),
        (&["1"], "lsns: not found namespace: 1\n", true),
        (
            &["-J", "-r"],
            "lsns: options --json and --raw cannot be combined\n",
            true,
        ),
        (
            &["-p", "1", "-P"],
            "lsns: options --task and --persistent cannot be combined\n",
            false,
        ),
        (
            &["--tree=sideways"],
            "lsns: unknown tree type: sideways\n",
            false,
        ),
        (
            &["-p", "1", "7"],
            "lsns: --task is mutually exclusive with <namespace>\n",
            true,
        ),
    ];
    for (args, err, compare) in cases {
        let (code, out, got) = run(args, None);
        assert_eq!(
            (code, out.as_str(), got.as_str()),
            (1, "", *err),
            "{args:?}"
        );
        if *compare {
            let theirs = util_linux(args, None);
            assert_eq!(theirs.status.code(), Some(1), "util-linux 2.38 {args:?}");
        }
    }
}

/// A failed write of the output is an error (status 1, util-linux's message), as with
/// util-linux 2.38.
#[test]
fn write_errors_are_reported() {
    let full = || {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap()
    };
    let out = Command::new(example())
        .stdout(full())
        .output()
        .expect("run the lsns example");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "lsns: write error: No space left on device\n"
    );
    let theirs = Command::new("lsns").stdout(full()).output().unwrap();
    assert_eq!(theirs.status.code(), Some(1));
}
