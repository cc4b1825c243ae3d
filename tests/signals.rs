//! `SignalSet` (the calling thread's mask), `SignalFd`, `Signal::raise_default`,
//! `set_parent_death_signal` and `Namespaces::fork`. Masks and dispositions change in forked
//! children only: the harness runs tests on many threads.

mod common;

use std::cell::Cell;
use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use common::*;
use linux_namespaces::{Signal, SignalFd, SignalSet, WaitEvent, set_parent_death_signal};

fn kill_self(sig: rustix::process::Signal) -> Result<(), String> {
    rustix::process::kill_process(rustix::process::getpid(), sig).ctx("kill")
}

#[test]
fn a_set_holds_signals_in_number_order_and_prints_their_names() {
    let mut set = Signal::TERM | Signal::INT;
    assert_eq!(set.iter().collect::<Vec<_>>(), [Signal::INT, Signal::TERM]);
    assert!(set.insert(Signal::rt(1).unwrap()));
    assert!(!set.insert(Signal::INT));
    assert!(set.remove(Signal::TERM) && !set.contains(Signal::TERM));
    assert_eq!(format!("{set:?}"), "{SIGINT, SIGRTMIN+1}");
    assert_eq!(
        SignalSet::from([Signal::HUP, Signal::KILL]),
        Signal::HUP | Signal::KILL
    );
    let highest = Signal::from_raw(libc::SIGRTMAX()).unwrap();
    assert!(SignalSet::from(highest).contains(highest));
    assert!(SignalSet::empty().is_empty() && SignalSet::default().is_empty());
}

#[test]
fn blocking_returns_the_old_mask_and_setting_it_back_restores_it() {
    in_child(|| {
        let before = SignalSet::thread_mask().ctx("mask")?;
        let old = (Signal::USR1 | Signal::TERM).thread_block().ctx("block")?;
        ensure_eq!(old, before);
        let now = SignalSet::thread_mask().ctx("mask")?;
        ensure!(
            now.contains(Signal::USR1) && now.contains(Signal::TERM),
            "{now:?}"
        );
        let blocked = SignalSet::from(Signal::TERM)
            .thread_unblock()
            .ctx("unblock")?;
        ensure_eq!(blocked, now);
        ensure!(
            !SignalSet::thread_mask().ctx("mask")?.contains(Signal::TERM),
            "still blocked"
        );
        old.thread_set_mask().ctx("set mask")?;
        ensure_eq!(SignalSet::thread_mask().ctx("mask")?, before);
        // SIGKILL cannot be blocked: the kernel leaves it out of the mask.
        SignalSet::from(Signal::KILL).thread_block().ctx("block")?;
        ensure!(
            !SignalSet::thread_mask().ctx("mask")?.contains(Signal::KILL),
            "SIGKILL blocked"
        );
        Ok(())
    })
    .unwrap();
}

#[test]
fn a_blocked_signal_is_read_from_a_signalfd_with_its_sender() {
    in_child(|| {
        // Unblocked, SIGUSR1's default action would end this child before the read.
        (Signal::USR1 | Signal::USR2).thread_block().ctx("block")?;
        let fd = SignalFd::new(Signal::USR1 | Signal::USR2).ctx("signalfd")?;
        kill_self(rustix::process::Signal::USR1)?;
        let info = fd.read().ctx("read")?;
        ensure_eq!(info.signal, Signal::USR1);
        ensure_eq!(info.pid, std::process::id());
        ensure_eq!(info.uid, rustix::process::getuid().as_raw());

        // From another process: the sender's pid, which the forked child's handle names.
        let me = rustix::process::getpid();
        let sender = Namespaces::new()
            .fork(
                || match rustix::process::kill_process(me, rustix::process::Signal::USR2) {
                    Ok(()) => 0,
                    Err(_) => 1,
                },
            )
            .ctx("fork")?;
        let info = fd.read().ctx("read")?;
        ensure_eq!(info.signal, Signal::USR2);
        ensure_eq!(info.pid, sender.pid());
        let mut sender = sender;
        ensure_eq!(sender.wait().ctx("wait")?.code(), Some(0));

        // Non-blocking and nothing pending: WouldBlock, not a hang.
        rustix::io::ioctl_fionbio(&fd, true).ctx("FIONBIO")?;
        let e = failed(fd.read(), "a read with nothing pending")?;
        ensure_eq!(e.kind(), std::io::ErrorKind::WouldBlock, "{e}");
        Ok(())
    })
    .unwrap();
}

