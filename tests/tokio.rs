//! `Child::wait_async` and `PidFd::wait_async` (feature `tokio`): children awaited through
//! their pidfds on a current-thread runtime, cancellation that leaves the child intact, and
//! nothing left behind.
//!
//! Each test runs in a forked child (`in_child`), so "no child left" can be checked with
//! `waitid(P_ALL, WNOHANG)`: the forked process has no children but the ones the test made.
#![allow(unsafe_code)]

mod common;

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use common::*;
use linux_namespaces::{Command, NamespaceGroup, NamespaceSet, PidFd, Stdio};

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("build a current-thread runtime")
}

/// The calling process's thread count (`Threads:` in `/proc/self/status`).
fn threads() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap()
}

/// `Ok` if the calling (forked) process has no child at all, running or zombie.
fn no_children_left() -> Result<(), String> {
    if no_children() {
        Ok(())
    } else {
        Err("a child is left (running or zombie)".into())
    }
}

/// A pipe whose write end the test holds: children block reading the read end until the
/// write end closes (no sleeps, and nothing is timed).
fn gate() -> (OwnedFd, OwnedFd) {
    rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).expect("pipe")
}

/// Polls `f` once, in the task's context, and gives back what the poll returned.
async fn poll_once<F: Future>(mut f: Pin<&mut F>) -> Poll<F::Output> {
    std::future::poll_fn(|cx| Poll::Ready(f.as_mut().poll(cx))).await
}

/// `/bin/sh -c SCRIPT` with fd 3 a duplicate of `gate_r`.
fn gated(script: &str, gate_r: &OwnedFd) -> Command {
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(script)
        .stdin(Stdio::Null)
        .fd(3, gate_r.try_clone().expect("dup"));
    cmd
}

#[test]
fn hundred_children_are_awaited_concurrently_on_one_thread() {
    in_child(|| {
        let rt = runtime();
        let (gate_r, gate_w) = gate();
        let mut children = Vec::new();
        for i in 0..100 {
            // Each blocks until the gate closes, then exits with its own code.
            let child = gated(&format!("read _ <&3; exit {i}"), &gate_r)
                .spawn()
                .map_err(err)?;
            children.push((i, child));
        }
        drop(gate_r);
        let results = rt.block_on(async {
            let mut tasks = Vec::new();
            for (i, mut child) in children {
                tasks.push(tokio::spawn(async move { (i, child.wait_async().await) }));
            }
            // Let every task register its pidfd and park: none can finish before the gate
            // closes.
            for _ in 0..4 {
                tokio::task::yield_now().await;
            }
            let running = tasks.iter().filter(|t| !t.is_finished()).count();
            let threads_while_waiting = threads();
            drop(gate_w);
            let mut out = Vec::new();
            for t in tasks {
                out.push(t.await.expect("task"));
            }
            (running, threads_while_waiting, out)
        });
        let (running, threads_while_waiting, out) = results;
        ensure!(
            running == 100,
            "{running} of 100 waits pending before release"
        );
        ensure!(
            threads_while_waiting == 1,
            "{threads_while_waiting} threads while awaiting 100 children"
        );
        for (i, status) in out {
            let status = status.map_err(err)?;
            ensure!(status.code() == Some(i), "child {i}: {status}");
        }
        no_children_left()
    })
    .unwrap();
}

#[test]
fn timeout_cancels_the_wait_and_leaves_the_child_running_and_waitable() {
    in_child(|| {
        let rt = runtime();
        let (gate_r, gate_w) = gate();
        let mut child = gated("read _ <&3", &gate_r).spawn().map_err(err)?;
        drop(gate_r);
        let outcome = rt.block_on(async {
            tokio::time::timeout(Duration::from_millis(50), child.wait_async()).await
        });
        ensure!(outcome.is_err(), "the wait finished: {outcome:?}");
        // Cancelled: still running, still ours.
        ensure!(
            child.try_wait().map_err(err)?.is_none(),
            "child reaped by a cancelled wait"
        );
        ensure!(
            std::path::Path::new(&format!("/proc/{}", child.id())).exists(),
            "child gone"
        );
        child.kill().map_err(err)?;
        let status = rt.block_on(child.wait_async()).map_err(err)?;
        ensure!(
            status.signal() == Some(libc::SIGKILL),
            "status after kill: {status}"
        );
        drop(gate_w);
        no_children_left()
    })
    .unwrap();
}

#[test]
fn a_child_whose_async_wait_was_dropped_is_reaped_by_a_blocking_wait() {
    in_child(|| {
        let rt = runtime();
        let (gate_r, gate_w) = gate();
        let mut child = gated("read _ <&3; exit 7", &gate_r).spawn().map_err(err)?;
        drop(gate_r);
        let first = rt.block_on(async {
            // Poll it once (the pidfd gets registered), then drop it.
            let mut wait = std::pin::pin!(child.wait_async());
            poll_once(wait.as_mut()).await.is_pending()
        });
        ensure!(first, "finished before the gate closed");
        drop(gate_w);
        let status = child.wait().map_err(err)?;
        ensure_eq!(status.code(), Some(7));
        no_children_left()
    })
    .unwrap();
}

