//! What is taken from the target process besides its namespaces: a socket's network
//! namespace, the parent user namespace, its cgroup, environment and SELinux context; and
//! `--keep-caps`.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use linux_namespaces::{Error, Namespace, NamespaceKind, PidFd};
use rustix::fs::{Mode, OFlags};

use crate::cli::{Options, Source};
use crate::{PROG, die, os_error, process_error, strerror};

/// The order util-linux keeps its namespaces in (and reports `--all` problems in).
pub(crate) const KINDS: [NamespaceKind; 8] = [
    NamespaceKind::User,
    NamespaceKind::Cgroup,
    NamespaceKind::Ipc,
    NamespaceKind::Uts,
    NamespaceKind::Network,
    NamespaceKind::Pid,
    NamespaceKind::Mount,
    NamespaceKind::Time,
];

/// `/proc/PID/<what>` of the target, as util-linux names it in its messages.
pub(crate) fn target_path(opts: &Options, what: &str) -> PathBuf {
    match opts.target {
        Some(pid) => PathBuf::from(format!("/proc/{pid}/{what}")),
        None => die(
            1,
            format_args!("neither filename nor target pid supplied for {what}"),
        ),
    }
}

/// `-a`: every namespace of the target that differs from ours, besides those named.
pub(crate) fn enable_all(opts: &mut Options) {
    let pid = opts.target.unwrap_or(0);
    for kind in KINDS {
        if opts.has(kind) {
            continue;
        }
        let Ok(ours) = Namespace::current(kind) else {
            continue; // a kind this kernel does not have
        };
        let theirs = match (&opts.target_pidfd, pid) {
            (_, 0) => Err(io::Error::from_raw_os_error(libc::ENOENT)),
            (Some(fd), _) => Namespace::from_pidfd(fd.as_fd(), kind).map_err(|e| os_error(&e)),
            (None, _) => Namespace::open(pid, kind).map_err(|e| os_error(&e)),
        }
        .unwrap_or_else(|e| {
            die(
                1,
                format_args!(
                    "stat of /proc/{pid}/ns/{} failed: {}",
                    kind.proc_name(),
                    strerror(&e)
                ),
            )
        });
        if theirs.id() != ours.id() {
            opts.enable(kind, Source::Target);
        }
    }
}

/// `--user-parent`: the parent of the user namespace named by `-U FILE`, else of the
/// target's, else the owner of another namespace named by a file (as util-linux does).
pub(crate) fn parent_user_namespace(opts: &Options, pidfd: Option<&PidFd>) -> Namespace {
    let failed = |e: &Error| -> ! {
        die(
            1,
            format_args!(
                "failed to open parent namespace: {}",
                strerror(&os_error(e))
            ),
        )
    };
    let named = opts.namespaces.iter().find_map(|(k, s)| match s {
        Source::Opened(ns) if *k == NamespaceKind::User => Some(ns),
        _ => None,
    });
    let of_target;
    let start = match (named, pidfd, opts.target) {
        (Some(ns), _, _) => ns,
        (None, Some(fd), _) => {
            of_target = Namespace::from_pidfd(fd.as_fd(), NamespaceKind::User)
                .unwrap_or_else(|e| failed(&e));
            &of_target
        }
        (None, None, pid) => {
            let other = opts.namespaces.iter().find_map(|(_, s)| match s {
                Source::Opened(ns) => Some(ns),
                Source::Target => None,
            });
            match other {
                Some(ns) => ns,
                None => {
                    let path = target_path(opts, "ns/user");
                    of_target = Namespace::open(pid.unwrap_or(0), NamespaceKind::User)
                        .unwrap_or_else(|e| {
                            die(
                                1,
                                format_args!(
                                    "cannot open {}: {}",
                                    path.display(),
                                    strerror(&os_error(&e))
                                ),
                            )
                        });
                    &of_target
                }
            }
        }
    };
    start.owner().unwrap_or_else(|e| failed(&e))
}

