//! The code that runs in the child between `clone3` and `execve`, and nothing else.
//!
//! Rules, because the child may share the parent's memory (`CLONE_VM`) and runs while other
//! parent threads may hold locks: no allocation, no locks, no libc (raw system calls only, so no
//! `errno`), no panics, no thread-locals; read only the [`Plan`] and [`Args`] the parent built,
//! write only to this stack and to the `scratch` slice the parent set aside. Every failing
//! step sends one [`Record`] over the error pipe and exits.
#![allow(unsafe_code)]

use core::ffi::{CStr, c_char};
use std::ffi::CString;

use super::report::{Code, RECORD_LEN, Record};
use crate::mount::{MountKind, PreparedMount};
use crate::sys::raw;

/// A namespace to enter in the child: the fd the `Command` owns and its `CLONE_NEW*` flag.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Join {
    pub(crate) fd: i32,
    pub(crate) nstype: u32,
}

/// Everything the child does, prepared by the parent: strings are C strings, lists are ready
/// to walk, nothing is left to compute.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// Paths to try, in order, for `execve` (one unless the program is searched in `PATH`
    /// inside a new root).
    pub(crate) programs: Vec<CString>,
    pub(crate) argv: Vec<*const c_char>,
    pub(crate) argv_store: Vec<CString>,
    pub(crate) envp: Vec<*const c_char>,
    pub(crate) envp_store: Vec<CString>,
    /// Maps the child writes for itself: `setgroups` text, `uid_map`, `gid_map`.
    pub(crate) setgroups: Option<&'static CStr>,
    pub(crate) uid_map: Option<CString>,
    pub(crate) gid_map: Option<CString>,
    /// The parent has work between clone and the child going on: wait for its byte.
    pub(crate) wait_parent: bool,
    pub(crate) joins: Vec<Join>,
    pub(crate) unshare_time: bool,
    pub(crate) time_offsets: Option<CString>,
    pub(crate) loopback_up: bool,
    pub(crate) hostname: Option<Vec<u8>>,
    pub(crate) domainname: Option<Vec<u8>>,
    pub(crate) mounts: Vec<PreparedMount>,
    pub(crate) cwd: Option<CString>,
    pub(crate) setsid: bool,
    pub(crate) umask: Option<u32>,
    pub(crate) rlimits: Vec<(u32, libc::rlimit64)>,
    pub(crate) no_new_privs: bool,
    pub(crate) groups: Option<Vec<u32>>,
    pub(crate) gid: Option<u32>,
    pub(crate) uid: Option<u32>,
    pub(crate) inheritable_caps: u64,
    pub(crate) ambient_caps: u64,
    pub(crate) keep_caps_for_ambient: bool,
    pub(crate) pdeathsig: i32,
    /// Reset every signal disposition to `SIG_DFL` (not only handlers).
    pub(crate) reset_all_signals: bool,
    /// The kernel already reset handlers (`CLONE_CLEAR_SIGHAND`).
    pub(crate) handlers_cleared: bool,
    pub(crate) reset_sigpipe: bool,
    pub(crate) sigmask: u64,
    pub(crate) seccomp: Option<Vec<libc::sock_filter>>,
    pub(crate) init: bool,
}

// SAFETY: the raw pointers in `argv`/`envp` point into the heap buffers of the CStrings in
// `argv_store`/`envp_store` of the same Plan, which owns them, never mutates them after building
// the arrays, and drops them together with the arrays. Sharing or sending the Plan shares or
// sends those buffers, which are plain immutable bytes.
unsafe impl Send for Plan {}
// SAFETY: as above; nothing in a Plan is mutated through a shared reference.
unsafe impl Sync for Plan {}

/// Per-spawn inputs that are not part of the reusable [`Plan`].
pub(crate) struct Args<'a> {
    pub(crate) plan: &'a Plan,
    pub(crate) err_w: i32,
    pub(crate) sync_r: i32,
    /// The parent's end of the sync pipe: the child closes its copy first, so that the read
    /// sees EOF if the parent dies before writing.
    pub(crate) sync_w: i32,
    /// `(source, target)` fd pairs, sorted by target; targets 0..=2 included where stdio is
    /// not inherited.
    pub(crate) moves: &'a [(i32, i32)],
    /// Every fd number the program keeps (0, 1, 2 and the targets), sorted, unique.
    pub(crate) keep: &'a [i32],
    /// One slot per move, for the child's temporary fds.
    pub(crate) scratch: *mut i32,
    /// The parent's pid, to see whether it died before `PR_SET_PDEATHSIG` took hold.
    pub(crate) parent_pid: i32,
    /// Whether the kernel reset signal handlers at clone (`CLONE_CLEAR_SIGHAND`); cleared by
    /// [`start`] when it falls back to `clone(2)`.
    pub(crate) handlers_cleared: core::cell::Cell<bool>,
}

