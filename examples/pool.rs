//! `pool`: run shell commands as jobs, each in fresh namespaces, at most N at once.
//!
//! ```text
//! cargo run --example pool -- jobs.txt                # one command per line, /bin/sh -c
//! printf 'make test\nhostname\n' | cargo run --example pool -- -j 4 --timeout 30
//! cargo run --example pool -- --unshare pid,mnt,net jobs.txt   # as root: no user namespace
//! ```
//!
//! Every job gets namespaces of its own: by default user (the caller's uid and gid are root
//! inside), pid (with a minimal init as PID 1, and a fresh `/proc`), mount (private
//! propagation), UTS (host name `jobN`), IPC and network (loopback only, brought up). So it
//! works rootless, a job sees no other job's processes, and everything a job started ends
//! with it: when the init of a pid namespace exits, the kernel kills what is left in it.
//!
//! The runner has one thread. It waits with `poll(2)` on every running job's pidfd (readable
//! when the job exits) and on its stdout and stderr pipes at once, so a job that prints more
//! than a pipe holds never blocks on a full pipe, and nothing sleeps: the poll timeout is the
//! nearest job deadline. A job that outlives `--timeout` is stopped with
//! [`Child::stop`](linux_namespaces::Child::stop): `SIGTERM` (the init forwards it to the
//! job), then `SIGKILL` after `--grace`. While one job is being stopped the runner waits for
//! it, up to the grace period; the other jobs keep running meanwhile.
//!
//! With `--output-dir DIR` each job's whole stdout and stderr are also written, as they come,
//! to `DIR/jobN.out` and `DIR/jobN.err` (the summary keeps only the first MiB of each). On a
//! terminal (or with `--progress`) a status line on stderr counts the jobs done, running and
//! failed as they change.
//!
//! At the end it prints one line per job (index, status, duration, bytes of output, the first
//! line of output) and the totals, and exits with 0 if every job succeeded, 1 if not, 2 for a
//! usage error.

use std::collections::VecDeque;
use std::io::{BufRead, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use linux_namespaces::{Child, Command, Mount, NamespaceKind, NamespaceSet, Propagation, Stdio};
use rustix::event::{PollFd, PollFlags, poll};

const USAGE: &str = "\
Usage: pool [options] [FILE]

Runs each line of FILE (or of standard input) with /bin/sh -c, as a job in namespaces of its
own, at most N at once, and prints a summary.

Options:
 -j, --jobs N          run at most N jobs at once (default: the number of CPUs)
 -t, --timeout SECS    stop a job that runs longer (SIGTERM, then SIGKILL after the grace)
 -g, --grace SECS      between SIGTERM and SIGKILL on timeout (default 1)
 -u, --unshare LIST    namespaces per job (default user,pid,mnt,uts,ipc,net)
 -o, --output-dir DIR  keep each job's whole output in DIR/jobN.out and DIR/jobN.err
     --progress        show the live status line even when stderr is not a terminal
     --no-progress     never show it
 -h, --help            display this help

Blank lines and lines starting with # are not jobs.
";

/// Bytes of each stream kept per job; the rest is read and counted, not kept.
const KEEP: usize = 1 << 20;

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq)]
struct Options {
    jobs: usize,
    timeout: Option<Duration>,
    grace: Duration,
    unshare: NamespaceSet,
    file: Option<String>,
    output_dir: Option<std::path::PathBuf>,
    /// Show the live status line: `None` for "on a terminal".
    progress: Option<bool>,
}

fn seconds(what: &str, v: &str) -> Result<Duration, String> {
    let s: f64 = v
        .parse()
        .map_err(|_| format!("{what}: {v:?} is not a number of seconds"))?;
    Duration::try_from_secs_f64(s).map_err(|_| format!("{what}: {v:?} is out of range"))
}

