//! The floor of the spawn bench: `clone3`/`clone` with a set's flags and a child that does
//! only what the set needs (its own id maps), then `execve`: what no spawner can beat.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::os::fd::RawFd;

use linux_namespaces::NamespaceSet;

use super::PROGRAM;

/// The single-line id maps a user namespace's first process writes for itself.
pub(crate) struct Maps(pub(crate) Vec<(&'static CStr, CString)>);

impl Maps {
    /// "deny" to setgroups, then `0 <euid> 1` and `0 <egid> 1` (read now, in the parent).
    pub(crate) fn for_self(user: bool) -> Maps {
        if !user {
            return Maps(Vec::new());
        }
        // SAFETY: geteuid/getegid have no preconditions.
        let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
        let text = |s: String| CString::new(s).expect("digits");
        Maps(vec![
            (c"/proc/self/setgroups", text("deny".into())),
            (c"/proc/self/uid_map", text(format!("0 {uid} 1"))),
            (c"/proc/self/gid_map", text(format!("0 {gid} 1"))),
        ])
    }

    /// Writes the maps; `_exit(125)` on failure. Allocation-free and async-signal-safe.
    pub(crate) fn write(&self) {
        for (path, text) in &self.0 {
            // SAFETY: `path` and `text` are live C strings; open/write/close/_exit are
            // async-signal-safe.
            unsafe {
                let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                let n = text.as_bytes().len();
                if fd < 0 || libc::write(fd, text.as_ptr().cast(), n) != n as isize {
                    libc::_exit(125);
                }
                libc::close(fd);
            }
        }
    }
}

/// What the floor's child reads: built by the parent, never changed while a child runs.
struct FloorChild {
    maps: Maps,
    argv: [*const c_char; 2],
    envp: *const *const c_char,
}

unsafe extern "C" {
    static environ: *const *const c_char;
}

/// The floor's child: the maps (if any), then `execve`; `_exit(127)` if that fails.
extern "C" fn floor_child(arg: *mut c_void) -> c_int {
    // SAFETY: the parent passes a live `FloorChild` that it keeps unchanged until the child
    // has exec'd or exited.
    let c = unsafe { &*(arg as *const FloorChild) };
    c.maps.write();
    // SAFETY: argv and envp are NULL-terminated arrays of live C strings.
    unsafe {
        libc::execve(PROGRAM.as_ptr(), c.argv.as_ptr(), c.envp);
        libc::_exit(127)
    }
}

/// `struct clone_args` of clone3(2), the fields up to `cgroup` (88 bytes).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// The kernel's floor for one set.
pub(crate) struct Floor {
    flags: u64,
    child: Box<FloorChild>,
    /// `Some` for the `CLONE_VM|CLONE_VFORK` form: the child's stack.
    stack: Option<ChildStack>,
}

// SAFETY: the raw pointers in a Floor point into its own boxed FloorChild and stack mapping,
// to static strings, and to the process's environment; moving the Floor to another thread
// moves their owner along, and only the thread holding the Floor uses them.
unsafe impl Send for Floor {}

/// An anonymous mapping for a `CLONE_VM` child to run on.
struct ChildStack {
    base: *mut c_void,
    len: usize,
}

impl ChildStack {
    fn new(len: usize) -> ChildStack {
        // SAFETY: a fresh private anonymous mapping aliases nothing.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            )
        };
        assert_ne!(base, libc::MAP_FAILED, "mmap");
        ChildStack { base, len }
    }

    fn top(&self) -> *mut c_void {
        // SAFETY: one past the end of the mapping, which is page-aligned (so 16-byte aligned).
        unsafe { self.base.cast::<u8>().add(self.len).cast() }
    }
}

impl Drop for ChildStack {
    fn drop(&mut self) {
        // SAFETY: the mapping made in new(); no child runs on it once the Floor is dropped.
        unsafe { libc::munmap(self.base, self.len) };
    }
}

impl Floor {
    pub(crate) fn new(set: NamespaceSet, vm: bool) -> Floor {
        let child = Box::new(FloorChild {
            maps: Maps::for_self(set.contains(NamespaceSet::USER)),
            argv: [PROGRAM.as_ptr(), std::ptr::null()],
            envp: std::ptr::null(),
        });
        Floor {
            flags: set.bits() as u64 | libc::CLONE_PIDFD as u64,
            child,
            stack: vm.then(|| ChildStack::new(64 * 1024)),
        }
    }

    pub(crate) fn spawn_and_wait(&mut self) {
        // SAFETY: reading the `environ` pointer, as std does for an unmodified environment.
        self.child.envp = unsafe { environ };
        let arg = (&*self.child as *const FloorChild)
            .cast_mut()
            .cast::<c_void>();
        let mut pidfd: c_int = -1;
        let r = match &self.stack {
            None => {
                let args = CloneArgs {
                    flags: self.flags,
                    pidfd: &raw mut pidfd as u64,
                    exit_signal: libc::SIGCHLD as u64,
                    ..Default::default()
                };
                // SAFETY: a fork-like clone3 (no CLONE_VM, no stack) returns twice; the child
                // branch runs `floor_child`, which only calls async-signal-safe functions and
                // never returns.
                let r = unsafe {
                    libc::syscall(
                        libc::SYS_clone3,
                        &raw const args,
                        std::mem::size_of::<CloneArgs>(),
                    )
                };
                if r == 0 {
                    floor_child(arg);
                }
                r as c_int
            }
            Some(stack) => {
                let flags =
                    self.flags as c_int | libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD;
                // SAFETY: the child runs `floor_child` on its own stack, which nothing else
                // uses; with CLONE_VFORK this thread sleeps until the child has exec'd or
                // exited, so `self.child` stays untouched meanwhile. With CLONE_PIDFD, clone()
                // stores the pidfd through the parent_tid argument.
                unsafe { libc::clone(floor_child, stack.top(), flags, arg, &raw mut pidfd) }
            }
        };
        assert!(r > 0, "clone: {}", std::io::Error::last_os_error());
        reap(pidfd);
    }
}

/// `waitid(P_PIDFD, WEXITED)`, then closes the pidfd; panics unless the child exited 0.
fn reap(pidfd: RawFd) {
    // SAFETY: siginfo_t is plain old data; all-zero is valid.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: `info` is a live local; `pidfd` is ours and closed once, here.
    unsafe {
        while libc::waitid(libc::P_PIDFD, pidfd as libc::id_t, &mut info, libc::WEXITED) != 0 {
            let e = std::io::Error::last_os_error();
            assert_eq!(e.raw_os_error(), Some(libc::EINTR), "waitid: {e}");
        }
        libc::close(pidfd);
        assert!(
            info.si_code == libc::CLD_EXITED && info.si_status() == 0,
            "floor child: code {} status {}",
            info.si_code,
            info.si_status()
        );
    }
}
