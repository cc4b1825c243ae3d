//! Creating the child: `clone3` in its fork-like form and with `CLONE_VM` on a stack of the
//! parent's (a trampoline per architecture), the legacy `clone(2)` fallback, the per-thread
//! stack a `CLONE_VM` child runs on, and the signal mask held across the clone.
#![allow(unsafe_code)]

use std::io;

use super::raw::{R, syscall};

/// `CLONE_CLEAR_SIGHAND` (Linux 5.5): the kernel resets signal handlers in the child. (libc's
/// constant is an overflowing `c_int`.)
pub(crate) const CLONE_CLEAR_SIGHAND: u64 = 0x1_0000_0000;
/// `CLONE_INTO_CGROUP` (Linux 5.7).
pub(crate) const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// `struct clone_args` of `clone3(2)` (version 2, 88 bytes, with `cgroup`). The libc crate
/// defines it only for some targets, not for the glibc ones.
#[repr(C)]
#[derive(Default, Debug)]
pub(crate) struct CloneArgs {
    pub(crate) flags: u64,
    pub(crate) pidfd: u64,
    pub(crate) child_tid: u64,
    pub(crate) parent_tid: u64,
    pub(crate) exit_signal: u64,
    pub(crate) stack: u64,
    pub(crate) stack_size: u64,
    pub(crate) tls: u64,
    pub(crate) set_tid: u64,
    pub(crate) set_tid_size: u64,
    pub(crate) cgroup: u64,
}
static_assertions::assert_eq_size!(CloneArgs, [u8; 88]);

/// A fork-like `clone3(2)` without `CLONE_VM`: returns twice, as `fork` does.
///
/// # Safety
/// The caller handles the child's return (0) without returning into code that assumes a
/// single process, as after `fork`; `args.pidfd`, if set, is the address of an `i32`.
pub(crate) unsafe fn clone3_fork(args: &mut CloneArgs) -> R {
    // SAFETY: the kernel reads the clone_args (size passed) and writes the pidfd through
    // args.pidfd, which the caller vouches for; the child's return is the caller's to handle.
    unsafe {
        syscall(
            libc::SYS_clone3,
            [
                args as *mut CloneArgs as usize,
                core::mem::size_of::<CloneArgs>(),
            ],
        )
    }
}

/// The legacy `clone(2)` in fork-like form (no stack), for kernels without clone3.
///
/// # Safety
/// As for [`clone3_fork`].
pub(crate) unsafe fn clone_fork(flags: u64, pidfd: &mut i32) -> R {
    // x86_64 and most others: clone(flags, stack, parent_tid, child_tid, tls); with
    // CLONE_PIDFD the pidfd is stored through parent_tid.
    // SAFETY: no stack (fork-like); the kernel writes the pidfd into `pidfd`; the child's
    // return is the caller's to handle.
    unsafe {
        syscall(
            libc::SYS_clone,
            [flags as usize, 0, pidfd as *mut i32 as usize, 0, 0],
        )
    }
}

/// Blocks every signal on the calling thread until dropped, then restores the old mask.
/// Spawning holds it across `clone3` so the child starts with all signals blocked.
pub(crate) struct SignalsBlocked {
    old: libc::sigset_t,
}

pub(crate) fn block_all_signals() -> SignalsBlocked {
    // SAFETY: sigset_t is plain old data; sigfillset/pthread_sigmask only write the sets we
    // pass, which are live locals.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
        SignalsBlocked { old }
    }
}

impl Drop for SignalsBlocked {
    fn drop(&mut self) {
        // SAFETY: restores the mask saved by block_all_signals on this same thread.
        unsafe {
            libc::pthread_sigmask(libc::SIG_SETMASK, &self.old, std::ptr::null_mut());
        }
    }
}

/// A stack for a `CLONE_VM` child: anonymous memory with a guard page below it, so an
/// overflow faults instead of writing into the parent's memory.
pub(crate) struct Stack {
    base: *mut std::ffi::c_void,
    len: usize,
}

impl Stack {
    pub(crate) const SIZE: usize = 64 * 1024;

    pub(crate) fn new() -> io::Result<Stack> {
        let page = rustix::param::page_size();
        let len = Self::SIZE + page;
        // SAFETY: a fresh private anonymous mapping aliases nothing; the guard page is inside
        // it. The mapping is released in Drop.
        unsafe {
            let base = rustix::mm::mmap_anonymous(
                std::ptr::null_mut(),
                len,
                rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::WRITE,
                rustix::mm::MapFlags::PRIVATE | rustix::mm::MapFlags::STACK,
            )?;
            let stack = Stack { base, len };
            rustix::mm::mprotect(base, page, rustix::mm::MprotectFlags::empty())?;
            Ok(stack)
        }
    }

