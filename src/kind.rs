//! The eight namespace kinds, one at a time ([`NamespaceKind`]) or as a set ([`NamespaceSet`]).

use std::fmt;
use std::str::FromStr;

use std::ffi::CStr;

use bitflags::bitflags;
use rustix::thread::LinkNameSpaceType;

use crate::error::Error;
use crate::kernel::KernelFeature;

/// One kind of Linux namespace.
///
/// The discriminants follow the order of the kinds in `/proc/<pid>/ns`
/// (alphabetical by proc name), which is also the order of [`NamespaceKind::ALL`].
///
/// # References
///  - [namespaces(7)](https://man7.org/linux/man-pages/man7/namespaces.7.html)
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NamespaceKind {
    /// cgroup namespace (`CLONE_NEWCGROUP`, Linux 4.6): the cgroup root the process sees.
    Cgroup,
    /// IPC namespace (`CLONE_NEWIPC`): System V IPC objects and POSIX message queues.
    Ipc,
    /// Mount namespace (`CLONE_NEWNS`): the mount table.
    Mount,
    /// Network namespace (`CLONE_NEWNET`): links, addresses, routes, sockets, firewall.
    Network,
    /// PID namespace (`CLONE_NEWPID`): the process id number space.
    Pid,
    /// Time namespace (`CLONE_NEWTIME`, Linux 5.6): offsets of the monotonic and boot-time clocks.
    Time,
    /// User namespace (`CLONE_NEWUSER`): uids, gids and capabilities.
    User,
    /// UTS namespace (`CLONE_NEWUTS`): host name and NIS domain name.
    Uts,
}

/// What the kernel says about one kind, in one place: every other part of the crate reads
/// these instead of matching on the kind.
struct Facts {
    /// The link name in `/proc/<pid>/ns/` and the name in the link text.
    proc_name: &'static str,
    /// The same, as a C string, for `readlinkat(2)` relative to `/proc/<pid>/ns`.
    link: &'static CStr,
    /// The link relative to `/proc/<pid>`.
    ns_path: &'static CStr,
    /// The `CLONE_NEW*` flag.
    flag: u32,
    /// The `nstype` argument of `setns(2)`, as rustix names it.
    setns_type: LinkNameSpaceType,
    /// `n` of `PIDFD_GET_<KIND>_NAMESPACE`, `_IO(0xFF, n)` (Linux 6.11).
    pidfd_ioctl: u8,
    /// The kernel that introduced the kind.
    since: KernelFeature,
    /// The `*_for_children` link, for kinds whose `unshare(2)` moves only future children.
    for_children: Option<&'static str>,
}

