//! The spawner's errors: bad input rejected before clone, a failure at each setup step
//! reported by name, nothing left behind; and spawning from many threads at once.

mod common;

use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use common::spawn::*;
use common::*;
use linux_namespaces::{
    Command, Error, IdMap, Mount, Namespace, NamespaceKind, NamespaceSet, Namespaces, Resource,
    SetGroups, Step, StepKind, TimeClock,
};

type R = Result<(), String>;

// ---------------------------------------------------------------------------------------------
// Errors: bad input before clone, failures at each step, nothing left behind

#[test]
fn bad_input_is_a_typed_error_before_any_process_and_leaks_nothing() {
    rootless(|| {
        let fds = open_fds();
        type Make = fn() -> Command;
        let cases: Vec<(&str, Make)> = vec![
            ("empty program", || Command::new("")),
            ("NUL in program", || Command::new("/bin/t\0rue")),
            ("NUL in argument", || { let mut c = Command::new("/bin/true"); c.arg("a\0b"); c }),
            ("NUL in env value", || { let mut c = Command::new("/bin/true"); c.env("A", "x\0y"); c }),
            ("'=' in env key", || { let mut c = Command::new("/bin/true"); c.env("A=B", "x"); c }),
            ("empty env key", || { let mut c = Command::new("/bin/true"); c.env("", "x"); c }),
            ("long hostname", || { let mut c = Command::new("/bin/true"); c.unshare(NamespaceSet::UTS).map_root().hostname("h".repeat(65)); c }),
            ("hostname without UTS", || { let mut c = Command::new("/bin/true"); c.map_root().hostname("x"); c }),
            ("mount without mount ns", || { let mut c = Command::new("/bin/true"); c.map_root().mount(Mount::tmpfs("/tmp")); c }),
            ("relative mount path", || { let mut c = Command::new("/bin/true"); c.unshare(NamespaceSet::MOUNT).map_root().mount(Mount::tmpfs("tmp")); c }),
            ("map without user ns", || { let mut c = Command::new("/bin/true"); c.uid_map(IdMap::single(0, 0).unwrap()); c }),
            ("time offset without time ns", || { let mut c = Command::new("/bin/true"); c.time_offset(TimeClock::Boottime, 1, 0); c }),
            ("nanoseconds out of range", || { let mut c = Command::new("/bin/true"); c.unshare(NamespaceSet::TIME).map_root().time_offset(TimeClock::Boottime, 1, 1_000_000_000); c }),
            ("init without pid ns", || { let mut c = Command::new("/bin/true"); c.init(true); c }),
            ("fd given twice", || { let mut c = Command::new("/bin/true"); c.fd(5, dup_null()).fd(5, dup_null()); c }),
            ("rlimit soft above hard", || { let mut c = Command::new("/bin/true"); c.rlimit(Resource::NoFile, 10, 5); c }),
            ("program not in PATH", || Command::new("no-such-program-lns")),
        ];
        for (what, make) in cases {
            let mut cmd = make();
            let t = Instant::now();
            let e = match cmd.spawn() {
                Ok(_) => return Err(format!("{what}: spawned")),
                Err(e) => e,
            };
            ensure!(
                matches!(e, Error::InvalidInput { .. }) || matches!(&e, Error::Spawn { step, .. } if step.kind() == StepKind::Exec && what == "program not in PATH"),
                "{what}: {e:?}"
            );
            ensure!(t.elapsed() < Duration::from_secs(1), "{what}: slow");
            ensure!(no_children(), "{what}: a process was created");
            drop(cmd);
            ensure!(open_fds() == fds, "{what}: fds leaked: {:?} vs {fds:?}", open_fds());
        }
        // Invalid maps never get as far as a Command.
        ensure!("0 0 10\n5 100 10".parse::<IdMap>().is_err(), "overlap accepted");
        Ok(())
    })
    .unwrap()
}

fn dup_null() -> OwnedFd {
    std::fs::File::open("/dev/null").unwrap().into()
}

