//! Hostile input, entry point by entry point: each bad input gets its typed error before
//! anything happens, and leaves nothing behind (no fd, no child, no mount, no file).

mod common;

use std::os::fd::{AsFd, OwnedFd};

use common::*;
use linux_namespaces::inspect::{NamespaceIds, same_namespace};
use linux_namespaces::{
    Error, IdMap, IdRange, Namespace, NamespaceKind, NamespaceSet, Namespaces, PidFd, Propagation,
    TimeClock, set_time_offsets,
};

fn invalid(e: &Error) -> bool {
    matches!(e, Error::InvalidInput { .. })
}
fn not_ns(e: &Error) -> bool {
    matches!(e, Error::NotANamespace { .. })
}
fn no_proc(e: &Error) -> bool {
    matches!(e, Error::NoSuchProcess { .. })
}
fn errno(n: i32) -> impl Fn(&Error) -> bool {
    move |e: &Error| e.raw_os_error() == Some(n)
}

type Case = (
    &'static str,
    Box<dyn Fn() -> Result<(), Error>>,
    Box<dyn Fn(&Error) -> bool>,
);

/// Runs every case, each checked for its error and for leaks.
fn table(cases: Vec<Case>) -> Result<(), String> {
    let fds = open_fds();
    let mounts = mountinfo();
    for (what, f, check) in cases {
        match f() {
            Ok(()) => return Err(format!("{what}: accepted")),
            Err(e) => {
                ensure!(check(&e), "{what}: wrong error {e:?}");
                ensure!(!e.to_string().contains('\n'), "{what}: multi-line message");
            }
        }
        ensure!(
            open_fds() == fds,
            "{what}: fds leaked: {:?} vs {fds:?}",
            open_fds()
        );
        ensure!(no_children(), "{what}: a process was left");
        ensure!(mountinfo() == mounts, "{what}: the mount table changed");
    }
    Ok(())
}

macro_rules! case {
    ($what:expr, $body:expr, $check:expr) => {
        (
            $what,
            Box::new(move || $body.map(|_| ())) as Box<dyn Fn() -> Result<(), Error>>,
            Box::new($check) as Box<dyn Fn(&Error) -> bool>,
        )
    };
}

