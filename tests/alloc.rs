//! Allocations of a reused `Command`, counted by this test binary's own global allocator.
//!
//! The first spawn of a `Command` validates it and builds the child's plan (argv, environment,
//! maps): that allocates. Later spawns reuse the plan, and with inherited stdio they allocate
//! nothing at all; with piped stdio a fixed handful (see `PIPED_STDIO_ALLOCS`).
//!
//! The child path between `clone3` and `execve` must allocate nothing (it may share the
//! parent's memory and run while another parent thread holds the allocator's lock). That is
//! checked too: in `CLONE_VM` modes (vfork, and the shared-vm mode where the parent writes the
//! maps) the child runs in the parent's address space, so its allocations would go through
//! this very allocator and its counters. The allocator tells them apart by asking the kernel
//! for the pid: a `CLONE_VM` child is a process of its own, with its own pid. The fork-like
//! mode (init, a joined time namespace) and the program forked into a joined pid namespace
//! run on a copy of the memory: the count of other processes' allocations lives in a shared
//! mapping, which the copy shares too, so they are counted as well.
//!
//! Every case runs in a forked child: the test harness runs tests on several threads, and a
//! single-threaded process makes the counts this test's alone.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::ffi::c_void;
use std::io::{Read, Write};
use std::os::fd::FromRawFd;
use std::sync::atomic::{AtomicI32, AtomicPtr, AtomicU64, Ordering};

mod common;

use linux_namespaces::{
    Command, IdMap, NamespaceGroup, NamespaceSet, Namespaces, SetGroups, Stdio,
};

/// The pid whose allocations count as the parent's; 0: not counting.
static OWNER: AtomicI32 = AtomicI32::new(0);
/// Allocations (alloc, alloc_zeroed, realloc) made by `OWNER`.
static PARENT: AtomicU64 = AtomicU64::new(0);
/// Allocations made by any other process whose memory is this one's or a copy of it: a
/// `CLONE_VM` child or a fork-like one. Points into a `MAP_SHARED` page (see `arm`).
static OTHER: AtomicPtr<AtomicU64> = AtomicPtr::new(std::ptr::null_mut());

struct Counting;

fn count() {
    let owner = OWNER.load(Ordering::Relaxed);
    if owner == 0 {
        return;
    }
    // SAFETY: getpid takes no arguments and cannot fail. A raw syscall, not a cached value:
    // a CLONE_VM child shares this memory (and this thread's TLS) but has its own pid.
    let pid = unsafe { libc::syscall(libc::SYS_getpid) } as i32;
    if pid == owner {
        PARENT.fetch_add(1, Ordering::Relaxed);
    } else {
        let other = OTHER.load(Ordering::Relaxed);
        // SAFETY: set once by `arm` to a shared page that is never unmapped, holding an
        // AtomicU64 (a page is aligned and large enough).
        if let Some(other) = unsafe { other.as_ref() } {
            other.fetch_add(1, Ordering::Relaxed);
        }
    }
}

// SAFETY: every call is forwarded unchanged to the system allocator; counting touches only
// atomics and makes a system call, neither of which allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: the caller's contract, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Counts from now on for the calling process.
fn arm() {
    if OTHER.load(Ordering::Relaxed).is_null() {
        // SAFETY: a fresh shared anonymous page, zero-filled (a valid AtomicU64 of 0), never
        // unmapped; shared with every process forked from this one afterwards.
        let page = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                4096,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(page, libc::MAP_FAILED);
        OTHER.store(page.cast(), Ordering::Relaxed);
    }
    // SAFETY: getpid has no preconditions.
    OWNER.store(unsafe { libc::getpid() }, Ordering::Relaxed);
}

fn counts() -> (u64, u64) {
    let other = OTHER.load(Ordering::Relaxed);
    // SAFETY: as in `count`.
    let other = unsafe { other.as_ref() }.map_or(0, |o| o.load(Ordering::Relaxed));
    (PARENT.load(Ordering::Relaxed), other)
}

