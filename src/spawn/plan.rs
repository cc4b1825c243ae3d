//! Validation and preparation: everything the child will need, built and checked in the
//! parent before any process exists, and the choice of how the child is created.

use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::command::{SetGroups, Spec};
use super::in_child::{Join, Plan};
use super::report::{Step, StepKind};
use crate::error::{Error, Operation, Result, Target};
use crate::idmap::IdMap;
use crate::kernel::{self, KernelFeature};
use crate::kind::{NamespaceKind, NamespaceSet};
use crate::mount::Mount;
use crate::namespace::Namespace;
use crate::sys;
use crate::sys::argv::{CStringArray, Envp, Merged};
use crate::sys::clone::CLONE_CLEAR_SIGHAND;
use crate::timens::{TimeClock, offsets_text};
use crate::validate::cstring;

impl Spec {
    /// Validates everything and builds the child's plan, for a caller with the effective
    /// `(uid, gid)` `creds`.
    pub(super) fn prepare(&self, creds: (u32, u32)) -> Result<Prepared> {
        let ns = self.validate()?;
        let mut plan = Plan::default();
        let search = self.environment(&mut plan)?;
        let parent_maps = self.id_maps(&mut plan, creds)?;
        self.joins(&mut plan, ns)?;
        self.time(&mut plan)?;
        self.uts(&mut plan)?;
        self.filesystem(&mut plan)?;
        self.process(&mut plan)?;
        self.check_fds()?;
        let (mode, flags) = self.mode(&plan, ns);
        Ok(Prepared {
            plan,
            mode,
            flags,
            parent_maps,
            new_user: self.unshare.has(NamespaceKind::User),
            creds,
            search,
        })
    }