/// Indexed by `NamespaceKind as usize`; the order of [`NamespaceKind::ALL`].
const FACTS: [Facts; 8] = [
    Facts {
        proc_name: "cgroup",
        link: c"cgroup",
        ns_path: c"ns/cgroup",
        flag: libc::CLONE_NEWCGROUP as u32,
        setns_type: LinkNameSpaceType::ControlGroup,
        pidfd_ioctl: 1,
        since: KernelFeature::CgroupNamespaces,
        for_children: None,
    },
    Facts {
        proc_name: "ipc",
        link: c"ipc",
        ns_path: c"ns/ipc",
        flag: libc::CLONE_NEWIPC as u32,
        setns_type: LinkNameSpaceType::InterProcessCommunication,
        pidfd_ioctl: 2,
        since: KernelFeature::NamespaceFiles,
        for_children: None,
    },
    Facts {
        proc_name: "mnt",
        link: c"mnt",
        ns_path: c"ns/mnt",
        flag: libc::CLONE_NEWNS as u32,
        setns_type: LinkNameSpaceType::Mount,
        pidfd_ioctl: 3,
        since: KernelFeature::NamespaceFiles,
        for_children: None,
    },
    Facts {
        proc_name: "net",
        link: c"net",
        ns_path: c"ns/net",
        flag: libc::CLONE_NEWNET as u32,
        setns_type: LinkNameSpaceType::Network,
        pidfd_ioctl: 4,
        since: KernelFeature::NamespaceFiles,
        for_children: None,
    },
    Facts {
        proc_name: "pid",
        link: c"pid",
        ns_path: c"ns/pid",
        flag: libc::CLONE_NEWPID as u32,
        setns_type: LinkNameSpaceType::ProcessID,
        pidfd_ioctl: 5,
        since: KernelFeature::NamespaceFiles,
        for_children: Some("pid_for_children"),
    },
    Facts {
        proc_name: "time",
        link: c"time",
        ns_path: c"ns/time",
        flag: libc::CLONE_NEWTIME as u32,
        setns_type: LinkNameSpaceType::Time,
        pidfd_ioctl: 7,
        since: KernelFeature::TimeNamespaces,
        for_children: Some("time_for_children"),
    },
    Facts {
        proc_name: "user",
        link: c"user",
        ns_path: c"ns/user",
        flag: libc::CLONE_NEWUSER as u32,
        setns_type: LinkNameSpaceType::User,
        pidfd_ioctl: 9,
        since: KernelFeature::NamespaceFiles,
        for_children: None,
    },
    Facts {
        proc_name: "uts",
        link: c"uts",
        ns_path: c"ns/uts",
        flag: libc::CLONE_NEWUTS as u32,
        setns_type: LinkNameSpaceType::HostNameAndNISDomainName,
        pidfd_ioctl: 10,
        since: KernelFeature::NamespaceFiles,
        for_children: None,
    },
];

impl NamespaceKind {
    /// Every kind, in the order of their proc names.
    pub const ALL: [NamespaceKind; 8] = [
        NamespaceKind::Cgroup,
        NamespaceKind::Ipc,
        NamespaceKind::Mount,
        NamespaceKind::Network,
        NamespaceKind::Pid,
        NamespaceKind::Time,
        NamespaceKind::User,
        NamespaceKind::Uts,
    ];

    const fn facts(self) -> &'static Facts {
        &FACTS[self as usize]
    }

    /// The name of this kind's link in `/proc/<pid>/ns/` and in the link's text
    /// (`"cgroup"`, `"ipc"`, `"mnt"`, `"net"`, `"pid"`, `"time"`, `"user"`, `"uts"`).
    pub const fn proc_name(self) -> &'static str {
        self.facts().proc_name
    }

    /// The kind whose proc name is `name` (see [`proc_name`](Self::proc_name)).
    pub fn from_proc_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.proc_name() == name)
    }

    /// The `CLONE_NEW*` flag for this kind, as `clone(2)`, `unshare(2)`, `setns(2)` and
    /// `NS_GET_NSTYPE` use it.
    pub const fn clone_flag(self) -> u32 {
        self.facts().flag
    }

    /// The kind whose `CLONE_NEW*` flag is exactly `flag`.
    pub fn from_clone_flag(flag: u32) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.clone_flag() == flag)
    }

    /// The set that holds only this kind.
    pub const fn as_set(self) -> NamespaceSet {
        NamespaceSet::from_bits_retain(self.clone_flag())
    }

    /// Index of this kind in [`NamespaceKind::ALL`].
    pub(crate) const fn index(self) -> usize {
        self as usize
    }

    /// Whether namespaces of this kind form a tree that `NS_GET_PARENT` can walk (pid and user).
    pub const fn is_hierarchical(self) -> bool {
        matches!(self, NamespaceKind::Pid | NamespaceKind::User)
    }

    /// For pid and time namespaces, the `/proc/<pid>/ns/` link naming the namespace the
    /// process's *future children* will be in (`pid_for_children`, `time_for_children`).
    /// After `unshare(2)` of these kinds the caller itself stays where it was.
    pub const fn for_children_proc_name(self) -> Option<&'static str> {
        self.facts().for_children
    }

    /// The kernel feature that introduced this kind (for [`Error::Unsupported`]).
    pub(crate) const fn since(self) -> KernelFeature {
        self.facts().since
    }

    /// The link name under `/proc/<pid>/ns/`, as a C string.
    pub(crate) const fn link_name(self) -> &'static CStr {
        self.facts().link
    }

    /// The link relative to `/proc/<pid>`, as a C string.
    pub(crate) const fn ns_path(self) -> &'static CStr {
        self.facts().ns_path
    }

    /// The `nstype` of `setns(2)` that accepts only this kind.
    pub(crate) const fn setns_type(self) -> LinkNameSpaceType {
        self.facts().setns_type
    }

    /// The number `n` of the `PIDFD_GET_<KIND>_NAMESPACE` ioctl, `_IO(0xFF, n)`.
    pub(crate) const fn pidfd_ioctl_nr(self) -> u8 {
        self.facts().pidfd_ioctl
    }
}