/// Runs `f` in a forked child (as uid/gid 65534 if `rootless` and root) and returns its
/// verdict. A panic in the child becomes an `Err` with its message.
fn in_child(rootless: bool, f: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    let mut fds = [0; 2];
    // SAFETY: `fds` is an array of two ints for pipe2 to fill.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: two fresh fds nothing else owns.
    let (mut r, mut w) = unsafe {
        (
            std::fs::File::from_raw_fd(fds[0]),
            std::fs::File::from_raw_fd(fds[1]),
        )
    };
    // SAFETY: the child runs `f` and ends with _exit; glibc makes malloc usable in the child
    // of a multithreaded fork, and the child is single-threaded.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        drop(r);
        let verdict = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            if rootless {
                drop_privileges()?;
            }
            f()
        }));
        let msg = match verdict {
            Ok(Ok(())) => String::new(),
            Ok(Err(m)) => m,
            Err(p) => p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panic".into()),
        };
        let _ = w.write_all(msg.as_bytes());
        // SAFETY: ends the forked child without running the harness's code.
        unsafe { libc::_exit(if msg.is_empty() { 0 } else { 1 }) };
    }
    drop(w);
    let mut msg = String::new();
    let _ = r.read_to_string(&mut msg);
    let mut status = 0;
    // SAFETY: our own child; `status` is a live local.
    while unsafe { libc::waitpid(pid, &mut status, 0) } < 0 {}
    match (status, msg.is_empty()) {
        (0, true) => Ok(()),
        (_, false) => Err(msg),
        (s, true) => Err(format!("child ended with wait status {s:#x}")),
    }
}

fn drop_privileges() -> Result<(), String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(());
    }
    const NOBODY: u32 = 65534;
    // SAFETY: credential syscalls on the calling (forked, single-threaded) process.
    let ok = unsafe {
        libc::setgroups(0, std::ptr::null()) == 0
            && libc::setresgid(NOBODY, NOBODY, NOBODY) == 0
            && libc::setresuid(NOBODY, NOBODY, NOBODY) == 0
            // Keeps the child's /proc/self/{setgroups,uid_map,gid_map} writable by it.
            && libc::prctl(libc::PR_SET_DUMPABLE, 1, 0, 0, 0) == 0
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "dropping to {NOBODY}: {}",
            std::io::Error::last_os_error()
        ))
    }
}

const SPAWNS: usize = 20;

/// What one `spawn` + `wait` allocated: (first spawn, the most of any later spawn, allocations
/// by other processes over all spawns).
fn per_spawn(cmd: &mut Command) -> Result<(u64, u64, u64), String> {
    arm();
    let mut run = || -> Result<u64, String> {
        let before = counts().0;
        let status = cmd
            .spawn()
            .map_err(|e| format!("spawn: {e}"))?
            .wait()
            .map_err(|e| format!("wait: {e}"))?;
        let after = counts().0;
        if !status.success() {
            return Err(format!("/bin/true: {status}"));
        }
        Ok(after - before)
    };
    let first = run()?;
    let mut most = 0;
    for _ in 1..SPAWNS {
        most = most.max(run()?);
    }
    Ok((first, most, counts().1))
}

/// The reused path with inherited stdio: the cached plan, the thread's cached child stack,
/// fds on the stack; no `Vec` for fd moves when there are none.
const INHERITED_STDIO_ALLOCS: u64 = 0;

fn check_inherited(cmd: &mut Command) -> Result<(), String> {
    let (first, most, other) = per_spawn(cmd)?;
    eprintln!("allocations: first spawn {first}, later spawns at most {most}, child {other}");
    // The counter works: the first spawn builds the plan.
    if first == 0 {
        return Err("the first spawn allocated nothing: is the counter armed?".into());
    }
    if most > INHERITED_STDIO_ALLOCS {
        return Err(format!(
            "a reused Command allocated {most} times in one spawn (first spawn: {first}); at most {INHERITED_STDIO_ALLOCS} expected"
        ));
    }
    if other != 0 {
        return Err(format!(
            "the child path allocated {other} times in {SPAWNS} spawns"
        ));
    }
    Ok(())
}

#[test]
fn reused_command_without_namespaces_allocates_nothing_per_spawn() {
    in_child(false, || check_inherited(&mut Command::new("/bin/true"))).unwrap()
}

#[test]
fn reused_rootless_map_root_command_allocates_nothing_per_spawn() {
    in_child(true, || {
        let mut cmd = Command::new("/bin/true");
        cmd.unshare(NamespaceSet::USER).map_root();
        check_inherited(&mut cmd)
    })
    .unwrap()
}

/// Per spawn with stdin from /dev/null and stdout piped: the fd moves, the sorted list of fds
/// the child keeps, the child's scratch slots and the child-side ends that the parent closes
/// after the clone (one `Vec` each).
const PIPED_STDIO_ALLOCS: u64 = 4;

#[test]
fn reused_command_with_piped_stdio_allocates_a_fixed_few_per_spawn() {
    in_child(false, || {
        let mut cmd = Command::new("/bin/true");
        cmd.stdin(Stdio::null()).stdout(Stdio::piped());
        let (first, most, other) = per_spawn(&mut cmd)?;
        eprintln!("piped stdio: first spawn {first}, later spawns at most {most}, child {other}");
        if most > PIPED_STDIO_ALLOCS || other != 0 {
            return Err(format!(
                "piped stdio: {most} allocations per spawn (at most {PIPED_STDIO_ALLOCS}), {other} in the child"
            ));
        }
        Ok(())
    })
    .unwrap()
}