    /// Rejects what cannot work before anything is built: an empty program, a kind both
    /// created and joined, settings for namespaces the child will not have of its own (a
    /// joined namespace that is the caller's own does not count: the check is by namespace,
    /// not by kind). Works out how the command treats namespaces.
    fn validate(&self) -> Result<Namespacing> {
        if let Some((what, reason)) = &self.invalid {
            return Err(Error::invalid(what, reason.clone()));
        }
        if self.program.is_empty() {
            return Err(Error::invalid("program", "empty program name"));
        }
        if let Some((id, errno)) = self.join_error {
            return Err(Error::os(
                Operation::Open,
                Target::Namespace(id),
                io::Error::from_raw_os_error(errno),
            ));
        }
        let mut ns = Namespacing::default();
        for (i, joined) in self.joins.iter().enumerate() {
            let kind = joined.kind();
            if self.joins[..i].iter().any(|o| o.kind() == kind) {
                return Err(Error::invalid(
                    "join",
                    format!("two {kind} namespaces to join"),
                ));
            }
            if self.unshare.has(kind) {
                return Err(Error::invalid(
                    "join",
                    format!("the {kind} namespace is both created (unshare) and joined"),
                ));
            }
            ns.joined |= kind.as_set();
            if joined.id() != Namespace::current(kind)?.id() {
                ns.foreign |= kind.as_set();
            }
        }
        ns.after_join = ns.foreign.has(NamespaceKind::User);
        let has = |k: NamespaceKind| self.unshare.has(k) || ns.foreign.has(k);
        let new_user = self.unshare.has(NamespaceKind::User);
        let need = |cond: bool, what: &'static str, why: &str| -> Result<()> {
            if cond {
                Ok(())
            } else {
                Err(Error::invalid(what, why.to_string()))
            }
        };
        need(
            !(new_user && ns.after_join),
            "unshare",
            "a new user namespace cannot be created while joining another one: the new one \
             would have to be nested in the joined one, with maps only its owner can write",
        )?;
        need(
            (self.uid_map.is_none() && self.gid_map.is_none() && self.setgroups.is_none())
                || new_user,
            "id map",
            "uid/gid maps and setgroups need a new user namespace (unshare USER)",
        )?;
        need(
            (self.hostname.is_none() && self.domainname.is_none()) || has(NamespaceKind::Uts),
            "hostname",
            "setting a host or domain name needs a new UTS namespace or a joined one other \
             than the caller's; the caller's is never changed",
        )?;
        need(
            !self.mounts.iter().any(Mount::changes_mounts) || has(NamespaceKind::Mount),
            "mount",
            "mount steps need a new mount namespace or a joined one other than the caller's; \
             the caller's is never changed",
        )?;
        need(
            !self.loopback_up || has(NamespaceKind::Network),
            "loopback",
            "bringing loopback up needs a new network namespace or a joined one other than the \
             caller's; the caller's is never changed",
        )?;
        need(
            (self.monotonic.is_none() && self.boottime.is_none())
                || self.unshare.has(NamespaceKind::Time),
            "time offset",
            "clock offsets need a new time namespace (unshare TIME)",
        )?;
        need(
            !self.init || has(NamespaceKind::Pid),
            "init",
            "init needs a new pid namespace (unshare PID) or a joined one",
        )?;
        Ok(ns)
    }

    /// argv, envp and the program to execute (searched in `PATH` now, or in the child when the
    /// root changes). Returns the search to repeat at each spawn, for a name without `/`.
    fn environment(&self, plan: &mut Plan) -> Result<Option<Search>> {
        // Program, argv, envp. Without changes the child passes the caller's `environ` as it
        // is when the child executes (as std does): nothing is copied. With changes, the
        // caller's variables at each spawn, less those changed, then those set (in name
        // order): see `Merged::refresh`. Either way a reused command sees the environment of
        // each spawn.
        let mut path_override = None;
        if self.env.is_empty() && !self.env_clear {
            plan.envp = Envp::Inherit;
        } else {
            let mut merged = Merged::default();
            merged.inherit = !self.env_clear;
            for (k, v) in &self.env {
                if k.is_empty() || k.as_bytes().contains(&b'=') {
                    return Err(Error::invalid(
                        "environment",
                        format!(
                            "{:?} is not a variable name (empty or contains '=')",
                            k.to_string_lossy()
                        ),
                    ));
                }
                merged.names.push(k.as_bytes().into());
                if let Some(v) = v {
                    merged.set.push(env_entry(k, v)?);
                }
                if k == "PATH" {
                    // A PATH set for the child is the one searched (a removed one: the
                    // caller's).
                    path_override = v.clone();
                }
            }
            merged.refresh();
            plan.envp = Envp::Merged(merged);
        }
        let argv0 = self.arg0.as_deref().unwrap_or(&self.program);
        plan.argv = CStringArray::new(
            std::iter::once(argv0)
                .chain(self.args.iter().map(OsString::as_os_str))
                .map(|a| cstring("argument", a))
                .collect::<Result<_>>()?,
        );
        let search = Search {
            program: self.program.clone(),
            path: path_override,
            // Mount steps (a bind onto a PATH directory, a new root) change what the child
            // finds: it then searches itself, after them, as std's child does.
            in_child: !self.mounts.is_empty(),
        };
        if search.is_needed() {
            // Searched again at each spawn (`Search::resolve`), with the PATH of that spawn.
            plan.programs = search.resolve()?;
            Ok(Some(search))
        } else {
            plan.programs = vec![cstring("program", &self.program)?];
            Ok(None)
        }
    }

    /// The user namespace maps: written by the child itself (its own uid and gid only), or by
    /// the parent (or `newuidmap`) while the child waits; then returned for the launch.
    fn id_maps(&self, plan: &mut Plan, creds: (u32, u32)) -> Result<Option<ParentMaps>> {
        // User namespace maps: which side writes them.
        let (euid, egid) = creds;
        let deny = self.setgroups == Some(SetGroups::Deny);
        let child_writes = !self.newidmap
            && self.uid_map.as_ref().is_none_or(|m| m.is_single_id(euid))
            && self
                .gid_map
                .as_ref()
                .is_none_or(|m| m.is_single_id(egid) && deny);
        if !child_writes && !self.newidmap {
            // capget(2) only when the answer matters: the parent writes the maps.
            let caps = rustix::thread::capabilities(None).ok();
            let has_cap =
                |c: rustix::thread::CapabilitySet| caps.is_some_and(|s| s.effective.contains(c));
            if self.uid_map.is_some() && !has_cap(rustix::thread::CapabilitySet::SETUID) {
                return Err(Error::invalid(
                    "uid map",
                    format!(
                        "without CAP_SETUID only the caller's own uid can be mapped (a single line '<id> {euid} 1'); use_newidmap(true) maps subordinate ranges"
                    ),
                ));
            }
            if self.gid_map.is_some() && !has_cap(rustix::thread::CapabilitySet::SETGID) {
                return Err(Error::invalid(
                    "gid map",
                    format!(
                        "without CAP_SETGID only the caller's own gid can be mapped (a single line '<id> {egid} 1'), after setgroups(SetGroups::Deny); use_newidmap(true) maps subordinate ranges"
                    ),
                ));
            }
        }
        let setgroups_text: Option<&'static std::ffi::CStr> = self.setgroups.map(|s| match s {
            SetGroups::Allow => c"allow",
            SetGroups::Deny => c"deny",
        });
        let new_user = self.unshare.has(NamespaceKind::User);
        if !new_user {
            return Ok(None);
        }
        if child_writes {
            plan.setgroups = setgroups_text;
            plan.uid_map = self
                .uid_map
                .as_ref()
                .map(|m| CString::new(m.to_string()).expect("digits"));
            plan.gid_map = self
                .gid_map
                .as_ref()
                .map(|m| CString::new(m.to_string()).expect("digits"));
        } else {
            plan.wait_parent = true;
            return Ok(Some(ParentMaps {
                setgroups: setgroups_text,
                uid_map: self.uid_map.clone(),
                gid_map: self.gid_map.clone(),
                newidmap: self.newidmap,
            }));
        }
        Ok(None)
    }

    /// The namespaces to enter, those to create after entering them, and whether the program
    /// must be forked into a pid namespace. The user namespace is left out when it is the
    /// caller's own (setns refuses it).
    fn joins(&self, plan: &mut Plan, ns: Namespacing) -> Result<()> {
        let new_user = self.unshare.has(NamespaceKind::User);
        plan.joins = self
            .joins
            .iter()
            .filter(|j| new_user || j.kind() != NamespaceKind::User || ns.foreign.has(j.kind()))
            .map(|j| Join {
                fd: j.as_raw_fd(),
                nstype: j.kind().clone_flag(),
            })
            .collect();
        if ns.after_join {
            plan.unshare_after_join = (self.unshare - NamespaceSet::TIME).bits();
        }
        // Entering a pid namespace (setns, or unshare after the joins) moves only the
        // children: the program must be a child of the process that did it.
        plan.fork_program = ns.foreign.has(NamespaceKind::Pid)
            || (ns.after_join && self.unshare.has(NamespaceKind::Pid));
        Ok(())
    }

    /// A new time namespace and its clock offsets.
    fn time(&self, plan: &mut Plan) -> Result<()> {
        // Time namespace.
        plan.unshare_time = self.unshare.has(NamespaceKind::Time);
        let offsets = offsets_text(
            [
                (TimeClock::Monotonic, self.monotonic),
                (TimeClock::Boottime, self.boottime),
            ]
            .into_iter()
            .filter_map(|(c, o)| o.map(|(s, n)| (c, s, n))),
        )?;
        if !offsets.is_empty() {
            plan.time_offsets = Some(CString::new(offsets).expect("digits"));
        }
        Ok(())
    }

    /// Host and domain name, and loopback.
    fn uts(&self, plan: &mut Plan) -> Result<()> {
        // UTS.
        let name = |what: &'static str, n: &Option<OsString>| -> Result<Option<Vec<u8>>> {
            let Some(n) = n else { return Ok(None) };
            let b = n.as_bytes();
            if b.len() > 64 {
                return Err(Error::invalid(
                    what,
                    format!("{} bytes; the kernel allows at most 64", b.len()),
                ));
            }
            if b.contains(&0) {
                return Err(Error::invalid(what, "contains a NUL byte"));
            }
            Ok(Some(b.to_vec()))
        };
        plan.loopback_up = self.loopback_up;
        plan.hostname = name("hostname", &self.hostname)?;
        plan.domainname = name("domainname", &self.domainname)?;
        Ok(())
    }

    /// Mount steps and the working directory. Mount steps need `openat2` (probed here, in the
    /// parent: a seccomp filter of the caller is the child's too) unless the caller allowed
    /// the path-based calls.
    fn filesystem(&self, plan: &mut Plan) -> Result<()> {
        plan.mounts = self
            .mounts
            .iter()
            .map(Mount::prepare)
            .collect::<Result<_>>()?;
        plan.path_based_mounts = false;
        if !plan.mounts.is_empty() && !kernel::openat2_works() {
            if !self.path_based_mounts {
                return Err(Error::Unsupported {
                    feature: KernelFeature::Openat2,
                });
            }
            plan.path_based_mounts = true;
        }
        plan.cwd = self
            .cwd
            .as_ref()
            .map(|d| cstring("working directory", d.as_os_str()))
            .transpose()?;
        Ok(())
    }

    /// The process knobs: session, umask, limits, credentials, capabilities, signals, seccomp,
    /// init.
    fn process(&self, plan: &mut Plan) -> Result<()> {
        plan.setsid = self.setsid;
        plan.umask = self.umask;
        for &(res, soft, hard) in &self.rlimits {
            if soft > hard {
                return Err(Error::invalid(
                    "rlimit",
                    format!("{res:?}: soft limit {soft} above hard limit {hard}"),
                ));
            }
            plan.rlimits.push((
                res.raw(),
                libc::rlimit64 {
                    rlim_cur: soft,
                    rlim_max: hard,
                },
            ));
        }
        plan.no_new_privs = self.no_new_privs;
        plan.inherit_fds = self.inherit_fds;
        plan.groups = self.groups.clone();
        plan.gid = self.gid;
        plan.uid = self.uid;
        let caps = self.caps;
        plan.inheritable_caps = caps.inheritable.bits();
        plan.ambient_caps = caps.ambient.bits();
        plan.bounding_caps = caps.bounding.map(|c| c.bits());
        plan.permitted_caps = caps.permitted.map(|c| c.bits());
        plan.effective_caps = caps.effective.map(|c| c.bits());
        if let (Some(p), Some(e)) = (caps.permitted, caps.effective) {
            if !p.contains(e) {
                return Err(Error::invalid(
                    "capabilities",
                    format!("effective {e} is not within permitted {p}"),
                ));
            }
        }
        plan.last_cap = last_cap();
        plan.keep_caps_for_ambient = self.uid.is_some()
            && (!caps.ambient.is_empty() || caps.permitted.is_some() || caps.effective.is_some());
        if let Some(sig) = self.pdeathsig {
            plan.pdeathsig = sig.as_raw();
        }
        plan.reset_all_signals = self.reset_signals;
        plan.reset_sigpipe = true;
        plan.handlers_cleared = KernelFeature::ClearSighand.in_kernel_version();
        for sig in &self.sigmask {
            // A Signal is 1..=SIGRTMAX (64): the kernel's 8-byte mask holds it.
            plan.sigmask |= 1u64 << (sig.as_raw() - 1);
        }
        if let Some(prog) = &self.seccomp {
            if prog.is_empty() || prog.len() > 4096 {
                return Err(Error::invalid(
                    "seccomp filter",
                    format!("{} instructions; 1 to 4096 allowed", prog.len()),
                ));
            }
            plan.seccomp = Some(
                prog.iter()
                    .map(|i| libc::sock_filter {
                        code: i.code,
                        jt: i.jt,
                        jf: i.jf,
                        k: i.k,
                    })
                    .collect(),
            );
        }
        plan.init = self.init;
        Ok(())
    }

    /// Fds passed explicitly (conflicts with stdio are checked per spawn: `output()` changes
    /// stdio without touching the plan).
    fn check_fds(&self) -> Result<()> {
        // No fd table can be larger than fs.nr_open: a target above it could never be placed,
        // and bounding it keeps the child's arithmetic on fd numbers far from overflow.
        if self.fds.is_empty() {
            return Ok(());
        }
        let max = nr_open();
        let mut targets: Vec<RawFd> = Vec::new();
        for (n, _) in &self.fds {
            if *n < 0 || *n >= max {
                return Err(Error::invalid(
                    "fd",
                    format!(
                        "{n} is not an fd number a process can have (0 to {})",
                        max - 1
                    ),
                ));
            }
            if targets.contains(n) {
                return Err(Error::invalid("fd", format!("fd {n} is given twice")));
            }
            targets.push(*n);
        }
        Ok(())
    }

    /// How to create the child, and the clone flags.
    fn mode(&self, plan: &Plan, ns: Namespacing) -> (Mode, u64) {
        // setns(2) into a time namespace fails with EUSERS while the caller shares its memory
        // with another process, as a vfork or shared-VM child shares the parent's. An init
        // that the first child runs itself never execs; forked into a pid namespace, it runs
        // in a process of its own.
        let needs_own_address_space =
            (self.init && !plan.fork_program) || ns.joined.has(NamespaceKind::Time);
        let mode = if needs_own_address_space || !sys::raw::HAS_CLONE_VM_TRAMPOLINE {
            Mode::Fork
        } else if plan.wait_parent {
            Mode::SharedVm
        } else {
            Mode::Vfork
        };
        // After joining a user namespace, new namespaces are made in the child (`unshare`),
        // so that they belong to it; otherwise clone3 makes them.
        let mut flags = match ns.after_join {
            true => 0,
            false => u64::from((self.unshare - NamespaceSet::TIME).bits()),
        };
        if plan.handlers_cleared {
            flags |= CLONE_CLEAR_SIGHAND;
        }
        (mode, flags)
    }
}

