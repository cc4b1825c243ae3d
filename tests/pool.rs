//! The `pool` example, run as a process: its summary, its bound on concurrent jobs, its
//! timeouts, its handling of output larger than a pipe, and that no job process outlives it.
//! Each case runs rootless (as uid 65534 when the suite is root) and, where it differs, as
//! root.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use common::*;

/// The example binary, built once with this test binary's profile and features.
fn example() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let mut features = Vec::new();
        if cfg!(feature = "net") {
            features.push("net");
        }
        if cfg!(feature = "tokio") {
            features.push("tokio");
        }
        example_binary("pool", &features)
    })
}

/// A directory every uid may use, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "linux-namespaces-pool-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        Scratch(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// A FIFO that nothing opens for writing unless a job does: opening it for reading blocks.
    fn fifo(&self, name: &str) -> PathBuf {
        let p = self.path(name);
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &p,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o666),
            0,
        )
        .unwrap();
        // The umask may have taken bits away.
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o666)).unwrap();
        p
    }

    /// A file every uid may append to.
    fn shared_file(&self, name: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, b"").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o666)).unwrap();
        p
    }

    fn jobs(&self, lines: &[String]) -> PathBuf {
        let p = self.path("jobs.txt");
        std::fs::write(&p, lines.join("\n") + "\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum As {
    Rootless,
    Root,
}

/// Runs the pool with `args`, as `who`.
fn pool(who: As, args: &[&str]) -> Output {
    let mut cmd = Command::new(example());
    cmd.args(args).stdin(Stdio::null());
    if who == As::Rootless && is_root() {
        cmd.uid(UNPRIVILEGED).gid(UNPRIVILEGED);
    }
    cmd.output().expect("run the pool example")
}

/// One summary line: status, stdout bytes, stderr bytes, first line; by job index.
#[derive(Debug, Clone)]
struct Line {
    status: String,
    out: u64,
    err: u64,
    first: String,
}

/// Splits off `n` whitespace-separated fields; returns them and the rest, trimmed at the start.
fn fields(line: &str, n: usize) -> (Vec<&str>, &str) {
    let mut rest = line;
    let mut out = Vec::new();
    for _ in 0..n {
        rest = rest.trim_start();
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        out.push(&rest[..end]);
        rest = &rest[end..];
    }
    (out, rest.trim_start())
}

fn parse_summary(text: &str) -> (BTreeMap<usize, Line>, String) {
    let mut jobs = BTreeMap::new();
    let mut total = String::new();
    for l in text.lines().skip(1) {
        let (f, first) = fields(l, 5);
        match f[0].parse::<usize>() {
            Ok(index) if f[1] != "jobs:" => {
                let bytes = |s: &str| s.trim_end_matches('B').parse::<u64>().unwrap();
                jobs.insert(
                    index,
                    Line {
                        status: f[1].to_string(),
                        out: bytes(f[3]),
                        err: bytes(f[4]),
                        first: first.to_string(),
                    },
                );
            }
            _ => total = l.to_string(),
        }
    }
    (jobs, total)
}

/// The pids of processes whose command line contains `marker`.
fn processes_with(marker: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(marker))
        })
        .collect()
}

fn summary_case(who: As, extra: &[&str]) {
    let dir = Scratch::new("summary");
    let block = dir.fifo("block");
    let jobs = dir.jobs(&[
        "echo hello".into(),
        "exit 3".into(),
        "echo oops >&2; exit 1".into(),
        // More than a pipe holds on both streams, stderr first: a runner that drained stdout
        // before stderr would leave this job blocked on a full stderr pipe.
        "head -c 200000 /dev/zero | tr '\\0' e >&2; head -c 300000 /dev/zero | tr '\\0' o".into(),
        format!("read _ < {}", block.display()),
        "echo $(hostname)-$(id -u)-$(ls /proc | grep -c '^[0-9]')".into(),
        "kill -9 $$".into(),
    ]);
    let mut args = vec!["-j", "3", "--timeout", "2", "--grace", "0.5"];
    args.extend_from_slice(extra);
    let jobs = jobs.to_str().unwrap().to_string();
    args.push(&jobs);
    let out = pool(who, &args);
    let text = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}\n{stderr}");
    let (jobs, total) = parse_summary(&text);
    assert_eq!(jobs.len(), 7, "{text}");
    let j = |i: usize| jobs[&i].clone();
    assert_eq!(j(1).status, "ok", "{text}");
    assert_eq!(j(1).first, "hello", "{text}");
    assert_eq!((j(1).out, j(1).err), (6, 0), "{text}");
    assert_eq!(j(2).status, "exit=3", "{text}");
    assert_eq!(j(3).status, "exit=1", "{text}");
    assert_eq!(j(3).first, "stderr: oops", "{text}");
    assert_eq!(j(4).status, "ok", "{text}");
    assert_eq!((j(4).out, j(4).err), (300_000, 200_000), "{text}");
    assert!(j(4).first.starts_with("oooo"), "{text}");
    assert_eq!(j(5).status, "timeout", "{text}");
    // The job's own init forwarded SIGTERM: the shell died of it (128 + 15), no SIGKILL needed.
    assert_eq!(j(5).first, "(stopped: exit=143)", "{text}");
    // Its own UTS namespace, root in its user namespace (or really root without one), and a
    // fresh /proc with only its own processes: init, sh, ls (and grep's pipeline).
    let six = j(6).first;
    let (host, rest) = six.split_once('-').unwrap();
    assert_eq!(host, "job6", "{text}");
    let (uid, procs) = rest.split_once('-').unwrap();
    assert_eq!(uid, "0", "{text}");
    let procs: u32 = procs.parse().unwrap();
    assert!(
        (2..=8).contains(&procs),
        "{procs} processes in /proc: {text}"
    );
    // A job killed by a signal: the init reports it as 128 + 9.
    assert_eq!(j(7).status, "exit=137", "{text}");
    assert!(
        total.starts_with("7 jobs: 3 ok, 3 failed, 1 timed out; at most 3 at once (-j 3)"),
        "{total}"
    );
}