/// The shared-vm mode: the parent writes a multi-range map (which needs CAP_SETUID) while the
/// child, in the same memory, waits for it; the parent allocates there, the child must not.
#[test]
#[ignore = "needs root"]
fn child_waiting_for_parent_written_maps_allocates_nothing() {
    common::assert_root("child_waiting_for_parent_written_maps_allocates_nothing");
    in_child(false, || {
        let map: IdMap = "0 100000 1000\n1000 0 1"
            .parse()
            .map_err(|e| format!("{e}"))?;
        let mut cmd = Command::new("/bin/true");
        cmd.unshare(NamespaceSet::USER)
            .uid_map(map.clone())
            .gid_map(map)
            .setgroups(SetGroups::Allow);
        let (first, most, other) = per_spawn(&mut cmd)?;
        eprintln!(
            "parent-written maps: first spawn {first}, later spawns at most {most}, child {other}"
        );
        if other != 0 {
            return Err(format!(
                "the child path allocated {other} times in {SPAWNS} spawns"
            ));
        }
        Ok(())
    })
    .unwrap()
}

/// The fork-like mode: an init in a new pid namespace runs in a copy of the memory.
#[test]
fn fork_like_child_allocates_nothing() {
    in_child(true, || {
        let mut cmd = Command::new("/bin/true");
        cmd.unshare(NamespaceSet::USER | NamespaceSet::PID)
            .map_root()
            .init(true);
        let (_, _, other) = per_spawn(&mut cmd)?;
        if other != 0 {
            return Err(format!(
                "the fork-like child path allocated {other} times in {SPAWNS} spawns"
            ));
        }
        Ok(())
    })
    .unwrap()
}

/// A joined pid namespace: the first child shares the memory, the program's process forked
/// from it has a copy; neither may allocate.
#[test]
fn program_forked_into_a_joined_pid_namespace_allocates_nothing() {
    in_child(true, || {
        let mut holder = Command::new("/bin/sh");
        holder
            .args(["-c", "read _"])
            .unshare(NamespaceSet::USER | NamespaceSet::PID)
            .map_root()
            .stdin(Stdio::piped());
        let mut holder = holder.spawn().map_err(|e| format!("holder: {e}"))?;
        let set = NamespaceSet::USER | NamespaceSet::PID;
        let group = NamespaceGroup::from_namespaces(
            Namespaces::open(holder.id(), set).map_err(|e| format!("open: {e}"))?,
        );
        let mut cmd = group.command("/bin/true");
        let (_, _, other) = per_spawn(&mut cmd)?;
        drop(holder.stdin.take());
        holder.wait().map_err(|e| format!("holder: {e}"))?;
        if other != 0 {
            return Err(format!(
                "the joined-pid child path allocated {other} times in {SPAWNS} spawns"
            ));
        }
        Ok(())
    })
    .unwrap()
}

extern "C" fn allocating_child(_: *mut c_void) -> libc::c_int {
    std::hint::black_box(Box::new(7u64));
    0
}

/// The check above would catch a child that allocates: a `CLONE_VM|CLONE_VFORK` child that
/// allocates once shows up in `OTHER`, not in `PARENT`.
#[test]
fn counter_sees_a_clone_vm_child_allocate() {
    in_child(false, || {
        const STACK: usize = 64 * 1024;
        // SAFETY: a fresh private anonymous mapping, unmapped below once the child is gone.
        let stack = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                STACK,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            )
        };
        assert_ne!(stack, libc::MAP_FAILED);
        arm();
        let before = counts();
        // SAFETY: the child runs on its own stack; with CLONE_VFORK this single-threaded
        // process sleeps until the child has exited, so the child has the allocator (and this
        // thread's TLS, which it shares) to itself; glibc's clone exits with its return value.
        let pid = unsafe {
            libc::clone(
                allocating_child,
                stack.cast::<u8>().add(STACK).cast(),
                libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
                std::ptr::null_mut(),
            )
        };
        assert!(pid > 0, "clone: {}", std::io::Error::last_os_error());
        let after = counts();
        let mut status = 0;
        // SAFETY: our own child; `status` is a live local; the stack is no longer in use.
        unsafe {
            libc::waitpid(pid, &mut status, 0);
            libc::munmap(stack, STACK);
        }
        if after.1 - before.1 != 1 || after.0 != before.0 {
            return Err(format!("counts went from {before:?} to {after:?}"));
        }
        Ok(())
    })
    .unwrap()
}
