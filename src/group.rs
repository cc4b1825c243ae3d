//! [`NamespaceGroup`]: a set of namespaces created and set up once, kept alive by handles,
//! for many commands to be spawned into.

use std::ffi::{OsStr, OsString};

use crate::error::{Error, Result};
use crate::kind::{NamespaceKind, NamespaceSet};
use crate::namespaces::Namespaces;
use crate::spawn::{Command, Stdio};

/// What [`NamespaceGroup::create`] sets up in new namespaces before any command runs there.
/// Nothing is set up unless asked for.
///
/// # References
///  - [uts_namespaces(7)](https://man7.org/linux/man-pages/man7/uts_namespaces.7.html),
///    [network_namespaces(7)](https://man7.org/linux/man-pages/man7/network_namespaces.7.html)
#[derive(Clone, Debug, Default)]
pub struct GroupSetup {
    hostname: Option<OsString>,
    domainname: Option<OsString>,
    loopback: bool,
}

impl GroupSetup {
    /// Nothing to set up.
    pub fn new() -> GroupSetup {
        GroupSetup::default()
    }

    /// The host name of the group's UTS namespace (`sethostname(2)`, at most 64 bytes). Needs
    /// UTS in the set.
    pub fn hostname(mut self, name: impl AsRef<OsStr>) -> GroupSetup {
        self.hostname = Some(name.as_ref().to_owned());
        self
    }

    /// The NIS domain name of the group's UTS namespace (`setdomainname(2)`). Needs UTS in
    /// the set.
    pub fn domainname(mut self, name: impl AsRef<OsStr>) -> GroupSetup {
        self.domainname = Some(name.as_ref().to_owned());
        self
    }

    /// Brings the loopback interface of the group's network namespace up, so `127.0.0.1`
    /// and `::1` work for every command (a new network namespace starts with `lo` down). Done
    /// in the short-lived child, inside the namespaces, with
    /// [`Command::loopback_up`] (`ioctl(SIOCSIFFLAGS)`), so it works rootless. Needs NET in
    /// the set.
    pub fn loopback_up(mut self, on: bool) -> GroupSetup {
        self.loopback = on;
        self
    }
}

/// Namespaces created once and kept alive by their handles, to spawn many commands into:
/// the cheap path for a test harness that runs many cases in the same throwaway network,
/// UTS and IPC namespaces.
///
/// [`create`](Self::create) makes the namespaces with a short-lived child: it is spawned into
/// new namespaces of the kinds asked for (with a user namespace, the caller's uid and gid map
/// to root, as [`Command::map_root`] does), set up ([`GroupSetup`]), its namespaces are
/// opened through its pidfd, and it exits. From then on no process needs to exist: the
/// [`Namespace`](crate::Namespace) handles keep the namespaces alive until the group is
/// dropped. [`command`](Self::command) gives a [`Command`] that joins them (`setns(2)` in the
/// child), which costs a few `setns` calls instead of creating and tearing down namespaces for
/// every command (a network namespace in particular is slow to create and to clean up).
///
/// ```no_run
/// use linux_namespaces::{GroupSetup, NamespaceGroup, NamespaceSet};
///
/// # fn main() -> linux_namespaces::Result<()> {
/// let group = NamespaceGroup::create(
///     NamespaceSet::USER | NamespaceSet::NET | NamespaceSet::UTS | NamespaceSet::IPC,
///     GroupSetup::new().hostname("testbox"),
/// )?;
/// for case in ["hostname", "id -u", "cat /proc/net/dev"] {
///     let out = group.command("/bin/sh").arg("-c").arg(case).output()?;
///     assert!(out.status.success());
/// }
/// # Ok(())
/// # }
/// ```
///
/// Commands in a group share its namespaces, and so what one of them changes there (an
/// address, a SysV semaphore, the host name) the next one sees. A group cannot hold a pid
/// namespace: a pid namespace ends when its first process exits, so no handle keeps it
/// usable.
///
/// # References
///  - [namespaces(7)](https://man7.org/linux/man-pages/man7/namespaces.7.html),
///    [setns(2)](https://man7.org/linux/man-pages/man2/setns.2.html),
///    [user_namespaces(7)](https://man7.org/linux/man-pages/man7/user_namespaces.7.html)
#[derive(Debug)]
pub struct NamespaceGroup {
    namespaces: Namespaces,
}

