//! `Command`, `Child` and `Error` follow `std::process`'s conventions where they can: pipes
//! convert to `Stdio`, the builder has getters and a command-line `Debug`, every setter is
//! infallible (errors come at spawn), and errors tell their `io::ErrorKind` without being
//! consumed.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsRawFd;

use common::*;
use linux_namespaces::{Command, Error, Stdio};

#[test]
fn one_childs_stdout_is_anothers_stdin_without_conversion() {
    let mut producer = Command::new("/bin/echo")
        .arg("through a pipe")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = producer.stdout.take().unwrap();
    let consumer = Command::new("/bin/cat")
        .stdin(out)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let o = consumer.wait_with_output().unwrap();
    assert!(producer.wait().unwrap().success());
    assert_eq!(o.stdout, b"through a pipe\n");

    // std's pipe ends and std's children convert too.
    let (mut r, w) = std::io::pipe().unwrap();
    let st = Command::new("/bin/echo")
        .arg("io::pipe")
        .stdout(w)
        .status()
        .unwrap();
    assert!(st.success());
    let mut got = String::new();
    r.read_to_string(&mut got).unwrap();
    assert_eq!(got, "io::pipe\n");
    let mut std_child = std::process::Command::new("/bin/echo")
        .arg("std child")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let o = Command::new("/bin/cat")
        .stdin(std_child.stdout.take().unwrap())
        .output()
        .unwrap();
    std_child.wait().unwrap();
    assert_eq!(o.stdout, b"std child\n");
    let (mut a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    Command::new("/bin/echo")
        .arg("socket")
        .stdout(b)
        .status()
        .unwrap();
    let mut got = String::new();
    a.read_to_string(&mut got).unwrap();
    assert_eq!(got, "socket\n");
}

#[test]
fn getters_return_what_was_set() {
    let mut c = Command::new("prog");
    c.args(["a", "b c"])
        .env("K", "v")
        .env_remove("GONE")
        .current_dir("/tmp");
    assert_eq!(c.get_program(), "prog");
    assert_eq!(c.get_args().collect::<Vec<_>>(), ["a", "b c"]);
    let envs: Vec<_> = c.get_envs().collect();
    assert_eq!(
        envs,
        [
            (std::ffi::OsStr::new("GONE"), None),
            (std::ffi::OsStr::new("K"), Some(std::ffi::OsStr::new("v")))
        ]
    );
    assert_eq!(c.get_current_dir(), Some(std::path::Path::new("/tmp")));
}

#[test]
fn debug_shows_the_command_line_like_std() {
    let mut c = Command::new("/bin/sh");
    c.args(["-c", "echo hi"]).env("A", "1");
    let line = format!("{c:?}");
    assert_eq!(line, r#"A="1" "/bin/sh" "-c" "echo hi""#);
    assert!(line.len() < 100, "{line}");
    // The alternate form adds the settings.
    assert!(format!("{c:#?}").contains("unshare"), "{c:#?}");
}

#[test]
fn a_join_that_cannot_duplicate_its_handle_fails_at_spawn() {
    in_child(|| {
        let ns = Namespace::current(NamespaceKind::Uts).ctx("current")?;
        // No fd left for the duplicate: the setter must not fail, the spawn must.
        let open = open_fds().into_iter().max().unwrap_or(2) as u64;
        let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
        rustix::process::setrlimit(
            rustix::process::Resource::Nofile,
            rustix::process::Rlimit {
                current: Some(open + 1),
                maximum: limit.maximum,
            },
        )
        .ctx("setrlimit")?;
        // Fill the fd table up to the limit.
        let mut hold = Vec::new();
        while let Ok(f) = std::fs::File::open("/dev/null") {
            hold.push(f);
        }
        let mut cmd = Command::new("/bin/true");
        cmd.join(&ns);
        drop(hold);
        let e = failed(cmd.status(), "spawn after a failed join")?;
        ensure_eq!(e.raw_os_error(), Some(libc::EMFILE), "{e}");
        ensure!(no_children(), "a process was started");
        Ok(())
    })
    .unwrap();
}

#[test]
fn errors_tell_their_kind_without_being_consumed() {
    let e = Command::new("").spawn().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    let e = Namespace::open(i32::MAX as u32, NamespaceKind::Network).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    let io: std::io::Error = e.into();
    assert_eq!(io.kind(), ErrorKind::NotFound);
    let e = Namespace::from_path("/nonexistent/lns").unwrap_err();
    assert!(matches!(e, Error::Os { .. }));
    assert_eq!(e.kind(), ErrorKind::NotFound);
}

#[test]
fn a_child_is_its_pidfd_as_a_raw_fd() {
    let mut child = Command::new("/bin/cat")
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let link = std::fs::read_link(format!("/proc/self/fd/{}", child.as_raw_fd())).unwrap();
    assert_eq!(link.to_str(), Some("anon_inode:[pidfd]"));
    child.stdin.take().unwrap().write_all(b"").unwrap();
    child.wait().unwrap();
}

#[test]
fn a_pidfd_made_elsewhere_becomes_a_pidfd_handle_and_other_fds_do_not() {
    use linux_namespaces::PidFd;
    // Reaped through the pidfd below, not through std's handle.
    #[allow(clippy::zombie_processes)]
    let child = std::process::Command::new("/bin/sh")
        .args(["-c", "exit 3"])
        .spawn()
        .unwrap();
    let raw = rustix::process::pidfd_open(
        rustix::process::Pid::from_raw(child.id() as i32).unwrap(),
        rustix::process::PidfdFlags::empty(),
    )
    .unwrap();
    let mut handle = PidFd::try_from(raw).unwrap();
    assert_eq!(handle.pid(), child.id());
    assert_eq!(handle.wait().unwrap().code(), Some(3));
    let file: std::os::fd::OwnedFd = std::fs::File::open("/dev/null").unwrap().into();
    let e = PidFd::try_from(file).unwrap_err();
    assert!(matches!(e, Error::InvalidInput { .. }), "{e}");
}
