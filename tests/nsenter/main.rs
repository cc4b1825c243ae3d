//! The `nsenter` example against util-linux `nsenter(1)`: the same options on the same target
//! give the same output and exit status.
//!
//! Each test runs both tools as child processes (rootless ones as uid 65534 when the suite
//! is root); the test process itself changes no namespace and no credential. The example
//! binary is built once, by cargo, into `target/<profile>/examples/nsenter`.

#[path = "../common/mod.rs"]
mod common;
mod options;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use common::*;

/// The example binary, built by cargo on first use with the profile this test was built with
/// (`common::example_binary`).
fn example() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| example_binary("nsenter", &[]))
}

/// util-linux `nsenter`, which the example is compared with.
fn util_linux() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let path = std::env::var_os("PATH").unwrap_or_default();
        std::env::split_paths(&path)
            .chain(["/usr/bin".into(), "/bin".into(), "/usr/sbin".into()])
            .map(|d| d.join("nsenter"))
            .find(|p| p.metadata().is_ok_and(|m| m.permissions().mode() & 0o111 != 0))
            .expect("util-linux nsenter is not installed (apt install util-linux); these tests compare with it")
    })
}

/// How one run ended and what it printed.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    code: Option<i32>,
    signal: Option<i32>,
    stdout: String,
    stderr: String,
}

#[derive(Clone, Copy, PartialEq)]
enum As {
    /// As the suite runs.
    Caller,
    /// As uid/gid 65534 without supplementary groups when the suite is root, else as is.
    Unprivileged,
}