/// Creates the child and, in it, runs [`entry`]. `vm`: share the address space (the flags in
/// `clone_args` say whether with `CLONE_VFORK`) on the stack `clone_args` names. Falls back to
/// a fork-like `clone(2)` where `clone3` is missing. Returns the child's pid.
pub(crate) fn start(
    clone_args: &mut raw::CloneArgs,
    args: &Args<'_>,
    vm: bool,
) -> Result<i32, raw::Errno> {
    let arg = args as *const Args<'_> as usize;
    let r = if vm {
        // SAFETY: the caller set `stack`/`stack_size` to a mapping used by nothing else and
        // keeps it, `args` and everything `args` points to alive and unmodified until the child
        // has exec'd or exited (it reads the error pipe to EOF or reaps the child first).
        // `entry` never returns and writes only its own stack and `args.scratch`.
        unsafe { raw::clone3_vm(clone_args, entry, arg) }
    } else {
        // SAFETY: fork-like clone3 returns twice; the child branch below runs `entry`, which
        // never returns, on its own copy of the address space.
        unsafe { raw::clone3_fork(clone_args) }
    };
    let r = match r {
        Err(libc::ENOSYS) => {
            if clone_args.flags >> 32 & !(CLONE_CLEAR_SIGHAND >> 32) != 0 {
                // CLONE_INTO_CGROUP has no clone(2) form.
                return Err(libc::ENOSYS);
            }
            args.handlers_cleared.set(false);
            let flags =
                (clone_args.flags & 0xffff_ffff & !((libc::CLONE_VM | libc::CLONE_VFORK) as u64))
                    | libc::SIGCHLD as u64;
            let mut pidfd: i32 = -1;
            // SAFETY: as for the fork-like clone3 above.
            let r = unsafe { raw::clone_fork(flags, &mut pidfd) };
            if r.is_ok_and(|pid| pid != 0) {
                // SAFETY: clone_args.pidfd is the address of the caller's i32 for the pidfd.
                unsafe { *(clone_args.pidfd as *mut i32) = pidfd };
            }
            r
        }
        r => r,
    };
    match r? {
        0 => entry(arg),
        pid => Ok(pid as i32),
    }
}

const CLONE_CLEAR_SIGHAND: u64 = 0x1_0000_0000;

struct Fail {
    code: Code,
    index: u32,
    errno: i32,
}

type Step<T = usize> = Result<T, Fail>;

trait OrFail<T> {
    fn at(self, code: Code, index: u32) -> Step<T>;
}

impl<T> OrFail<T> for Result<T, raw::Errno> {
    #[inline(always)]
    fn at(self, code: Code, index: u32) -> Step<T> {
        self.map_err(|errno| Fail { code, index, errno })
    }
}