/// Parses the arguments after the program name; `Ok(None)` for `--help`.
fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Option<Options>, String> {
    let mut o = Options {
        jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
        timeout: None,
        grace: Duration::from_secs(1),
        unshare: NamespaceSet::USER
            | NamespaceSet::PID
            | NamespaceSet::MOUNT
            | NamespaceSet::UTS
            | NamespaceSet::IPC
            | NamespaceSet::NET,
        file: None,
        output_dir: None,
        progress: None,
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "-j" | "--jobs" => {
                let v = value("--jobs")?;
                o.jobs = v
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("--jobs: {v:?} is not a positive number"))?;
            }
            "-t" | "--timeout" => o.timeout = Some(seconds("--timeout", &value("--timeout")?)?),
            "-g" | "--grace" => o.grace = seconds("--grace", &value("--grace")?)?,
            "-u" | "--unshare" => {
                let v = value("--unshare")?;
                o.unshare = v.parse().map_err(|e| format!("--unshare: {e}"))?;
            }
            "-o" | "--output-dir" => o.output_dir = Some(value("--output-dir")?.into()),
            "--progress" => o.progress = Some(true),
            "--no-progress" => o.progress = Some(false),
            "-" => o.file = None,
            f if f.starts_with('-') && f.len() > 1 => return Err(format!("unknown option {f}")),
            _ if o.file.is_none() => o.file = Some(arg),
            _ => return Err(format!("unexpected argument {arg:?}")),
        }
    }
    Ok(Some(o))
}

/// How a job ended.
#[derive(Debug)]
enum Outcome {
    Exited(ExitStatus),
    TimedOut(ExitStatus),
    NotStarted(String),
}

/// One stream of a running job: its pipe until EOF, what was kept, how much there was.
struct Stream {
    pipe: Option<OwnedFd>,
    kept: Vec<u8>,
    total: u64,
    /// Where all of it goes, with `--output-dir`.
    sink: Option<std::fs::File>,
}

impl Stream {
    fn new(pipe: Option<OwnedFd>) -> Stream {
        Stream {
            pipe,
            kept: Vec::new(),
            total: 0,
            sink: None,
        }
    }

    /// Reads what is there (`poll` said so; a read then does not block). EOF closes the pipe.
    fn read_some(&mut self, chunk: &mut [u8]) {
        let Some(pipe) = &self.pipe else { return };
        match rustix::io::read(pipe, &mut *chunk) {
            Ok(0) => self.pipe = None,
            Ok(n) => {
                self.total += n as u64;
                let room = KEEP.saturating_sub(self.kept.len());
                self.kept.extend_from_slice(&chunk[..n.min(room)]);
                if let Some(sink) = &mut self.sink {
                    if let Err(e) = sink.write_all(&chunk[..n]) {
                        eprintln!("pool: writing output: {e}");
                        self.sink = None;
                    }
                }
            }
            Err(rustix::io::Errno::INTR | rustix::io::Errno::AGAIN) => {}
            Err(_) => self.pipe = None,
        }
    }
}

struct Running {
    index: usize,
    child: Child,
    out: Stream,
    err: Stream,
    started: Instant,
    deadline: Option<Instant>,
    status: Option<Outcome>,
}

/// What the summary shows of a finished job.
struct Finished {
    index: usize,
    outcome: Outcome,
    took: Duration,
    out: Stream,
    err: Stream,
}

fn job_command(index: usize, line: &str, o: &Options) -> Command {
    let set = o.unshare;
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(line)
        .stdin(Stdio::Null)
        .stdout(Stdio::Piped)
        .stderr(Stdio::Piped)
        .unshare(set)
        // Whatever goes wrong in the runner, no job outlives it.
        .kill_on_drop(true);
    if set.has(NamespaceKind::User) {
        cmd.map_root();
    }
    if set.has(NamespaceKind::Uts) {
        cmd.hostname(format!("job{index}"));
    }
    if set.has(NamespaceKind::Network) {
        cmd.loopback_up(true);
    }
    if set.has(NamespaceKind::Pid) {
        // `sh` as PID 1 would ignore SIGTERM from outside; the init forwards it.
        cmd.init(true);
        if set.has(NamespaceKind::Mount) {
            cmd.mount(Mount::propagation("/", Propagation::Private).recursive())
                .mount(Mount::proc("/proc"));
        }
    }
    cmd
}