fn run_tool(tool: &Path, args: &[String], who: As, stdin: Option<&str>) -> Outcome {
    let mut cmd = Command::new(tool);
    cmd.args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if who == As::Unprivileged && is_root() {
        // std drops the supplementary groups too when root sets a uid.
        cmd.uid(UNPRIVILEGED).gid(UNPRIVILEGED);
    }
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", tool.display()));
    if let Some(text) = stdin {
        let mut pipe = child.stdin.take().expect("stdin pipe");
        pipe.write_all(text.as_bytes()).expect("write stdin");
    }
    let out = child.wait_with_output().expect("wait");
    Outcome {
        code: out.status.code(),
        signal: out.status.signal(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// Runs the example and util-linux with the same arguments and checks they end the same way
/// with the same output. Returns the example's outcome.
fn same(list: &[&str], who: As) -> Outcome {
    same_with_input(list, who, None)
}

fn same_with_input(list: &[&str], who: As, stdin: Option<&str>) -> Outcome {
    let a = args(list);
    let ours = run_tool(example(), &a, who, stdin);
    let theirs = run_tool(util_linux(), &a, who, stdin);
    assert_eq!(
        (ours.code, ours.signal, &ours.stdout),
        (theirs.code, theirs.signal, &theirs.stdout),
        "nsenter {list:?}\n example: {ours:?}\n util-linux: {theirs:?}"
    );
    ours
}

fn link_of(pid: u32, name: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{name}"))
        .unwrap_or_else(|e| panic!("readlink /proc/{pid}/ns/{name}: {e}"))
        .to_string_lossy()
        .into_owned()
}

/// Sets the host name inside a holder's UTS namespace (with util-linux, as setup).
fn set_hostname(h: &Holder, name: &str, who: As) {
    let t = h.pid.to_string();
    let mut a = vec!["-t", &t, "-u"];
    if who == As::Unprivileged {
        a.extend(["-U", "--preserve-credentials"]);
    }
    a.extend(["hostname", name]);
    let out = run_tool(util_linux(), &args(&a), who, None);
    assert_eq!(out.code, Some(0), "setting the holder's hostname: {out:?}");
}

fn ok(o: &Outcome) {
    assert_eq!((o.code, o.signal), (Some(0), None), "{o:?}");
}

const READ_LINKS: &str = "for n in cgroup ipc mnt net pid time user uts; do \
                          readlink /proc/self/ns/$n; done";

fn expected_links(pid: u32, kinds: &[&str]) -> String {
    kinds.iter().map(|n| link_of(pid, n) + "\n").collect()
}

// ---------------------------------------------------------------------------------------------
// Entering a target's namespaces
// ---------------------------------------------------------------------------------------------

#[test]
#[ignore = "needs root"]
fn net_and_uts_of_a_target_as_root_match_util_linux() {
    assert_root("net_and_uts_of_a_target_as_root_match_util_linux");
    let h = Holder::new(NamespaceSet::NET | NamespaceSet::UTS);
    set_hostname(&h, "lns-holder", As::Caller);
    let t = h.pid.to_string();
    let out = same(
        &[
            "-t",
            &t,
            "-n",
            "-u",
            "sh",
            "-c",
            "readlink /proc/self/ns/net; hostname",
        ],
        As::Caller,
    );
    ok(&out);
    assert_eq!(
        out.stdout,
        format!("{}\nlns-holder\n", link_of(h.pid, "net"))
    );
}

#[test]
fn user_net_and_uts_of_a_rootless_target_rootless_match_util_linux() {
    let h = Holder::rootless(NamespaceSet::USER | NamespaceSet::NET | NamespaceSet::UTS);
    set_hostname(&h, "lns-rootless", As::Unprivileged);
    let t = h.pid.to_string();
    let out = same(
        &[
            "-t",
            &t,
            "-U",
            "-n",
            "-u",
            "--preserve-credentials",
            "sh",
            "-c",
            "readlink /proc/self/ns/net; hostname; id -u",
        ],
        As::Unprivileged,
    );
    ok(&out);
    assert_eq!(
        out.stdout,
        format!("{}\nlns-rootless\n0\n", link_of(h.pid, "net"))
    );
}

#[test]
#[ignore = "needs root"]
fn each_namespace_option_enters_that_kind_like_util_linux() {
    assert_root("each_namespace_option_enters_that_kind_like_util_linux");
    let h = Holder::new(NamespaceSet::all() - NamespaceSet::USER);
    let t = h.pid.to_string();
    for (opt, link) in [
        ("-C", "cgroup"),
        ("-i", "ipc"),
        ("-m", "mnt"),
        ("-n", "net"),
        ("-u", "uts"),
        ("-T", "time"),
        ("-p", "pid"),
    ] {
        let out = same(
            &["-t", &t, opt, "readlink", &format!("/proc/self/ns/{link}")],
            As::Caller,
        );
        ok(&out);
        assert_eq!(out.stdout.trim(), link_of(h.pid, link), "{opt}");
    }
}

#[test]
#[ignore = "needs root"]
fn all_as_root_enters_every_namespace_of_the_target_like_util_linux() {
    assert_root("all_as_root_enters_every_namespace_of_the_target_like_util_linux");
    let h = Holder::new(NamespaceSet::all() - NamespaceSet::USER);
    let t = h.pid.to_string();
    let out = same(&["-t", &t, "--all", "sh", "-c", READ_LINKS], As::Caller);
    ok(&out);
    let all = ["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"];
    assert_eq!(out.stdout, expected_links(h.pid, &all));
}

#[test]
fn all_rootless_enters_every_namespace_of_a_rootless_target_like_util_linux() {
    let h = Holder::rootless(NamespaceSet::all());
    let t = h.pid.to_string();
    let out = same(
        &[
            "-t",
            &t,
            "-a",
            "--preserve-credentials",
            "sh",
            "-c",
            READ_LINKS,
        ],
        As::Unprivileged,
    );
    ok(&out);
    let all = ["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"];
    assert_eq!(out.stdout, expected_links(h.pid, &all));
}

#[test]
fn all_leaves_out_the_namespaces_the_target_shares_with_us() {
    // util-linux 2.38 re-enters shared namespaces too and so fails here (the host's cgroup
    // namespace is not ours to enter once inside the holder's user namespace); the example
    // leaves them out, as `--all` is documented to.
    let h = Holder::rootless(NamespaceSet::USER | NamespaceSet::NET);
    let t = h.pid.to_string();
    let out = run_tool(
        example(),
        &args(&[
            "-t",
            &t,
            "--all",
            "--preserve-credentials",
            "sh",
            "-c",
            READ_LINKS,
        ]),
        As::Unprivileged,
        None,
    );
    ok(&out);
    let all = ["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"];
    assert_eq!(out.stdout, expected_links(h.pid, &all));
}

#[test]
#[ignore = "needs root"]
fn user_as_root_into_a_rootless_target_switches_to_uid_and_gid_0() {
    assert_root("user_as_root_into_a_rootless_target_switches_to_uid_and_gid_0");
    let h = Holder::rootless(NamespaceSet::USER);
    let t = h.pid.to_string();
    let out = same(
        &["-t", &t, "-U", "sh", "-c", "id -u; id -g; id -G"],
        As::Caller,
    );
    ok(&out);
    assert_eq!(out.stdout, "0\n0\n0\n");
}

#[test]
fn user_rootless_with_preserve_credentials_is_uid_0_inside() {
    let h = Holder::rootless(NamespaceSet::USER);
    let t = h.pid.to_string();
    let out = same(
        &["-t", &t, "-U", "--preserve-credentials", "id", "-u"],
        As::Unprivileged,
    );
    ok(&out);
    assert_eq!(out.stdout, "0\n");
}

#[test]
fn user_rootless_without_preserve_credentials_fails_on_setgroups_like_util_linux() {
    // The holder's user namespace has setgroups denied (as every rootless one must), and an
    // unprivileged caller cannot drop groups outside it either: util-linux gives up.
    let h = Holder::rootless(NamespaceSet::USER);
    let t = h.pid.to_string();
    let out = same(&["-t", &t, "-U", "id", "-u"], As::Unprivileged);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stderr.contains("setgroups failed"), "{out:?}");
}

#[test]
#[ignore = "needs root"]
fn setuid_and_setgid_pick_the_ids_in_the_entered_namespace() {
    assert_root("setuid_and_setgid_pick_the_ids_in_the_entered_namespace");
    let h = Holder::new(NamespaceSet::NET);
    let t = h.pid.to_string();
    let out = same(
        &[
            "-t",
            &t,
            "-n",
            "-S",
            "65534",
            "-G",
            "65534",
            "sh",
            "-c",
            "id -u; id -g; id -G",
        ],
        As::Caller,
    );
    ok(&out);
    assert_eq!(out.stdout, "65534\n65534\n65534\n");
}

// ---------------------------------------------------------------------------------------------
// Namespace files
// ---------------------------------------------------------------------------------------------

#[test]
fn namespace_files_in_every_spelling_match_util_linux() {
    let h = Holder::rootless(NamespaceSet::USER | NamespaceSet::NET);
    let user = format!("/proc/{}/ns/user", h.pid);
    let net = format!("/proc/{}/ns/net", h.pid);
    let want = format!("{}\n", link_of(h.pid, "net"));
    for spelling in [
        vec![format!("--user={user}"), format!("--net={net}")],
        vec![format!("-U{user}"), format!("-n{net}")],
    ] {
        let mut a: Vec<&str> = spelling.iter().map(String::as_str).collect();
        a.extend(["--preserve-credentials", "readlink", "/proc/self/ns/net"]);
        let out = same(&a, As::Unprivileged);
        ok(&out);
        assert_eq!(out.stdout, want, "{spelling:?}");
    }
}

#[test]
fn a_short_option_value_may_start_with_an_equals_sign() {
    // "-n=FILE" names FILE, as in util-linux since 2.39 (2.38 looked for a file "=FILE").
    let h = Holder::rootless(NamespaceSet::USER | NamespaceSet::NET);
    let a = args(&[
        &format!("-U=/proc/{}/ns/user", h.pid),
        &format!("-n=/proc/{}/ns/net", h.pid),
        "--preserve-credentials",
        "readlink",
        "/proc/self/ns/net",
    ]);
    let out = run_tool(example(), &a, As::Unprivileged, None);
    ok(&out);
    assert_eq!(out.stdout, format!("{}\n", link_of(h.pid, "net")));
}

#[test]
#[ignore = "needs root"]
fn a_file_of_the_wrong_kind_is_refused_like_util_linux() {
    assert_root("a_file_of_the_wrong_kind_is_refused_like_util_linux");
    let out = same(&["--net=/proc/self/ns/uts", "true"], As::Caller);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert_eq!(
        out.stderr,
        "nsenter: reassociate to namespace 'ns/net' failed: Invalid argument\n"
    );
}

#[test]
fn a_file_that_is_not_a_namespace_is_refused_like_util_linux() {
    let out = same(&["--net=/etc/hostname", "true"], As::Unprivileged);
    assert_eq!(out.code, Some(1), "{out:?}");
    // util-linux opens the file and setns refuses it.
    assert_eq!(
        out.stderr,
        "nsenter: reassociate to namespace 'ns/net' failed: Invalid argument\n"
    );
}

// ---------------------------------------------------------------------------------------------
// Pid namespace: forking, exit status
// ---------------------------------------------------------------------------------------------

#[test]
fn pid_forks_so_the_program_runs_in_the_targets_pid_namespace() {
    let h = Holder::rootless(NamespaceSet::USER | NamespaceSet::PID);
    let t = h.pid.to_string();
    let out = same(
        &[
            "-t",
            &t,
            "-U",
            "-p",
            "--preserve-credentials",
            "readlink",
            "/proc/self/ns/pid",
        ],
        As::Unprivileged,
    );
    ok(&out);
    assert_eq!(out.stdout.trim(), link_of(h.pid, "pid"));
}

#[test]
fn no_fork_leaves_the_program_in_our_pid_namespace() {
    let h = Holder::rootless(NamespaceSet::USER | NamespaceSet::PID);
    let t = h.pid.to_string();
    let out = same(
        &[
            "-t",
            &t,
            "-U",
            "-p",
            "-F",
            "--preserve-credentials",
            "readlink",
            "/proc/self/ns/pid",
        ],
        As::Unprivileged,
    );
    ok(&out);
    assert_eq!(out.stdout.trim(), link_of(std::process::id(), "pid"));
}

#[test]
fn the_programs_exit_status_is_propagated_with_and_without_fork() {
    let h = Holder::rootless(NamespaceSet::USER | NamespaceSet::PID | NamespaceSet::NET);
    let t = h.pid.to_string();
    for kinds in [["-U", "-n"], ["-U", "-p"]] {
        let out = same(
            &[
                "-t",
                &t,
                kinds[0],
                kinds[1],
                "--preserve-credentials",
                "sh",
                "-c",
                "exit 7",
            ],
            As::Unprivileged,
        );
        assert_eq!(out.code, Some(7), "{kinds:?}: {out:?}");
    }
}

#[test]
fn death_by_a_signal_is_passed_on_like_util_linux() {
    let h = Holder::rootless(NamespaceSet::USER | NamespaceSet::PID);
    let t = h.pid.to_string();
    let out = same(
        &[
            "-t",
            &t,
            "-U",
            "-p",
            "--preserve-credentials",
            "sh",
            "-c",
            "kill -TERM $$",
        ],
        As::Unprivileged,
    );
    assert_eq!(out.signal, Some(libc::SIGTERM), "{out:?}");
    // And so a shell reports 128 + the signal number.
    let cmd = format!(
        "{} -t {t} -U -p --preserve-credentials sh -c 'kill -TERM $$'; echo $?",
        example().display()
    );
    let shell = run_tool(
        Path::new("/bin/sh"),
        &args(&["-c", &cmd]),
        As::Unprivileged,
        None,
    );
    assert_eq!(
        shell.stdout,
        format!("{}\n", 128 + libc::SIGTERM),
        "{shell:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------------------------

#[test]
fn target_and_options_parse_in_every_getopt_form() {
    let h = Holder::rootless(NamespaceSet::USER | NamespaceSet::NET);
    let t = h.pid.to_string();
    let want = format!("{}\n", link_of(h.pid, "net"));
    let forms: [Vec<String>; 5] = [
        args(&["-t", &t, "-U", "-n"]),
        vec![format!("-t{t}"), "-U".into(), "-n".into()],
        args(&["--target", &t, "--user", "--net"]),
        vec![format!("--target={t}"), "--user".into(), "--net".into()],
        // Unambiguous abbreviations of long options ("--us" and "--ne" are not since
        // --user-parent and --net-socket, see below).
        args(&["--targ", &t, "--user", "--net"]),
    ];
    for form in forms {
        let mut a: Vec<&str> = form.iter().map(String::as_str).collect();
        a.extend(["--preserve-credentials", "readlink", "/proc/self/ns/net"]);
        let out = same(&a, As::Unprivileged);
        ok(&out);
        assert_eq!(out.stdout, want, "{form:?}");
    }
}

#[test]
fn an_optional_value_takes_the_rest_of_a_short_option_cluster() {
    // To getopt "-Un" is "-U" with the file "n" (relative: run from "/", where there is none),
    // not "-U -n".
    let a = args(&["-Un", "--preserve-credentials", "true"]);
    let run = |tool: &Path| {
        let mut cmd = Command::new(tool);
        cmd.args(&a).current_dir("/").stdin(Stdio::null());
        cmd.output().expect("run nsenter")
    };
    let (ours, theirs) = (run(example()), run(util_linux()));
    assert_eq!(ours.status.code(), Some(1), "{ours:?}");
    assert_eq!(theirs.status.code(), Some(1), "{theirs:?}");
    let stderr = String::from_utf8_lossy(&ours.stderr);
    assert_eq!(
        stderr,
        "nsenter: cannot open n: No such file or directory\n"
    );
}

#[test]
fn an_ambiguous_abbreviation_names_the_candidates() {
    // As util-linux since 2.40; 2.38 had neither --net-socket nor --user-parent.
    for (abbrev, candidates) in [
        ("--ne", "'--net' '--net-socket'"),
        ("--us", "'--user' '--user-parent'"),
    ] {
        let out = run_tool(example(), &args(&[abbrev, "true"]), As::Unprivileged, None);
        assert_eq!(out.code, Some(1), "{out:?}");
        assert_eq!(
            out.stderr,
            format!(
                "nsenter: option '{abbrev}' is ambiguous; possibilities: {candidates}\n\
                 Try 'nsenter --help' for more information.\n"
            )
        );
    }
}

#[test]
fn options_end_at_the_program_name() {
    let h = Holder::rootless(NamespaceSet::USER | NamespaceSet::NET);
    let t = h.pid.to_string();
    let out = same(
        &[
            "-t",
            &t,
            "-U",
            "--preserve-credentials",
            "echo",
            "-n",
            "--net",
            "x",
        ],
        As::Unprivileged,
    );
    ok(&out);
    assert_eq!(out.stdout, "--net x");
    let out = same(
        &["-t", &t, "-U", "--preserve-credentials", "--", "echo", "-a"],
        As::Unprivileged,
    );
    ok(&out);
    assert_eq!(out.stdout, "-a\n");
}

#[test]
fn without_a_program_it_runs_the_shell() {
    let h = Holder::rootless(NamespaceSet::USER | NamespaceSet::NET);
    let t = h.pid.to_string();
    let a = args(&["-t", &t, "-U", "-n", "--preserve-credentials"]);
    let script = "readlink /proc/self/ns/net\n";
    let mut outs = Vec::new();
    for tool in [example(), util_linux()] {
        let out = {
            let mut cmd = Command::new(tool);
            cmd.args(&a)
                .env("SHELL", "/bin/sh")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            if is_root() {
                cmd.uid(UNPRIVILEGED).gid(UNPRIVILEGED);
            }
            let mut child = cmd.spawn().expect("spawn");
            child
                .stdin
                .take()
                .unwrap()
                .write_all(script.as_bytes())
                .unwrap();
            child.wait_with_output().unwrap()
        };
        outs.push((
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        ));
    }
    assert_eq!(outs[0], outs[1], "example vs util-linux");
    assert_eq!(outs[0].0, Some(0), "{outs:?}");
    assert!(outs[0].1.contains(&link_of(h.pid, "net")), "{outs:?}");
}

#[test]
fn help_prints_usage_and_succeeds() {
    for flag in ["-h", "--help"] {
        let out = run_tool(example(), &args(&[flag]), As::Caller, None);
        ok(&out);
        assert!(
            out.stdout.starts_with("\nUsage:\n nsenter [options]"),
            "{out:?}"
        );
        for opt in [
            "--target",
            "--all",
            "--preserve-credentials",
            "--no-fork",
            "--setuid",
            "--net-socket",
            "--user-parent",
            "--keep-caps",
            "--root",
            "--wdns",
            "--env",
            "--join-cgroup",
            "--follow-context",
        ] {
            assert!(out.stdout.contains(opt), "help lacks {opt}");
        }
    }
}

#[test]
fn command_line_mistakes_exit_1_like_util_linux() {
    for list in [
        &["--bogus"][..],
        &["-x"],
        &["-t"],
        &["-t", "abc", "-n", "true"],
        &["--all=yes"],
        &["--p", "true"],
        &["-n", "true"],    // no target pid
        &["--all", "true"], // --all without target
    ] {
        let out = same(list, As::Unprivileged);
        assert_eq!(out.code, Some(1), "{list:?}: {out:?}");
        assert!(out.stderr.starts_with("nsenter: "), "{list:?}: {out:?}");
    }
}

#[test]
fn a_target_without_namespace_options_is_an_error() {
    // As util-linux since 2.39 ("no namespace specified"); 2.38 ran the program unchanged.
    let out = run_tool(
        example(),
        &args(&["-t", "1", "true"]),
        As::Unprivileged,
        None,
    );
    assert_eq!(out.code, Some(1), "{out:?}");
    assert_eq!(out.stderr, "nsenter: no namespace specified\n");
}

#[test]
fn a_target_that_does_not_exist_exits_1_like_util_linux() {
    let out = same(&["-t", "2147483647", "-n", "true"], As::Unprivileged);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert_eq!(
        out.stderr,
        "nsenter: cannot open /proc/2147483647/ns/net: No such file or directory\n"
    );
}

#[test]
fn exec_failures_exit_127_when_not_found_and_126_otherwise() {
    let h = Holder::rootless(NamespaceSet::USER | NamespaceSet::NET);
    let t = h.pid.to_string();
    let base = ["-t", &t, "-U", "--preserve-credentials"];
    let missing = same(
        &[&base[..], &["/nonexistent/program"]].concat(),
        As::Unprivileged,
    );
    assert_eq!(missing.code, Some(127), "{missing:?}");
    assert_eq!(
        missing.stderr,
        "nsenter: failed to execute /nonexistent/program: No such file or directory\n"
    );
    // A directory: execve fails with EACCES.
    let not_executable = same(&[&base[..], &["/"]].concat(), As::Unprivileged);
    assert_eq!(not_executable.code, Some(126), "{not_executable:?}");
}