/// The child's entry point, for both the `CLONE_VM` trampoline and the fork-like path.
///
/// # Safety
/// `arg` is the address of an [`Args`] that stays valid until the child execs or exits.
pub(crate) extern "C" fn entry(arg: usize) -> ! {
    // SAFETY: the parent passes the address of a live `Args` and keeps it (and what it points
    // to) alive and unmodified until this child has exec'd or exited.
    let args = unsafe { &*(arg as *const Args<'_>) };
    let mut err_w = args.err_w;
    let Err(fail) = run(args, &mut err_w);
    let rec = Record {
        code: fail.code as u32,
        index: fail.index,
        errno: fail.errno,
    }
    .encode();
    let _ = raw::write(err_w, &rec);
    raw::exit(127)
}

fn write_file(path: &CStr, text: &[u8], code: Code) -> Step<()> {
    let fd = raw::open(path, libc::O_WRONLY, 0).at(code, 0)? as i32;
    let r = raw::write(fd, text);
    let _ = raw::close(fd);
    match r {
        Ok(n) if n == text.len() => Ok(()),
        Ok(_) => Err(Fail {
            code,
            index: 0,
            errno: libc::EIO,
        }),
        Err(errno) => Err(Fail {
            code,
            index: 0,
            errno,
        }),
    }
}

fn run(a: &Args<'_>, err_w: &mut i32) -> Result<core::convert::Infallible, Fail> {
    let plan = a.plan;

    if plan.wait_parent {
        let _ = raw::close(a.sync_w);
        let mut b = [0u8; 1];
        let n = loop {
            match raw::read(a.sync_r, &mut b) {
                Err(libc::EINTR) => continue,
                r => break r.at(Code::WaitParent, 0)?,
            }
        };
        if n != 1 {
            // The parent closed the pipe without its byte: its part failed, it reports that.
            raw::exit(127);
        }
        let _ = raw::close(a.sync_r);
    }

    if let Some(text) = plan.setgroups {
        write_file(
            c"/proc/self/setgroups",
            text.to_bytes(),
            Code::SetgroupsFile,
        )?;
    }
    if let Some(map) = &plan.uid_map {
        write_file(c"/proc/self/uid_map", map.to_bytes(), Code::UidMap)?;
    }
    if let Some(map) = &plan.gid_map {
        write_file(c"/proc/self/gid_map", map.to_bytes(), Code::GidMap)?;
    }

    join_namespaces(&plan.joins)?;

    if plan.unshare_time {
        raw::unshare(libc::CLONE_NEWTIME as u32).at(Code::TimeNamespace, 0)?;
    }
    if let Some(text) = &plan.time_offsets {
        write_file(
            c"/proc/self/timens_offsets",
            text.to_bytes(),
            Code::TimeOffsets,
        )?;
    }
    if plan.loopback_up {
        loopback_up().at(Code::Loopback, 0)?;
    }
    if let Some(name) = &plan.hostname {
        raw::sethostname(name).at(Code::Hostname, 0)?;
    }
    if let Some(name) = &plan.domainname {
        raw::setdomainname(name).at(Code::Domainname, 0)?;
    }
    let mut fd_based = true;
    for (i, m) in plan.mounts.iter().enumerate() {
        if fd_based {
            match mount_step_fd(m) {
                // No openat2 (before 5.6): the path-based steps, for this and later mounts.
                Err(libc::ENOSYS) => fd_based = false,
                r => {
                    r.at(Code::Mount, i as u32)?;
                    continue;
                }
            }
        }
        mount_step(m).at(Code::Mount, i as u32)?;
    }
    if let Some(cwd) = &plan.cwd {
        raw::chdir(cwd).at(Code::Chdir, 0)?;
    }
    if plan.setsid {
        raw::setsid().at(Code::Setsid, 0)?;
    }
    if let Some(mask) = plan.umask {
        let _ = raw::umask(mask);
    }
    for (res, lim) in &plan.rlimits {
        raw::prlimit(*res, lim).at(Code::Rlimit, *res)?;
    }
    if plan.no_new_privs {
        raw::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0).at(Code::NoNewPrivs, 0)?;
    }

    place_fds(a, err_w)?;

    if plan.keep_caps_for_ambient {
        raw::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0).at(Code::Capabilities, 0)?;
    }
    if let Some(groups) = &plan.groups {
        raw::setgroups(groups).at(Code::Groups, 0)?;
    }
    if let Some(gid) = plan.gid {
        raw::setresgid(gid, gid, gid).at(Code::Gid, gid)?;
    }
    if let Some(uid) = plan.uid {
        raw::setresuid(uid, uid, uid).at(Code::Uid, uid)?;
    }
    set_capabilities(plan)?;

    // After the credential changes: the kernel clears the parent-death signal on those.
    if plan.pdeathsig != 0 {
        raw::prctl(libc::PR_SET_PDEATHSIG, plan.pdeathsig as usize, 0, 0, 0)
            .at(Code::ParentDeathSignal, 0)?;
        // The parent may have died before the prctl: then nobody will send the signal.
        // getppid() is 0 in a new pid namespace; the error pipe's read end, which only the
        // parent holds, tells in every case (POLLERR once it is closed).
        let ppid = raw::getppid().unwrap_or(0) as i32;
        let orphaned = ppid != 0 && ppid != a.parent_pid;
        let reader_gone =
            raw::poll_one(*err_w, libc::POLLOUT).is_ok_and(|ev| ev & libc::POLLERR != 0);
        if orphaned || reader_gone {
            return Err(Fail {
                code: Code::ParentExited,
                index: 0,
                errno: libc::ESRCH,
            });
        }
    }

    if plan.init {
        init()?;
    }

    reset_signals(plan, a.handlers_cleared.get())?;

    if let Some(prog) = &plan.seccomp {
        let fprog = libc::sock_fprog {
            len: prog.len() as u16,
            filter: prog.as_ptr() as *mut libc::sock_filter,
        };
        raw::seccomp_filter(&fprog).at(Code::Seccomp, 0)?;
    }

    exec(plan)
}