impl NamespaceGroup {
    /// Creates new namespaces of the kinds in `set` and sets them up (see the type docs).
    ///
    /// Rootless works when `set` has USER: the group's user namespace owns the others, and
    /// the caller (its owner) may join them. Without USER the caller needs `CAP_SYS_ADMIN`.
    /// The short-lived child runs `/bin/sh -c 'read _'` with an empty environment, stdin a
    /// pipe and stdout/stderr on `/dev/null`, and exits when the pipe closes; it is reaped
    /// before this returns.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an empty set, a set with PID, or setup that needs a kind
    /// the set lacks; [`Error::Spawn`] if the namespaces cannot be created (with the hint the
    /// spawner gives, such as user namespaces being disabled); [`Error::Os`] if they cannot be
    /// opened.
    ///
    /// # References
    ///  - [clone3(2)](https://man7.org/linux/man-pages/man2/clone3.2.html),
    ///    [ioctl_pidfd(2)](https://man7.org/linux/man-pages/man2/ioctl_pidfd.2.html)
    ///    (`PIDFD_GET_*_NAMESPACE`), [setns(2)](https://man7.org/linux/man-pages/man2/setns.2.html)
    pub fn create(set: NamespaceSet, setup: GroupSetup) -> Result<NamespaceGroup> {
        check(set, &setup)?;
        let mut holder = Command::new("/bin/sh");
        holder
            .args(["-c", "read _"])
            .env_clear()
            .stdin(Stdio::Piped)
            .stdout(Stdio::Null)
            .stderr(Stdio::Null)
            .kill_on_drop(true)
            .unshare(set);
        if set.has(NamespaceKind::User) {
            holder.map_root();
        }
        if let Some(name) = &setup.hostname {
            holder.hostname(name);
        }
        if let Some(name) = &setup.domainname {
            holder.domainname(name);
        }
        if setup.loopback {
            holder.loopback_up(true);
        }
        let mut child = holder.spawn()?;
        // The child sits in `read` until its stdin closes; open its namespaces meanwhile.
        // (If this fails, dropping the child kills and reaps it.)
        let namespaces = set
            .kinds()
            .map(|k| child.namespace(k))
            .collect::<Result<Namespaces>>()?;
        child.wait()?;
        Ok(NamespaceGroup { namespaces })
    }

    /// A group of namespaces the caller already holds (no system call). Useful to spawn
    /// commands into the namespaces of a running process:
    /// `NamespaceGroup::from_namespaces(Namespaces::open(pid, set)?)`.
    pub fn from_namespaces(namespaces: Namespaces) -> NamespaceGroup {
        NamespaceGroup { namespaces }
    }

    /// The handles. No system call.
    pub fn namespaces(&self) -> &Namespaces {
        &self.namespaces
    }

    /// Gives the handles back; the namespaces stay alive as long as they do. No system call.
    pub fn into_namespaces(self) -> Namespaces {
        self.namespaces
    }

    /// The kinds in the group. No system call.
    pub fn kinds(&self) -> NamespaceSet {
        self.namespaces.kinds()
    }

    /// A [`Command`] for `program` that joins every namespace of the group
    /// ([`Command::join`]: `setns(2)` in the child, user namespace ordered as needed). Set it
    /// up further as any command. It may also [`unshare`](Command::unshare) kinds the group
    /// does not hold (a pid namespace, for example): with a user namespace in the group, they
    /// are created after joining it and belong to it, so this works rootless too.
    ///
    /// # References
    ///  - [setns(2)](https://man7.org/linux/man-pages/man2/setns.2.html),
    ///    [fcntl(2)](https://man7.org/linux/man-pages/man2/fcntl.2.html) (`F_DUPFD_CLOEXEC`)
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new(program);
        self.join(&mut cmd);
        cmd
    }

    /// Makes `cmd` join every namespace of the group ([`Command::join`] for each handle).
    ///
    /// # References
    ///  - [setns(2)](https://man7.org/linux/man-pages/man2/setns.2.html)
    pub fn join<'c>(&self, cmd: &'c mut Command) -> &'c mut Command {
        for ns in self.namespaces.iter() {
            cmd.join(ns);
        }
        cmd
    }
}

/// Rejects, before any process exists, what cannot work.
fn check(set: NamespaceSet, setup: &GroupSetup) -> Result<()> {
    if set.is_empty() {
        return Err(Error::invalid(
            "namespace group",
            "the set of kinds is empty",
        ));
    }
    if set.has(NamespaceKind::Pid) {
        return Err(Error::invalid(
            "namespace group",
            "a pid namespace ends when its first process exits, so handles cannot keep one \
             usable; leave PID out of the group",
        ));
    }
    if (setup.hostname.is_some() || setup.domainname.is_some()) && !set.has(NamespaceKind::Uts) {
        return Err(Error::invalid(
            "namespace group",
            "a host or domain name needs UTS in the set",
        ));
    }
    if setup.loopback && !set.has(NamespaceKind::Network) {
        return Err(Error::invalid(
            "namespace group",
            "loopback_up needs NET in the set",
        ));
    }
    Ok(())
}
