//! The `unshare` example, run as a real program, against util-linux `unshare(1)` with the same
//! options: rootless (as uid/gid 65534 when the suite runs as root, else as the caller) and,
//! when the suite runs as root, as root.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use common::*;

/// The example's binary, built once per test run with the profile of this test binary.
/// (`cargo test --test unshare` builds no examples; cargo does not hold its build lock while
/// tests run, so this nested build proceeds.)
fn ours() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| example_binary("unshare", &[]))
}

/// util-linux `unshare`, which the comparisons need (they fail, not skip, without it).
fn util_linux() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let path = std::env::var_os("PATH").unwrap_or_default();
        std::env::split_paths(&path)
            .map(|d| d.join("unshare"))
            .find(|p| p.is_file())
            .expect("util-linux unshare(1) is not in PATH; the comparisons need it")
    })
}

/// A command for `program` that runs in `mode`.
fn command(mode: Mode, program: &Path) -> Command {
    let mut c = Command::new(program);
    if mode == Mode::Rootless && is_root() {
        // std drops the supplementary groups too when root changes uid; the uid change
        // clears the capabilities.
        c.uid(UNPRIVILEGED).gid(UNPRIVILEGED);
    }
    // The suite's PATH may name directories the unprivileged user cannot search (root's
    // home), which makes execvp report EACCES instead of ENOENT.
    c.env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin");
    c.stdin(Stdio::null());
    c
}