impl fmt::Display for NamespaceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.proc_name())
    }
}

impl FromStr for NamespaceKind {
    type Err = Error;

    /// Parses a proc name (`"mnt"`, `"net"`, ...) or the long name (`"mount"`, `"network"`),
    /// as util-linux tools accept them.
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::from_proc_name(s)
            .or(match s {
                "mount" => Some(NamespaceKind::Mount),
                "network" => Some(NamespaceKind::Network),
                _ => None,
            })
            .ok_or_else(|| Error::invalid("namespace kind", format!("unknown kind {s:?}")))
    }
}

bitflags! {
    /// A set of namespace kinds, as the `CLONE_NEW*` bits of `clone(2)`, `unshare(2)` and
    /// `setns(2)`.
    ///
    /// Only the eight `CLONE_NEW*` bits exist here: flags such as `CLONE_FILES`, `CLONE_FS` or
    /// `CLONE_SYSVSEM`, which change what `unshare` means for the process, cannot be expressed.
    /// [`from_bits`](Self::from_bits) rejects any other bit.
    ///
    /// # References
    ///  - [unshare(2)](https://man7.org/linux/man-pages/man2/unshare.2.html)
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
    pub struct NamespaceSet: u32 {
        /// `CLONE_NEWCGROUP`
        const CGROUP = libc::CLONE_NEWCGROUP as u32;
        /// `CLONE_NEWIPC`
        const IPC = libc::CLONE_NEWIPC as u32;
        /// `CLONE_NEWNS`
        const MOUNT = libc::CLONE_NEWNS as u32;
        /// `CLONE_NEWNET`
        const NET = libc::CLONE_NEWNET as u32;
        /// `CLONE_NEWPID`
        const PID = libc::CLONE_NEWPID as u32;
        /// `CLONE_NEWTIME`
        const TIME = libc::CLONE_NEWTIME as u32;
        /// `CLONE_NEWUSER`
        const USER = libc::CLONE_NEWUSER as u32;
        /// `CLONE_NEWUTS`
        const UTS = libc::CLONE_NEWUTS as u32;
    }
}

static_assertions::const_assert_eq!(NamespaceSet::all().bits().count_ones(), 8);
static_assertions::const_assert_eq!(
    NamespaceSet::all().bits()
        & (libc::CLONE_FILES | libc::CLONE_FS | libc::CLONE_SYSVSEM | libc::CLONE_VM) as u32,
    0
);

impl NamespaceSet {
    /// The kinds in this set, in the order of [`NamespaceKind::ALL`].
    pub fn kinds(self) -> impl Iterator<Item = NamespaceKind> + Clone {
        NamespaceKind::ALL
            .into_iter()
            .filter(move |k| self.contains(k.as_set()))
    }

    /// Whether the set holds `kind`.
    pub const fn has(self, kind: NamespaceKind) -> bool {
        self.contains(kind.as_set())
    }
}

impl From<NamespaceKind> for NamespaceSet {
    fn from(kind: NamespaceKind) -> Self {
        kind.as_set()
    }
}