    /// Lowest usable address (above the guard page) and usable size.
    pub(crate) fn region(&self) -> (u64, u64) {
        let page = self.len - Self::SIZE;
        (self.base as u64 + page as u64, Self::SIZE as u64)
    }
}

thread_local! {
    /// One stack per thread, reused across spawns: no mmap/munmap (and no page faults on a
    /// fresh mapping) per spawn, and no shared state between threads that spawn at once.
    static STACK: std::cell::Cell<Option<Stack>> = const { std::cell::Cell::new(None) };
}

impl Stack {
    /// This thread's cached stack, or a new one. Give it back with [`Stack::release`].
    pub(crate) fn take() -> io::Result<Stack> {
        match STACK.with(|s| s.take()) {
            Some(s) => Ok(s),
            None => Stack::new(),
        }
    }

    /// Keeps the stack for the next spawn on this thread. Only call once no child runs on it.
    pub(crate) fn release(self) {
        STACK.with(|s| s.set(Some(self)));
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in new(); no child runs on it any more
        // (spawn drops the stack only after the child exec'd or was reaped).
        unsafe {
            let _ = rustix::mm::munmap(self.base, self.len);
        }
    }
}

/// `clone3` with `CLONE_VM`: the child starts on `args.stack` and runs `entry(arg)`, which
/// must never return. Returns the child's pid in the parent.
///
/// # Safety
/// `args.stack`/`args.stack_size` must describe writable memory that nothing else uses
/// until the child has exec'd or exited; `entry` must not return, and must touch only its
/// own stack and memory the parent does not mutate meanwhile.
#[cfg(target_arch = "x86_64")]
pub(crate) unsafe fn clone3_vm(
    args: &mut CloneArgs,
    entry: extern "C" fn(usize) -> !,
    arg: usize,
) -> R {
    let ret: isize;
    // SAFETY: clone3 returns twice. The parent (rax != 0) jumps past the child block and
    // sees the same registers as before. The child (rax == 0) runs on the fresh stack the
    // kernel switched to (16-byte aligned by the caller); it clears the frame pointer and
    // calls `entry(arg)` from r12/r13, which the syscall preserves, and never comes back.
    unsafe {
        core::arch::asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            "xor ebp, ebp",
            "mov rdi, r13",
            "call r12",
            "ud2",
            "2:",
            inlateout("rax") libc::SYS_clone3 as isize => ret,
            in("rdi") args as *mut CloneArgs,
            in("rsi") core::mem::size_of::<CloneArgs>(),
            in("r12") entry as usize,
            in("r13") arg,
            lateout("rcx") _, lateout("r11") _,
            options(nostack)
        );
    }
    super::raw::check(ret)
}

/// See the x86_64 version.
///
/// # Safety
/// As for the x86_64 version.
#[cfg(target_arch = "aarch64")]
pub(crate) unsafe fn clone3_vm(
    args: &mut CloneArgs,
    entry: extern "C" fn(usize) -> !,
    arg: usize,
) -> R {
    let ret: isize;
    // SAFETY: as on x86_64: x20/x21 (callee-saved; x19 is reserved by LLVM) survive the
    // syscall; the child, on its new stack, clears the frame pointer and link register and
    // branches to `entry(arg)`, never returning.
    unsafe {
        core::arch::asm!(
            "svc 0",
            "cbnz x0, 2f",
            "mov x29, xzr",
            "mov x30, xzr",
            "mov x0, x21",
            "blr x20",
            "brk #1",
            "2:",
            in("x8") libc::SYS_clone3,
            inlateout("x0") args as *mut CloneArgs as isize => ret,
            in("x1") core::mem::size_of::<CloneArgs>(),
            in("x20") entry as usize,
            in("x21") arg,
            options(nostack)
        );
    }
    super::raw::check(ret)
}

/// Not available: `spawn` uses the fork-like path on these architectures.
///
/// # Safety
/// Never called.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub(crate) unsafe fn clone3_vm(_: &mut CloneArgs, _: extern "C" fn(usize) -> !, _: usize) -> R {
    Err(libc::ENOSYS)
}

/// Forks the calling process with `fork(3)` (libc's, so that its at-fork handlers make the
/// allocator usable in the child of a multithreaded parent), runs `child` in the new process
/// and ends it with `child`'s result as exit code (`exit_group`: no destructor or at-exit
/// handler of the parent's runs twice). Returns the child's pid in the parent.
pub(crate) fn fork_running(child: impl FnOnce() -> i32) -> io::Result<u32> {
    // SAFETY: fork returns twice; the child branch runs `child` and exits, never coming back
    // into the parent's code. The child is single-threaded: what it may do is the caller's
    // contract (documented on `Namespaces::run`).
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        0 => super::raw::exit(child()),
        pid => Ok(pid as u32),
    }
}