fn run(mode: Mode, program: &Path, args: &[&str]) -> Output {
    command(mode, program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", program.display()))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs `args` through both implementations; asserts both succeed and returns their stdout.
fn both_ok(mode: Mode, args: &[&str]) -> (String, String) {
    let a = run(mode, ours(), args);
    let b = run(mode, util_linux(), args);
    assert!(
        a.status.success(),
        "{mode:?} ours {args:?}: {} stderr={}",
        a.status,
        text(&a.stderr)
    );
    assert!(
        b.status.success(),
        "{mode:?} util-linux {args:?}: {} stderr={}",
        b.status,
        text(&b.stderr)
    );
    (text(&a.stdout), text(&b.stdout))
}

/// `-U -r` rootless (creating anything else needs a user namespace there), nothing as root.
fn user_flags(mode: Mode) -> &'static [&'static str] {
    match mode {
        Mode::Rootless => &["-U", "-r"],
        Mode::Root => &[],
    }
}

fn with(prefix: &[&str], rest: &[&str]) -> Vec<String> {
    prefix.iter().chain(rest).map(|s| s.to_string()).collect()
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn own_ns(kind: &str) -> String {
    std::fs::read_link(format!("/proc/self/ns/{kind}"))
        .expect("readlink own ns")
        .to_string_lossy()
        .into_owned()
}

const KINDS: [&str; 8] = ["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"];

/// A shell script that prints `kind link` for each namespace of the shell.
const PRINT_NS: &str =
    "for k in cgroup ipc mnt net pid time user uts; do echo $k $(readlink /proc/self/ns/$k); done";

/// The namespace kinds whose link in `out` (as `PRINT_NS` prints it) differs from ours.
fn differing(out: &str) -> Vec<String> {
    let mut d: Vec<String> = out
        .lines()
        .filter_map(|l| l.split_once(' '))
        .filter(|(k, link)| own_ns(k) != *link)
        .map(|(k, _)| k.to_string())
        .collect();
    d.sort();
    d
}

#[test]
fn map_root_user_makes_the_caller_root() {
    for mode in modes("map_root_user_makes_the_caller_root") {
        let (a, b) = both_ok(mode, &["-r", "id", "-u"]);
        assert_eq!(a, "0\n", "{mode:?}");
        assert_eq!(a, b, "{mode:?}");
        let (a, b) = both_ok(mode, &["-r", "id", "-g"]);
        assert_eq!(a, "0\n", "{mode:?}");
        assert_eq!(a, b, "{mode:?}");
        let caller = if mode == Mode::Rootless && is_root() {
            UNPRIVILEGED
        } else {
            rustix::process::geteuid().as_raw()
        };
        let norm = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        let (a, b) = both_ok(
            mode,
            &["-r", "cat", "/proc/self/uid_map", "/proc/self/setgroups"],
        );
        assert_eq!(norm(&a), format!("0 {caller} 1 deny"), "{mode:?}");
        assert_eq!(norm(&a), norm(&b), "{mode:?}");
    }
}

#[test]
fn each_namespace_option_creates_that_namespace_only() {
    for mode in modes("each_namespace_option_creates_that_namespace_only") {
        for (flag, kind) in [
            ("-m", "mnt"),
            ("-u", "uts"),
            ("-i", "ipc"),
            ("-n", "net"),
            ("-p", "pid"),
            ("-C", "cgroup"),
            ("-T", "time"),
            ("--net", "net"),
            ("--cgroup", "cgroup"),
        ] {
            // -f: util-linux's pid and time namespaces are for children only.
            let args = with(user_flags(mode), &[flag, "-f", "sh", "-c", PRINT_NS]);
            let (a, b) = both_ok(mode, &strs(&args));
            let mut want = vec![kind.to_string()];
            if mode == Mode::Rootless {
                want.push("user".into());
            }
            want.sort();
            assert_eq!(differing(&a), want, "{mode:?} ours {args:?}:\n{a}");
            assert_eq!(differing(&b), want, "{mode:?} util-linux {args:?}:\n{b}");
            assert_eq!(a.lines().count(), KINDS.len());
        }
    }
}

#[test]
fn combined_short_options_are_split() {
    for mode in modes("combined_short_options_are_split") {
        let (a, b) = both_ok(mode, &["-Urpfnu", "sh", "-c", PRINT_NS]);
        let want = ["net", "pid", "user", "uts"].map(String::from).to_vec();
        assert_eq!(differing(&a), want, "{mode:?}:\n{a}");
        assert_eq!(differing(&b), want, "{mode:?}:\n{b}");
    }
}

#[test]
fn pid_namespace_with_mount_proc_makes_the_program_pid_1() {
    let host_pid_ns = own_ns("pid");
    for mode in modes("pid_namespace_with_mount_proc_makes_the_program_pid_1") {
        let script =
            "echo $$; readlink /proc/self/ns/pid; cat /proc/1/comm; ls /proc | grep -c '^[0-9]'";
        let args = with(
            user_flags(mode),
            &["-pf", "--mount-proc", "sh", "-c", script],
        );
        let (a, b) = both_ok(mode, &strs(&args));
        for (who, out) in [("ours", &a), ("util-linux", &b)] {
            let lines: Vec<&str> = out.lines().collect();
            assert_eq!(lines.len(), 4, "{mode:?} {who}: {out}");
            assert_eq!(lines[0], "1", "{mode:?} {who}: $$ is not 1");
            assert!(lines[1].starts_with("pid:["), "{mode:?} {who}: {out}");
            assert_ne!(lines[1], host_pid_ns, "{mode:?} {who}: same pid namespace");
            assert_eq!(lines[2], "sh", "{mode:?} {who}: pid 1 is not the program");
            // The new proc shows the new namespace only: sh, and ls, grep, cat's children.
            let n: usize = lines[3].parse().unwrap();
            assert!(
                (1..=4).contains(&n),
                "{mode:?} {who}: {n} pids in the new /proc"
            );
        }
        // (The two runs' namespaces are not compared: the first is gone before the second
        // exists, and the kernel reuses a freed namespace's inode number.)
    }
}

#[test]
fn mount_proc_at_another_directory() {
    let root = MiniRoot::new("mount_proc_at_another_directory");
    // Not a mount point on the host: with shared propagation, util-linux tries to make it
    // private and ignores the EINVAL; this example does not try.
    let dir = root.path.join("proc");
    let dir = dir.to_str().unwrap();
    for mode in modes("mount_proc_at_another_directory") {
        let args = with(
            user_flags(mode),
            &[
                "-pf",
                "--propagation=shared",
                &format!("--mount-proc={dir}"),
                "sh",
                "-c",
                &format!("cat {dir}/self/comm; grep -c ' {dir} ' /proc/self/mountinfo"),
            ],
        );
        let (a, b) = both_ok(mode, &strs(&args));
        assert_eq!(a, "cat\n1\n", "{mode:?}");
        assert_eq!(a, b, "{mode:?}");
    }
}

#[test]
fn uts_namespace_isolates_the_hostname() {
    let before = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    for mode in modes("uts_namespace_isolates_the_hostname") {
        for program in [ours(), util_linux()] {
            let args = with(
                user_flags(mode),
                &["-u", "sh", "-c", "hostname unshare-test-x && hostname"],
            );
            let out = run(mode, program, &strs(&args));
            assert!(
                out.status.success(),
                "{}: {}",
                program.display(),
                text(&out.stderr)
            );
            assert_eq!(text(&out.stdout), "unshare-test-x\n", "{mode:?}");
        }
    }
    let after = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(before, after, "the host's name changed");
    assert_ne!(after.trim(), "unshare-test-x");
}

#[test]
fn boottime_offset_shows_in_uptime() {
    let host_uptime = |s: &str| -> f64 { s.split_whitespace().next().unwrap().parse().unwrap() };
    for mode in modes("boottime_offset_shows_in_uptime") {
        let before = host_uptime(&std::fs::read_to_string("/proc/uptime").unwrap());
        let args = with(
            user_flags(mode),
            &["-T", "--boottime", "100000", "cat", "/proc/uptime"],
        );
        let (a, b) = both_ok(mode, &strs(&args));
        for (who, out) in [("ours", &a), ("util-linux", &b)] {
            let inside = host_uptime(out);
            assert!(
                // In hundredths (the file's resolution), so that float rounding of the sum
                // cannot make equal times compare as smaller.
                (inside * 100.0).round() >= (before * 100.0).round() + 10_000_000.0,
                "{mode:?} {who}: uptime {inside} inside, {before} on the host before"
            );
        }
    }
}

#[test]
fn clock_offsets_are_written_as_util_linux_writes_them() {
    for mode in modes("clock_offsets_are_written_as_util_linux_writes_them") {
        let args = with(
            user_flags(mode),
            &[
                "-T",
                "--monotonic=5",
                "--boottime",
                "-7",
                "cat",
                "/proc/self/timens_offsets",
            ],
        );
        let (a, b) = both_ok(mode, &strs(&args));
        let norm = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        assert_eq!(norm(&a), "monotonic 5 0 boottime -7 0", "{mode:?}");
        assert_eq!(a, b, "{mode:?}");
    }
}

#[test]
fn clock_offsets_without_a_time_namespace_are_an_error() {
    for mode in modes("clock_offsets_without_a_time_namespace_are_an_error") {
        let a = run(mode, ours(), &["-r", "--monotonic=5", "true"]);
        let b = run(mode, util_linux(), &["-r", "--monotonic=5", "true"]);
        assert_eq!(a.status.code(), Some(1));
        assert_eq!(b.status.code(), Some(1));
        let err = text(&a.stderr);
        assert!(
            err.starts_with("unshare: options --monotonic and --boottime require"),
            "{err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}

/// The propagation tag of `/` in a mountinfo dump: "shared", "master" or "" (private).
fn root_propagation(mountinfo: &str) -> String {
    let line = mountinfo
        .lines()
        .find(|l| l.split(' ').nth(4) == Some("/"))
        .unwrap_or_else(|| panic!("no / in\n{mountinfo}"));
    let fields: Vec<&str> = line.split(' ').collect();
    let sep = fields.iter().position(|f| *f == "-").unwrap();
    let mut tags: Vec<&str> = fields[6..sep]
        .iter()
        .filter_map(|f| f.split(':').next())
        .collect();
    tags.sort();
    tags.join(",")
}

#[test]
fn propagation_is_set_recursively_on_the_new_mount_namespace() {
    for mode in modes("propagation_is_set_recursively_on_the_new_mount_namespace") {
        // Inside a mount namespace whose / is shared (util-linux makes it, and its shell
        // stays in it so the peer group lives on), each implementation makes another.
        let mut outer: Vec<&str> = user_flags(mode).to_vec();
        outer.extend([
            "-m",
            "--propagation",
            "shared",
            "sh",
            "-c",
            "\"$@\"; true",
            "sh",
        ]);
        for (option, want) in [
            (None, ""),
            (Some("private"), ""),
            (Some("shared"), "shared"),
            (Some("slave"), "master"),
            (Some("unchanged"), "shared"),
        ] {
            let mut seen = Vec::new();
            for program in [ours(), util_linux()] {
                let mut args = outer.clone();
                let program = program.to_str().unwrap();
                args.extend([program, "-m"]);
                if let Some(p) = option {
                    args.extend(["--propagation", p]);
                }
                args.extend(["cat", "/proc/self/mountinfo"]);
                let out = run(mode, util_linux(), &args);
                assert!(
                    out.status.success(),
                    "{mode:?} {args:?}: {}",
                    text(&out.stderr)
                );
                seen.push(root_propagation(&text(&out.stdout)));
            }
            assert_eq!(seen[0], want, "{mode:?} ours, --propagation {option:?}");
            assert_eq!(
                seen[1], want,
                "{mode:?} util-linux, --propagation {option:?}"
            );
        }
    }
}

#[test]
fn unsupported_propagation_is_an_error() {
    let a = run(
        Mode::Rootless,
        ours(),
        &["-m", "--propagation=bogus", "true"],
    );
    let b = run(
        Mode::Rootless,
        util_linux(),
        &["-m", "--propagation=bogus", "true"],
    );
    assert_eq!(a.status.code(), Some(1));
    assert_eq!(b.status.code(), Some(1));
    assert_eq!(text(&a.stderr), text(&b.stderr));
}

/// A directory with a dynamically linked `/bin/sh` and its libraries copied in (as `ldd`
/// lists them), a `/sub` directory, a `/proc` mount point and a marker file: enough to
/// `chroot` into. Readable by everyone (for the rootless runs); removed on drop.
struct MiniRoot {
    path: PathBuf,
}

impl MiniRoot {
    fn new(test: &str) -> MiniRoot {
        let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "unshare-{test}-{}-{}",
            rustix::process::geteuid().as_raw(),
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&path);
        let root = MiniRoot { path };
        let sh = std::fs::canonicalize("/bin/sh").unwrap();
        let ldd = Command::new("ldd").arg(&sh).output().expect("ldd");
        assert!(ldd.status.success(), "ldd {}", sh.display());
        let mut files = vec![(sh, PathBuf::from("bin/sh"))];
        for word in text(&ldd.stdout).split_whitespace() {
            if let Some(rel) = word.strip_prefix('/') {
                files.push((PathBuf::from(word), PathBuf::from(rel)));
            }
        }
        assert!(
            files.len() >= 2,
            "ldd found no libraries: {}",
            text(&ldd.stdout)
        );
        // fs::copy keeps the permission bits; directories get 0755 through the umask.
        for (from, to) in files {
            let to = root.path.join(to);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(&from, &to)
                .unwrap_or_else(|e| panic!("copy {} to {}: {e}", from.display(), to.display()));
        }
        for d in ["sub", "proc"] {
            std::fs::create_dir_all(root.path.join(d)).unwrap();
        }
        std::fs::write(root.path.join("marker"), "x").unwrap();
        let mut p = root.path.as_path();
        while let Some(parent) = p.parent() {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(parent).unwrap().permissions().mode();
            assert!(
                mode & 0o001 != 0,
                "{} is not searchable by others",
                parent.display()
            );
            p = parent;
        }
        root
    }

    /// What `echo /*` prints in it.
    fn listing(&self) -> String {
        let mut names: Vec<String> = std::fs::read_dir(&self.path)
            .unwrap()
            .map(|e| format!("/{}", e.unwrap().file_name().to_string_lossy()))
            .collect();
        names.sort();
        names.join(" ")
    }
}

impl Drop for MiniRoot {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

#[test]
fn root_and_wd_change_root_and_directory() {
    let mini = MiniRoot::new("root_and_wd_change_root_and_directory");
    let root = mini.path.to_str().unwrap().to_owned();
    for mode in modes("root_and_wd_change_root_and_directory") {
        let args = with(
            user_flags(mode),
            &["-R", &root, "-w", "/sub", "/bin/sh", "-c", "pwd; echo /*"],
        );
        let (a, b) = both_ok(mode, &strs(&args));
        assert_eq!(a, format!("/sub\n{}\n", mini.listing()), "{mode:?}");
        assert!(a.contains("/marker"), "{a}");
        assert_eq!(a, b, "{mode:?}");

        // Long forms, and without -w the directory is the new root.
        let args = with(
            user_flags(mode),
            &[&format!("--root={root}"), "/bin/sh", "-c", "pwd"],
        );
        let (a, b) = both_ok(mode, &strs(&args));
        assert_eq!(a, "/\n", "{mode:?}");
        assert_eq!(a, b);
    }
}

#[test]
fn mount_proc_goes_inside_the_new_root() {
    let mini = MiniRoot::new("mount_proc_goes_inside_the_new_root");
    let root = mini.path.to_str().unwrap().to_owned();
    for mode in modes("mount_proc_goes_inside_the_new_root") {
        let args = with(
            user_flags(mode),
            &[
                "-pf",
                "--mount-proc",
                &format!("--root={root}"),
                "/bin/sh",
                "-c",
                "echo $$; read c < /proc/1/comm; echo $c; echo /proc/1/ns/p*",
            ],
        );
        let (a, b) = both_ok(mode, &strs(&args));
        assert_eq!(
            a, "1\nsh\n/proc/1/ns/pid /proc/1/ns/pid_for_children\n",
            "{mode:?}"
        );
        assert_eq!(a, b, "{mode:?}");
    }
}

#[test]
fn wd_changes_the_working_directory() {
    for mode in modes("wd_changes_the_working_directory") {
        let (a, b) = both_ok(mode, &["-w", "/usr/share", "pwd"]);
        assert_eq!(a, "/usr/share\n");
        assert_eq!(a, b);
        let (a, b) = both_ok(mode, &["--wd=/usr", "pwd"]);
        assert_eq!(a, "/usr\n");
        assert_eq!(a, b);
    }
}

#[test]
fn bad_root_or_wd_is_an_error() {
    for mode in modes("bad_root_or_wd_is_an_error") {
        for args in [
            &["-r", "-R", "/nonexistent-unshare-test", "true"][..],
            &["-r", "-w", "/nonexistent-unshare-test", "true"][..],
        ] {
            let a = run(mode, ours(), args);
            let b = run(mode, util_linux(), args);
            assert_eq!(a.status.code(), Some(1), "{args:?}");
            assert_eq!(b.status.code(), Some(1), "{args:?}");
            if args[1] == "-R" {
                assert_eq!(text(&a.stderr), text(&b.stderr), "{args:?}");
            } else {
                // util-linux 2.38 says "cannot chdir to '<dir>'"; 2.43 says this.
                assert_eq!(
                    text(&a.stderr),
                    "unshare: cannot change directory to /nonexistent-unshare-test: No such file or directory\n"
                );
            }
        }
    }
}

#[test]
fn exit_status_is_the_programs() {
    for mode in modes("exit_status_is_the_programs") {
        for program in [ours(), util_linux()] {
            let out = run(mode, program, &["-r", "sh", "-c", "exit 7"]);
            assert_eq!(out.status.code(), Some(7), "{}", program.display());
        }
        // Killed by a signal: unshare kills itself with it (a shell shows 128 + N).
        for program in [ours(), util_linux()] {
            let out = run(mode, program, &["-rf", "sh", "-c", "kill -TERM $$"]);
            assert_eq!(out.status.signal(), Some(libc::SIGTERM), "{mode:?}");
        }
    }
}

#[test]
fn a_missing_or_unexecutable_program_is_reported_like_util_linux() {
    for mode in modes("a_missing_or_unexecutable_program_is_reported_like_util_linux") {
        for (program, status) in [
            ("no-such-program-for-unshare-test", 127),
            ("/etc/passwd", 126),
        ] {
            let args = ["-r", program];
            let a = run(mode, ours(), &args);
            let b = run(mode, util_linux(), &args);
            assert_eq!(a.status.code(), Some(status), "{mode:?} {program}");
            assert_eq!(b.status.code(), Some(status), "{mode:?} {program}");
            assert_eq!(text(&a.stderr), text(&b.stderr), "{mode:?} {program}");
            assert_eq!(text(&a.stdout), "");
        }
    }
}

#[test]
fn bad_options_are_one_line_errors() {
    for (args, message) in [
        (&["--bogus"][..], "unshare: unrecognized option '--bogus'"),
        (&["-x"][..], "unshare: invalid option -- 'x'"),
        (
            &["--map-user"][..],
            "unshare: option '--map-user' requires an argument",
        ),
        (&["-R"][..], "unshare: option requires an argument -- 'R'"),
        (
            &["--fork=yes", "true"][..],
            "unshare: option '--fork' doesn't allow an argument",
        ),
        (
            &["--setgroups=maybe", "true"][..],
            "unshare: unsupported --setgroups argument 'maybe'",
        ),
        (
            &["--kill-child=NOPE", "true"][..],
            "unshare: unknown signal: NOPE",
        ),
        (
            &["--map-user=no-such-user-xyz", "true"][..],
            "unshare: failed to parse uid: 'no-such-user-xyz'",
        ),
        (
            &["--map-group=no-such-group-xyz", "true"][..],
            "unshare: failed to parse gid: 'no-such-group-xyz'",
        ),
        (
            &["--ma=0", "true"][..],
            "unshare: option '--ma' is ambiguous",
        ),
        (
            &["-r", "--setgroups=allow", "true"][..],
            "unshare: options --setgroups=allow and --map-group are mutually exclusive",
        ),
    ] {
        let out = run(Mode::Rootless, ours(), args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.starts_with(message), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert_eq!(text(&out.stdout), "");
    }
    // util-linux agrees that these are errors.
    for args in [&["--bogus"][..], &["-r", "--setgroups=allow", "true"][..]] {
        assert_eq!(
            run(Mode::Rootless, util_linux(), args).status.code(),
            Some(1)
        );
    }
}

#[test]
fn long_options_may_be_abbreviated() {
    for mode in modes("long_options_may_be_abbreviated") {
        let (a, b) = both_ok(mode, &["--map-r", "--us", "id", "-u"]);
        assert_eq!(a, "0\n");
        assert_eq!(a, b);
    }
}

#[test]
fn options_end_at_the_program_or_double_dash() {
    for mode in modes("options_end_at_the_program_or_double_dash") {
        let (a, b) = both_ok(mode, &["-r", "id", "-u", "-r"]);
        assert_eq!(a, "0\n");
        assert_eq!(a, b);
        let (a, b) = both_ok(
            mode,
            &["-r", "--", "sh", "-c", "printf '%s\\n' \"$1\"", "sh", "-n"],
        );
        assert_eq!(a, "-n\n");
        assert_eq!(a, b);
    }
}

/// The id `name` has in `db` (third field).
fn id_of(db: &str, name: &str) -> String {
    std::fs::read_to_string(db)
        .unwrap()
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f[0] == name).then(|| f[2].to_string())
        })
        .unwrap_or_else(|| panic!("{name} not in {db}"))
}

#[test]
fn map_user_and_group_by_name_and_number() {
    let daemon_uid = id_of("/etc/passwd", "daemon");
    let daemon_gid = id_of("/etc/group", "daemon");
    for mode in modes("map_user_and_group_by_name_and_number") {
        let (a, b) = both_ok(
            mode,
            &[
                "--map-user=daemon",
                "--map-group=daemon",
                "sh",
                "-c",
                "id -u; id -g",
            ],
        );
        assert_eq!(a, format!("{daemon_uid}\n{daemon_gid}\n"), "{mode:?}");
        assert_eq!(a, b);
        let (a, b) = both_ok(
            mode,
            &[
                "--map-user",
                "1234",
                "--map-group=4321",
                "sh",
                "-c",
                "id -u; id -g; cat /proc/self/setgroups",
            ],
        );
        assert_eq!(a, "1234\n4321\ndeny\n", "{mode:?}");
        assert_eq!(a, b);
        // Only the user mapped: the group is the overflow gid.
        let (a, b) = both_ok(mode, &["--map-user=0", "sh", "-c", "id -u; id -g"]);
        assert_eq!(a, "0\n65534\n", "{mode:?}");
        assert_eq!(a, b);
    }
}

#[test]
fn map_current_user_keeps_the_ids() {
    for mode in modes("map_current_user_keeps_the_ids") {
        let (a, b) = both_ok(mode, &["-c", "sh", "-c", "id -u; id -g"]);
        let me = if mode == Mode::Rootless && is_root() {
            UNPRIVILEGED
        } else {
            rustix::process::geteuid().as_raw()
        };
        assert_eq!(a, format!("{me}\n{me}\n"), "{mode:?}");
        assert_eq!(a, b);
    }
}

#[test]
fn setgroups_is_written_as_asked() {
    for mode in modes("setgroups_is_written_as_asked") {
        for value in ["allow", "deny"] {
            let (a, b) = both_ok(
                mode,
                &[
                    "-U",
                    &format!("--setgroups={value}"),
                    "cat",
                    "/proc/self/setgroups",
                ],
            );
            assert_eq!(a, format!("{value}\n"), "{mode:?}");
            assert_eq!(a, b);
        }
    }
}

#[test]
fn network_namespace_has_only_loopback() {
    for mode in modes("network_namespace_has_only_loopback") {
        let args = with(user_flags(mode), &["-n", "cat", "/proc/net/dev"]);
        let (a, b) = both_ok(mode, &strs(&args));
        let ifaces = |s: &str| -> Vec<String> {
            s.lines()
                .skip(2)
                .filter_map(|l| l.split(':').next())
                .map(|n| n.trim().to_string())
                .collect()
        };
        assert_eq!(ifaces(&a), ["lo"], "{mode:?}");
        assert_eq!(ifaces(&b), ["lo"], "{mode:?}");
    }
}

#[test]
fn default_program_is_the_login_shell_from_shell() {
    for mode in modes("default_program_is_the_login_shell_from_shell") {
        let mut outs = Vec::new();
        for program in [ours(), util_linux()] {
            let mut child = command(mode, program)
                .arg("-r")
                .env("SHELL", "/bin/sh")
                .env("ENV", "")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            child
                .stdin
                .take()
                .unwrap()
                .write_all(b"id -u; echo $0\n")
                .unwrap();
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success(), "{}", text(&out.stderr));
            outs.push(text(&out.stdout));
        }
        assert_eq!(outs[0], "0\n-sh\n", "{mode:?}");
        assert_eq!(outs[0], outs[1]);
    }
}

#[test]
fn help_lists_the_options_and_the_fork_semantics() {
    let out = run(Mode::Rootless, ours(), &["-h"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for needle in [
        "--map-root-user",
        "--mount-proc",
        "--kill-child",
        "--forward-signals",
        "--propagation",
        "--keep-caps",
        "--map-auto",
        "--clear-env",
        "--whitelist-env",
        "executes <program> in\nits own place",
    ] {
        assert!(help.contains(needle), "help lacks {needle:?}:\n{help}");
    }
    let out = run(Mode::Rootless, ours(), &["--help", "--bogus"]);
    assert!(out.status.success(), "--help stops option parsing");
}

/// The pids of the children of `pid` (`/proc/<pid>/task/<pid>/children`).
fn children_of(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect()
}

/// Waits (with `poll(2)` on a pidfd, not by sleeping) for a process that is not our child to
/// exit; false after `timeout`.
fn exits_within(pid: u32, timeout: Duration) -> bool {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    let Ok(fd) = rustix::process::pidfd_open(
        rustix::process::Pid::from_raw(pid as i32).unwrap(),
        rustix::process::PidfdFlags::empty(),
    ) else {
        return true; // already gone
    };
    let mut fds = [PollFd::new(&fd, PollFlags::IN)];
    let t = Timespec {
        tv_sec: timeout.as_secs() as i64,
        tv_nsec: 0,
    };
    matches!(poll(&mut fds, Some(&t)), Ok(1))
}

/// `unshare ARGS cat` with piped stdio, once `cat` runs (it has echoed a line back).
struct Cat {
    unshare: std::process::Child,
    stdin: std::process::ChildStdin,
    stdout: BufReader<std::process::ChildStdout>,
    pid: u32,
}

impl Cat {
    fn start(mode: Mode, options: &[&str]) -> Cat {
        let mut unshare = command(mode, ours())
            .args(options)
            .arg("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        // Held here: std's wait() would close it.
        let stdin = unshare.stdin.take().unwrap();
        let stdout = BufReader::new(unshare.stdout.take().unwrap());
        let mut cat = Cat {
            unshare,
            stdin,
            stdout,
            pid: 0,
        };
        assert_eq!(cat.echo(), "ping\n", "{mode:?} {options:?}");
        let children = children_of(cat.unshare.id());
        assert_eq!(
            children.len(),
            1,
            "{mode:?} {options:?}: children {children:?}"
        );
        cat.pid = children[0];
        cat
    }

    /// Sends a line to `cat` and reads what comes back ("" at EOF).
    fn echo(&mut self) -> String {
        self.stdin.write_all(b"ping\n").unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        line
    }

    /// SIGKILL for unshare: it gets no chance to do anything itself.
    fn kill_unshare(&mut self) {
        self.unshare.kill().unwrap();
        self.unshare.wait().unwrap();
    }
}

#[test]
fn kill_child_signals_the_program_when_unshare_dies() {
    for mode in modes("kill_child_signals_the_program_when_unshare_dies") {
        for options in [
            // The default, SIGKILL, reaches even a pid namespace's init.
            &["-r", "--kill-child", "-p"][..],
            &["-r", "--kill-child=SIGTERM"][..],
            &["-r", "--kill-child=term"][..],
            &["-r", "--kill-child=15"][..],
        ] {
            let mut cat = Cat::start(mode, options);
            cat.kill_unshare();
            assert!(
                exits_within(cat.pid, Duration::from_secs(30)),
                "{mode:?} {options:?}: the program outlived unshare"
            );
        }
    }
}

#[test]
fn without_kill_child_the_program_outlives_unshare() {
    for mode in modes("without_kill_child_the_program_outlives_unshare") {
        let mut cat = Cat::start(mode, &["-r", "-p", "-f"]);
        cat.kill_unshare();
        // A parent-death signal would have been queued before unshare could be reaped, and
        // would end cat before it answers.
        assert_eq!(cat.echo(), "ping\n", "{mode:?}");
        // Closing its stdin ends cat.
        let Cat { stdin, pid, .. } = cat;
        drop(stdin);
        assert!(exits_within(pid, Duration::from_secs(30)));
    }
}

// ---------------------------------------------------------------------------------------------
// util-linux's process model: unshare(2) of itself, exec without -f, fork with -f.

/// Spawns `unshare ARGS` with stdout piped and returns once the program printed its first
/// line (which it prints when it is ready), with that line.
fn start_ready(mode: Mode, args: &[&str]) -> (std::process::Child, String) {
    let mut child = command(mode, ours())
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, line)
}

fn kill(pid: u32, sig: i32) {
    // SAFETY: kill(2) of a child of this test that has not been reaped (its pid is ours).
    assert_eq!(unsafe { libc::kill(pid as i32, sig) }, 0);
}

#[test]
fn inherited_fds_reach_the_program() {
    // `exec 7<file; unshare -U sh -c 'cat <&7'`, as a shell would do it.
    let dir = std::env::temp_dir().join(format!("unshare-fd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("seven");
    std::fs::write(&file, "fd seven\n").unwrap();
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    for mode in modes("inherited_fds_reach_the_program") {
        for (prog, flags) in [
            (ours(), &["-U"][..]),
            (ours(), &["-r", "-f", "-p"][..]),
            (util_linux(), &["-U"][..]),
        ] {
            let script = format!(
                "exec 7<'{}'; exec \"$0\" {} sh -c 'cat <&7'",
                file.display(),
                flags.join(" ")
            );
            let out = command(mode, Path::new("/bin/sh"))
                .args(["-c", &script])
                .arg(prog)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{mode:?} {prog:?} {flags:?}: {} {}",
                out.status,
                text(&out.stderr)
            );
            assert_eq!(
                text(&out.stdout),
                "fd seven\n",
                "{mode:?} {prog:?} {flags:?}"
            );
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn without_fork_the_program_keeps_unshares_pid() {
    for mode in modes("without_fork_the_program_keeps_unshares_pid") {
        let args = with(user_flags(mode), &["-p", "sh", "-c", "echo $$"]);
        for prog in [ours(), util_linux()] {
            let child = command(mode, prog)
                .args(&args)
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let pid = child.id();
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success(), "{mode:?} {prog:?}: {}", out.status);
            assert_eq!(text(&out.stdout), format!("{pid}\n"), "{mode:?} {prog:?}");
        }
        // Its children are in the new pid namespace: the first one is its PID 1.
        let args = with(
            user_flags(mode),
            &["-p", "sh", "-c", "sh -c 'echo $$'; true"],
        );
        let (a, b) = both_ok(mode, &strs(&args));
        assert_eq!(a, "1\n", "{mode:?}");
        assert_eq!(a, b);
    }
}

#[test]
fn with_fork_the_program_is_pid_1_of_the_new_pid_namespace() {
    for mode in modes("with_fork_the_program_is_pid_1_of_the_new_pid_namespace") {
        let args = with(user_flags(mode), &["-f", "-p", "sh", "-c", "echo $$"]);
        let (a, b) = both_ok(mode, &strs(&args));
        assert_eq!(a, "1\n", "{mode:?}");
        assert_eq!(a, b);
    }
}

#[test]
fn sigterm_ends_an_unforked_unshare_at_once() {
    for mode in modes("sigterm_ends_an_unforked_unshare_at_once") {
        let started = std::time::Instant::now();
        // The shell prints when it runs, then becomes `sleep` (same pid throughout).
        let (mut child, line) =
            start_ready(mode, &["-U", "sh", "-c", "echo ready; exec sleep 600"]);
        assert_eq!(line, "ready\n", "{mode:?}");
        kill(child.id(), libc::SIGTERM);
        let status = child.wait().unwrap();
        // bash's `wait` shows this as 143.
        assert_eq!(status.signal(), Some(libc::SIGTERM), "{mode:?}: {status}");
        assert!(started.elapsed() < Duration::from_secs(100), "{mode:?}");
    }
}

#[test]
fn a_forked_unshare_ignores_sigterm_without_forward_signals() {
    for mode in modes("a_forked_unshare_ignores_sigterm_without_forward_signals") {
        let mut cat = Cat::start(mode, &["-U", "-f"]);
        // Blocked in the waiting parent (util-linux's "impatient parent" guard).
        kill(cat.unshare.id(), libc::SIGTERM);
        kill(cat.unshare.id(), libc::SIGINT);
        assert_eq!(cat.echo(), "ping\n", "{mode:?}");
        let Cat {
            stdin, mut unshare, ..
        } = cat;
        drop(stdin);
        let status = unshare.wait().unwrap();
        assert_eq!(status.code(), Some(0), "{mode:?}: {status}");
    }
}

/// A program that prints `ready` and then exits with the number of the first SIGTERM or
/// SIGINT it gets (as util-linux's test_sigreceive does); `sleep` runs in the background so
/// that `wait` can be interrupted by the trap.
/// (A missed signal shows as exit status 0 after two minutes, not as a hang.)
const SIGRECEIVE: &str = "trap 'exit 15' TERM; trap 'exit 2' INT; sleep 120 & echo ready; wait";

#[test]
fn forward_signals_passes_sigterm_and_sigint_to_the_program() {
    for mode in modes("forward_signals_passes_sigterm_and_sigint_to_the_program") {
        for extra in [&[][..], &["--kill-child"][..]] {
            for (sig, want) in [(libc::SIGTERM, 15), (libc::SIGINT, 2)] {
                let mut args = vec!["-r", "-p", "--mount-proc", "--fork", "--forward-signals"];
                args.extend_from_slice(extra);
                args.extend(["sh", "-c", SIGRECEIVE]);
                let (mut child, line) = start_ready(mode, &args);
                assert_eq!(line, "ready\n", "{mode:?} {args:?}");
                kill(child.id(), sig);
                let status = child.wait().unwrap();
                assert_eq!(status.code(), Some(want), "{mode:?} {args:?}: {status}");
            }
        }
        // --forward-signals implies --fork.
        let out = run(
            mode,
            ours(),
            &["-r", "-p", "--forward-signals", "sh", "-c", "echo $$"],
        );
        assert_eq!(text(&out.stdout), "1\n", "{mode:?}");
    }
}

#[test]
fn a_forked_unshare_dies_of_the_signal_that_killed_the_program() {
    for mode in modes("a_forked_unshare_dies_of_the_signal_that_killed_the_program") {
        // (util-linux 2.38 fails to reset SIGKILL's disposition and exits 1 there instead;
        // 2.43 skips that reset, as this example does.)
        for (sig, name, progs) in [
            (libc::SIGTERM, "TERM", &[ours(), util_linux()][..]),
            (libc::SIGKILL, "KILL", &[ours()][..]),
        ] {
            let script = format!("kill -{name} $$");
            for &prog in progs {
                let out = run(mode, prog, &["-U", "-f", "sh", "-c", &script]);
                assert_eq!(
                    out.status.signal(),
                    Some(sig),
                    "{mode:?} {prog:?}: {}",
                    out.status
                );
            }
        }
        let (a, b) = (
            run(mode, ours(), &["-U", "-f", "sh", "-c", "exit 7"]),
            run(mode, util_linux(), &["-U", "-f", "sh", "-c", "exit 7"]),
        );
        assert_eq!(a.status.code(), Some(7));
        assert_eq!(a.status.code(), b.status.code());
    }
}

// ---------------------------------------------------------------------------------------------
// Credentials, capabilities, id ranges, environment, persisting.

#[test]
fn setuid_and_setgid_switch_inside_the_namespace() {
    // Rootless, -r maps only the caller: the only ids to switch to are 0 (and setgroups is
    // denied, so -G fails on dropping the groups, as in util-linux).
    for mode in modes("setuid_and_setgid_switch_inside_the_namespace") {
        let (a, b) = both_ok(mode, &["-r", "-S", "0", "sh", "-c", "id -u; id -g"]);
        assert_eq!(a, "0\n0\n", "{mode:?}");
        assert_eq!(a, b);
        let a = run(mode, ours(), &["-r", "-G", "0", "id", "-g"]);
        let b = run(mode, util_linux(), &["-r", "-G", "0", "id", "-g"]);
        assert_eq!(a.status.code(), Some(1), "{mode:?}");
        assert_eq!(a.status.code(), b.status.code());
        assert!(
            text(&a.stderr).contains("setgroups failed"),
            "{}",
            text(&a.stderr)
        );
        if mode == Mode::Root {
            let args = [
                "--map-users=0:100000:1000",
                "--map-groups=0:100000:1000",
                "-S",
                "5",
                "-G",
                "6",
                "sh",
                "-c",
                "id -u; id -g; id -G",
            ];
            let out = run(mode, ours(), &args);
            assert!(out.status.success(), "{}", text(&out.stderr));
            assert_eq!(text(&out.stdout), "5\n6\n6\n");
        }
    }
}

/// The `CapAmb` and `CapEff` lines of a program's `/proc/self/status`.
fn caps_of(mode: Mode, args: &[&str]) -> String {
    let args = with(args, &["grep", "-E", "^Cap(Amb|Eff)", "/proc/self/status"]);
    let out = run(mode, ours(), &strs(&args));
    assert!(
        out.status.success(),
        "{mode:?} {args:?}: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
}

#[test]
fn keep_caps_keeps_the_namespace_capabilities_across_exec() {
    for mode in modes("keep_caps_keeps_the_namespace_capabilities_across_exec") {
        // Unmapped (overflow uid), the program would lose every capability at execve.
        let without = caps_of(mode, &["-U"]);
        assert_eq!(
            without,
            "CapEff:\t0000000000000000\nCapAmb:\t0000000000000000\n"
        );
        let with_keep = caps_of(mode, &["-U", "--keep-caps"]);
        let full = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap").unwrap();
        let last: u32 = full.trim().parse().unwrap();
        let all = format!("{:016x}", (1u64 << (last + 1)) - 1);
        assert_eq!(
            with_keep,
            format!("CapEff:\t{all}\nCapAmb:\t{all}\n"),
            "{mode:?}"
        );
        // As util-linux: --keep-caps without -U changes nothing.
        let out = run(
            mode,
            ours(),
            &["--keep-caps", "grep", "^CapAmb", "/proc/self/status"],
        );
        assert_eq!(text(&out.stdout), "CapAmb:\t0000000000000000\n");
    }
}

fn maps_of(mode: Mode, prog: &Path, args: &[&str]) -> Output {
    let args = with(
        args,
        &[
            "sh",
            "-c",
            "cat /proc/self/uid_map; echo; cat /proc/self/gid_map",
        ],
    );
    run(mode, prog, &strs(&args))
}

/// A map as the kernel shows it, without the column padding.
fn squeeze(s: &str) -> String {
    s.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
#[ignore = "needs root"]
fn map_users_and_groups_write_the_ranges_as_root() {
    assert_root("map_users_and_groups_write_the_ranges_as_root");
    for (args, want) in [
        (
            &["--map-users=0:100000:1000", "--map-groups=0:200000:10"][..],
            "0 100000 1000\n\n0 200000 10",
        ),
        // The other syntax: outer,inner,count.
        (
            &["--map-users=100000,0,1000", "--map-groups=200000,0,10"][..],
            "0 100000 1000\n\n0 200000 10",
        ),
        // With the caller (root) mapped to root on top, the range gives up one id.
        (
            &[
                "--map-users=0:100000:1000",
                "--map-groups=0:200000:10",
                "-r",
            ][..],
            "0 0 1\n1 100000 999\n\n0 0 1\n1 200000 9",
        ),
        (
            &["--map-users=0:100000:1000", "--map-user=500"][..],
            // No gid map: an empty second part.
            "500 0 1\n0 100000 500\n501 100500 499\n\n",
        ),
    ] {
        let out = maps_of(Mode::Root, ours(), args);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        assert_eq!(squeeze(&text(&out.stdout)), squeeze(want), "{args:?}");
    }
    let out = maps_of(Mode::Root, ours(), &["--map-users=1:2", "true"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("invalid mapping '1:2'"));
}

/// The caller's first range in `/etc/subuid` (and `/etc/subgid`), if it has one.
fn subid_start(mode: Mode, file: &str) -> Option<u32> {
    let uid = match mode {
        Mode::Root => 0,
        Mode::Rootless if is_root() => UNPRIVILEGED,
        Mode::Rootless => rustix::process::getuid().as_raw(),
    };
    common::subid_start(file, uid)
}

#[test]
fn map_auto_maps_the_subordinate_ranges_through_newuidmap() {
    // Rootless, through the set-user-ID newuidmap/newgidmap; needs a range for the user in
    // /etc/subuid and /etc/subgid (CI adds `nobody:100000:65536`).
    let mode = Mode::Rootless;
    let (Some(u), Some(g)) = (
        subid_start(mode, "/etc/subuid"),
        subid_start(mode, "/etc/subgid"),
    ) else {
        assert!(
            require_setup(
                "map_auto_maps_the_subordinate_ranges_through_newuidmap",
                false,
                "an /etc/subuid and /etc/subgid range for the unprivileged user"
            ),
            "unreachable"
        );
        return;
    };
    let out = maps_of(mode, ours(), &["--map-auto"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let got = squeeze(&text(&out.stdout));
    assert!(got.starts_with(&format!("0 {u} ")), "{got}");
    assert!(got.contains(&format!("\n\n0 {g} ")), "{got}");
    // With -r the caller is root inside and the range starts at 1.
    let out = maps_of(mode, ours(), &["--map-auto", "-r"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let got = squeeze(&text(&out.stdout));
    assert!(got.contains(&format!("\n1 {u} ")), "{got}");
    // -S/-G to an id of the range.
    let out = run(
        mode,
        ours(),
        &[
            "--map-auto",
            "-S",
            "1000",
            "-G",
            "1000",
            "sh",
            "-c",
            "id -u; id -g",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "1000\n1000\n");
}

#[test]
fn map_auto_without_a_subordinate_range_is_an_error() {
    // Root has no line in /etc/subuid (CI adds one for nobody only).
    for mode in modes("map_auto_without_a_subordinate_range_is_an_error") {
        if subid_start(mode, "/etc/subuid").is_some() {
            continue;
        }
        let out = run(mode, ours(), &["--map-auto", "true"]);
        assert_eq!(out.status.code(), Some(1), "{mode:?}");
        assert!(
            text(&out.stderr).contains("no line matching user"),
            "{}",
            text(&out.stderr)
        );
    }
}

#[test]
fn clear_env_and_whitelist_env() {
    for mode in modes("clear_env_and_whitelist_env") {
        let mut c = command(mode, ours());
        c.env("UL_A", "a").env("UL_B", "b");
        let out = c
            .args([
                "--clear-env",
                "/bin/sh",
                "-c",
                "echo \"${UL_A:-CLEARED}\"; env | grep -c .",
            ])
            .output()
            .unwrap();
        // dash sets PWD (and nothing else) in an empty environment.
        assert_eq!(text(&out.stdout), "CLEARED\n1\n", "{mode:?}");
        let mut c = command(mode, ours());
        c.env("UL_A", "a").env("UL_B", "b");
        let out = c
            .args([
                "--whitelist-env",
                "UL_A,UL_MISSING",
                "/bin/sh",
                "-c",
                "echo \"${UL_A}${UL_B}\"; env | grep -c ^UL_",
            ])
            .output()
            .unwrap();
        assert_eq!(text(&out.stdout), "a\n1\n", "{mode:?}");
        // Together with -f and namespaces.
        let mut c = command(mode, ours());
        c.env("UL_A", "a");
        let out = c
            .args([
                "-r",
                "-f",
                "--whitelist-env=UL_A",
                "/bin/sh",
                "-c",
                "echo $UL_A",
            ])
            .output()
            .unwrap();
        assert_eq!(text(&out.stdout), "a\n", "{mode:?}");
    }
}

/// The namespace link of the file a namespace was persisted on.
fn persisted_link(path: &Path) -> String {
    linux_namespaces::Namespace::from_path(path)
        .unwrap()
        .id()
        .to_string()
}

#[test]
#[ignore = "needs root"]
fn namespaces_are_persisted_on_files() {
    assert_root("namespaces_are_persisted_on_files");
    let dir = std::env::temp_dir().join(format!("unshare-persist-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (opt, kind, fork) in [
        ("--uts", "uts", false),
        ("--net", "net", false),
        ("--ipc", "ipc", true),
        // Persisted by a helper that stays outside the new mount/user namespace.
        ("--mount", "mnt", false),
        ("--user", "user", true),
        ("--pid", "pid", true),
    ] {
        for existing in [true, false] {
            let file = dir.join(format!("{kind}-{existing}"));
            if existing {
                std::fs::write(&file, "").unwrap();
            }
            let mut args = vec![format!("{opt}={}", file.display())];
            if fork {
                args.push("-f".into());
            }
            args.extend(["readlink".into(), format!("/proc/self/ns/{kind}")]);
            let out = run(Mode::Root, ours(), &strs(&args));
            assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
            let link = text(&out.stdout).trim().to_string();
            assert_eq!(persisted_link(&file), link, "{args:?}");
            assert_ne!(link, own_ns(kind), "{args:?}");
            rustix::mount::unmount(&file, rustix::mount::UnmountFlags::DETACH).unwrap();
            std::fs::remove_file(&file).unwrap();
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn load_interp_registers_a_binfmt_rule_in_the_new_namespace() {
    // binfmt_misc is mountable in a user namespace since Linux 6.7; its /proc mount needs the
    // new pid namespace (-f -p).
    let dir = std::env::temp_dir().join(format!("unshare-binfmt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("hello.ulnsfoo");
    std::fs::write(&script, "#!/nonexistent-interpreter\necho run by sh\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let rule = ":ulnsfoo:E::ulnsfoo::/bin/sh:";
    for mode in modes("load_interp_registers_a_binfmt_rule_in_the_new_namespace") {
        let s = script.to_str().unwrap();
        let out = run(mode, ours(), &["-r", "-f", "-p", "-l", rule, s]);
        assert!(out.status.success(), "{mode:?}: {}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "run by sh\n", "{mode:?}");
        let out = run(
            mode,
            ours(),
            &[
                "-r",
                "-f",
                "-p",
                "--mount-binfmt",
                "ls",
                "/proc/sys/fs/binfmt_misc",
            ],
        );
        assert_eq!(text(&out.stdout), "register\nstatus\n", "{mode:?}");
        // The rule lives in that namespace only.
        assert!(!Path::new("/proc/sys/fs/binfmt_misc/ulnsfoo").exists());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn persisting_without_privilege_fails_and_leaves_nothing() {
    // Rootless, the helper outside the new namespaces may not mount there: an error, exit
    // status 1, no file created and nothing mounted.
    let dir = std::env::temp_dir().join(format!("unshare-nopersist-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    for opt in ["--uts", "--mount", "--user"] {
        let file = dir.join(&opt[2..]);
        let arg = format!("{opt}={}", file.display());
        let out = run(Mode::Rootless, ours(), &["-r", &arg, "true"]);
        assert_eq!(out.status.code(), Some(1), "{opt}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).starts_with("unshare: mount /proc/"),
            "{}",
            text(&out.stderr)
        );
        assert!(!file.exists(), "{opt}: {} was left behind", file.display());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_helper_the_parent_never_released_exits_with_it() {
    // Rootless, unshare(CLONE_NEWNS) fails after the persisting helper was forked: the helper
    // must see end of file on its pipe and exit, not hold the caller's stderr open forever.
    let dir = std::env::temp_dir().join(format!("unshare-unreleased-{}", std::process::id()));
    let file = dir.join("mnt");
    let arg = format!("--mount={}", file.display());
    let bin = ours();
    in_child_within(Duration::from_secs(120), || {
        let out = run(Mode::Rootless, bin, &[&arg, "true"]);
        ensure_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        ensure!(
            text(&out.stderr).starts_with("unshare: unshare failed"),
            "{}",
            text(&out.stderr)
        );
        Ok(())
    })
    .unwrap();
    assert!(!file.exists());
}

#[test]
#[ignore = "needs root"]
fn owner_gives_the_new_user_namespace_to_that_uid() {
    assert_root("owner_gives_the_new_user_namespace_to_that_uid");
    let (mut child, line) = start_ready(
        Mode::Root,
        &[
            "--owner",
            "65534:65534",
            "--map-user",
            "0",
            "--map-group",
            "0",
            "sh",
            "-c",
            "echo $(cat /proc/self/uid_map /proc/self/gid_map); exec sleep 1000",
        ],
    );
    let owner = linux_namespaces::Namespace::open(child.id(), NamespaceKind::User)
        .and_then(|ns| ns.owner_uid());
    let status = status_field_of(child.id(), "Uid");
    // Ended before any assertion: a leftover would keep the harness's output pipe open.
    let _ = child.kill();
    let _ = child.wait();
    // The maps were written from outside (the process had given up root), 0 -> 0.
    assert_eq!(squeeze(&line), "0 0 1 0 0 1");
    assert_eq!(owner.unwrap(), 65534);
    assert!(status.starts_with("65534"), "Uid: {status}");
}

#[test]
fn owner_takes_uid_colon_gid_only() {
    for bad in ["abc", "1", "1:", ":2", "1:2x", "-1:2"] {
        let out = run(Mode::Rootless, ours(), &["--owner", bad, "true"]);
        assert_eq!(out.status.code(), Some(1), "{bad}");
        assert_eq!(
            text(&out.stderr),
            "unshare: failed to parse owner\n",
            "{bad}"
        );
    }
}

/// A field of `/proc/<pid>/status`.
fn status_field_of(pid: u32, name: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| {
            l.strip_prefix(&format!("{name}:"))
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_default()
}