fn exec(plan: &Plan) -> Result<core::convert::Infallible, Fail> {
    // Like execvp over the candidates: go on past ENOENT/ENOTDIR/EACCES, report EACCES if any
    // candidate gave it, else the last error; any other error ends the search.
    let mut errno = libc::ENOENT;
    let mut denied = false;
    for (i, prog) in plan.programs.iter().enumerate() {
        match raw::execve(prog, plan.argv.as_ptr(), plan.envp.as_ptr()) {
            Err(e @ (libc::ENOENT | libc::ENOTDIR)) if !denied => errno = e,
            Err(libc::ENOENT | libc::ENOTDIR) => {}
            Err(libc::EACCES) => {
                denied = true;
                errno = libc::EACCES;
            }
            Err(e) => {
                return Err(Fail {
                    code: Code::Exec,
                    index: i as u32,
                    errno: e,
                });
            }
            Ok(_) => {}
        }
    }
    Err(Fail {
        code: Code::Exec,
        index: 0,
        errno,
    })
}

/// Enters the joined namespaces: the others first while the child still has its privileges,
/// then the user namespace, then whatever needed the user namespace's privileges.
fn join_namespaces(joins: &[Join]) -> Step<()> {
    let user = joins
        .iter()
        .find(|j| j.nstype == libc::CLONE_NEWUSER as u32);
    let mut deferred: u32 = 0;
    for (i, j) in joins.iter().enumerate() {
        if j.nstype == libc::CLONE_NEWUSER as u32 {
            continue;
        }
        match raw::setns(j.fd, j.nstype) {
            Ok(_) => {}
            Err(libc::EPERM) if user.is_some() => deferred |= 1 << i,
            Err(errno) => {
                return Err(Fail {
                    code: Code::Join,
                    index: j.nstype,
                    errno,
                });
            }
        }
    }
    if let Some(u) = user {
        raw::setns(u.fd, u.nstype).at(Code::Join, u.nstype)?;
    }
    for (i, j) in joins.iter().enumerate() {
        if deferred & (1 << i) != 0 {
            raw::setns(j.fd, j.nstype).at(Code::Join, j.nstype)?;
        }
    }
    Ok(())
}

/// `statfs` `f_flags` bits that a bind remount must keep (the kernel locks them in a user
/// namespace), translated to `mount(2)` flags.
fn kept_flags(f_flags: u64) -> u64 {
    let pairs = [
        (libc::ST_RDONLY, libc::MS_RDONLY),
        (libc::ST_NOSUID, libc::MS_NOSUID),
        (libc::ST_NODEV, libc::MS_NODEV),
        (libc::ST_NOEXEC, libc::MS_NOEXEC),
        (libc::ST_NOATIME, libc::MS_NOATIME),
        (libc::ST_NODIRATIME, libc::MS_NODIRATIME),
        (libc::ST_RELATIME, libc::MS_RELATIME),
    ];
    pairs
        .iter()
        .filter(|(st, _)| f_flags & *st != 0)
        .fold(0, |acc, (_, ms)| acc | *ms)
}

/// Sets `MS_RDONLY|MS_NOSUID|MS_NODEV|MS_NOEXEC` bits on a mount: `mount_setattr(2)` where the
/// kernel has it (only these bits change, recursively if asked), else a bind remount that
/// carries over the flags the mount already has.
fn set_attrs(target: &CStr, attrs: u64, recursive: bool) -> raw::R {
    // MOUNT_ATTR_RDONLY/NOSUID/NODEV/NOEXEC have the values of MS_RDONLY/NOSUID/NODEV/NOEXEC.
    let attr = raw::MountAttr {
        attr_set: attrs,
        ..Default::default()
    };
    let flags = if recursive {
        libc::AT_RECURSIVE as u32
    } else {
        0
    };
    match raw::mount_setattr(libc::AT_FDCWD, target, flags, &attr) {
        Err(libc::ENOSYS) if !recursive => {
            let keep = kept_flags(raw::statfs_flags(target)?);
            raw::mount(
                None,
                target,
                None,
                libc::MS_REMOUNT | libc::MS_BIND | keep | attrs,
                None,
            )
        }
        r => r,
    }
}