/// Spawns job `index`; the error is why it could not start.
fn start(index: usize, line: &str, o: &Options) -> Result<Running, String> {
    let started = Instant::now();
    let mut child = job_command(index, line, o)
        .spawn()
        .map_err(|e| e.to_string())?;
    let mut out = Stream::new(child.stdout.take().map(OwnedFd::from));
    let mut err = Stream::new(child.stderr.take().map(OwnedFd::from));
    if let Some(dir) = &o.output_dir {
        let file = |ext: &str| {
            let path = dir.join(format!("job{index}.{ext}"));
            std::fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))
        };
        out.sink = Some(file("out")?);
        err.sink = Some(file("err")?);
    }
    Ok(Running {
        index,
        child,
        out,
        err,
        started,
        deadline: o.timeout.map(|t| started + t),
        status: None,
    })
}

/// What one poll entry is for.
#[derive(Clone, Copy)]
enum Source {
    Exit(usize),
    Out(usize),
    Err(usize),
}

/// Runs every job and returns them finished, in the order they finished, and the most that
/// ran at once.
fn run_all(lines: &[String], o: &Options) -> Result<(Vec<Finished>, usize), String> {
    let mut queue: VecDeque<(usize, &String)> =
        lines.iter().enumerate().map(|(i, l)| (i + 1, l)).collect();
    let mut running: Vec<Running> = Vec::new();
    let mut done = Vec::new();
    let mut most = 0;
    let mut chunk = vec![0u8; 64 * 1024];
    let show = o
        .progress
        .unwrap_or_else(|| std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let mut shown = None;
    loop {
        if show {
            let failed = done.iter().filter(|f| !succeeded(f)).count();
            let now = (done.len(), running.len(), failed);
            if shown != Some(now) {
                // One line, rewritten in place: carriage return, then erase to its end.
                eprint!(
                    "\r\x1b[Kdone {}/{} running {} failed {}",
                    now.0,
                    lines.len(),
                    now.1,
                    now.2
                );
                shown = Some(now);
            }
        }
        while running.len() < o.jobs {
            let Some((index, line)) = queue.pop_front() else {
                break;
            };
            match start(index, line, o) {
                Ok(r) => running.push(r),
                Err(why) => done.push(Finished {
                    index,
                    outcome: Outcome::NotStarted(why),
                    took: Duration::ZERO,
                    out: Stream::new(None),
                    err: Stream::new(None),
                }),
            }
        }
        most = most.max(running.len());
        if running.is_empty() {
            if show {
                eprintln!();
            }
            return Ok((done, most));
        }

        // Deadlines: stop the job; or, if it has exited but something still holds its pipes
        // (possible only without a pid namespace), stop waiting for them.
        let now = Instant::now();
        for r in &mut running {
            if r.deadline.is_some_and(|d| d <= now) {
                if r.status.is_none() {
                    let status = r
                        .child
                        .stop(o.grace)
                        .map_err(|e| format!("job {}: stop: {e}", r.index))?;
                    r.status = Some(Outcome::TimedOut(status));
                } else {
                    r.out.pipe = None;
                    r.err.pipe = None;
                }
                r.deadline = None;
            }
        }

        // Finished: exited, and both pipes at EOF.
        let mut i = 0;
        while i < running.len() {
            let r = &running[i];
            if r.status.is_some() && r.out.pipe.is_none() && r.err.pipe.is_none() {
                let r = running.swap_remove(i);
                done.push(Finished {
                    index: r.index,
                    outcome: r.status.expect("checked"),
                    took: r.started.elapsed(),
                    out: r.out,
                    err: r.err,
                });
            } else {
                i += 1;
            }
        }
        if running.is_empty() {
            continue;
        }

        let mut sources = Vec::new();
        let mut fds = Vec::new();
        for (i, r) in running.iter().enumerate() {
            if r.status.is_none() {
                sources.push(Source::Exit(i));
                fds.push(PollFd::new(r.child.pidfd(), PollFlags::IN));
            }
            if let Some(p) = &r.out.pipe {
                sources.push(Source::Out(i));
                fds.push(PollFd::from_borrowed_fd(p.as_fd(), PollFlags::IN));
            }
            if let Some(p) = &r.err.pipe {
                sources.push(Source::Err(i));
                fds.push(PollFd::from_borrowed_fd(p.as_fd(), PollFlags::IN));
            }
        }
        let wait = running
            .iter()
            .filter_map(|r| r.deadline)
            .min()
            .map(|d| d.saturating_duration_since(Instant::now()));
        let timeout = wait.map(|w| rustix::time::Timespec {
            tv_sec: w.as_secs() as i64,
            tv_nsec: w.subsec_nanos() as _,
        });
        match poll(&mut fds, timeout.as_ref()) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(format!("poll: {e}")),
        }
        let ready: Vec<Source> = sources
            .iter()
            .zip(&fds)
            .filter(|(_, f)| !f.revents().is_empty())
            .map(|(s, _)| *s)
            .collect();
        drop(fds);
        for s in ready {
            match s {
                Source::Exit(i) => {
                    let r = &mut running[i];
                    if let Some(st) = r
                        .child
                        .try_wait()
                        .map_err(|e| format!("job {}: wait: {e}", r.index))?
                    {
                        r.status = Some(Outcome::Exited(st));
                    }
                }
                Source::Out(i) => running[i].out.read_some(&mut chunk),
                Source::Err(i) => running[i].err.read_some(&mut chunk),
            }
        }
    }
}

