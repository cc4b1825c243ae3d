//! The `sandbox` example, run as a real program: rootless (as uid/gid 65534 when the suite
//! runs as root, else as the caller) and, when the suite runs as root, as root.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use common::*;

/// The example's binary, built once per test run with the profile of this test binary
/// (`cargo test --test sandbox` builds no examples; cargo does not hold its build lock while
/// tests run, so this nested build proceeds).
fn sandbox() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| example_binary("sandbox", &[]))
}

/// A directory for the sandbox's per-run root directories, one per test and mode, that every
/// user may write in; removed on drop (it must be empty by then: see `assert_empty`).
struct Base {
    path: PathBuf,
}

impl Base {
    fn new(test: &str, mode: Mode) -> Base {
        use std::os::unix::fs::PermissionsExt;
        let path = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("sandbox-{test}-{mode:?}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o1777)).unwrap();
        Base { path }
    }

    fn entries(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.path)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    fn assert_empty(&self) {
        assert_eq!(
            self.entries(),
            Vec::<String>::new(),
            "the sandbox left its root directory behind in {}",
            self.path.display()
        );
    }
}

impl Drop for Base {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A command running the sandbox in `mode`, with its root directory under `base`.
fn command(mode: Mode, base: &Base) -> Command {
    let mut c = Command::new(sandbox());
    if mode == Mode::Rootless && is_root() {
        // std drops the supplementary groups too when root changes uid; the uid change
        // clears the capabilities.
        c.uid(UNPRIVILEGED).gid(UNPRIVILEGED);
    }
    c.arg("--tmpdir").arg(&base.path).stdin(Stdio::null());
    c
}

/// Runs `sandbox [options] -- args` in `mode` and checks that it cleaned up after itself.
fn run_with(mode: Mode, test: &str, options: &[&str], args: &[&str]) -> Output {
    let base = Base::new(test, mode);
    let out = command(mode, &base)
        .args(options)
        .arg("--")
        .args(args)
        .output()
        .expect("running sandbox");
    base.assert_empty();
    out
}

fn run(mode: Mode, test: &str, args: &[&str]) -> Output {
    run_with(mode, test, &[], args)
}

/// Runs a shell script in the sandbox; asserts it succeeded and returns its stdout.
fn sh(mode: Mode, test: &str, script: &str) -> String {
    let out = run(mode, test, &["/bin/sh", "-c", script]);
    assert!(
        out.status.success(),
        "{mode:?} {script:?}: {} stderr={}",
        out.status,
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn lines(s: &str) -> Vec<String> {
    s.lines().map(str::to_owned).collect()
}

/// What the root of the sandbox should hold, given the host's layout of the top directories.
fn expected_root() -> BTreeSet<String> {
    let mut want: BTreeSet<String> = ["dev", "etc", "proc", "tmp", "usr"]
        .map(String::from)
        .into();
    for d in ["bin", "sbin", "lib", "lib32", "lib64", "libx32"] {
        if let Ok(md) = std::fs::symlink_metadata(Path::new("/").join(d)) {
            if md.file_type().is_symlink() || md.is_dir() {
                want.insert(d.to_string());
            }
        }
    }
    want
}

#[test]
fn root_holds_only_the_assembled_tree() {
    for mode in modes("root_holds_only_the_assembled_tree") {
        let out = sh(mode, "root_listing", "ls -A /");
        let got: BTreeSet<String> = out.lines().map(str::to_owned).collect();
        assert_eq!(got, expected_root(), "{mode:?}");

        // Symlinks are recreated as the host has them; real directories are there as such.
        for d in ["bin", "sbin", "lib", "lib32", "lib64", "libx32"] {
            let host = Path::new("/").join(d);
            let Ok(md) = std::fs::symlink_metadata(&host) else {
                continue;
            };
            let inside = sh(
                mode,
                "root_listing_links",
                &format!("if [ -L /{d} ]; then readlink /{d}; else echo dir; fi"),
            );
            let want = if md.file_type().is_symlink() {
                format!("{}\n", std::fs::read_link(&host).unwrap().display())
            } else {
                "dir\n".to_string()
            };
            assert_eq!(inside, want, "{mode:?} /{d}");
        }
    }
}

#[test]
fn etc_has_only_the_essentials() {
    let essentials = [
        "passwd",
        "group",
        "hosts",
        "nsswitch.conf",
        "os-release",
        "localtime",
        "ld.so.cache",
        "ld.so.conf",
        "ld.so.conf.d",
        "alternatives",
    ];
    let want: BTreeSet<String> = essentials
        .iter()
        .filter(|n| std::fs::metadata(Path::new("/etc").join(n)).is_ok())
        .map(|n| n.to_string())
        .collect();
    assert!(want.contains("passwd") && want.contains("group"));
    let host_passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    for mode in modes("etc_has_only_the_essentials") {
        let out = sh(mode, "etc", "ls -A /etc");
        let got: BTreeSet<String> = out.lines().map(str::to_owned).collect();
        assert_eq!(got, want, "{mode:?}");
        assert_eq!(sh(mode, "etc_passwd", "cat /etc/passwd"), host_passwd);
        // Every bind under /etc is read-only, and nothing can be added next to them.
        let out = sh(
            mode,
            "etc_ro",
            "grep ' /etc/' /proc/self/mountinfo | cut -d' ' -f5,6",
        );
        let binds: Vec<(&str, &str)> = out.lines().filter_map(|l| l.split_once(' ')).collect();
        assert!(
            binds.iter().any(|(m, _)| *m == "/etc/passwd"),
            "{mode:?}: {out}"
        );
        for (mount_point, options) in &binds {
            assert!(
                options.split(',').any(|o| o == "ro"),
                "{mode:?}: {mount_point} is mounted {options}"
            );
        }
        let out = run(
            mode,
            "etc_write",
            &["/bin/sh", "-c", "echo x > /etc/new-file"],
        );
        assert!(!out.status.success());
        assert!(
            text(&out.stderr).contains("Read-only file system"),
            "{mode:?}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn the_command_runs_as_root_of_a_user_namespace_mapping_only_the_caller() {
    for mode in modes("the_command_runs_as_root_of_a_user_namespace_mapping_only_the_caller") {
        let caller = if mode == Mode::Rootless && is_root() {
            UNPRIVILEGED
        } else {
            rustix::process::geteuid().as_raw()
        };
        let out = sh(
            mode,
            "ids",
            "id -u; id -g; id -un; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups",
        );
        let norm: Vec<String> = out
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        let caller_gid = if mode == Mode::Rootless && is_root() {
            UNPRIVILEGED
        } else {
            rustix::process::getegid().as_raw()
        };
        assert_eq!(
            norm,
            [
                "0".to_string(),
                "0".into(),
                "root".into(),
                format!("0 {caller} 1"),
                format!("0 {caller_gid} 1"),
                "deny".into(),
            ],
            "{mode:?}"
        );
        // A new user namespace, not the host's.
        let inside = sh(mode, "ids_ns", "readlink /proc/self/ns/user");
        assert_ne!(inside.trim(), ns_link(NamespaceKind::User));
    }
}

#[test]
fn hostname_is_sandbox_or_the_one_given() {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    for mode in modes("hostname_is_sandbox_or_the_one_given") {
        assert_eq!(sh(mode, "hostname", "hostname"), "sandbox\n");
        for options in [&["--hostname", "box-7"][..], &["--hostname=box-7"][..]] {
            let out = run_with(mode, "hostname_given", options, &["hostname"]);
            assert!(out.status.success(), "{}", text(&out.stderr));
            assert_eq!(text(&out.stdout), "box-7\n", "{mode:?} {options:?}");
        }
        // Changing it inside changes nothing outside.
        assert_eq!(
            sh(mode, "hostname_set", "hostname other; hostname"),
            "other\n"
        );
    }
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap(),
        host
    );
}

#[test]
fn usr_and_root_are_read_only_tmp_is_writable() {
    for mode in modes("usr_and_root_are_read_only_tmp_is_writable") {
        // New files: for an existing file of the host's root, the permission check comes
        // first (EACCES rootless, where host root is unmapped).
        for path in [
            "/usr/sandbox-test-file",
            "/usr/bin/sandbox-test-file",
            "/sandbox-test-file",
        ] {
            let out = run(mode, "ro", &["/bin/sh", "-c", &format!("echo x >> {path}")]);
            assert_eq!(out.status.code(), Some(2), "{mode:?} {path}: writable");
            assert!(
                text(&out.stderr).contains("Read-only file system"),
                "{mode:?} {path}: {}",
                text(&out.stderr)
            );
        }
        let out = sh(
            mode,
            "tmp",
            "ls -A /tmp; echo hello > /tmp/f && cat /tmp/f; stat -c %a /tmp",
        );
        // Empty at first (not the host's /tmp), then writable, mode 1777.
        assert_eq!(out, "hello\n1777\n", "{mode:?}");
    }
    assert!(!Path::new("/usr/sandbox-test-file").exists());
    assert!(!Path::new("/sandbox-test-file").exists());
}

#[test]
fn proc_shows_only_the_sandbox_pid_namespace() {
    for mode in modes("proc_shows_only_the_sandbox_pid_namespace") {
        let out = sh(
            mode,
            "proc",
            "echo $$; cat /proc/1/comm; readlink /proc/self/ns/pid; \
             for p in /proc/[0-9]*; do echo ${p#/proc/}; done",
        );
        let l = lines(&out);
        // PID 1 is the sandbox's init (a fork of the sandbox program), the command is its
        // child.
        assert_eq!(l[0], "2", "{mode:?}: {out}");
        assert_eq!(l[1], "sandbox", "{mode:?}: {out}");
        assert_ne!(l[2], ns_link(NamespaceKind::Pid), "{mode:?}");
        let pids: Vec<u32> = l[3..].iter().map(|p| p.parse().unwrap()).collect();
        assert!(pids.contains(&1) && pids.contains(&2), "{mode:?}: {pids:?}");
        assert!(
            pids.len() <= 3,
            "{mode:?}: the sandbox's /proc shows other processes: {pids:?}"
        );
    }
}

#[test]
fn network_has_only_loopback() {
    for mode in modes("network_has_only_loopback") {
        let out = sh(mode, "net", "cat /proc/net/dev; readlink /proc/self/ns/net");
        let l = lines(&out);
        let ifaces: Vec<&str> = l[2..l.len() - 1]
            .iter()
            .filter_map(|x| x.split(':').next())
            .map(str::trim)
            .collect();
        assert_eq!(ifaces, ["lo"], "{mode:?}: {out}");
        assert_ne!(l[l.len() - 1], ns_link(NamespaceKind::Network));
        // Up: 127.0.0.1 answers (a refused connection to a closed port, not an unreachable
        // network), and a datagram sent to ourselves arrives.
        let out = run(
            mode,
            "net_lo",
            &["/bin/bash", "-c", "echo > /dev/tcp/127.0.0.1/9"],
        );
        assert!(!out.status.success(), "{mode:?}");
        assert!(
            text(&out.stderr).contains("Connection refused"),
            "{mode:?}: {}",
            text(&out.stderr)
        );
        let out = run(
            mode,
            "net_lo_udp",
            &[
                "/usr/bin/python3",
                "-c",
                "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('127.0.0.1', 0)); s.sendto(b'ping', s.getsockname()); print(s.recv(4).decode())",
            ],
        );
        assert_eq!(
            text(&out.stdout).trim(),
            "ping",
            "{mode:?}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn ipc_and_uts_namespaces_are_new() {
    for mode in modes("ipc_and_uts_namespaces_are_new") {
        let out = sh(
            mode,
            "ipc_uts",
            "readlink /proc/self/ns/ipc /proc/self/ns/uts /proc/self/ns/mnt",
        );
        let l = lines(&out);
        assert_ne!(l[0], ns_link(NamespaceKind::Ipc));
        assert_ne!(l[1], ns_link(NamespaceKind::Uts));
        assert_ne!(l[2], ns_link(NamespaceKind::Mount));
    }
}

#[test]
fn host_files_outside_the_binds_are_invisible() {
    // A file the host has and the sandbox must not: in the tree the tests run from.
    let marker = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("sandbox-marker-{}", std::process::id()));
    std::fs::write(&marker, "secret").unwrap();
    let host_tmp_marker = Path::new("/tmp").join(format!("sandbox-marker-{}", std::process::id()));
    std::fs::write(&host_tmp_marker, "secret").unwrap();
    // Paths the host has (checked), then some it may have.
    let must: Vec<PathBuf> = vec![
        marker.clone(),
        host_tmp_marker.clone(),
        PathBuf::from(env!("CARGO_MANIFEST_DIR")),
        PathBuf::from("/root"),
        PathBuf::from("/var"),
        PathBuf::from("/etc/shadow"),
        PathBuf::from("/sys/kernel"),
    ];
    for p in &must {
        assert!(
            std::fs::symlink_metadata(p).is_ok(),
            "the host lacks {}",
            p.display()
        );
    }
    let may = [
        "/home",
        "/etc/hostname",
        "/dev/sda",
        "/dev/vda",
        "/dev/pts/0",
        "/run",
    ]
    .map(PathBuf::from);
    for mode in modes("host_files_outside_the_binds_are_invisible") {
        for path in must.iter().chain(&may) {
            let out = run(
                mode,
                "invisible",
                &["/bin/sh", "-c", &format!("test -e '{}'", path.display())],
            );
            assert_eq!(
                out.status.code(),
                Some(1),
                "{mode:?}: {} is visible in the sandbox",
                path.display()
            );
        }
        // A control: the same check sees what is there.
        let out = run(mode, "visible", &["/bin/sh", "-c", "test -e /usr/bin/sh"]);
        assert_eq!(out.status.code(), Some(0));
    }
    std::fs::remove_file(marker).unwrap();
    std::fs::remove_file(host_tmp_marker).unwrap();
}

#[test]
fn dev_pts_is_a_private_devpts_instance() {
    for mode in modes("dev_pts_is_a_private_devpts_instance") {
        // A new instance holds only ptmx until something opens a terminal; opening ptmx makes
        // a pty that appears in it.
        let out = sh(
            mode,
            "devpts",
            "ls -A /dev/pts; grep ' /dev/pts ' /proc/self/mountinfo | grep -c devpts; \
             python3 -c 'import os; m, s = os.openpty(); print(os.ttyname(s))'",
        );
        let l = lines(&out);
        assert_eq!(l, ["ptmx", "1", "/dev/pts/0"], "{mode:?}: {out}");
    }
}

#[test]
fn dev_has_the_basic_devices_working() {
    for mode in modes("dev_has_the_basic_devices_working") {
        let out = sh(
            mode,
            "dev",
            "ls -A /dev; echo gone > /dev/null && echo null-ok; \
             head -c 3 /dev/zero | od -An -tx1; head -c 8 /dev/urandom | wc -c; \
             readlink /dev/fd /dev/stdin",
        );
        let l = lines(&out);
        let mut want: Vec<String> = ["fd", "ptmx", "pts", "shm", "stderr", "stdin", "stdout"]
            .map(String::from)
            .to_vec();
        for d in ["null", "zero", "full", "random", "urandom", "tty"] {
            if Path::new("/dev").join(d).exists() {
                want.push(d.into());
            }
        }
        want.sort();
        let n = want.len();
        assert_eq!(l[..n], want[..], "{mode:?}: {out}");
        assert_eq!(
            l[n..],
            [
                "null-ok",
                " 00 00 00",
                "8",
                "/proc/self/fd",
                "/proc/self/fd/0"
            ],
            "{mode:?}: {out}"
        );
    }
}

#[test]
fn the_exit_status_is_the_commands() {
    for mode in modes("the_exit_status_is_the_commands") {
        let out = run(mode, "exit7", &["/bin/sh", "-c", "exit 7"]);
        assert_eq!(out.status.code(), Some(7), "{mode:?}");
        // Killed by a signal: 128 + the signal, as a shell reports it.
        let out = run(mode, "killed", &["/bin/sh", "-c", "kill -KILL $$"]);
        assert_eq!(out.status.code(), Some(128 + libc::SIGKILL), "{mode:?}");
        // A program looked up in the sandbox's PATH.
        let out = run(mode, "path", &["true"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
}

#[test]
fn a_missing_program_is_reported() {
    for mode in modes("a_missing_program_is_reported") {
        // Present on the host, absent in the sandbox.
        let host_only = std::env::current_exe().unwrap();
        for (program, status, why) in [
            (
                "no-such-program-in-sandbox",
                127,
                "No such file or directory",
            ),
            (
                host_only.to_str().unwrap(),
                127,
                "No such file or directory",
            ),
            ("/etc/passwd", 126, "Permission denied"),
        ] {
            let out = run(mode, "missing", &[program]);
            assert_eq!(out.status.code(), Some(status), "{mode:?} {program}");
            assert_eq!(
                text(&out.stderr),
                format!("sandbox: failed to execute {program}: {why}\n")
            );
        }
    }
}

#[test]
fn bad_options_are_errors() {
    let base = Base::new("bad_options", Mode::Rootless);
    for (args, message) in [
        (&["--bogus"][..], "sandbox: unrecognized option '--bogus'"),
        (
            &["--new-session=yes"][..],
            "sandbox: option '--new-session' doesn't allow an argument",
        ),
        (
            &["--hostname"][..],
            "sandbox: option '--hostname' requires an argument",
        ),
    ] {
        let out = command(Mode::Rootless, &base).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = text(&out.stderr);
        assert!(err.starts_with(message), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1);
    }
    let out = command(Mode::Rootless, &base)
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("--hostname"));
    // A host name the kernel refuses: an error, and still nothing left behind.
    let out = command(Mode::Rootless, &base)
        .arg(format!("--hostname={}", "x".repeat(65)))
        .arg("true")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).starts_with("sandbox: "),
        "{}",
        text(&out.stderr)
    );
    base.assert_empty();
}

/// The lines of this process's mount table (the host's) that the sandbox could have left:
/// a mount point under `base`, or one of the file system types it mounts (`tmpfs`, `proc`)
/// that appeared or went away since `before`. (Other programs may mount other things
/// meanwhile; those are not the sandbox's.)
fn suspicious(before: &str, base: &Path) -> Vec<String> {
    let base = base.to_str().unwrap();
    let now = mountinfo();
    let old: BTreeSet<&str> = before.lines().collect();
    let new: BTreeSet<&str> = now.lines().collect();
    let fstype = |l: &str| -> String {
        let f: Vec<&str> = l.split(' ').collect();
        let sep = f.iter().position(|x| *x == "-").unwrap();
        f[sep + 1].to_string()
    };
    let mut bad: Vec<String> = new
        .iter()
        .filter(|l| l.split(' ').nth(4).unwrap().starts_with(base))
        .map(|l| l.to_string())
        .collect();
    bad.extend(
        old.symmetric_difference(&new)
            .filter(|l| matches!(fstype(l).as_str(), "tmpfs" | "proc"))
            .map(|l| l.to_string()),
    );
    bad
}

#[test]
fn no_mount_reaches_the_host_and_the_root_directory_is_removed() {
    for mode in modes("no_mount_reaches_the_host_and_the_root_directory_is_removed") {
        let base = Base::new("no_mount", mode);
        let before = mountinfo();
        let mut child = command(mode, &base)
            .args(["/bin/sh", "-c", "echo ready; read x; echo bye"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        assert_eq!(line, "ready\n");

        // While the sandbox runs (with its tmpfs root, proc, binds all mounted in its own
        // mount namespace): its root directory exists, empty as the host sees it, and the
        // host's mount table has none of those mounts.
        let entries = base.entries();
        assert_eq!(entries, [format!("sandbox-{}-0", child.id())], "{mode:?}");
        let root = base.path.join(&entries[0]);
        assert_eq!(std::fs::read_dir(&root).unwrap().count(), 0, "{mode:?}");
        let bad = suspicious(&before, &base.path);
        assert!(
            bad.is_empty(),
            "{mode:?}: on the host while the sandbox runs: {bad:#?}"
        );

        stdin.write_all(b"go\n").unwrap();
        drop(stdin);
        line.clear();
        out.read_line(&mut line).unwrap();
        assert_eq!(line, "bye\n");
        assert!(child.wait().unwrap().success());
        base.assert_empty();
        let bad = suspicious(&before, &base.path);
        assert!(bad.is_empty(), "{mode:?}: on the host afterwards: {bad:#?}");
    }
}

/// Starts the sandbox without `--tmpdir`, with `XDG_RUNTIME_DIR` set to `xdg` (or unset),
/// and returns the directory its root was made in while it ran; checks it is gone after.
fn default_root_parent(mode: Mode, xdg: Option<&Path>) -> PathBuf {
    let mut c = Command::new(sandbox());
    if mode == Mode::Rootless && is_root() {
        c.uid(UNPRIVILEGED).gid(UNPRIVILEGED);
    }
    match xdg {
        Some(dir) => c.env("XDG_RUNTIME_DIR", dir),
        None => c.env_remove("XDG_RUNTIME_DIR"),
    };
    let mut child = c
        .args(["/bin/sh", "-c", "echo ready; read x"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "ready\n");
    let name = format!("sandbox-{}-0", child.id());
    let parent = [xdg.unwrap_or(Path::new("/tmp")), Path::new("/tmp")]
        .into_iter()
        .find(|d| d.join(&name).is_dir())
        .unwrap_or_else(|| panic!("{mode:?} {xdg:?}: no {name} found"))
        .to_owned();
    stdin.write_all(b"\n").unwrap();
    assert!(child.wait().unwrap().success());
    assert!(
        !parent.join(&name).exists(),
        "{mode:?}: {} was left behind",
        parent.join(&name).display()
    );
    parent
}

#[test]
fn the_root_directory_goes_in_xdg_runtime_dir_else_tmp() {
    for mode in modes("the_root_directory_goes_in_xdg_runtime_dir_else_tmp") {
        assert_eq!(default_root_parent(mode, None), Path::new("/tmp"));
        let base = Base::new("xdg", mode);
        assert_eq!(default_root_parent(mode, Some(&base.path)), base.path);
        base.assert_empty();
        // Set, but not usable by this user: /tmp.
        let missing = base.path.join("missing");
        assert_eq!(default_root_parent(mode, Some(&missing)), Path::new("/tmp"));
    }
}

#[test]
fn new_session_detaches_the_command_from_the_terminal() {
    for mode in modes("new_session_detaches_the_command_from_the_terminal") {
        // Field 6 of stat is the session: 0 when its leader is outside the pid namespace
        // (the caller's session), 1 when the sandbox's init leads a new one.
        let script = "cut -d' ' -f6 /proc/self/stat";
        assert_eq!(sh(mode, "session", script), "0\n", "{mode:?}");
        let out = run_with(
            mode,
            "new_session",
            &["--new-session"],
            &["/bin/sh", "-c", script],
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "1\n", "{mode:?}");
    }
}

#[test]
fn signals_to_the_sandbox_reach_the_command() {
    for mode in modes("signals_to_the_sandbox_reach_the_command") {
        let base = Base::new("signals", mode);
        let mut child = command(mode, &base)
            .args([
                "/bin/sh",
                "-c",
                // `wait` returns when a trapped signal arrives; the sleep is only something
                // to wait for, and dies with the pid namespace.
                "trap 'echo got TERM; exit 3' TERM; echo ready; sleep 1000 & wait",
            ])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        assert_eq!(line, "ready\n");
        rustix::process::kill_process(
            rustix::process::Pid::from_raw(child.id() as i32).unwrap(),
            rustix::process::Signal::TERM,
        )
        .unwrap();
        line.clear();
        out.read_line(&mut line).unwrap();
        assert_eq!(line, "got TERM\n", "{mode:?}");
        assert_eq!(child.wait().unwrap().code(), Some(3), "{mode:?}");
        base.assert_empty();
    }
}

#[test]
fn an_interactive_shell_reads_its_commands_from_stdin() {
    for mode in modes("an_interactive_shell_reads_its_commands_from_stdin") {
        let base = Base::new("stdin_shell", mode);
        // No command: /bin/sh.
        let mut child = command(mode, &base)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"hostname; id -u; echo $HOME $PATH; exit 4\n")
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(4));
        assert_eq!(
            text(&out.stdout),
            "sandbox\n0\n/tmp /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
        );
        base.assert_empty();
    }
}