/// `-N FD`: the network namespace of socket `FD` of the target (`pidfd_getfd` + `SIOCGSKNS`).
pub(crate) fn socket_namespace(opts: &Options, pidfd: Option<&PidFd>, fd: i32) -> Namespace {
    let pid = opts.target.unwrap_or(0);
    let opened;
    let pidfd = match pidfd {
        Some(p) => p,
        None => {
            opened = PidFd::open(pid).unwrap_or_else(|e| {
                die(
                    1,
                    format_args!(
                        "failed to pidfd_open() for {pid}: {}",
                        strerror(&process_error(&e))
                    ),
                )
            });
            &opened
        }
    };
    let socket = pidfd.get_fd(fd).unwrap_or_else(|e| {
        die(
            1,
            format_args!(
                "pidfd_getfd({}, {fd}): {}",
                pidfd.as_raw_fd(),
                strerror(&process_error(&e))
            ),
        )
    });
    Namespace::from_socket(socket.as_fd()).unwrap_or_else(|e| {
        let errno = match e {
            // Not a socket: what the ioctl itself answers.
            Error::InvalidInput { .. } => libc::ENOTTY,
            ref other => os_error(other).raw_os_error().unwrap_or(libc::EINVAL),
        };
        die(
            1,
            format_args!(
                "ioctl({}, SIOCGSKNS): {}",
                socket.as_raw_fd(),
                strerror(&io::Error::from_raw_os_error(errno))
            ),
        )
    })
}

/// `-c`: opens `cgroup.procs` of the target's cgroup v2 directory, for writing our pid to
/// once the namespaces are entered.
pub(crate) fn open_cgroup_procs(opts: &Options) -> OwnedFd {
    let Some(mount) = cgroup2_mount() else {
        die(1, "--join-cgroup is only supported in cgroup v2");
    };
    let path = target_path(opts, "cgroup");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        die(
            1,
            format_args!("cannot open {}: {}", path.display(), strerror(&e)),
        )
    });
    let failed = || -> ! { die(1, "failed to get cgroup path") };
    let cgroup = text
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .unwrap_or_else(|| failed());
    let (mount_point, mount_root) = mount;
    // The hierarchy may be mounted from a subdirectory (a cgroup namespace's root).
    let relative = Path::new(cgroup)
        .strip_prefix(&mount_root)
        .unwrap_or_else(|_| failed());
    if relative
        .components()
        .any(|c| c == std::path::Component::ParentDir)
    {
        failed();
    }
    let procs = mount_point.join(relative).join("cgroup.procs");
    rustix::fs::open(
        &procs,
        OFlags::WRONLY | OFlags::APPEND | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .unwrap_or_else(|e| {
        die(
            1,
            format_args!("failed to open cgroup.procs: {}", strerror(&e.into())),
        )
    })
}

/// Where the cgroup v2 hierarchy is mounted (mount point, root within the hierarchy):
/// `/sys/fs/cgroup` when it is cgroup2, else the first cgroup2 mount in our mount table.
pub(crate) fn cgroup2_mount() -> Option<(PathBuf, PathBuf)> {
    const CGROUP2_SUPER_MAGIC: u32 = 0x6367_7270;
    let is_cgroup2 =
        |p: &Path| rustix::fs::statfs(p).is_ok_and(|s| s.f_type as u32 == CGROUP2_SUPER_MAGIC);
    let table = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    // mountinfo: ID PARENT MAJ:MIN ROOT MOUNT_POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE ...
    let mounts: Vec<(PathBuf, PathBuf)> = table
        .lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            if right.split(' ').next() != Some("cgroup2") {
                return None;
            }
            let mut f = left.split(' ');
            let root = unescape(f.nth(3)?);
            let point = unescape(f.next()?);
            Some((point, root))
        })
        .collect();
    let sys = Path::new("/sys/fs/cgroup");
    if is_cgroup2(sys) {
        let root = mounts
            .iter()
            .rev()
            .find(|(p, _)| p == sys)
            .map(|(_, r)| r.clone())
            .unwrap_or_else(|| PathBuf::from("/"));
        return Some((sys.to_path_buf(), root));
    }
    mounts.into_iter().find(|(p, _)| is_cgroup2(p))
}