/// One `NAME=value` entry of a child's environment.
fn env_entry(k: &OsStr, v: &OsStr) -> Result<CString> {
    let mut kv = Vec::with_capacity(k.len() + v.len() + 2);
    kv.extend_from_slice(k.as_bytes());
    kv.push(b'=');
    kv.extend_from_slice(v.as_bytes());
    CString::new(kv).map_err(|_| {
        Error::invalid(
            "environment",
            format!("{:?} contains a NUL byte", k.to_string_lossy()),
        )
    })
}

/// The highest capability number the kernel knows (`/proc/sys/kernel/cap_last_cap`, which is
/// read-only and fixed while the kernel runs: read once per process).
fn last_cap() -> u32 {
    static LAST_CAP: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *LAST_CAP.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(40)
    })
}

/// `fs.nr_open`, the most fds a process can have (1,048,576 unless raised).
fn nr_open() -> RawFd {
    std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(1 << 20)
}

/// What a command does with namespaces, worked out once by `validate`.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Namespacing {
    /// The kinds it joins.
    joined: NamespaceSet,
    /// The joined kinds whose namespace is not the caller's own: only these isolate.
    foreign: NamespaceSet,
    /// A user namespace other than the caller's is joined: new namespaces are created in the
    /// child after the joins, so that they belong to the joined user namespace.
    after_join: bool,
}