#[test]
fn a_signal_outside_the_set_is_not_read() {
    in_child(|| {
        (Signal::USR1 | Signal::USR2).thread_block().ctx("block")?;
        let fd = SignalFd::new(Signal::USR2.into()).ctx("signalfd")?;
        kill_self(rustix::process::Signal::USR1)?;
        kill_self(rustix::process::Signal::USR2)?;
        ensure_eq!(fd.read().ctx("read")?.signal, Signal::USR2);
        // SIGUSR1 is still pending, for whoever takes it.
        rustix::io::ioctl_fionbio(&fd, true).ctx("FIONBIO")?;
        ensure!(fd.read().is_err(), "read SIGUSR1 through a set without it");
        let all = SignalFd::new(Signal::USR1.into()).ctx("signalfd")?;
        ensure_eq!(all.read().ctx("read")?.signal, Signal::USR1);
        Ok(())
    })
    .unwrap();
}

/// Runs `f` in a forked child (of a single-threaded child of the harness) and returns how it
/// ended.
fn ended(f: impl FnOnce() -> i32) -> std::process::ExitStatus {
    let (mut r, w) = std::io::pipe().unwrap();
    in_child(move || {
        let mut child = Namespaces::new().fork(f).ctx("fork")?;
        let status = child.wait().ctx("wait")?;
        let mut w = w;
        w.write_all(&status.into_raw().to_le_bytes()).ctx("write")?;
        Ok(())
    })
    .unwrap();
    let mut raw = [0u8; 4];
    r.read_exact(&mut raw).unwrap();
    std::process::ExitStatus::from_raw(i32::from_le_bytes(raw))
}

#[test]
fn raise_default_dies_of_the_signal_even_when_it_was_ignored_and_blocked() {
    let status = ended(|| {
        // SAFETY: SIG_IGN installs no code to run; this single-threaded child is ours.
        unsafe { libc::signal(libc::SIGTERM, libc::SIG_IGN) };
        if SignalSet::from(Signal::TERM).thread_block().is_err() {
            return 2;
        }
        let _ = Signal::TERM.raise_default();
        // Still alive: the signal was ignored or stayed blocked.
        3
    });
    assert_eq!(status.signal(), Some(libc::SIGTERM), "{status:?}");

    // SIGKILL's disposition cannot change; raising it kills all the same.
    let status = ended(|| {
        let _ = Signal::KILL.raise_default();
        3
    });
    assert_eq!(status.signal(), Some(libc::SIGKILL), "{status:?}");
}

#[test]
fn raise_default_returns_where_the_default_is_not_to_die() {
    // SIGCHLD's default action is to ignore it.
    let status = ended(|| match Signal::CHLD.raise_default() {
        Ok(()) => 0,
        Err(_) => 1,
    });
    assert_eq!(status.code(), Some(0), "{status:?}");

    // The init of a pid namespace is not sent a signal it has no handler for.
    let status = ended(|| {
        let r = Namespaces::unshare_calling_thread(NamespaceSet::USER | NamespaceSet::PID);
        if r.is_err() {
            return 2;
        }
        let init = Namespaces::new().fork(|| match Signal::TERM.raise_default() {
            Ok(()) => 7,
            Err(_) => 1,
        });
        match init.and_then(|mut i| i.wait()) {
            Ok(s) => s.code().unwrap_or(100),
            Err(_) => 3,
        }
    });
    assert_eq!(status.code(), Some(7), "{status:?}");
}