/// `ifconfig lo up`: read the flags of `lo` and set `IFF_UP`, over an `AF_INET` socket.
fn loopback_up() -> raw::R {
    let sock = Fd(raw::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0)? as i32);
    // struct ifreq: 16 bytes of name, then a union whose first member here is the short flags.
    let mut ifr = [0u8; 40];
    ifr[..2].copy_from_slice(b"lo");
    raw::ioctl_ptr(sock.0, libc::SIOCGIFFLAGS, ifr.as_mut_ptr())?;
    let flags = i16::from_ne_bytes([ifr[16], ifr[17]]) | libc::IFF_UP as i16;
    ifr[16..18].copy_from_slice(&flags.to_ne_bytes());
    raw::ioctl_ptr(sock.0, libc::SIOCSIFFLAGS, ifr.as_mut_ptr())
}

/// An fd the child closes when done with it (on every path, errors included).
struct Fd(i32);

impl Drop for Fd {
    fn drop(&mut self) {
        let _ = raw::close(self.0);
    }
}

/// Opens a mount path as `O_PATH` without following any symlink in it (`openat2(2)` with
/// `RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS`): a symlink planted in a new root cannot
/// redirect a mount, chroot or pivot_root elsewhere; it fails with `ELOOP` instead.
fn open_nofollow(path: &CStr) -> Result<Fd, raw::Errno> {
    raw::open_path(libc::AT_FDCWD, path, raw::RESOLVE_NO_LINKS).map(|fd| Fd(fd as i32))
}

/// A mount step done on file descriptors: targets opened with [`open_nofollow`], new
/// filesystems made with `fsopen`/`fsmount`, binds cloned with `open_tree` (made read-only
/// while still detached, so they are never writable where they land), all attached with
/// `move_mount` onto the target fd. `ENOSYS` means a kernel before 5.6: use [`mount_step`].
fn mount_step_fd(m: &PreparedMount) -> raw::R {
    const EMPTY: &CStr = c"";
    let both_empty = raw::MOVE_MOUNT_F_EMPTY_PATH | raw::MOVE_MOUNT_T_EMPTY_PATH;
    let rec = if m.recursive {
        libc::AT_RECURSIVE as u32
    } else {
        0
    };
    let t = m.target.as_c_str();
    match m.kind {
        MountKind::Mount => {
            let target = open_nofollow(t)?;
            let fstype = m.fstype.as_deref().ok_or(libc::EINVAL)?;
            let fs = Fd(raw::fsopen(fstype, 1 /* FSOPEN_CLOEXEC */)? as i32);
            for (k, v) in &m.options {
                match v {
                    Some(v) => raw::fsconfig(fs.0, raw::FSCONFIG_SET_STRING, Some(k), Some(v))?,
                    None => raw::fsconfig(fs.0, raw::FSCONFIG_SET_FLAG, Some(k), None)?,
                };
            }
            raw::fsconfig(fs.0, raw::FSCONFIG_CMD_CREATE, None, None)?;
            // MOUNT_ATTR_RDONLY/NOSUID/NODEV/NOEXEC have the values of the MS_* flags.
            let mnt = Fd(raw::fsmount(fs.0, 1 /* FSMOUNT_CLOEXEC */, m.flags as u32)? as i32);
            raw::move_mount(mnt.0, EMPTY, target.0, EMPTY, both_empty)
        }
        MountKind::Propagation => {
            let target = open_nofollow(t)?;
            let attr = raw::MountAttr {
                propagation: m.flags & !libc::MS_REC,
                ..Default::default()
            };
            raw::mount_setattr(target.0, EMPTY, libc::AT_EMPTY_PATH as u32 | rec, &attr)
        }
        MountKind::Bind => {
            let target = open_nofollow(t)?;
            let source = m.source.as_deref().ok_or(libc::EINVAL)?;
            let tree = Fd(raw::open_tree(
                libc::AT_FDCWD,
                source,
                raw::OPEN_TREE_CLONE | libc::O_CLOEXEC as u32 | rec,
            )? as i32);
            if m.attrs != 0 {
                let attr = raw::MountAttr {
                    attr_set: m.attrs,
                    ..Default::default()
                };
                raw::mount_setattr(tree.0, EMPTY, libc::AT_EMPTY_PATH as u32 | rec, &attr)?;
            }
            raw::move_mount(tree.0, EMPTY, target.0, EMPTY, both_empty)
        }
        MountKind::Remount => {
            let target = open_nofollow(t)?;
            let attr = raw::MountAttr {
                attr_set: m.attrs,
                ..Default::default()
            };
            raw::mount_setattr(target.0, EMPTY, libc::AT_EMPTY_PATH as u32 | rec, &attr)
        }
        MountKind::Unmount => {
            // umount2 takes no fd: check the path has no symlinks, and do not follow the last.
            drop(open_nofollow(t)?);
            raw::umount2(t, m.flags as i32 | libc::UMOUNT_NOFOLLOW)
        }
        MountKind::PivotRoot => {
            // Make the new root a mount point by binding it onto itself, then enter the mount
            // on top (reopened by path: the first fd still names what lies beneath it).
            {
                let below = open_nofollow(t)?;
                let tree = Fd(raw::open_tree(
                    below.0,
                    EMPTY,
                    raw::OPEN_TREE_CLONE
                        | libc::O_CLOEXEC as u32
                        | libc::AT_RECURSIVE as u32
                        | libc::AT_EMPTY_PATH as u32,
                )? as i32);
                raw::move_mount(tree.0, EMPTY, below.0, EMPTY, both_empty)?;
            }
            let top = open_nofollow(t)?;
            raw::fchdir(top.0)?;
            raw::pivot_root(c".", c".")?;
            raw::umount2(c".", libc::MNT_DETACH)?;
            raw::chdir(c"/")
        }
        MountKind::Chroot => {
            let dir = open_nofollow(t)?;
            raw::fchdir(dir.0)?;
            raw::chroot(c".")?;
            raw::chdir(c"/")
        }
        MountKind::Mkdir => {
            let parent = open_nofollow(&m.parent)?;
            match raw::mkdirat(parent.0, &m.name, m.flags as u32) {
                Err(libc::EEXIST) => Ok(0),
                r => r,
            }
        }
        MountKind::File => {
            let parent = open_nofollow(&m.parent)?;
            let fd = raw::openat(
                parent.0,
                &m.name,
                libc::O_WRONLY | libc::O_CREAT | libc::O_NOFOLLOW,
                m.flags as u32,
            )?;
            raw::close(fd as i32)
        }
        MountKind::Symlink => {
            let parent = open_nofollow(&m.parent)?;
            raw::symlinkat(m.source.as_deref().ok_or(libc::EINVAL)?, parent.0, &m.name)
        }
    }
}