fn succeeded(f: &Finished) -> bool {
    matches!(&f.outcome, Outcome::Exited(st) if st.success())
}

fn status_text(o: &Outcome) -> String {
    let plain = |s: &ExitStatus| match (s.code(), s.signal()) {
        (Some(0), _) => "ok".to_string(),
        (Some(c), _) => format!("exit={c}"),
        (None, Some(sig)) => format!("signal={sig}"),
        _ => format!("{s}"),
    };
    match o {
        Outcome::Exited(s) => plain(s),
        Outcome::TimedOut(_) => "timeout".to_string(),
        Outcome::NotStarted(_) => "error".to_string(),
    }
}

fn first_line(f: &Finished) -> String {
    let pick = |b: &[u8], prefix: &str| -> Option<String> {
        let line = b.split(|c| *c == b'\n').next().filter(|l| !l.is_empty())?;
        let text: String = String::from_utf8_lossy(line).chars().take(60).collect();
        Some(format!("{prefix}{text}"))
    };
    let output = || pick(&f.out.kept, "").or_else(|| pick(&f.err.kept, "stderr: "));
    match &f.outcome {
        Outcome::NotStarted(e) => e.clone(),
        Outcome::TimedOut(st) => {
            output().unwrap_or_else(|| format!("(stopped: {})", status_text(&Outcome::Exited(*st))))
        }
        Outcome::Exited(_) => output().unwrap_or_default(),
    }
}

fn summary(done: &mut [Finished], most: usize, o: &Options, took: Duration) -> (String, bool) {
    done.sort_by_key(|f| f.index);
    let mut s = String::new();
    s.push_str(&format!(
        "{:>4}  {:<9} {:>9} {:>10} {:>10}  first line\n",
        "job", "status", "time", "stdout", "stderr"
    ));
    let (mut ok, mut failed, mut timed_out) = (0, 0, 0);
    for f in done.iter() {
        match &f.outcome {
            Outcome::Exited(st) if st.success() => ok += 1,
            Outcome::TimedOut(_) => timed_out += 1,
            _ => failed += 1,
        }
        s.push_str(&format!(
            "{:>4}  {:<9} {:>8.3}s {:>9}B {:>9}B  {}\n",
            f.index,
            status_text(&f.outcome),
            f.took.as_secs_f64(),
            f.out.total,
            f.err.total,
            first_line(f)
        ));
    }
    s.push_str(&format!(
        "{} jobs: {ok} ok, {failed} failed, {timed_out} timed out; \
         at most {most} at once (-j {}); {:.3}s\n",
        done.len(),
        o.jobs,
        took.as_secs_f64()
    ));
    (s, ok == done.len())
}