/// mountinfo's octal escapes (`\040` for a space).
pub(crate) fn unescape(field: &str) -> PathBuf {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    PathBuf::from(OsString::from_vec(out))
}

/// `-Z`: run the program in the target's SELinux context (`/proc/PID/attr/current` written
/// to our `attr/exec`), as util-linux with libselinux does.
pub(crate) fn follow_context(opts: &Options) {
    const SELINUX_MAGIC: u32 = 0xf97c_ff8c;
    let enabled =
        rustix::fs::statfs("/sys/fs/selinux").is_ok_and(|s| s.f_type as u32 == SELINUX_MAGIC);
    if !enabled {
        // util-linux built without SELinux rejects -Z as an unknown option (exit 1).
        eprintln!("{PROG}: --follow-context: SELinux is not enabled on this system");
        eprintln!("Try '{PROG} --help' for more information.");
        std::process::exit(1);
    }
    let Some(pid) = opts.target else {
        die(1, "no target PID specified for --follow-context");
    };
    let context = std::fs::read(format!("/proc/{pid}/attr/current"))
        .unwrap_or_else(|_| die(1, format_args!("failed to get {pid} SELinux context")));
    let end = context
        .iter()
        .position(|&b| b == 0 || b == b'\n')
        .unwrap_or(context.len());
    let context = &context[..end];
    if std::fs::write("/proc/thread-self/attr/exec", context).is_err() {
        die(
            1,
            format_args!(
                "failed to set exec context to '{}'",
                String::from_utf8_lossy(context)
            ),
        );
    }
}

/// `-e`: the target's environment (`/proc/PID/environ`), NAME=VALUE entries only; for a
/// name given twice the later value wins.
pub(crate) fn read_environ(mut file: std::fs::File) -> Vec<(OsString, OsString)> {
    let mut raw = Vec::new();
    file.read_to_end(&mut raw).unwrap_or_else(|e| {
        die(
            1,
            format_args!("failed to get environment variables: {}", strerror(&e)),
        )
    });
    let mut vars = BTreeMap::new();
    for entry in raw.split(|&b| b == 0) {
        if let Some(eq) = entry.iter().position(|&b| b == b'=') {
            if eq > 0 {
                vars.insert(
                    OsString::from_vec(entry[..eq].to_vec()),
                    OsString::from_vec(entry[eq + 1..].to_vec()),
                );
            }
        }
    }
    vars.into_iter().collect()
}

/// `--keep-caps`: makes every permitted capability inheritable and every effective one
/// ambient, so the program keeps them across `execve` whatever its uid.
pub(crate) fn permitted_to_ambient() {
    use rustix::thread::{CapabilitySet, capabilities, set_capabilities};
    let mut sets = capabilities(None)
        .unwrap_or_else(|e| die(1, format_args!("capget failed: {}", strerror(&e.into()))));
    sets.inheritable = sets.permitted;
    set_capabilities(None, sets)
        .unwrap_or_else(|e| die(1, format_args!("capset failed: {}", strerror(&e.into()))));
    let last: u32 = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40);
    for cap in 0..=last.min(63) {
        let one = CapabilitySet::from_bits_retain(1 << cap);
        if sets.effective.contains(one) {
            rustix::thread::configure_capability_in_ambient_set(one, true).unwrap_or_else(|e| {
                die(
                    1,
                    format_args!("prctl(PR_CAP_AMBIENT) failed: {}", strerror(&e.into())),
                )
            });
        }
    }
}