/// How the child is created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Mode {
    /// `CLONE_VM|CLONE_VFORK` on a separate stack: no page-table copy, the parent sleeps until
    /// the child execs or exits.
    Vfork,
    /// `CLONE_VM` without `CLONE_VFORK`: the parent writes the id maps while the child waits
    /// on a pipe.
    SharedVm,
    /// Fork-like: the child gets a copy of the address space (init mode, or no trampoline for
    /// this architecture).
    Fork,
}

#[derive(Debug)]
pub(super) struct ParentMaps {
    pub(super) setgroups: Option<&'static std::ffi::CStr>,
    pub(super) uid_map: Option<IdMap>,
    pub(super) gid_map: Option<IdMap>,
    pub(super) newidmap: bool,
}

#[derive(Debug)]
pub(super) struct Prepared {
    pub(super) plan: Plan,
    pub(super) mode: Mode,
    pub(super) flags: u64,
    pub(super) parent_maps: Option<ParentMaps>,
    pub(super) new_user: bool,
    /// The effective uid and gid the plan was built for (which side writes the maps, and
    /// what they may contain, depend on them).
    pub(super) creds: (u32, u32),
    /// The `PATH` search for a program name without `/`, repeated at each spawn.
    pub(super) search: Option<Search>,
}

impl Prepared {
    /// Brings the plan up to date with the process environment before a spawn, as std reads
    /// it at each spawn: the environment's pointers (no allocation once their buffer is large
    /// enough) and, for a program name without `/`, the `PATH` search.
    pub(super) fn refresh(&mut self) -> Result<()> {
        if let Envp::Merged(m) = &mut self.plan.envp {
            m.refresh();
        }
        if let Some(search) = &self.search {
            self.plan.programs = search.resolve()?;
        }
        Ok(())
    }
}

