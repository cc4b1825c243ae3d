//! The options util-linux added after 2.38 (`-N`, `--user-parent`, `--keep-caps`, `-r`, `-w`,
//! `-W`, `-e`, `-c`, `-Z`, `-S`/`-G follow`, `-t PID:INODE`): CI's util-linux is 2.38, so these
//! compare with the text util-linux 2.43 prints, written out here. Each test runs as root and
//! rootless, in a forked child (rootless: uid 65534), against targets it makes itself.

use super::*;

/// `root_and_rootless!` for tests that run the example: it is built before the fork (the
/// build's bookkeeping would otherwise stay in the forked child).
macro_rules! tool_root_and_rootless {
    ($name:ident, $body:path) => {
        mod $name {
            use super::*;
            #[test]
            fn rootless() {
                let _ = example();
                common::rootless(|| $body(false)).unwrap()
            }
            #[test]
            #[ignore = "needs root"]
            fn root() {
                common::assert_root(concat!(stringify!($name), "::root"));
                let _ = example();
                common::as_root(|| $body(true)).unwrap()
            }
        }
    };
}

/// Runs the example as the calling (forked) process is, and returns how it ended.
fn ours(list: &[&str]) -> Outcome {
    run_tool(example(), &args(list), As::Caller, None)
}

/// The arguments that let the caller act in a target's user namespace: as root it may enter
/// any namespace directly, rootless it enters the target's user namespace first (keeping its
/// uid, as the targets here have setgroups denied).
fn user_args(root: bool) -> Vec<&'static str> {
    if root {
        vec![]
    } else {
        vec!["-U", "--preserve-credentials"]
    }
}

fn pipe_pair() -> (std::fs::File, std::fs::File) {
    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).expect("pipe");
    (std::fs::File::from(r), std::fs::File::from(w))
}

/// A forked process that runs `setup` (which returns a line to report, or an error), reports
/// the line over a pipe and waits until dropped. For targets the common `Holder` cannot make.
struct Target {
    pid: i32,
    line: String,
    release: Option<std::fs::File>,
}

impl Target {
    fn start(setup: impl FnOnce() -> Result<String, String>) -> Result<Target, String> {
        use std::io::{BufRead, Read};
        let (ready_r, mut ready_w) = pipe_pair();
        let (mut release_r, release_w) = pipe_pair();
        // SAFETY: called in a forked, single-threaded test child; the new child only runs
        // `setup`, writes to a pipe and `_exit`s.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(format!("fork: {}", std::io::Error::last_os_error()));
        }
        if pid == 0 {
            drop(ready_r);
            drop(release_w);
            let line = match setup() {
                Ok(l) => format!("ok {l}\n"),
                Err(e) => format!("error {e}\n"),
            };
            let _ = ready_w.write_all(line.as_bytes());
            let mut b = [0u8; 1];
            let _ = release_r.read(&mut b);
            // SAFETY: ends the forked target without running anything of the harness.
            unsafe { libc::_exit(0) };
        }
        drop(ready_w);
        drop(release_r);
        let mut line = String::new();
        std::io::BufReader::new(ready_r)
            .read_line(&mut line)
            .map_err(|e| format!("read target's report: {e}"))?;
        let mut target = Target {
            pid,
            line: String::new(),
            release: Some(release_w),
        };
        match line.trim_end_matches('\n').strip_prefix("ok ") {
            Some(l) => {
                target.line = l.to_string();
                Ok(target)
            }
            None => Err(format!("target setup failed: {line}")),
        }
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        drop(self.release.take());
        wait(self.pid);
    }
}

fn readlink(path: &str) -> Result<String, String> {
    std::fs::read_link(path)
        .map(|p| p.to_string_lossy().into_owned())
        .map_err(|e| format!("readlink {path}: {e}"))
}