#[test]
fn summary_rootless_reports_success_failure_timeout_and_output_larger_than_a_pipe() {
    summary_case(As::Rootless, &[]);
}

#[test]
#[ignore = "needs root"]
fn summary_as_root_with_and_without_a_user_namespace() {
    assert_root("summary_as_root_with_and_without_a_user_namespace");
    summary_case(As::Root, &[]);
    summary_case(As::Root, &["--unshare", "pid,mnt,uts,ipc,net"]);
}

/// Jobs that log their start and end to one shared file (appends of a few bytes are atomic).
fn logged_jobs(log: &Path, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            format!(
                "echo start {i} >> {log}; i=0; while [ $i -lt 3000 ]; do i=$((i+1)); done; \
                 echo end {i} >> {log}",
                log = log.display()
            )
        })
        .collect()
}

/// The most jobs the log shows running at once.
fn overlap(log: &Path) -> usize {
    let text = std::fs::read_to_string(log).unwrap();
    let (mut now, mut most, mut events) = (0i64, 0i64, 0);
    for l in text.lines() {
        events += 1;
        if l.starts_with("start") {
            now += 1;
        } else if l.starts_with("end") {
            now -= 1;
        }
        most = most.max(now);
    }
    assert!(events > 0, "empty log");
    most as usize
}

