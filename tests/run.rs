//! `Namespaces::run`: a closure runs in a forked child inside joined namespaces, and its
//! result, error or panic comes back; the caller's threads never move.

mod common;

use common::*;
use linux_namespaces::{Command, Error, Stdio};

/// A process with its own user and UTS namespaces and host name "held".
fn holder() -> linux_namespaces::Child {
    Command::new("/bin/sh")
        .args(["-c", "read _"])
        .unshare(NamespaceSet::USER | NamespaceSet::UTS)
        .map_root()
        .hostname("held")
        .stdin(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

fn t_closure_runs_inside_joined_namespaces(_root: bool) -> Result<(), String> {
    let h = holder();
    let ns = Namespaces::open(h.id(), NamespaceSet::USER | NamespaceSet::UTS).ctx("open")?;
    let uts_before = Namespace::current(NamespaceKind::Uts).ctx("uts")?.id();
    let (name, uid): (String, u32) = (
        ns.run(|| {
            Ok(rustix::system::uname()
                .nodename()
                .to_string_lossy()
                .into_owned())
        })
        .ctx("run")?,
        ns.run(|| Ok(rustix::process::getuid().as_raw()))
            .ctx("run")?,
    );
    ensure_eq!(name, "held");
    ensure_eq!(uid, 0);
    // The caller stayed where it was.
    ensure_eq!(
        Namespace::current(NamespaceKind::Uts).ctx("uts")?.id(),
        uts_before
    );
    Ok(())
}
root_and_rootless!(
    closure_runs_inside_joined_namespaces,
    t_closure_runs_inside_joined_namespaces
);

#[test]
fn errors_and_panics_of_the_closure_come_back() {
    let ns = Namespaces::new();
    let e = ns
        .run::<()>(|| Err(std::io::Error::from_raw_os_error(libc::EACCES)))
        .unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EACCES), "{e}");
    let e = ns
        .run::<()>(|| Err(std::io::Error::other("custom failure")))
        .unwrap_err();
    assert!(e.to_string().contains("custom failure"), "{e}");
    // A panic runs the panic hook in the child, which takes locks (the backtrace's) that
    // another test thread may hold at the fork: run it from a single-threaded process, as
    // `Namespaces::run`'s docs ask.
    in_child(|| {
        let e = failed(
            Namespaces::new().run::<()>(|| panic!("boom in the child")),
            "a panicking closure",
        )?;
        ensure!(e.to_string().contains("boom in the child"), "{e}");
        ensure!(matches!(e, Error::Os { .. }), "{e}");
        Ok(())
    })
    .unwrap();
}

#[test]
fn a_namespace_the_child_cannot_enter_is_an_error_and_the_closure_does_not_run() {
    rootless(|| {
        // The caller's own mount namespace: entering it needs CAP_SYS_ADMIN over the user
        // namespace that owns it, which an unprivileged process has not.
        let ns = Namespaces::current(NamespaceSet::MOUNT).ctx("open")?;
        let ran = std::env::temp_dir().join(format!("lns-run-{}", std::process::id()));
        let marker = ran.clone();
        let e = failed(
            ns.run(move || std::fs::write(&marker, "ran")),
            "entering a mount namespace without CAP_SYS_ADMIN",
        )?;
        ensure_eq!(e.raw_os_error(), Some(libc::EPERM), "{e}");
        ensure!(!ran.exists(), "the closure ran");
        Ok(())
    })
    .unwrap();
}

/// With `SIGCHLD` ignored the kernel reaps a child as soon as it exits, and frees its pid:
/// `run` and `fork` still get the child's result and a pidfd of that very child, because the
/// child waits until the caller holds its pidfd. Looped, since an unfixed `run` or `fork`
/// loses the race only when the child is quick.
#[test]
fn sigchld_ignored_loses_no_child() {
    in_child(|| {
        // SAFETY: a single-threaded forked child changes its own signal disposition.
        unsafe { libc::signal(libc::SIGCHLD, libc::SIG_IGN) };
        for i in 0..200 {
            let v: u32 = Namespaces::new()
                .run(|| Ok(7))
                .map_err(|e| format!("run {i}: {e}"))?;
            ensure_eq!(v, 7);
            let (r, w) = std::io::pipe().ctx("pipe")?;
            let w = std::cell::Cell::new(Some(w));
            let child = Namespaces::new()
                .fork(|| {
                    let mut w = w.take().unwrap();
                    let pid = std::process::id().to_string();
                    i32::from(std::io::Write::write_all(&mut w, pid.as_bytes()).is_err())
                })
                .map_err(|e| format!("fork {i}: {e}"))?;
            drop(w.take());
            let mut said = String::new();
            std::io::Read::read_to_string(&mut { r }, &mut said).ctx("read")?;
            // The pidfd is the child's that ran the closure, not a process that got its pid.
            ensure_eq!(said, child.pid().to_string(), "fork {i}");
        }
        Ok(())
    })
    .unwrap();
}