/// The path-based form of a mount step, for kernels before 5.6 (no `openat2`).
fn mount_step(m: &PreparedMount) -> raw::R {
    let t = m.target.as_c_str();
    match m.kind {
        MountKind::Mount => raw::mount(
            m.source.as_deref(),
            t,
            m.fstype.as_deref(),
            m.flags,
            m.data.as_deref(),
        ),
        MountKind::Propagation => raw::mount(None, t, None, m.flags, None),
        MountKind::Bind => {
            raw::mount(m.source.as_deref(), t, None, m.flags, None)?;
            if m.attrs != 0 {
                set_attrs(t, m.attrs, m.recursive)?;
            }
            Ok(0)
        }
        MountKind::Remount => set_attrs(t, m.attrs, m.recursive),
        MountKind::Unmount => raw::umount2(t, m.flags as i32),
        MountKind::PivotRoot => {
            raw::mount(Some(t), t, None, libc::MS_BIND | libc::MS_REC, None)?;
            raw::chdir(t)?;
            raw::pivot_root(c".", c".")?;
            raw::umount2(c".", libc::MNT_DETACH)?;
            raw::chdir(c"/")
        }
        MountKind::Chroot => {
            raw::chroot(t)?;
            raw::chdir(c"/")
        }
        MountKind::Mkdir => match raw::mkdir(t, m.flags as u32) {
            Err(libc::EEXIST) => Ok(0),
            r => r,
        },
        MountKind::File => {
            let fd = raw::open(
                t,
                libc::O_WRONLY | libc::O_CREAT | libc::O_NOFOLLOW,
                m.flags as u32,
            )?;
            raw::close(fd as i32)
        }
        MountKind::Symlink => match &m.source {
            Some(target) => raw::symlink(target, t),
            None => Err(libc::EINVAL),
        },
    }
}