#[test]
fn a_failure_at_each_step_is_reported_by_name_and_leaks_nothing() {
    rootless(|| {
        let mountinfo_before = mountinfo();
        let fds = open_fds();
        let host_net = Namespace::current(NamespaceKind::Network).map_err(|e| e.to_string())?;
        let bad = std::env::temp_dir().join("lns-no-such-dir");
        type Check = fn(&Step) -> bool;
        let mut cases: Vec<(Check, Command)> = Vec::new();
        let mut c = Command::new("/bin/true");
        c.unshare(NamespaceSet::NET);
        cases.push((|s| s.kind() == StepKind::Clone, c));
        let mut c = Command::new("/bin/true");
        c.map_root().join(&host_net);
        cases.push((
            |s| s.kind() == StepKind::Join && s.namespace_kind() == Some(NamespaceKind::Network),
            c,
        ));
        let mut c = Command::new("/bin/true");
        c.unshare(NamespaceSet::TIME)
            .map_root()
            .time_offset(TimeClock::Monotonic, -(1 << 40), 0);
        cases.push((|s| s.kind() == StepKind::TimeOffsets, c));
        let mut c = Command::new("/bin/true");
        c.unshare(NamespaceSet::MOUNT)
            .map_root()
            .mount(Mount::tmpfs("/tmp"))
            .mount(Mount::bind(&bad, "/mnt"));
        cases.push((
            |s| s.mount_index() == Some(1) && s.mount_text().is_some_and(|m| m.starts_with("bind")),
            c,
        ));
        let mut c = Command::new("/bin/true");
        c.current_dir(&bad);
        cases.push((|s| s.kind() == StepKind::Chdir, c));
        let mut c = Command::new("/bin/true");
        c.rlimit(Resource::NoFile, 1 << 30, 1 << 30);
        cases.push((|s| s.resource() == Some(Resource::NoFile), c));
        let mut c = Command::new("/bin/true");
        c.map_root().groups(&[0]);
        cases.push((|s| s.kind() == StepKind::Groups, c));
        let mut c = Command::new("/bin/true");
        c.gid(0);
        cases.push((|s| s.kind() == StepKind::Gid, c));
        let mut c = Command::new("/bin/true");
        c.uid(0);
        cases.push((|s| s.kind() == StepKind::Uid, c));
        let mut c = Command::new("/bin/true");
        c.ambient_capabilities(linux_namespaces::Capabilities::NET_RAW);
        cases.push((|s| s.kind() == StepKind::Capabilities, c));
        let mut c = Command::new("/bin/true");
        c.seccomp_filter(&deny_uname());
        cases.push((|s| s.kind() == StepKind::Seccomp, c));
        let mut c = Command::new("/nonexistent/program");
        c.map_root();
        cases.push((
            |s| {
                s.kind() == StepKind::Exec
                    && s.file() == Some(std::path::Path::new("/nonexistent/program"))
            },
            c,
        ));
        let mut c = Command::new("/etc/hostname");
        c.map_root();
        cases.push((|s| s.kind() == StepKind::Exec, c));
        let mut c = Command::new("/bin/true");
        // A range /etc/subuid does not grant: newuidmap refuses it (or is not installed).
        let ungranted: IdMap = format!(
            "0 {} 1\n1 3000000000 10",
            rustix::process::getuid().as_raw()
        )
        .parse()
        .unwrap();
        c.unshare(NamespaceSet::USER)
            .uid_map(ungranted)
            .use_newidmap(true);
        cases.push((|s| s.kind() == StepKind::UidMap, c));
        for (i, (want, mut cmd)) in cases.into_iter().enumerate() {
            let t = Instant::now();
            match cmd.spawn() {
                Ok(mut ch) => {
                    let st = ch.wait();
                    return Err(format!("case {i}: spawned ({st:?})"));
                }
                Err(Error::Spawn { step, source, .. }) => {
                    ensure!(want(&step), "case {i}: wrong step {step:?} ({source})");
                    ensure!(
                        source.raw_os_error().is_some() || step.kind() == StepKind::UidMap,
                        "case {i}: no errno: {source}"
                    );
                }
                Err(e) => return Err(format!("case {i}: not a spawn error: {e}")),
            }
            ensure!(
                t.elapsed() < Duration::from_secs(1),
                "case {i}: took {:?}",
                t.elapsed()
            );
            ensure!(no_children(), "case {i}: a child is left");
            drop(cmd);
        }
        drop(host_net);
        ensure!(open_fds() == fds, "fds leaked: {:?} vs {fds:?}", open_fds());
        ensure!(mountinfo() == mountinfo_before, "mount table changed");
        Ok(())
    })
    .unwrap()
}