/// A program name without `/`, to be found in `PATH`.
#[derive(Debug)]
pub(super) struct Search {
    program: OsString,
    /// `PATH` as set for the child with `env`; `None`: the caller's at each spawn.
    path: Option<OsString>,
    /// The child searches, after its mount steps: the plan lists the candidates.
    in_child: bool,
}

impl Search {
    fn is_needed(&self) -> bool {
        !self.program.as_bytes().contains(&b'/')
    }

    fn resolve(&self) -> Result<Vec<CString>> {
        let caller;
        let path = match &self.path {
            Some(p) => Some(p.as_os_str()),
            None => {
                caller = std::env::var_os("PATH");
                caller.as_deref()
            }
        };
        resolve_program(
            &self.program,
            cstring("program", &self.program)?,
            path,
            self.in_child,
        )
    }
}

/// Finds what to `execve`: a path as given, or a name searched in `PATH`, in the parent
/// (checked now) or, when mount steps change the child's view, as a list of candidates the
/// child tries in turn after them.
fn resolve_program(
    program: &OsStr,
    c: CString,
    path: Option<&OsStr>,
    search_in_child: bool,
) -> Result<Vec<CString>> {
    if program.as_bytes().contains(&b'/') {
        return Ok(vec![c]);
    }
    let path = path.unwrap_or(OsStr::new("/usr/local/bin:/usr/bin:/bin"));
    let dirs = path.as_bytes().split(|b| *b == b':').map(|d| {
        if d.is_empty() {
            Path::new(".")
        } else {
            Path::new(OsStr::from_bytes(d))
        }
    });
    if search_in_child {
        return dirs
            .map(|d| cstring("program", d.join(program).as_os_str()))
            .collect();
    }
    // As execvp: the first candidate that can be executed; EACCES if some candidate (or a
    // directory on the way) was there but not permitted, else ENOENT.
    let mut errno = libc::ENOENT;
    for d in dirs {
        let cand = d.join(program);
        match rustix::fs::access(&cand, rustix::fs::Access::EXEC_OK) {
            Ok(()) if !cand.is_dir() => return Ok(vec![cstring("program", cand.as_os_str())?]),
            Ok(()) => errno = libc::EACCES,
            Err(rustix::io::Errno::ACCESS) => errno = libc::EACCES,
            Err(_) => {}
        }
    }
    Err(Error::Spawn {
        program: program.to_string_lossy().into_owned(),
        step: Step::path(StepKind::Exec, program),
        source: io::Error::from_raw_os_error(errno),
        hint: None,
    })
}