/// Gets every fd in `[lo, hi]` closed by the time the program runs: marked close-on-exec with
/// `close_range(CLOSE_RANGE_CLOEXEC)` (Linux 5.11), which sets a range of the close-on-exec
/// bitmap where closing visits every slot of the fd table (a few µs per spawn, measured in
/// benches/spawn.rs); on older kernels closed now, with `close_range(2)` (Linux 5.9) or one by
/// one up to the fd limit.
fn close_span(lo: u32, hi: u32) -> Step<()> {
    match raw::close_range_cloexec(lo, hi) {
        Ok(_) => return Ok(()),
        Err(libc::EINVAL | libc::ENOSYS) => {}
        Err(errno) => {
            return Err(Fail {
                code: Code::CloseFds,
                index: lo,
                errno,
            });
        }
    }
    match raw::close_range(lo, hi) {
        Ok(_) => Ok(()),
        Err(libc::ENOSYS) => {
            let mut lim = libc::rlimit64 {
                rlim_cur: 0,
                rlim_max: 0,
            };
            // prlimit64(0, RLIMIT_NOFILE, NULL, &lim) reads the limit; reuse the setter form
            // with the new-limit pointer absent.
            let top = match raw_getrlimit_nofile(&mut lim) {
                Ok(_) => lim.rlim_cur.min(1 << 20) as u32,
                Err(_) => 1 << 16,
            };
            let mut fd = lo;
            while fd <= hi && fd < top {
                let _ = raw::close(fd as i32);
                fd += 1;
            }
            Ok(())
        }
        Err(errno) => Err(Fail {
            code: Code::CloseFds,
            index: lo,
            errno,
        }),
    }
}

fn raw_getrlimit_nofile(out: &mut libc::rlimit64) -> raw::R {
    #[allow(clippy::unnecessary_cast)] // c_int on musl, c_uint on glibc
    raw::prlimit_get(libc::RLIMIT_NOFILE as u32, out)
}

/// Puts each passed fd at its number, then closes everything else except the error pipe.
fn place_fds(a: &Args<'_>, err_w: &mut i32) -> Step<()> {
    let top = a.keep.last().copied().unwrap_or(2);
    let floor = (top + 1).max(3) as usize;
    if *err_w <= top {
        // Failing here means fds up to `top` cannot exist (fd limit): report that fd.
        *err_w = raw::fcntl(*err_w, libc::F_DUPFD_CLOEXEC, floor).at(Code::Fd, top as u32)? as i32;
    }
    for (i, (src, dst)) in a.moves.iter().enumerate() {
        let tmp = raw::fcntl(*src, libc::F_DUPFD_CLOEXEC, floor).at(Code::Fd, *dst as u32)? as i32;
        // SAFETY: the parent allocated `moves.len()` slots behind `scratch` for this child
        // alone and does not touch them until the child has exec'd or exited.
        unsafe { *a.scratch.add(i) = tmp };
    }
    for (i, (_, dst)) in a.moves.iter().enumerate() {
        // SAFETY: as above; slot i was written in the loop before.
        let tmp = unsafe { *a.scratch.add(i) };
        raw::dup3(tmp, *dst, 0).at(Code::Fd, *dst as u32)?;
    }
    // Close the gaps between the kept fds (the error pipe is one more to keep).
    let mut lo: u32 = 0;
    let mut extra = Some(*err_w);
    let mut keep = a.keep.iter().copied().peekable();
    loop {
        let next = match (keep.peek().copied(), extra) {
            (Some(k), Some(e)) if e < k => {
                extra = None;
                e
            }
            (Some(k), _) => {
                keep.next();
                k
            }
            (None, Some(e)) => {
                extra = None;
                e
            }
            (None, None) => break,
        };
        let next = next as u32;
        if next > lo {
            close_span(lo, next - 1)?;
        }
        lo = lo.max(next + 1);
    }
    close_span(lo, u32::MAX)
}