#[test]
fn namespace_entry_points_reject_bad_input() {
    rootless(|| {
        let dir = std::env::temp_dir().join(format!("lns-hostile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let file = dir.join("file");
        std::fs::write(&file, "x").map_err(|e| e.to_string())?;
        let fifo = dir.join("fifo");
        let cfifo = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo with a valid C string.
        ensure!(
            unsafe { libc::mkfifo(cfifo.as_ptr(), 0o600) } == 0,
            "mkfifo"
        );
        let to_file = dir.join("link-to-file");
        std::os::unix::fs::symlink(&file, &to_file).map_err(|e| e.to_string())?;
        let to_ns = dir.join("link-to-ns");
        std::os::unix::fs::symlink("/proc/self/ns/net", &to_ns).map_err(|e| e.to_string())?;
        let (f2, fifo2, tf2, tn2, d2) = (
            file.clone(),
            fifo.clone(),
            to_file.clone(),
            to_ns.clone(),
            dir.clone(),
        );
        let (f3, tf3, tn3, f4) = (file.clone(), to_file.clone(), to_ns.clone(), file.clone());
        let pid_max: u32 = std::fs::read_to_string("/proc/sys/kernel/pid_max")
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let cases = vec![
            case!(
                "open pid 0",
                Namespace::open(0, NamespaceKind::Network),
                invalid
            ),
            case!(
                "open pid 2^31",
                Namespace::open(1 << 31, NamespaceKind::Network),
                invalid
            ),
            case!(
                "open a pid that does not exist",
                Namespace::open(pid_max + 1, NamespaceKind::Network),
                no_proc
            ),
            case!(
                "open_for_children pid 0",
                Namespace::open_for_children(0, NamespaceKind::Pid),
                invalid
            ),
            case!("from_path empty", Namespace::from_path(""), invalid),
            case!(
                "from_path NUL",
                Namespace::from_path("/proc/self/ns/n\0et"),
                invalid
            ),
            case!(
                "from_path missing",
                Namespace::from_path("/nonexistent/lns"),
                errno(libc::ENOENT)
            ),
            case!("from_path regular file", Namespace::from_path(&f2), not_ns),
            case!("from_path directory", Namespace::from_path(&d2), not_ns),
            case!(
                "from_path FIFO (must not block)",
                Namespace::from_path(&fifo2),
                not_ns
            ),
            case!(
                "from_path /dev/null",
                Namespace::from_path("/dev/null"),
                not_ns
            ),
            case!(
                "from_path symlink to a file",
                Namespace::from_path(&tf2),
                not_ns
            ),
            case!(
                "from_pidfd of a file",
                {
                    let f = std::fs::File::open(&f3).unwrap();
                    Namespace::from_pidfd(f.as_fd(), NamespaceKind::Network)
                },
                invalid
            ),
            case!(
                "TryFrom a regular file",
                Namespace::try_from(OwnedFd::from(std::fs::File::open(&f4).unwrap())),
                not_ns
            ),
            case!(
                "TryFrom a pipe",
                {
                    let (r, _w) = rustix::pipe::pipe().unwrap();
                    Namespace::try_from(r)
                },
                not_ns
            ),
            case!(
                "TryFrom a socket",
                {
                    let s = std::os::unix::net::UnixDatagram::unbound().unwrap();
                    Namespace::try_from(OwnedFd::from(s))
                },
                not_ns
            ),
            case!(
                "ensure_kind wrong",
                Namespace::current(NamespaceKind::Network)
                    .unwrap()
                    .ensure_kind(NamespaceKind::Uts),
                |e: &Error| matches!(
                    e,
                    Error::WrongKind {
                        expected: NamespaceKind::Uts,
                        found: NamespaceKind::Network,
                        ..
                    }
                )
            ),
            case!(
                "parent of a net namespace",
                Namespace::current(NamespaceKind::Network).unwrap().parent(),
                |e: &Error| matches!(e, Error::NotApplicable { .. })
            ),
            case!(
                "parent of the initial pid namespace",
                Namespace::current(NamespaceKind::Pid).unwrap().parent(),
                |e: &Error| matches!(e, Error::OutOfScope { .. })
            ),
            case!(
                "owner_uid of a net namespace",
                Namespace::current(NamespaceKind::Network)
                    .unwrap()
                    .owner_uid(),
                |e: &Error| matches!(e, Error::NotApplicable { .. })
            ),
            case!(
                "persist to an empty path",
                Namespace::current(NamespaceKind::Network)
                    .unwrap()
                    .persist(""),
                invalid
            ),
            case!(
                "persist to a relative path",
                Namespace::current(NamespaceKind::Network)
                    .unwrap()
                    .persist("relative/netns"),
                invalid
            ),
            case!(
                "persist to a path with NUL",
                Namespace::current(NamespaceKind::Network)
                    .unwrap()
                    .persist("/run/a\0b"),
                invalid
            ),
            case!(
                "persist to a path ending in /",
                Namespace::current(NamespaceKind::Network)
                    .unwrap()
                    .persist("/tmp/"),
                invalid
            ),
            case!(
                "persist to a path ending in ..",
                Namespace::current(NamespaceKind::Network)
                    .unwrap()
                    .persist("/tmp/x/.."),
                invalid
            ),
            case!(
                "persist to /",
                Namespace::current(NamespaceKind::Network)
                    .unwrap()
                    .persist("/"),
                invalid
            ),
            case!(
                "persist onto an existing file",
                Namespace::current(NamespaceKind::Network)
                    .unwrap()
                    .persist(&file),
                errno(libc::EEXIST)
            ),
            case!(
                "persist onto a symlink",
                Namespace::current(NamespaceKind::Network)
                    .unwrap()
                    .persist(&tf3),
                errno(libc::EEXIST)
            ),
            case!(
                "persist with a missing parent",
                Namespace::current(NamespaceKind::Network)
                    .unwrap()
                    .persist("/nonexistent/lns/x"),
                errno(libc::ENOENT)
            ),
            case!(
                "unpersist relative",
                PersistedNamespace::at("x").and_then(|p| p.remove(true)),
                invalid
            ),
            case!(
                "unpersist a symlink to a namespace",
                PersistedNamespace::at(&tn3).and_then(|p| p.remove(true)),
                invalid
            ),
            case!(
                "unpersist a regular file",
                PersistedNamespace::at(to_file.with_file_name("file")).and_then(|p| p.remove(true)),
                not_ns
            ),
            case!(
                "unpersist a missing path",
                PersistedNamespace::at("/nonexistent/lns").and_then(|p| p.remove(true)),
                errno(libc::ENOENT)
            ),
            case!(
                "enter_process with a non-pidfd",
                {
                    let f = std::fs::File::open("/dev/null").unwrap();
                    Namespaces::enter_process(f.as_fd(), NamespaceSet::UTS)
                },
                invalid
            ),
            case!("NamespaceIds of pid 0", NamespaceIds::of(0), invalid),
            case!(
                "same_namespace with pid 0",
                same_namespace(0, 1, NamespaceKind::Network),
                invalid
            ),
            case!("PidFd::open(0)", PidFd::open(0), invalid),
            case!("PidFd::open missing", PidFd::open(pid_max + 1), no_proc),
            case!(
                "signal 999",
                "999".parse::<linux_namespaces::Signal>(),
                invalid
            ),
            case!(
                "signal -1",
                "-1".parse::<linux_namespaces::Signal>(),
                invalid
            ),
            case!(
                "signal SIGRTMAX + 1",
                (libc::SIGRTMAX() + 1)
                    .to_string()
                    .parse::<linux_namespaces::Signal>(),
                invalid
            ),
            case!(
                "set_time_offsets pid 0",
                set_time_offsets(0, &[(TimeClock::Boottime, 1, 0)]),
                invalid
            ),
            case!(
                "set_time_offsets nothing",
                set_time_offsets(std::process::id(), &[]),
                invalid
            ),
            case!(
                "set_time_offsets 1e9 ns",
                set_time_offsets(
                    std::process::id(),
                    &[(TimeClock::Monotonic, 0, 1_000_000_000)]
                ),
                invalid
            ),
        ];
        let r = table(cases);
        // The symlink to a namespace is still a way to open it (from_path follows links).
        let via_link = Namespace::from_path(&tn2).map(|n| n.id());
        let _ = std::fs::remove_dir_all(&dir);
        r?;
        ensure!(
            via_link.ok() == Some(Namespace::current(NamespaceKind::Network).unwrap().id()),
            "link to ns"
        );
        Ok(())
    })
    .unwrap()
}

#[test]
fn value_parsers_reject_bad_input() {
    let bad_maps: Vec<(&str, String)> = vec![
        ("overlapping inside", "0 1000 10\n5 2000 10".into()),
        ("overlapping outside", "0 1000 10\n100 1005 10".into()),
        ("zero length", "0 1000 0".into()),
        ("past 2^32", "4294967290 0 10".into()),
        ("negative", "-1 0 1".into()),
        ("too few fields", "0 1000".into()),
        (
            "too many lines",
            (0..341)
                .map(|i| format!("{i} {} 1\n", 100_000 + i))
                .collect(),
        ),
        (
            "longer than a page",
            (0..340)
                .map(|i| format!("{} {} 1\n", 4_000_000_000u32 + i, 4_100_000_000u32 + i))
                .collect(),
        ),
        ("empty", String::new()),
    ];
    for (what, text) in bad_maps {
        match text.parse::<IdMap>() {
            Err(Error::InvalidInput { what: "id map", .. }) => {}
            other => panic!("{what}: {other:?}"),
        }
    }
    assert!(IdMap::new([IdRange::new(0, 0, 0)]).is_err());
    for bad in ["", "mount2", "NET", "net ", "pid_for_children"] {
        assert!(bad.parse::<NamespaceKind>().is_err(), "{bad:?}");
    }
    for bad in ["", ",", "net,", "net,,uts", "files"] {
        assert!(bad.parse::<NamespaceSet>().is_err(), "{bad:?}");
    }
    for bad in ["", "Private", "rprivate", "slave,shared"] {
        assert!(bad.parse::<Propagation>().is_err(), "{bad:?}");
    }
}

#[test]
fn id_map_single_validates_like_new() {
    for (inside, outside) in [
        (u32::MAX, 0),
        (0, u32::MAX),
        (u32::MAX, u32::MAX),
        (0, 0),
        (5, 1000),
        (u32::MAX - 1, u32::MAX - 1),
    ] {
        match (
            IdMap::single(inside, outside),
            IdMap::new([IdRange::new(inside, outside, 1)]),
        ) {
            (Ok(single), Ok(new)) => assert_eq!(single, new),
            (Err(Error::InvalidInput { what: "id map", .. }), Err(_)) => {}
            other => panic!("IdMap::single({inside}, {outside}) and IdMap::new: {other:?}"),
        }
    }
}

#[test]
fn the_child_holds_no_fd_to_the_host_root_cwd_or_our_binary() {
    rootless(|| {
        use linux_namespaces::{Command, Mount, Stdio};
        let root = std::env::temp_dir().join(format!("lns-hostile-root-{}", std::process::id()));
        std::fs::create_dir_all(&root).map_err(|e| e.to_string())?;
        let r = root.to_str().unwrap().to_string();
        // The parent holds fds to its root, cwd and own binary, none close-on-exec.
        let exe = std::fs::File::open("/proc/self/exe").map_err(|e| e.to_string())?;
        let rootdir = std::fs::File::open("/").map_err(|e| e.to_string())?;
        let cwd = std::fs::File::open(".").map_err(|e| e.to_string())?;
        for f in [&exe, &rootdir, &cwd] {
            rustix::io::fcntl_setfd(f, rustix::io::FdFlags::empty()).map_err(|e| e.to_string())?;
        }
        let mut child = Command::new("/usr/bin/cat")
            .unshare(NamespaceSet::MOUNT | NamespaceSet::PID)
            .map_root()
            .mount(linux_namespaces::Mount::propagation("/", Propagation::Private).recursive())
            .mount(Mount::tmpfs(&r))
            .mount(Mount::mkdir(format!("{r}/usr"), 0o755))
            .mount(
                Mount::bind("/usr", format!("{r}/usr"))
                    .recursive()
                    .read_only(),
            )
            .mount(Mount::symlink("usr/lib", format!("{r}/lib")))
            .mount(Mount::symlink("usr/lib64", format!("{r}/lib64")))
            .mount(Mount::pivot_root(&r))
            .current_dir("/usr")
            .stdin(Stdio::Piped)
            .stdout(Stdio::Piped)
            .spawn()
            .map_err(|e| e.to_string())?;
        let pid = child.id();
        // Once cat has echoed a line its dynamic loader is done (it holds fd 3 for a moment
        // after execve), so the fds seen are the program's own.
        let fds: Vec<String> = fds_of_ready_cat(&mut child)?
            .into_iter()
            .map(|fd| fd.to_string())
            .collect();
        let links: Vec<String> = fds
            .iter()
            .map(|fd| {
                std::fs::read_link(format!("/proc/{pid}/fd/{fd}"))
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            })
            .collect();
        let root_link =
            std::fs::read_link(format!("/proc/{pid}/root")).map_err(|e| e.to_string())?;
        use std::os::unix::fs::MetadataExt;
        let their_root =
            std::fs::metadata(format!("/proc/{pid}/root")).map_err(|e| e.to_string())?;
        let our_root = std::fs::metadata("/").map_err(|e| e.to_string())?;
        let cwd_link = std::fs::read_link(format!("/proc/{pid}/cwd")).map_err(|e| e.to_string())?;
        let exe_link = std::fs::read_link(format!("/proc/{pid}/exe")).map_err(|e| e.to_string())?;
        drop(child.stdin.take());
        child.wait().map_err(|e| e.to_string())?;
        let _ = std::fs::remove_dir(&root);
        let mut sorted = fds.clone();
        sorted.sort();
        ensure!(sorted == ["0", "1", "2"], "fds {fds:?} -> {links:?}");
        let me = std::fs::read_link("/proc/self/exe").map_err(|e| e.to_string())?;
        ensure!(
            !links
                .iter()
                .any(|l| l == &me.display().to_string() || l == "/"),
            "{links:?}"
        );
        // The root and cwd are inside the new root, which the host's tree cannot reach.
        ensure!(
            root_link == std::path::Path::new("/"),
            "root {}",
            root_link.display()
        );
        ensure!(
            their_root.dev() != our_root.dev(),
            "the child's root is the host's root file system"
        );
        ensure!(
            cwd_link == std::path::Path::new("/usr"),
            "cwd {}",
            cwd_link.display()
        );
        ensure!(
            exe_link == std::path::Path::new("/usr/bin/cat"),
            "exe {}",
            exe_link.display()
        );
        Ok(())
    })
    .unwrap()
}