#[test]
fn aborting_the_task_that_owns_a_kill_on_drop_child_kills_and_reaps_it() {
    in_child(|| {
        let rt = runtime();
        let (gate_r, gate_w) = gate();
        let child = gated("read _ <&3", &gate_r)
            .kill_on_drop(true)
            .spawn()
            .map_err(err)?;
        drop(gate_r);
        let pid = child.id();
        rt.block_on(async {
            let task = tokio::spawn(async move {
                let mut child = child;
                let _ = child.wait_async().await;
            });
            tokio::task::yield_now().await;
            task.abort();
            let joined = task.await;
            assert!(joined.is_err_and(|e| e.is_cancelled()));
        });
        // The gate is still open: only the drop can have ended the child.
        ensure!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "pid {pid} still exists"
        );
        drop(gate_w);
        no_children_left()
    })
    .unwrap();
}

#[test]
fn wait_async_of_an_exited_child_returns_its_status_at_once() {
    in_child(|| {
        let rt = runtime();
        let mut child = Command::new("/bin/sh")
            .args(["-c", "exit 3"])
            .spawn()
            .map_err(err)?;
        // Exited (blocking wait on a second pidfd handle, without reaping: WNOWAIT).
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: info points to a live siginfo_t; P_PIDFD with the child's pidfd.
        let r = unsafe {
            libc::waitid(
                libc::P_PIDFD,
                child.pidfd().as_raw_fd() as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        ensure!(r == 0, "waitid: {}", std::io::Error::last_os_error());
        let status = rt.block_on(child.wait_async()).map_err(err)?;
        ensure_eq!(status.code(), Some(3));
        // Already reaped: the remembered status comes back again.
        let again = rt.block_on(child.wait_async()).map_err(err)?;
        ensure!(again == status, "{again} vs {status}");
        no_children_left()
    })
    .unwrap();
}

#[test]
fn pidfd_wait_async_awaits_a_process_the_caller_forked() {
    in_child(|| {
        let rt = runtime();
        let (gate_r, gate_w) = gate();
        // SAFETY: the forked child only reads a pipe and _exits.
        let pid = unsafe { libc::fork() };
        ensure!(pid >= 0, "fork");
        if pid == 0 {
            drop(gate_w);
            let mut b = [0u8; 1];
            let _ = rustix::io::read(&gate_r, &mut b);
            // SAFETY: end the forked child.
            unsafe { libc::_exit(5) };
        }
        drop(gate_r);
        let mut pidfd = PidFd::open(pid as u32).map_err(err)?;
        let status = rt.block_on(async {
            let mut wait = std::pin::pin!(pidfd.wait_async());
            assert!(
                poll_once(wait.as_mut()).await.is_pending(),
                "finished before the gate closed"
            );
            drop(gate_w);
            wait.await
        });
        let status = status.map_err(err)?;
        ensure_eq!(status.code(), Some(5));
        no_children_left()
    })
    .unwrap();
}

#[test]
fn children_joined_into_a_group_are_awaited_concurrently() {
    in_child(|| {
        drop_privileges()?;
        let group = NamespaceGroup::create(
            NamespaceSet::USER | NamespaceSet::UTS | NamespaceSet::IPC | NamespaceSet::NET,
            linux_namespaces::GroupSetup::new().hostname("awaited"),
        )
        .map_err(err)?;
        let rt = runtime();
        let mut children = Vec::new();
        for _ in 0..10 {
            let child = group
                .command("/bin/sh")
                .args(["-c", "test \"$(hostname)\" = awaited"])
                .spawn()
                .map_err(err)?;
            children.push(child);
        }
        let statuses = rt.block_on(async {
            let mut out = Vec::new();
            for mut c in children {
                out.push(tokio::spawn(async move { c.wait_async().await }));
            }
            let mut statuses = Vec::new();
            for t in out {
                statuses.push(t.await.expect("task"));
            }
            statuses
        });
        for s in statuses {
            let s = s.map_err(err)?;
            ensure!(s.success(), "{s}");
        }
        no_children_left()
    })
    .unwrap();
}

#[test]
fn output_async_reads_both_pipes_and_the_status_on_one_thread() {
    rootless(|| {
        runtime().block_on(async {
            let before = threads();
            let out = Command::new("/bin/sh")
                .args(["-c", "hostname; echo err >&2; exit 3"])
                .unshare(NamespaceSet::USER | NamespaceSet::UTS)
                .map_root()
                .hostname("async")
                .output_async()
                .await
                .map_err(err)?;
            ensure_eq!(out.stdout, b"async\n");
            ensure_eq!(out.stderr, b"err\n");
            ensure_eq!(out.status.code(), Some(3));
            let st = Command::new("/bin/sh")
                .args(["-c", "exit 5"])
                .status_async()
                .await
                .map_err(err)?;
            ensure_eq!(st.code(), Some(5));
            ensure_eq!(threads(), before, "a thread was started");
            Ok(())
        })
    })
    .unwrap();
}

#[test]
fn async_stdio_pipes_a_child_through_the_reactor() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    runtime()
        .block_on(async {
            let mut child = Command::new("/bin/cat")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .map_err(err)?;
            let mut input = child.stdin_async().ok_or("stdin")?.map_err(err)?;
            let mut output = child.stdout_async().ok_or("stdout")?.map_err(err)?;
            ensure!(child.stdout_async().is_none(), "taken twice");
            input.write_all(b"through tokio\n").await.map_err(err)?;
            drop(input);
            let mut got = String::new();
            output.read_to_string(&mut got).await.map_err(err)?;
            ensure_eq!(got, "through tokio\n");
            ensure!(
                child.wait_async().await.map_err(err)?.success(),
                "cat failed"
            );
            Ok::<(), String>(())
        })
        .unwrap();
}