fn read_jobs(file: Option<&str>) -> Result<Vec<String>, String> {
    let reader: Box<dyn BufRead> = match file {
        Some(path) => Box::new(std::io::BufReader::new(
            std::fs::File::open(path).map_err(|e| format!("{path}: {e}"))?,
        )),
        None => Box::new(std::io::stdin().lock()),
    };
    let mut jobs = Vec::new();
    for line in reader.lines() {
        let line = line.map_err(|e| format!("reading jobs: {e}"))?;
        let t = line.trim();
        if !t.is_empty() && !t.starts_with('#') {
            jobs.push(line);
        }
    }
    Ok(jobs)
}

fn main() {
    let o = match parse_args(std::env::args().skip(1)) {
        Ok(Some(o)) => o,
        Ok(None) => {
            print!("{USAGE}");
            return;
        }
        Err(e) => {
            eprintln!("pool: {e}\n\n{USAGE}");
            std::process::exit(2);
        }
    };
    if let Some(dir) = &o.output_dir {
        if let Err(e) = std::fs::create_dir_all(dir) {
            eprintln!("pool: {}: {e}", dir.display());
            std::process::exit(2);
        }
    }
    let jobs = match read_jobs(o.file.as_deref()) {
        Ok(j) => j,
        Err(e) => {
            eprintln!("pool: {e}");
            std::process::exit(2);
        }
    };
    let began = Instant::now();
    let (mut done, most) = match run_all(&jobs, &o) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("pool: {e}");
            std::process::exit(1);
        }
    };
    let (text, all_ok) = summary(&mut done, most, &o, began.elapsed());
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
    std::process::exit(if all_ok { 0 } else { 1 });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Result<Option<Options>, String> {
        parse_args(a.iter().map(|s| s.to_string()))
    }

    #[test]
    fn options_parse() {
        let o = args(&["-j", "3", "--timeout=2.5", "-g", "0.1", "jobs.txt"])
            .unwrap()
            .unwrap();
        assert_eq!(o.jobs, 3);
        assert_eq!(o.timeout, Some(Duration::from_millis(2500)));
        assert_eq!(o.grace, Duration::from_millis(100));
        assert_eq!(o.file.as_deref(), Some("jobs.txt"));
        let o = args(&["--unshare", "pid,mnt"]).unwrap().unwrap();
        assert_eq!(o.unshare, NamespaceSet::PID | NamespaceSet::MOUNT);
        assert!(args(&["-h"]).unwrap().is_none());
        for bad in [
            &["-j", "0"][..],
            &["-j"],
            &["--timeout", "soon"],
            &["--unshare", "net,bogus"],
            &["-x"],
            &["a", "b"],
        ] {
            assert!(args(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn first_line_prefers_stdout_and_shows_errors() {
        let f = |out: &[u8], err: &[u8]| Finished {
            index: 1,
            outcome: Outcome::Exited(ExitStatus::from_raw(0)),
            took: Duration::ZERO,
            out: Stream {
                pipe: None,
                kept: out.to_vec(),
                total: out.len() as u64,
                sink: None,
            },
            err: Stream {
                pipe: None,
                kept: err.to_vec(),
                total: err.len() as u64,
                sink: None,
            },
        };
        assert_eq!(first_line(&f(b"a\nb\n", b"e\n")), "a");
        assert_eq!(first_line(&f(b"", b"e\nf")), "stderr: e");
        assert_eq!(first_line(&f(b"", b"")), "");
        assert_eq!(
            status_text(&Outcome::Exited(ExitStatus::from_raw(3 << 8))),
            "exit=3"
        );
        assert_eq!(
            status_text(&Outcome::Exited(ExitStatus::from_raw(9))),
            "signal=9"
        );
    }
}