#[test]
fn the_parent_death_signal_is_set_cleared_and_sent() {
    in_child(|| {
        let rt = Signal::rt(2).unwrap();
        set_parent_death_signal(Some(rt)).ctx("set")?;
        let got = rustix::process::parent_process_death_signal().ctx("get")?;
        ensure_eq!(got.map(|s| s.as_raw()), Some(rt.as_raw()));
        set_parent_death_signal(None).ctx("clear")?;
        ensure!(
            rustix::process::parent_process_death_signal()
                .ctx("get")?
                .is_none(),
            "still set"
        );
        Ok(())
    })
    .unwrap();

    // A child that asked for SIGUSR1 gets it when its parent exits, and reports it here.
    let (mut result, result_w) = std::io::pipe().unwrap();
    in_child_within(Duration::from_secs(120), move || {
        let (mut ready, ready_w) = std::io::pipe().ctx("pipe")?;
        let ready_w = Cell::new(Some(ready_w));
        let result_w = Cell::new(Some(result_w));
        Namespaces::new()
            .fork(|| {
                let (Some(mut ready_w), Some(mut result_w)) = (ready_w.take(), result_w.take())
                else {
                    return 1;
                };
                let fd = SignalSet::from(Signal::USR1)
                    .thread_block()
                    .and_then(|_| SignalFd::new(Signal::USR1.into()));
                let Ok(fd) = fd else { return 1 };
                if set_parent_death_signal(Some(Signal::USR1)).is_err()
                    || ready_w.write_all(b"r").is_err()
                {
                    return 1;
                }
                drop(ready_w);
                // Bounded, so that a missing signal fails the test instead of leaving this
                // orphan behind.
                let mut fds = [rustix::event::PollFd::new(
                    &fd,
                    rustix::event::PollFlags::IN,
                )];
                let limit = rustix::time::Timespec {
                    tv_sec: 120,
                    tv_nsec: 0,
                };
                let text = match rustix::event::poll(&mut fds, Some(&limit)) {
                    Ok(1) => fd
                        .read()
                        .map_or_else(|e| e.to_string(), |i| i.signal.to_string()),
                    r => format!("no signal: {r:?}"),
                };
                let _ = result_w.write_all(text.as_bytes());
                0
            })
            .ctx("fork")?;
        drop(ready_w.take());
        let mut b = Vec::new();
        ready.read_to_end(&mut b).ctx("read")?;
        ensure_eq!(b, b"r");
        // Exiting now, with the child still running, sends it SIGUSR1.
        Ok(())
    })
    .unwrap();
    let mut text = String::new();
    result.read_to_string(&mut text).unwrap();
    assert_eq!(text, "SIGUSR1");
}

#[test]
fn fork_runs_the_closure_in_a_copy_and_exits_with_its_status() {
    in_child(|| {
        let mut value = 1;
        let mut child = Namespaces::new()
            .fork(|| {
                value = 2;
                value + 40
            })
            .ctx("fork")?;
        ensure_eq!(child.wait().ctx("wait")?.code(), Some(42));
        // The closure changed the child's copy only.
        ensure_eq!(value, 1);
        let mut child = Namespaces::new()
            .fork(|| panic!("boom in the forked child"))
            .ctx("fork")?;
        ensure_eq!(child.wait().ctx("wait")?.code(), Some(101));
        Ok(())
    })
    .unwrap();
}

#[test]
fn fork_fails_when_the_child_cannot_enter_and_the_closure_does_not_run() {
    rootless(|| {
        // Entering the caller's own mount namespace needs CAP_SYS_ADMIN over its owner.
        let ns = Namespaces::current(NamespaceSet::MOUNT).ctx("open")?;
        let (mut r, w) = std::io::pipe().ctx("pipe")?;
        let w = Cell::new(Some(w));
        let e = failed(
            ns.fork(|| {
                let _ = w.take().map(|mut w| w.write_all(b"ran"));
                0
            }),
            "entering a mount namespace without CAP_SYS_ADMIN",
        )?;
        ensure_eq!(e.raw_os_error(), Some(libc::EPERM), "{e}");
        drop(w.take());
        let mut out = Vec::new();
        r.read_to_end(&mut out).ctx("read")?;
        ensure!(out.is_empty(), "the closure ran");
        ensure!(no_children(), "the failed child was not reaped");
        Ok(())
    })
    .unwrap();
}