fn unshare(flags: i32) -> Result<(), String> {
    // SAFETY: unshare in a single-threaded forked child.
    if unsafe { libc::unshare(flags) } != 0 {
        return Err(format!("unshare: {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

/// A target holding a socket made in a network namespace it has since left: as root, a new
/// network namespace and back to the original with setns; rootless, a user and network
/// namespace of its own and then another network namespace. Reports "FD LINK".
fn socket_target(root: bool) -> Result<Target, String> {
    Target::start(move || {
        let (uid, gid) = (
            rustix::process::getuid().as_raw(),
            rustix::process::getgid().as_raw(),
        );
        let original = std::fs::File::open("/proc/self/ns/net").map_err(|e| e.to_string())?;
        if root {
            unshare(libc::CLONE_NEWNET)?;
        } else {
            unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNET)?;
            map_self_to_root(uid, gid)?;
        }
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let link = readlink("/proc/self/ns/net")?;
        if root {
            // SAFETY: setns of an fd this child owns.
            if unsafe { libc::setns(original.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                return Err(format!("setns back: {}", std::io::Error::last_os_error()));
            }
        } else {
            unshare(libc::CLONE_NEWNET)?;
        }
        let fd = socket.as_raw_fd();
        std::mem::forget(socket);
        Ok(format!("{fd} {link}"))
    })
}

use std::os::fd::AsRawFd;

fn net_socket_enters_the_sockets_network_namespace(root: bool) -> Result<(), String> {
    let t = socket_target(root)?;
    let (fd, link) = t.line.split_once(' ').ok_or("bad report")?;
    let pid = t.pid.to_string();
    let holder_net = readlink(&format!("/proc/{pid}/ns/net"))?;
    ensure!(
        holder_net != link,
        "the target is still in the socket's namespace"
    );
    for form in [vec!["-N", fd], vec!["--net-socket", fd]] {
        let mut a = vec!["-t", &pid];
        a.extend(user_args(root));
        a.extend(form.iter().copied());
        a.extend(["readlink", "/proc/self/ns/net"]);
        let out = ours(&a);
        ensure_eq!(
            (out.code, out.stdout.as_str()),
            (Some(0), &*format!("{link}\n")),
            "{a:?}: {out:?}"
        );
    }
    // Nothing nsenter opened (pidfd, socket, namespaces, directories, environ) reaches the
    // program: it has its stdio and the directory `ls` reads.
    let mut a = vec!["-t", &pid];
    a.extend(user_args(root));
    a.extend(["-N", fd, "-w", "-r", "-e", "-S", "follow", "-G", "follow"]);
    a.extend(["ls", "/proc/self/fd"]);
    let out = ours(&a);
    // The same as a program started directly (the harness may pass on fds of its own).
    let direct = run_tool(
        Path::new("/bin/ls"),
        &args(&["/proc/self/fd"]),
        As::Caller,
        None,
    );
    ensure_eq!(
        (out.code, out.stdout.as_str()),
        (Some(0), direct.stdout.as_str()),
        "{a:?}: {out:?}"
    );
    // A missing fd and an fd that is not a socket: util-linux's messages and status.
    let mut a = vec!["-t", &pid];
    a.extend(user_args(root));
    a.extend(["-N", "1000", "true"]);
    let out = ours(&a);
    ensure_eq!(out.code, Some(1), "{out:?}");
    ensure!(
        out.stderr.starts_with("nsenter: pidfd_getfd(")
            && out.stderr.ends_with(", 1000): Bad file descriptor\n"),
        "{out:?}"
    );
    let proc_fd = format!("/proc/{pid}/fd");
    let pipe_fd = std::fs::read_dir(&proc_fd)
        .map_err(|e| format!("{proc_fd}: {e}"))?
        .filter_map(|e| e.ok())
        .find(|e| {
            std::fs::read_link(e.path()).is_ok_and(|l| l.to_string_lossy().starts_with("pipe:"))
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .ok_or("the target has no pipe fd")?;
    let mut a = vec!["-t", &pid];
    a.extend(user_args(root));
    a.extend(["-N", &pipe_fd, "true"]);
    let out = ours(&a);
    ensure_eq!(out.code, Some(1), "{out:?}");
    ensure!(
        out.stderr.starts_with("nsenter: ioctl(")
            && out
                .stderr
                .ends_with(", SIOCGSKNS): Inappropriate ioctl for device\n"),
        "{out:?}"
    );
    // Without a target.
    let out = ours(&["-N", fd, "true"]);
    ensure_eq!(
        (out.code, out.stderr.as_str()),
        (Some(1), "nsenter: no target PID specified\n")
    );
    Ok(())
}
tool_root_and_rootless!(net_socket, net_socket_enters_the_sockets_network_namespace);

/// A target two user namespaces down (A, then B with a network namespace); reports A's link.
fn nested_user_target() -> Result<Target, String> {
    Target::start(|| {
        unshare_here(NamespaceSet::USER)?;
        let a = readlink("/proc/self/ns/user")?;
        unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNET)?;
        map_self_to_root(0, 0)?;
        Ok(a)
    })
}

fn user_parent_enters_the_parent_of_the_targets_user_namespace(_root: bool) -> Result<(), String> {
    let t = nested_user_target()?;
    let pid = t.pid.to_string();
    let parent = t.line.clone();
    let own = readlink(&format!("/proc/{pid}/ns/user"))?;
    let net = readlink(&format!("/proc/{pid}/ns/net"))?;
    ensure!(own != parent, "the target is in its parent user namespace");
    let script = "readlink /proc/self/ns/user; readlink /proc/self/ns/net";
    let (user_file, net_file) = (
        format!("--user=/proc/{pid}/ns/user"),
        format!("--net=/proc/{pid}/ns/net"),
    );
    for form in [
        vec!["-t", &pid, "--user-parent", "-n"],
        // The parent of the user namespace named by a file (util-linux wants a target
        // for --user-parent all the same).
        vec!["-t", &pid, &user_file, "--user-parent", &net_file],
    ] {
        let mut a = form.clone();
        a.extend(["--preserve-credentials", "sh", "-c", script]);
        let out = ours(&a);
        ensure_eq!(
            (out.code, out.stdout.as_str()),
            (Some(0), &*format!("{parent}\n{net}\n")),
            "{a:?}: {out:?}"
        );
    }
    let out = ours(&["--user-parent", "true"]);
    ensure_eq!(
        (out.code, out.stderr.as_str()),
        (Some(1), "nsenter: no target PID specified\n")
    );
    Ok(())
}
tool_root_and_rootless!(
    user_parent,
    user_parent_enters_the_parent_of_the_targets_user_namespace
);

fn cap_line(status: &str, name: &str) -> Result<u64, String> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(":\t"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .ok_or_else(|| format!("no {name} in {status:?}"))
}

fn keep_caps_makes_the_user_namespaces_capabilities_ambient(root: bool) -> Result<(), String> {
    let t = Target::start(|| {
        unshare_here(NamespaceSet::USER | NamespaceSet::NET)?;
        Ok(String::new())
    })?;
    let pid = t.pid.to_string();
    for (keep, only_user) in [(false, true), (true, true), (true, false)] {
        let mut a = vec!["-t", &pid, "-U"];
        if !only_user {
            a.push("-n");
        }
        if !root {
            a.push("--preserve-credentials");
        }
        if keep {
            a.push("--keep-caps");
        }
        a.extend(["cat", "/proc/self/status"]);
        let out = ours(&a);
        ensure_eq!(out.code, Some(0), "{a:?}: {out:?}");
        let (amb, eff, prm) = (
            cap_line(&out.stdout, "CapAmb")?,
            cap_line(&out.stdout, "CapEff")?,
            cap_line(&out.stdout, "CapPrm")?,
        );
        ensure!(
            eff != 0 && eff == prm,
            "{a:?}: CapEff {eff:x} CapPrm {prm:x}"
        );
        if keep {
            ensure_eq!(
                amb,
                eff,
                "{a:?}: with --keep-caps every capability is ambient"
            );
        } else {
            ensure_eq!(amb, 0, "{a:?}: without --keep-caps none is ambient");
        }
    }
    Ok(())
}
tool_root_and_rootless!(
    keep_caps,
    keep_caps_makes_the_user_namespaces_capabilities_ambient
);

/// A target in a user and mount namespace of its own, chrooted into a tmpfs that holds the
/// host's /usr (and the usual links to it), a marker file and a directory `/inside` it works
/// in, with one environment variable. Returns it and the directory its root is mounted on.
fn rooted_target(root: bool) -> Result<(linux_namespaces::Child, common::spawn::TempDir), String> {
    use linux_namespaces::{Command as NsCommand, Mount, Propagation, Stdio as NsStdio};
    let dir = common::spawn::tempdir()?;
    let r = dir.path().to_path_buf();
    let mut cmd = NsCommand::new("/usr/bin/cat");
    cmd.unshare(NamespaceSet::USER | NamespaceSet::MOUNT)
        .mount(Mount::propagation("/", Propagation::Private).recursive())
        .mount(Mount::tmpfs(&r))
        .mount(Mount::mkdir(r.join("usr"), 0o755))
        .mount(Mount::bind("/usr", r.join("usr")).recursive());
    for name in ["bin", "sbin", "lib", "lib64"] {
        match std::fs::read_link(Path::new("/").join(name)) {
            Ok(link) => {
                cmd.mount(Mount::symlink(link, r.join(name)));
            }
            Err(_) if Path::new("/").join(name).is_dir() => {
                cmd.mount(Mount::mkdir(r.join(name), 0o755))
                    .mount(Mount::bind(Path::new("/").join(name), r.join(name)).recursive());
            }
            Err(_) => {}
        }
    }
    cmd.mount(Mount::file(r.join("nsenter-marker"), 0o644))
        .mount(Mount::mkdir(r.join("inside"), 0o755))
        .mount(Mount::chroot(&r))
        .current_dir("/inside")
        .env_clear()
        .env("NSENTER_TEST", "from the target")
        .stdin(NsStdio::piped())
        .stdout(NsStdio::null());
    // Root or not, the caller's ids become root in the target's user namespace.
    let _ = root;
    cmd.map_root();
    let child = cmd.spawn().map_err(|e| format!("spawn the target: {e}"))?;
    Ok((child, dir))
}

fn root_and_working_directory_options_follow_the_target(root: bool) -> Result<(), String> {
    let (mut child, dir) = rooted_target(root)?;
    let pid = child.id().to_string();
    let base = {
        let mut b = vec!["-t", pid.as_str(), "-U", "-m"];
        if !root {
            b.push("--preserve-credentials");
        }
        b
    };
    let run = |extra: &[&str], script: &str| {
        let mut a = base.clone();
        a.extend_from_slice(extra);
        a.extend(["sh", "-c", script]);
        (
            ours(&a),
            a.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )
    };
    let where_ = "test -e /nsenter-marker && echo chrooted; pwd -P";
    let proc_root = format!("-r/proc/{pid}/root");
    let proc_cwd = format!("--wd=/proc/{pid}/cwd");
    let inside_from_host = format!("{}/inside", dir.path().display());
    for (extra, want) in [
        // -r and -w: the target's root and working directory.
        (vec!["-r", "-w"], "chrooted\n/inside\n".to_string()),
        (vec!["--root", "--wd"], "chrooted\n/inside\n".into()),
        // -r with a directory, opened before entering anything.
        (vec![proc_root.as_str(), "-w"], "chrooted\n/inside\n".into()),
        (
            vec![proc_root.as_str(), proc_cwd.as_str()],
            "chrooted\n/inside\n".into(),
        ),
        // -W: a path in the entered mount namespace, after the root change.
        (vec!["-r", "-W/inside"], "chrooted\n/inside\n".into()),
        (vec!["-r", "--wdns=/usr"], "chrooted\n/usr\n".into()),
        // -w alone: the target's directory, seen from the mount namespace's root.
        (vec!["-w"], format!("{inside_from_host}\n")),
        // -W alone: a path in the entered mount namespace (without the target's root).
        (
            vec![&*format!("-W{inside_from_host}")],
            format!("{inside_from_host}\n"),
        ),
    ] {
        let (out, a) = run(&extra, where_);
        ensure_eq!(
            (out.code, out.stdout.as_str()),
            (Some(0), want.as_str()),
            "{a:?}: {out:?}"
        );
    }
    // -w and -W together are refused, as in util-linux.
    let (out, _) = run(&["-W/inside", "-w/"], "true");
    ensure_eq!(
        (out.code, out.stderr.as_str()),
        (
            Some(1),
            "nsenter: options --wdns and --wd cannot be combined\n"
        )
    );
    // A -W that does not exist in the namespace, and a root that is not a directory.
    let (out, _) = run(&["-r", "-W/nowhere"], "true");
    ensure_eq!(
        (out.code, out.stderr.as_str()),
        (
            Some(1),
            "nsenter: cannot open current working directory: No such file or directory\n"
        )
    );
    let (out, _) = run(&["-r/etc/hostname"], "true");
    ensure_eq!(
        (out.code, out.stderr.as_str()),
        (
            Some(1),
            "nsenter: change directory by root file descriptor failed: Not a directory\n"
        )
    );
    let (out, _) = run(&["-r/nonexistent"], "true");
    ensure_eq!(
        (out.code, out.stderr.as_str()),
        (
            Some(1),
            "nsenter: cannot open /nonexistent: No such file or directory\n"
        )
    );
    // -e: exactly the target's environment (`env` found through the default PATH).
    let mut a = base.clone();
    a.extend(["-e", "env"]);
    let out = ours(&a);
    ensure_eq!(
        (out.code, out.stdout.as_str()),
        (Some(0), "NSENTER_TEST=from the target\n"),
        "{a:?}: {out:?}"
    );
    let mut a = base.clone();
    a.extend([
        "--env",
        "-r",
        "-w",
        "sh",
        "-c",
        "echo \"$NSENTER_TEST\"; pwd -P",
    ]);
    let out = ours(&a);
    ensure_eq!(
        (out.code, out.stdout.as_str()),
        (Some(0), "from the target\n/inside\n"),
        "{a:?}: {out:?}"
    );
    // Without a target there is nothing to take these from.
    for (opt, what) in [("-r", "root"), ("-w", "cwd"), ("-e", "environ")] {
        let out = ours(&["--net=/proc/self/ns/net", opt, "true"]);
        ensure_eq!(
            (out.code, out.stderr.as_str()),
            (
                Some(1),
                &*format!("nsenter: neither filename nor target pid supplied for {what}\n")
            ),
            "{opt}"
        );
    }
    drop(child.stdin.take());
    let status = child.wait().map_err(|e| e.to_string())?;
    ensure!(status.success(), "target: {status}");
    Ok(())
}
tool_root_and_rootless!(
    root_wd_wdns_env,
    root_and_working_directory_options_follow_the_target
);

fn setuid_and_setgid_follow_take_the_targets_owner(root: bool) -> Result<(), String> {
    // The target is owned by whoever runs this; entering its user namespace, that owner is
    // root there.
    let t = Target::start(|| {
        unshare_here(NamespaceSet::USER | NamespaceSet::NET)?;
        Ok(String::new())
    })?;
    let pid = t.pid.to_string();
    let out = ours(&[
        "-t",
        &pid,
        "-U",
        "-n",
        "--preserve-credentials",
        "-S",
        "follow",
        "-G",
        "follow",
        "sh",
        "-c",
        "id -u; id -g",
    ]);
    ensure_eq!(
        (out.code, out.stdout.as_str()),
        (Some(0), "0\n0\n"),
        "{out:?}"
    );
    if root {
        // Root entering only the network namespace of a target owned by 65534 becomes 65534.
        let h = Holder::rootless(NamespaceSet::USER | NamespaceSet::NET);
        let hp = h.pid.to_string();
        let out = ours(&[
            "-t",
            &hp,
            "-n",
            "-S",
            "follow",
            "-G",
            "follow",
            "sh",
            "-c",
            "id -u; id -g",
        ]);
        ensure_eq!(
            (out.code, out.stdout.as_str()),
            (Some(0), &*format!("{UNPRIVILEGED}\n{UNPRIVILEGED}\n")),
            "{out:?}"
        );
    }
    let out = ours(&["--net=/proc/self/ns/net", "-S", "follow", "true"]);
    ensure_eq!(
        (out.code, out.stderr.as_str()),
        (
            Some(1),
            "nsenter: neither filename nor target pid supplied for \n"
        )
    );
    Ok(())
}
tool_root_and_rootless!(follow_ids, setuid_and_setgid_follow_take_the_targets_owner);

fn a_target_with_a_pidfd_inode_must_be_that_process(root: bool) -> Result<(), String> {
    let t = Target::start(|| {
        unshare_here(NamespaceSet::USER | NamespaceSet::NET)?;
        Ok(String::new())
    })?;
    let pidfd = common::ns::pidfd_of(t.pid);
    let ino = rustix::fs::fstat(&pidfd).map_err(|e| e.to_string())?.st_ino;
    let (good, bad) = (format!("{}:{ino}", t.pid), format!("{}:{}", t.pid, ino + 1));
    let mut a = vec!["-t", &good, "-U", "-n"];
    if !root {
        a.push("--preserve-credentials");
    }
    a.extend(["readlink", "/proc/self/ns/net"]);
    let out = ours(&a);
    let want = format!("{}\n", readlink(&format!("/proc/{}/ns/net", t.pid))?);
    ensure_eq!(
        (out.code, out.stdout.as_str()),
        (Some(0), want.as_str()),
        "{out:?}"
    );
    let out = ours(&["-t", &bad, "-n", "true"]);
    ensure_eq!(
        (out.code, out.stderr.as_str()),
        (
            Some(1),
            &*format!(
                "nsenter: failed to obtain a valid file descriptor for PID {}: No such process\n",
                t.pid
            )
        )
    );
    for (arg, why) in [
        ("abc", "Invalid argument"),
        ("0", "Numerical result out of range"),
    ] {
        let out = ours(&["-t", arg, "-n", "true"]);
        ensure_eq!(
            (out.code, out.stderr.as_str()),
            (
                Some(1),
                &*format!("nsenter: failed to parse PID argument '{arg}': {why}\n")
            )
        );
    }
    Ok(())
}
tool_root_and_rootless!(
    target_pidfd_inode,
    a_target_with_a_pidfd_inode_must_be_that_process
);

fn selinux_enabled() -> bool {
    rustix::fs::statfs("/sys/fs/selinux").is_ok_and(|s| s.f_type as u32 == 0xf97c_ff8c)
}

fn follow_context_needs_selinux(root: bool) -> Result<(), String> {
    let t = Target::start(|| {
        unshare_here(NamespaceSet::USER | NamespaceSet::NET)?;
        Ok(String::new())
    })?;
    let pid = t.pid.to_string();
    for z in ["-Z", "--follow-context"] {
        let mut a = vec!["-t", &pid, z, "-U", "-n"];
        if !root {
            a.push("--preserve-credentials");
        }
        a.extend(["cat", "/proc/self/attr/current"]);
        let out = ours(&a);
        if selinux_enabled() {
            // The program runs in the target's context.
            let want = std::fs::read_to_string(format!("/proc/{pid}/attr/current"))
                .map_err(|e| e.to_string())?;
            ensure_eq!(
                (out.code, out.stdout.as_str()),
                (Some(0), want.as_str()),
                "{out:?}"
            );
        } else {
            // As util-linux built without SELinux: exit 1 and a pointer to --help, and
            // nothing run.
            ensure_eq!(
                (out.code, out.stdout.as_str(), out.stderr.as_str()),
                (
                    Some(1),
                    "",
                    "nsenter: --follow-context: SELinux is not enabled on this system\n\
                     Try 'nsenter --help' for more information.\n"
                ),
                "{z}"
            );
        }
    }
    Ok(())
}
tool_root_and_rootless!(follow_context, follow_context_needs_selinux);

/// Our cgroup v2 directory, if a cgroup2 hierarchy is mounted where our mount table shows it
/// (`/sys/fs/cgroup` on a v2 system, `/sys/fs/cgroup/unified` on a hybrid one), with our
/// cgroup's path in the hierarchy.
fn own_cgroup2_dir() -> Option<(PathBuf, String)> {
    let ours = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let path = ours
        .lines()
        .find_map(|l| l.strip_prefix("0::"))?
        .to_string();
    let table = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    table.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        if !right.starts_with("cgroup2 ") {
            return None;
        }
        let fields: Vec<&str> = left.split(' ').collect();
        let (root, point) = (fields.get(3)?, fields.get(4)?);
        let rest = path.strip_prefix(root.trim_end_matches('/'))?;
        Some((PathBuf::from(format!("{point}{rest}")), path.clone()))
    })
}

/// A scratch cgroup under ours, removed on drop (once its processes are gone).
struct ScratchCgroup(PathBuf);

impl Drop for ScratchCgroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

fn join_cgroup_moves_the_program_into_the_targets_cgroup(root: bool) -> Result<(), String> {
    let Some((dir, path)) = own_cgroup2_dir() else {
        // Without a cgroup v2 hierarchy, util-linux's refusal.
        let out = ours(&["-t", "1", "-n", "-c", "true"]);
        ensure_eq!(
            (out.code, out.stderr.as_str()),
            (
                Some(1),
                "nsenter: --join-cgroup is only supported in cgroup v2\n"
            )
        );
        require_setup("join_cgroup", false, "a cgroup v2 hierarchy");
        return Ok(());
    };
    let out = ours(&["--net=/proc/self/ns/net", "-c", "true"]);
    ensure_eq!(
        (out.code, out.stderr.as_str()),
        (
            Some(1),
            "nsenter: neither filename nor target pid supplied for cgroup\n"
        )
    );
    if !root {
        // The target shares our cgroup, whose cgroup.procs only root may write.
        let t = Target::start(|| {
            unshare_here(NamespaceSet::USER | NamespaceSet::NET)?;
            Ok(String::new())
        })?;
        let pid = t.pid.to_string();
        let out = ours(&[
            "-t",
            &pid,
            "-U",
            "-n",
            "--preserve-credentials",
            "-c",
            "true",
        ]);
        ensure_eq!(
            (out.code, out.stderr.as_str()),
            (
                Some(1),
                "nsenter: failed to open cgroup.procs: Permission denied\n"
            ),
            "{dir:?}"
        );
        return Ok(());
    }
    let name = format!("lns-nsenter-{}", std::process::id());
    let scratch = dir.join(&name);
    if let Err(e) = std::fs::create_dir(&scratch) {
        require_setup(
            "join_cgroup::root",
            false,
            &format!(
                "a writable cgroup v2 hierarchy ({}: {e})",
                scratch.display()
            ),
        );
        return Ok(());
    }
    let _cleanup = ScratchCgroup(scratch.clone());
    let mut target = linux_namespaces::Command::new("/usr/bin/cat");
    target
        .unshare(NamespaceSet::NET)
        .cgroup(&scratch)
        .stdin(linux_namespaces::Stdio::piped())
        .stdout(linux_namespaces::Stdio::null());
    let mut child = target
        .spawn()
        .map_err(|e| format!("spawn the target: {e}"))?;
    let pid = child.id().to_string();
    let want = format!("0::{}/{name}", path.trim_end_matches('/'));
    let check = || -> Result<(), String> {
        for c in ["-c", "--join-cgroup"] {
            for extra in [&[][..], &["-p"]] {
                let mut a = vec!["-t", pid.as_str(), "-n", c];
                a.extend_from_slice(extra);
                a.extend(["cat", "/proc/self/cgroup"]);
                let out = ours(&a);
                ensure_eq!(out.code, Some(0), "{a:?}: {out:?}");
                ensure!(
                    out.stdout.lines().any(|l| l == want),
                    "{a:?}: {want:?} not in {:?}",
                    out.stdout
                );
            }
        }
        // Without -c the program stays in ours.
        let out = ours(&["-t", &pid, "-n", "cat", "/proc/self/cgroup"]);
        ensure!(
            out.code == Some(0) && out.stdout.lines().any(|l| l == format!("0::{path}")),
            "{out:?}"
        );
        Ok(())
    };
    let result = check();
    drop(child.stdin.take());
    let status = child.wait().map_err(|e| e.to_string())?;
    ensure!(status.success(), "target: {status}");
    result
}
tool_root_and_rootless!(
    join_cgroup,
    join_cgroup_moves_the_program_into_the_targets_cgroup
);