fn set_capabilities(plan: &Plan) -> Step<()> {
    let mut hdr = raw::CapHeader {
        version: raw::CAP_VERSION_3,
        pid: 0,
    };
    let mut data = [raw::CapData::default(); 2];
    raw::capget(&mut hdr, &mut data).at(Code::Capabilities, 0)?;
    let want = plan.inheritable_caps | plan.ambient_caps;
    let have = u64::from(data[0].inheritable) | (u64::from(data[1].inheritable) << 32);
    if have != want {
        data[0].inheritable = want as u32;
        data[1].inheritable = (want >> 32) as u32;
        raw::capset(&mut hdr, &data).at(Code::Capabilities, 0)?;
    }
    // Ambient capabilities: cleared unless asked for. The kernel keeps every ambient
    // capability permitted and inheritable (capabilities(7)), so with no inheritable ones
    // there is none to clear, and the clearing prctl (which commits new credentials) is
    // skipped in that, the usual, case.
    if want == 0 {
        return Ok(());
    }
    // EINVAL: a kernel before 4.3 has no ambient capabilities.
    match raw::prctl(
        libc::PR_CAP_AMBIENT,
        libc::PR_CAP_AMBIENT_CLEAR_ALL as usize,
        0,
        0,
        0,
    ) {
        Ok(_) | Err(libc::EINVAL) => {}
        Err(errno) => {
            return Err(Fail {
                code: Code::Capabilities,
                index: 0,
                errno,
            });
        }
    }
    let mut bits = plan.ambient_caps;
    while bits != 0 {
        let cap = bits.trailing_zeros();
        raw::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_RAISE as usize,
            cap as usize,
            0,
            0,
        )
        .at(Code::Capabilities, cap)?;
        bits &= bits - 1;
    }
    Ok(())
}

fn reset_signals(plan: &Plan, handlers_cleared: bool) -> Step<()> {
    for sig in 1..=64 {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        let reset = plan.reset_all_signals
            || (sig == libc::SIGPIPE && plan.reset_sigpipe)
            || (!handlers_cleared && raw::sigaction_is_handler(sig));
        if reset {
            // EINVAL for the signals glibc reserves (32, 33) is harmless.
            match raw::sigaction_default(sig) {
                Ok(_) | Err(libc::EINVAL) => {}
                Err(errno) => {
                    return Err(Fail {
                        code: Code::Signals,
                        index: sig as u32,
                        errno,
                    });
                }
            }
        }
    }
    raw::sigprocmask(libc::SIG_SETMASK, &plan.sigmask).at(Code::Signals, 0)?;
    Ok(())
}

/// The minimal init: this process stays as PID 1, forks the program (which goes on to exec),
/// reaps every child, forwards signals to the program and exits with its status.
fn init() -> Step<()> {
    let mut args = raw::CloneArgs {
        exit_signal: libc::SIGCHLD as u64,
        ..Default::default()
    };
    // SAFETY: fork-like clones return twice; both branches are handled right below, and the
    // child's copy of memory is its own (init mode never shares the address space).
    let pid = unsafe {
        raw::clone3_fork(&mut args).or_else(|e| {
            if e == libc::ENOSYS {
                let mut unused = 0;
                raw::clone_fork(libc::SIGCHLD as u64, &mut unused)
            } else {
                Err(e)
            }
        })
    }
    .at(Code::InitFork, 0)? as i32;
    if pid == 0 {
        // The program: carry on to exec.
        return Ok(());
    }
    // Init: hold no fd, so the parent sees the error pipe close when the program execs, and
    // pipes to the program reach EOF when it exits.
    let _ = raw::close_range(0, u32::MAX);
    let _ = raw::sigaction_default(libc::SIGCHLD);
    let all: u64 = !0;
    let _ = raw::sigprocmask(libc::SIG_SETMASK, &all);
    // SAFETY: siginfo_t is plain old data; all-zero is a valid value.
    let mut info: libc::siginfo_t = unsafe { core::mem::zeroed() };
    loop {
        // Reap before every wait, the first one included: a program that exited before the
        // SIGCHLD disposition was reset above had its pending SIGCHLD discarded by that reset
        // (setting SIG_DFL drops a pending signal whose default action is to ignore it), so
        // no SIGCHLD may ever come for it.
        loop {
            let mut status = 0;
            match raw::wait4(-1, &mut status, libc::WNOHANG) {
                Ok(0) | Err(_) => break,
                Ok(reaped) if reaped as i32 == pid => {
                    let code = if libc::WIFEXITED(status) {
                        libc::WEXITSTATUS(status)
                    } else {
                        128 + libc::WTERMSIG(status)
                    };
                    raw::exit(code);
                }
                Ok(_) => {}
            }
        }
        let sig = match raw::sigwaitinfo(&all, &mut info) {
            Ok(s) => s as i32,
            Err(_) => continue,
        };
        if sig != libc::SIGCHLD {
            let _ = raw::kill(pid, sig);
        }
    }
}

const _: () = assert!(RECORD_LEN == core::mem::size_of::<[u8; 12]>());
