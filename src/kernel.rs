//! What the running kernel has: the features the crate uses, the first kernel that has each,
//! and probes that find out once whether a feature works here.

use std::fmt;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, Ordering};

/// A kernel feature the crate uses, as [`Error::Unsupported`](crate::Error::Unsupported)
/// names it when the running kernel lacks it.
///
/// Each has the first mainline version that has it ([`min_kernel`](Self::min_kernel)). Where
/// a feature is missing, the crate falls back where a fallback keeps the same guarantees and
/// returns `Unsupported` otherwise.
///
/// # References
///  - [namespaces(7)](https://man7.org/linux/man-pages/man7/namespaces.7.html),
///    [clone3(2)](https://man7.org/linux/man-pages/man2/clone3.2.html)
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KernelFeature {
    /// Namespace files in `/proc/<pid>/ns` and `setns(2)` (Linux 3.8).
    NamespaceFiles,
    /// Cgroup namespaces, `CLONE_NEWCGROUP` (4.6).
    CgroupNamespaces,
    /// The `NS_GET_NSTYPE` ioctl, which tells a namespace fd's kind (4.11).
    NsGetNstype,
    /// `clone3(2)` with `CLONE_PIDFD` (5.3).
    Clone3,
    /// `pidfd_open(2)` (5.3).
    PidfdOpen,
    /// `CLONE_CLEAR_SIGHAND`: the kernel resets signal handlers at clone (5.5).
    ClearSighand,
    /// Time namespaces, `CLONE_NEWTIME` (5.6).
    TimeNamespaces,
    /// `openat2(2)` with `RESOLVE_*` and the new mount API (`fsopen`, `open_tree`,
    /// `move_mount`), which symlink-safe mount steps need (5.6; `open_tree` and `move_mount`
    /// are 5.2).
    Openat2,
    /// `CLONE_INTO_CGROUP`: start a child in a cgroup v2 directory (5.7).
    CloneIntoCgroup,
    /// `setns(2)` with a pidfd and several `CLONE_NEW*` flags at once (5.8).
    SetnsPidfd,
    /// `close_range(2)` (5.9).
    CloseRange,
    /// `pidfd_getfd(2)`: duplicate a file descriptor of another process (5.6).
    PidfdGetfd,
    /// The `SIOCGSKNS` ioctl: the network namespace of a socket (4.9).
    SocketNamespace,
    /// `mount_setattr(2)` (5.12).
    MountSetattr,
    /// `pidfd_open(2)` with `PIDFD_THREAD` (6.9).
    PidfdThread,
    /// The `PIDFD_GET_*_NAMESPACE` ioctls, among them `PIDFD_GET_PID_FOR_CHILDREN_NAMESPACE`,
    /// which opens a pid namespace that has no process yet (6.11).
    PidfdNamespaceIoctls,
}

impl KernelFeature {
    /// The feature's name as the kernel's documentation gives it.
    pub const fn name(self) -> &'static str {
        match self {
            KernelFeature::NamespaceFiles => "namespace files in /proc/<pid>/ns",
            KernelFeature::CgroupNamespaces => "cgroup namespaces (CLONE_NEWCGROUP)",
            KernelFeature::NsGetNstype => "NS_GET_NSTYPE",
            KernelFeature::Clone3 => "clone3 with CLONE_PIDFD",
            KernelFeature::PidfdOpen => "pidfd_open",
            KernelFeature::ClearSighand => "CLONE_CLEAR_SIGHAND",
            KernelFeature::TimeNamespaces => "time namespaces (CLONE_NEWTIME)",
            KernelFeature::Openat2 => "openat2 and the new mount API",
            KernelFeature::CloneIntoCgroup => "CLONE_INTO_CGROUP",
            KernelFeature::SetnsPidfd => "setns with a pidfd",
            KernelFeature::CloseRange => "close_range",
            KernelFeature::PidfdGetfd => "pidfd_getfd",
            KernelFeature::SocketNamespace => "SIOCGSKNS",
            KernelFeature::MountSetattr => "mount_setattr",
            KernelFeature::PidfdThread => "PIDFD_THREAD",
            KernelFeature::PidfdNamespaceIoctls => "PIDFD_GET_*_NAMESPACE",
        }
    }

    /// The first mainline kernel that has it, as `(major, minor)`.
    pub const fn min_kernel(self) -> (u32, u32) {
        match self {
            KernelFeature::NamespaceFiles => (3, 8),
            KernelFeature::CgroupNamespaces => (4, 6),
            KernelFeature::NsGetNstype => (4, 11),
            KernelFeature::Clone3 | KernelFeature::PidfdOpen => (5, 3),
            KernelFeature::ClearSighand => (5, 5),
            KernelFeature::TimeNamespaces | KernelFeature::Openat2 => (5, 6),
            KernelFeature::CloneIntoCgroup => (5, 7),
            KernelFeature::SetnsPidfd => (5, 8),
            KernelFeature::CloseRange => (5, 9),
            KernelFeature::PidfdGetfd => (5, 6),
            KernelFeature::SocketNamespace => (4, 9),
            KernelFeature::MountSetattr => (5, 12),
            KernelFeature::PidfdThread => (6, 9),
            KernelFeature::PidfdNamespaceIoctls => (6, 11),
        }
    }

    /// Whether the running kernel's version (`uname(2)`) is at least
    /// [`min_kernel`](Self::min_kernel). A backport, or a seccomp profile that refuses the
    /// call, can make the answer wrong either way: the crate uses this only where probing
    /// the call itself is not possible.
    pub(crate) fn in_kernel_version(self) -> bool {
        kernel_version() >= self.min_kernel()
    }
}