#[test]
fn set_default_action_undoes_an_ignored_signal_and_leaves_the_mask() {
    let status = ended(|| {
        // SAFETY: SIG_IGN installs no code to run; this single-threaded child is ours.
        unsafe { libc::signal(libc::SIGTERM, libc::SIG_IGN) };
        if Signal::TERM.set_default_action().is_err() {
            return 2;
        }
        let _ = kill_self(rustix::process::Signal::TERM);
        3
    });
    assert_eq!(status.signal(), Some(libc::SIGTERM), "{status:?}");

    // A blocked signal stays blocked.
    let status = ended(|| {
        if SignalSet::from(Signal::USR1).thread_block().is_err() {
            return 2;
        }
        if Signal::USR1.set_default_action().is_err() {
            return 3;
        }
        match SignalSet::thread_mask() {
            Ok(mask) if mask.contains(Signal::USR1) => 0,
            _ => 4,
        }
    });
    assert_eq!(status.code(), Some(0), "{status:?}");

    // With SIGCHLD ignored the kernel reaps children and a wait fails; reset, it works.
    let status = ended(|| {
        // SAFETY: as above.
        unsafe { libc::signal(libc::SIGCHLD, libc::SIG_IGN) };
        if Signal::CHLD.set_default_action().is_err() {
            return 2;
        }
        match Namespaces::new().fork(|| 9).and_then(|mut c| c.wait()) {
            Ok(s) => s.code().unwrap_or(100),
            Err(_) => 3,
        }
    });
    assert_eq!(status.code(), Some(9), "{status:?}");

    for sig in [Signal::KILL, Signal::STOP] {
        let e = sig.set_default_action().unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{sig}: {e}");
    }
}

#[test]
fn wait_stopped_or_exited_reports_each_stop_and_then_the_exit() {
    in_child(|| {
        let mut child = Namespaces::new()
            .fork(|| {
                for _ in 0..2 {
                    if kill_self(rustix::process::Signal::STOP).is_err() {
                        return 2;
                    }
                }
                7
            })
            .ctx("fork")?;
        for _ in 0..2 {
            let event = child.wait_stopped_or_exited().ctx("wait")?;
            ensure_eq!(event, WaitEvent::Stopped(Signal::STOP));
            ensure!(child.status().is_none(), "a stop is not an exit");
            child.signal(Signal::CONT).ctx("SIGCONT")?;
        }
        let event = child.wait_stopped_or_exited().ctx("wait")?;
        let WaitEvent::Exited(status) = event else {
            return Err(format!("expected the exit, got {event:?}"));
        };
        ensure_eq!(status.code(), Some(7));
        // Reaped and remembered.
        ensure_eq!(child.status(), Some(status));
        ensure_eq!(child.wait_stopped_or_exited().ctx("again")?, event);
        ensure_eq!(child.wait().ctx("wait")?, status);

        // A death by a signal is an exit too, with that signal.
        let mut child = Namespaces::new()
            .fork(|| {
                let _ = kill_self(rustix::process::Signal::TERM);
                3
            })
            .ctx("fork")?;
        let event = child.wait_stopped_or_exited().ctx("wait")?;
        let WaitEvent::Exited(status) = event else {
            return Err(format!("expected the death, got {event:?}"));
        };
        ensure_eq!(status.signal(), Some(libc::SIGTERM));
        ensure!(no_children(), "the children were not all reaped");
        Ok(())
    })
    .unwrap();
}