#[test]
fn error_messages_name_step_errno_and_hint() {
    rootless(|| {
        let e = Command::new("/bin/true")
            .seccomp_filter(&deny_uname())
            .spawn()
            .unwrap_err();
        let s = e.to_string();
        ensure!(
            s.contains("seccomp") && s.contains("EACCES") && s.contains("no_new_privs"),
            "{s}"
        );
        ensure!(!s.contains('\n'), "{s}");
        Ok(())
    })
    .unwrap()
}

// ---------------------------------------------------------------------------------------------
// Concurrency

#[test]
fn spawning_from_many_threads_at_once_works() {
    // In the harness process itself: spawn() must not need a single-threaded caller.
    let threads: Vec<_> = (0..16)
        .map(|_| {
            std::thread::spawn(|| {
                for _ in 0..10 {
                    let st = Command::new("/bin/true").status().expect("spawn");
                    assert!(st.success());
                    let st = Command::new("/bin/sh")
                        .args(["-c", "exit 0"])
                        .unshare(NamespaceSet::PID)
                        .map_root()
                        .status()
                        .expect("spawn in namespaces");
                    assert!(st.success());
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

// ---------------------------------------------------------------------------------------------

#[test]
fn failures_at_the_remaining_steps_are_reported_by_name() {
    rootless(|| {
        let fds = open_fds();
        let check = |what: &str,
                     r: linux_namespaces::Result<linux_namespaces::Child>,
                     want: &dyn Fn(&Step) -> bool,
                     errno: i32|
         -> R {
            let t = Instant::now();
            match r {
                Err(Error::Spawn { step, source, .. }) => {
                    ensure!(want(&step), "{what}: wrong step {step:?} ({source})");
                    ensure!(source.raw_os_error() == Some(errno), "{what}: {source}");
                }
                Ok(mut c) => return Err(format!("{what}: spawned ({:?})", c.wait())),
                Err(e) => return Err(format!("{what}: {e}")),
            }
            ensure!(t.elapsed() < Duration::from_secs(1), "{what}: slow");
            ensure!(no_children(), "{what}: a child is left");
            Ok(())
        };
        // A time namespace without the privilege to make one (no user namespace).
        check(
            "time namespace",
            Command::new("/bin/true")
                .unshare(NamespaceSet::TIME)
                .spawn(),
            &|s| s.kind() == StepKind::TimeNamespace,
            libc::EPERM,
        )?;
        // A passed fd whose number is above the child's fd limit.
        check(
            "fd above the limit",
            Command::new("/bin/true")
                .rlimit(Resource::NoFile, 64, 64)
                .fd(1000, dup_null())
                .spawn(),
            &|s| s.fd_number() == Some(1000),
            libc::EINVAL,
        )?;
        // The init cannot fork the program: no process left under RLIMIT_NPROC.
        check(
            "init fork",
            Command::new("/bin/true")
                .unshare(NamespaceSet::PID)
                .map_root()
                .init(true)
                .rlimit(Resource::NProc, 1, 1)
                .spawn(),
            &|s| s.kind() == StepKind::InitFork,
            libc::EAGAIN,
        )?;
        // A gid the parent user namespace does not map: the parent's gid_map write fails.
        let (uid, gid) = (
            rustix::process::getuid().as_raw(),
            rustix::process::getgid().as_raw(),
        );
        Namespaces::unshare_calling_thread(NamespaceSet::USER).map_err(|e| e.to_string())?;
        map_self_to_root(uid, gid)?;
        check(
            "gid_map of an unmapped gid",
            Command::new("/bin/true")
                .unshare(NamespaceSet::USER)
                .uid_map(IdMap::single(0, 0).unwrap())
                .gid_map(IdMap::single(0, 5).unwrap())
                .setgroups(SetGroups::Deny)
                .spawn(),
            &|s| s.kind() == StepKind::GidMap,
            libc::EPERM,
        )?;
        ensure!(open_fds() == fds, "fds leaked: {:?} vs {fds:?}", open_fds());
        Ok(())
    })
    .unwrap()
}