impl FromIterator<NamespaceKind> for NamespaceSet {
    fn from_iter<I: IntoIterator<Item = NamespaceKind>>(iter: I) -> Self {
        iter.into_iter()
            .fold(NamespaceSet::empty(), |s, k| s | k.as_set())
    }
}

impl fmt::Display for NamespaceSet {
    /// Comma-separated proc names, e.g. `user,pid,mnt`; `none` for the empty set.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        for (i, k) in self.kinds().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(k.proc_name())?;
        }
        Ok(())
    }
}

impl FromStr for NamespaceSet {
    type Err = Error;

    /// Parses the [`Display`](fmt::Display) form: comma-separated kind names, or `none`.
    fn from_str(s: &str) -> Result<Self, Error> {
        if s == "none" {
            return Ok(NamespaceSet::empty());
        }
        s.split(',').map(str::parse::<NamespaceKind>).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn kind() -> impl Strategy<Value = NamespaceKind> {
        proptest::sample::select(NamespaceKind::ALL.to_vec())
    }

    #[test]
    fn proc_names_are_the_kernel_link_names() {
        let names: Vec<_> = NamespaceKind::ALL.iter().map(|k| k.proc_name()).collect();
        assert_eq!(
            names,
            ["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"]
        );
        for k in NamespaceKind::ALL {
            assert_eq!(
                k.index(),
                NamespaceKind::ALL.iter().position(|x| *x == k).unwrap()
            );
        }
    }

    #[test]
    fn the_facts_table_is_in_the_order_of_all() {
        for k in NamespaceKind::ALL {
            let f = k.facts();
            assert_eq!(f.link.to_str().unwrap(), f.proc_name);
            assert_eq!(f.ns_path.to_str().unwrap(), format!("ns/{}", f.proc_name));
            assert_eq!(f.setns_type as u32, f.flag, "{k:?}");
            assert_eq!(k.as_set().bits(), f.flag);
        }
        // The discriminants are the table's indices.
        assert_eq!(NamespaceKind::Uts as usize, 7);
    }

    #[test]
    fn set_rejects_non_namespace_clone_flags() {
        assert_eq!(NamespaceSet::from_bits(libc::CLONE_FILES as u32), None);
        assert_eq!(
            NamespaceSet::from_bits((libc::CLONE_NEWNET | libc::CLONE_SYSVSEM) as u32),
            None
        );
        assert!("net,files".parse::<NamespaceSet>().is_err());
        assert!("".parse::<NamespaceSet>().is_err());
    }

    proptest! {
        #[test]
        fn kind_proc_name_round_trips(k in kind()) {
            prop_assert_eq!(NamespaceKind::from_proc_name(k.proc_name()), Some(k));
            prop_assert_eq!(k.to_string().parse::<NamespaceKind>().unwrap(), k);
        }

        #[test]
        fn kind_clone_flag_round_trips(k in kind()) {
            prop_assert_eq!(k.clone_flag().count_ones(), 1);
            prop_assert_eq!(NamespaceKind::from_clone_flag(k.clone_flag()), Some(k));
        }

        #[test]
        fn unknown_names_are_rejected(s in "[a-z_]{0,12}") {
            let known = NamespaceKind::ALL.iter().any(|k| k.proc_name() == s)
                || s == "mount" || s == "network";
            prop_assert_eq!(s.parse::<NamespaceKind>().is_ok(), known);
        }

        #[test]
        fn set_bits_round_trip(bits in any::<u32>()) {
            let set = NamespaceSet::from_bits_truncate(bits);
            prop_assert_eq!(NamespaceSet::from_bits(set.bits()), Some(set));
            prop_assert_eq!(set.kinds().collect::<NamespaceSet>(), set);
            prop_assert_eq!(set.to_string().parse::<NamespaceSet>().unwrap(), set);
            prop_assert_eq!(set.kinds().count() as u32, set.bits().count_ones());
            prop_assert_eq!(NamespaceSet::from_bits(bits).is_some(), bits & !NamespaceSet::all().bits() == 0);
        }
    }
}