impl fmt::Display for KernelFeature {
    /// The name and the first kernel, e.g. `clone3 with CLONE_PIDFD (Linux 5.3)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (major, minor) = self.min_kernel();
        write!(f, "{} (Linux {major}.{minor})", self.name())
    }
}

/// The running kernel's `(major, minor)` from `uname(2)`, parsed once.
pub(crate) fn kernel_version() -> (u32, u32) {
    static V: OnceLock<(u32, u32)> = OnceLock::new();
    *V.get_or_init(|| {
        let uname = rustix::system::uname();
        parse_release(&uname.release().to_string_lossy())
    })
}

fn parse_release(release: &str) -> (u32, u32) {
    let mut parts = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|s| s.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

/// Whether `openat2(2)` works here: probed once (`openat2` of `/` with `RESOLVE_NO_SYMLINKS`),
/// then remembered. `ENOSYS` (a kernel before 5.6, or a seccomp profile that answers so)
/// means absent; any other answer means the call exists.
pub(crate) fn openat2_works() -> bool {
    match OPENAT2.get() {
        Probed::Present => true,
        Probed::Absent => false,
        Probed::Unknown => openat2_reprobe(),
    }
}

/// Probes `openat2(2)` again and remembers the answer (after a child got `ENOSYS` although an
/// earlier probe found it: a seccomp filter installed since).
pub(crate) fn openat2_reprobe() -> bool {
    use rustix::fs::{CWD, Mode, OFlags, ResolveFlags, openat2};
    let found = match openat2(
        CWD,
        "/",
        OFlags::PATH | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::NO_SYMLINKS,
    ) {
        Err(rustix::io::Errno::NOSYS) => Probed::Absent,
        _ => Probed::Present,
    };
    OPENAT2.set(found);
    found == Probed::Present
}

static OPENAT2: Probe = Probe::new();

/// `clone3(2)`: `Absent` once a spawn got `ENOSYS` from it (an old kernel, or a seccomp
/// filter that makes callers fall back to `clone(2)`); spawns then report over a pipe, as
/// the fork-like fallback shares no memory with the parent.
pub(crate) static CLONE3: Probe = Probe::new();

/// What a [`Probe`] has found out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Probed {
    /// Not tried yet.
    Unknown,
    /// The feature worked.
    Present,
    /// The kernel lacks it (or policy refuses it); use the fallback.
    Absent,
}

/// Whether one feature works here, found at its first use and then remembered for the life of
/// the process. Threads that race on the first use each probe; they agree.
pub(crate) struct Probe(AtomicU8);

impl Probe {
    pub(crate) const fn new() -> Probe {
        Probe(AtomicU8::new(0))
    }

    pub(crate) fn get(&self) -> Probed {
        match self.0.load(Ordering::Relaxed) {
            1 => Probed::Present,
            2 => Probed::Absent,
            _ => Probed::Unknown,
        }
    }

    pub(crate) fn set(&self, found: Probed) {
        let v = match found {
            Probed::Unknown => 0,
            Probed::Present => 1,
            Probed::Absent => 2,
        };
        self.0.store(v, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_parses_major_minor() {
        assert_eq!(parse_release("6.18.44-fc-v669"), (6, 18));
        assert_eq!(parse_release("5.8.0"), (5, 8));
        assert_eq!(parse_release("garbage"), (0, 0));
    }

    #[test]
    fn features_display_with_their_first_kernel() {
        assert_eq!(
            KernelFeature::Clone3.to_string(),
            "clone3 with CLONE_PIDFD (Linux 5.3)"
        );
        assert_eq!(
            KernelFeature::MountSetattr.to_string(),
            "mount_setattr (Linux 5.12)"
        );
    }

    #[test]
    fn a_probe_remembers_what_it_found() {
        let p = Probe::new();
        assert_eq!(p.get(), Probed::Unknown);
        p.set(Probed::Absent);
        assert_eq!(p.get(), Probed::Absent);
        p.set(Probed::Present);
        assert_eq!(p.get(), Probed::Present);
    }
}