fn concurrency_case(who: As) {
    let dir = Scratch::new("bound");
    let log = dir.shared_file("log");
    let meet = dir.fifo("meet");
    // A rendezvous: each of the first two jobs blocks opening the FIFO until the other one
    // opens it too, so both succeed only if they run at the same time.
    let mut lines = vec![
        format!("read _ < {}; echo met", meet.display()),
        format!("echo hi > {}", meet.display()),
    ];
    lines.extend(logged_jobs(&log, 12));
    let jobs = dir.jobs(&lines);
    let out = pool(who, &["-j", "2", "-t", "30", jobs.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (jobs_seen, total) = parse_summary(&text);
    assert_eq!(jobs_seen[&1].first, "met", "{text}");
    assert!(
        overlap(&log) <= 2,
        "log shows more than 2 at once:\n{}",
        std::fs::read_to_string(&log).unwrap()
    );
    assert!(total.contains("at most 2 at once (-j 2)"), "{total}");

    // With one slot the rendezvous cannot happen: each of the two waits alone until its
    // timeout, and the logged jobs never overlap.
    let log1 = dir.shared_file("log1");
    let mut lines = vec![
        format!("read _ < {}", meet.display()),
        format!("echo hi > {}", meet.display()),
    ];
    lines.extend(logged_jobs(&log1, 4));
    let jobs = dir.jobs(&lines);
    let out = pool(
        who,
        &["-j", "1", "-t", "0.3", "-g", "0.2", jobs.to_str().unwrap()],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let (jobs_seen, total) = parse_summary(&text);
    assert_eq!(jobs_seen[&1].status, "timeout", "{text}");
    assert_eq!(jobs_seen[&2].status, "timeout", "{text}");
    assert!((3..=6).all(|i| jobs_seen[&i].status == "ok"), "{text}");
    assert_eq!(
        overlap(&log1),
        1,
        "{}",
        std::fs::read_to_string(&log1).unwrap()
    );
    assert!(total.contains("at most 1 at once (-j 1)"), "{total}");
}

#[test]
fn at_most_n_jobs_run_at_once_rootless() {
    concurrency_case(As::Rootless);
}

#[test]
#[ignore = "needs root"]
fn at_most_n_jobs_run_at_once_as_root() {
    assert_root("at_most_n_jobs_run_at_once_as_root");
    concurrency_case(As::Root);
}

fn leftovers_case(who: As) {
    let dir = Scratch::new("leftovers");
    let never = dir.fifo("never");
    // Neither marker contains the other: the rootless and root cases run at the same time.
    let marker = format!("pool-{who:?}-straggler-{}", std::process::id());
    // Each job leaves a process behind that would block forever (and holds the job's stdout
    // open); the second also outlives its timeout.
    let straggler = format!("sh -c 'read _ < \"$1\"' {marker} {} &", never.display());
    let jobs = dir.jobs(&[
        format!("{straggler} echo left one behind"),
        format!("{straggler} read _ < {}", never.display()),
        format!("{straggler} {straggler} exit 4"),
    ]);
    let out = pool(
        who,
        &["-j", "3", "-t", "0.5", "-g", "0.2", jobs.to_str().unwrap()],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let (jobs_seen, _) = parse_summary(&text);
    assert_eq!(jobs_seen[&1].status, "ok", "{text}");
    assert_eq!(jobs_seen[&1].first, "left one behind", "{text}");
    assert_eq!(jobs_seen[&2].status, "timeout", "{text}");
    assert_eq!(jobs_seen[&3].status, "exit=4", "{text}");
    let left = processes_with(&marker);
    assert!(left.is_empty(), "processes left behind: {left:?}\n{text}");
}

#[test]
fn no_job_process_outlives_the_pool_rootless() {
    leftovers_case(As::Rootless);
}

#[test]
#[ignore = "needs root"]
fn no_job_process_outlives_the_pool_as_root() {
    assert_root("no_job_process_outlives_the_pool_as_root");
    leftovers_case(As::Root);
}

#[test]
fn jobs_come_from_standard_input_too() {
    let mut cmd = Command::new(example());
    cmd.args(["-j", "2"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    if is_root() {
        cmd.uid(UNPRIVILEGED).gid(UNPRIVILEGED);
    }
    let mut child = cmd.spawn().unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(b"# a comment\n\necho one\necho two\n")
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let (jobs, total) = parse_summary(&text);
    assert_eq!(jobs.len(), 2, "{text}");
    assert_eq!(jobs[&2].first, "two", "{text}");
    assert!(total.starts_with("2 jobs: 2 ok"), "{total}");
}

#[test]
fn usage_errors_exit_2() {
    for args in [&["-j", "0"][..], &["--bogus"], &["/nonexistent/jobs"]] {
        let out = pool(As::Rootless, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?}");
    }
}

#[test]
fn output_dir_keeps_every_jobs_whole_output() {
    let dir = Scratch::new("outdir");
    let out_dir = dir.path("out");
    // 3 MiB on stdout: more than the summary keeps (1 MiB).
    let jobs = dir.jobs(&[
        "head -c 3145728 /dev/zero | tr '\\0' x".to_string(),
        "echo to-stderr >&2; exit 4".to_string(),
    ]);
    let out = pool(
        As::Rootless,
        &[
            "-j",
            "2",
            "--output-dir",
            out_dir.to_str().unwrap(),
            jobs.to_str().unwrap(),
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let big = std::fs::read(out_dir.join("job1.out")).unwrap();
    assert_eq!(big.len(), 3 << 20);
    assert!(big.iter().all(|b| *b == b'x'));
    assert_eq!(std::fs::read(out_dir.join("job1.err")).unwrap(), b"");
    assert_eq!(
        std::fs::read(out_dir.join("job2.err")).unwrap(),
        b"to-stderr\n"
    );
    assert_eq!(std::fs::read(out_dir.join("job2.out")).unwrap(), b"");
}

#[test]
fn progress_counts_done_running_and_failed() {
    let dir = Scratch::new("progress");
    let jobs = dir.jobs(&["true".to_string(), "false".to_string(), "true".to_string()]);
    let out = pool(
        As::Rootless,
        &["-j", "1", "--progress", jobs.to_str().unwrap()],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    // Each state is one line rewritten in place: the last says everything is done.
    let states: Vec<&str> = err
        .split('\r')
        .map(|s| s.trim_start_matches("\x1b[K").trim_end())
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(
        states.first().copied(),
        Some("done 0/3 running 0 failed 0"),
        "{err:?}"
    );
    assert_eq!(
        states.last().copied(),
        Some("done 3/3 running 0 failed 1"),
        "{err:?}"
    );
    assert!(states.contains(&"done 1/3 running 1 failed 0"), "{err:?}");
    // Without a terminal and without --progress, nothing of it.
    let out = pool(As::Rootless, &["-j", "1", jobs.to_str().unwrap()]);
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("done "),
        "{out:?}"
    );
}
