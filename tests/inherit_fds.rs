//! `Command::inherit_fds`: by default the child gets only 0, 1, 2 and the fds passed to it;
//! with the opt-in it keeps every fd of the caller that is not close-on-exec, as a program
//! started by a shell does. Root and rootless, in new namespaces and without.

mod common;

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use common::spawn::*;
use common::*;
use linux_namespaces::{NamespaceSet, Stdio};

type R = Result<(), String>;

/// A new fd for `/etc/hostname`, without close-on-exec (`dup(2)` never sets it).
fn inheritable() -> Result<OwnedFd, String> {
    let file = std::fs::File::open("/etc/hostname").map_err(|e| e.to_string())?;
    // SAFETY: dup of an open fd; the new fd is owned by the OwnedFd made from it.
    let fd = unsafe { libc::dup(file.as_raw_fd()) };
    ensure!(fd >= 0, "dup: {}", std::io::Error::last_os_error());
    // SAFETY: `fd` is a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The fds a `cat` spawned with `inherit` (and one fd passed as 9) has open.
fn fds_of_cat(root: bool, set: NamespaceSet, inherit: Option<bool>) -> Result<Vec<i32>, String> {
    let mut c = isolated(root, "cat", set);
    c.stdin(Stdio::Piped).stdout(Stdio::Piped);
    if let Some(on) = inherit {
        c.inherit_fds(on);
    }
    let mut child = c.spawn().map_err(|e| e.to_string())?;
    let fds = fds_of_ready_cat(&mut child)?;
    drop(child.stdin.take());
    let st = child.wait().map_err(|e| e.to_string())?;
    ensure!(st.success(), "{st}");
    Ok(fds)
}

fn t_default_closes_every_fd_not_passed(root: bool) -> R {
    let open = [inheritable()?, inheritable()?];
    for set in [
        NamespaceSet::empty(),
        NamespaceSet::USER | NamespaceSet::PID,
    ] {
        for inherit in [None, Some(false)] {
            let fds = fds_of_cat(root, set, inherit)?;
            ensure!(fds == [0, 1, 2], "{set:?} {inherit:?}: child fds {fds:?}");
        }
    }
    drop(open);
    Ok(())
}
root_and_rootless!(
    default_closes_every_fd_not_passed,
    t_default_closes_every_fd_not_passed
);

fn t_inherit_fds_passes_the_fds_without_cloexec(root: bool) -> R {
    let open = [inheritable()?, inheritable()?];
    let cloexec = std::fs::File::open("/etc/hostname").map_err(|e| e.to_string())?;
    for set in [
        NamespaceSet::empty(),
        NamespaceSet::USER | NamespaceSet::PID,
    ] {
        let fds = fds_of_cat(root, set, Some(true))?;
        for fd in &open {
            ensure!(
                fds.contains(&fd.as_raw_fd()),
                "{set:?}: fd {} not inherited: {fds:?}",
                fd.as_raw_fd()
            );
        }
        ensure!(
            !fds.contains(&cloexec.as_raw_fd()),
            "{set:?}: a close-on-exec fd reached the program: {fds:?}"
        );
    }
    Ok(())
}
root_and_rootless!(
    inherit_fds_passes_the_fds_without_cloexec,
    t_inherit_fds_passes_the_fds_without_cloexec
);

fn t_inherited_fd_is_readable_by_the_program(root: bool) -> R {
    use std::io::{Seek, Write};
    let mut f = tempfile_with(b"seven\n")?;
    f.rewind().map_err(|e| e.to_string())?;
    f.flush().map_err(|e| e.to_string())?;
    let fd: OwnedFd = f.into();
    // `exec 7<file`: the shell's fd 7, without close-on-exec.
    // SAFETY: dup2 onto 7, a number this test owns from here on (closed at the end).
    let r = unsafe { libc::dup2(fd.as_raw_fd(), 7) };
    ensure!(r == 7, "dup2: {}", std::io::Error::last_os_error());
    // SAFETY: fd 7 was just made by dup2 and nothing else owns it.
    let seven = unsafe { OwnedFd::from_raw_fd(7) };
    let out = stdout_of(sh(root, "cat <&7", NamespaceSet::MOUNT).inherit_fds(true))?;
    ensure_eq!(out, "seven\n");
    let err = sh(root, "cat <&7", NamespaceSet::MOUNT)
        .stderr(Stdio::Null)
        .output()
        .map_err(|e| e.to_string())?;
    ensure!(!err.status.success(), "fd 7 reached the program by default");
    drop(seven);
    Ok(())
}
root_and_rootless!(
    inherited_fd_is_readable_by_the_program,
    t_inherited_fd_is_readable_by_the_program
);

fn t_passed_fd_source_is_not_inherited_twice(root: bool) -> R {
    let source = inheritable()?;
    let src = source.as_raw_fd();
    let mut c = isolated(root, "cat", NamespaceSet::empty());
    c.stdin(Stdio::Piped)
        .stdout(Stdio::Piped)
        .inherit_fds(true)
        .fd(src + 20, source);
    let mut child = c.spawn().map_err(|e| e.to_string())?;
    let fds = fds_of_ready_cat(&mut child)?;
    drop(child.stdin.take());
    child.wait().map_err(|e| e.to_string())?;
    ensure!(fds.contains(&(src + 20)), "passed fd missing: {fds:?}");
    ensure!(
        !fds.contains(&src),
        "the source fd stayed open too: {fds:?}"
    );
    Ok(())
}
root_and_rootless!(
    passed_fd_source_is_not_inherited_twice,
    t_passed_fd_source_is_not_inherited_twice
);

/// An unlinked temporary file holding `content` (in the current directory's file system
/// would need write access; /tmp is writable for every user).
fn tempfile_with(content: &[u8]) -> Result<std::fs::File, String> {
    use std::io::Write;
    let path = std::env::temp_dir().join(format!(
        "inherit-fds-{}-{}",
        std::process::id(),
        rustix::time::clock_gettime(rustix::time::ClockId::Monotonic).tv_nsec
    ));
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let _ = std::fs::remove_file(&path);
    f.write_all(content).map_err(|e| e.to_string())?;
    Ok(f)
}
