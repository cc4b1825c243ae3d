//! `sandbox`: a rootless container in one [`Command`].
//!
//! ```text
//! cargo run --example sandbox -- [--hostname NAME] [--tmpdir DIR] [--new-session] [--] [CMD [ARGS...]]
//! ```
//!
//! The command (default `/bin/sh`) runs as root of a new user namespace that maps only the
//! caller's own uid and gid, in new pid, mount, UTS, IPC and network namespaces, with a root
//! file system assembled for it:
//!
//! | path | what it is |
//! |------|------------|
//! | `/` | a small tmpfs, read-only once assembled |
//! | `/usr` | the host's `/usr`, bound read-only (with its submounts) |
//! | `/bin`, `/sbin`, `/lib`, `/lib32`, `/lib64`, `/libx32` | as the host lays them out: a symlink is recreated (`bin -> usr/bin` on merged-/usr systems), a real directory is bound read-only, an absent one is skipped |
//! | `/etc` | a directory of the tmpfs with only `passwd`, `group` (names for `id`, `ls -l`), `hosts` (`localhost`), `nsswitch.conf`, `os-release`, `localtime`, `ld.so.cache`, `ld.so.conf`, `ld.so.conf.d` (the dynamic linker) and `alternatives` (Debian's `/usr/bin/awk -> /etc/alternatives/awk`), each bound read-only (a symlink into `/usr` is recreated instead); no `shadow`, no host name, no resolver |
//! | `/proc` | a new proc for the new pid namespace |
//! | `/tmp` | an empty tmpfs (64 MiB, mode 1777) |
//! | `/dev` | a tmpfs with `null`, `zero`, `full`, `random`, `urandom` and `tty` bound from the host, `fd`, `stdin`, `stdout`, `stderr` symlinks into `/proc/self/fd`, a tmpfs `/dev/shm`, and a new devpts instance at `/dev/pts` with `/dev/ptmx` pointing into it |
//!
//! The host name is `sandbox` (or `--hostname`). The network namespace has only a loopback
//! interface, brought up in the child before the program runs ([`Command::loopback_up`]):
//! programs can talk to themselves on 127.0.0.1 and ::1, and to nothing else. The environment
//! is cleared except `TERM`; `PATH` is the usual system path and `HOME` is `/tmp`.
//! `no_new_privs` is set, so nothing inside gains privileges through set-user-ID files.
//!
//! How the root is built: a fresh directory (`sandbox-<pid>-<n>` under `--tmpdir`, else
//! `$XDG_RUNTIME_DIR`, else `/tmp`) is created on the host, empty. Everything else happens in
//! the child, inside its own mount namespace, before the program runs: `/` is made private,
//! a tmpfs is mounted on the directory, the tree above is made in it, `proc` is mounted while
//! the host's `/proc` is still visible (the kernel lets a user namespace mount proc only
//! where a full proc is already visible), then `pivot_root` moves into the directory and
//! detaches the host's tree, and `/` is made read-only. The host never sees any of these
//! mounts; when the command ends, the empty directory is removed.
//!
//! The terminal is shared: the command runs in the caller's session, in the foreground, so an
//! interactive shell works as usual. Where the kernel still allows `TIOCSTI`
//! (`dev.tty.legacy_tiocsti` = 1), a process in the sandbox could push input into the
//! caller's terminal; `--new-session` runs the command in a session of its own, without a
//! controlling terminal, which closes that hole.
//!
//! The program runs under a minimal init (the crate's [`Command::init`]) that reaps orphans;
//! `SIGINT`, `SIGTERM`, `SIGHUP` and `SIGQUIT` sent to `sandbox` are forwarded to the program
//! (through the init), and the exit status is the program's, or 128 + N when signal N killed
//! it. If `sandbox` itself is killed, the whole container goes with it.

use std::ffi::OsString;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;

use linux_namespaces::{
    Command, Error, Mount, NamespaceSet, Propagation, Signal, SignalFd, SignalSet, StepKind,
};

const USAGE: &str = "\
Usage:
 sandbox [options] [--] [<program> [<argument>...]]

Run a program (default /bin/sh) in a rootless container: new user (mapping only your
own uid and gid, to root), pid, mount, UTS, IPC and network namespaces, on a root
assembled in a tmpfs from read-only binds of the host's /usr, /bin, /lib... and a few
/etc files, with a new /proc, an empty /tmp and a minimal /dev. The network namespace
has only loopback (up).

Options:
 --hostname <name>   host name in the sandbox (default: sandbox)
 --tmpdir <dir>      where to create the per-run root directory
                     (default: $XDG_RUNTIME_DIR, else /tmp)
 --new-session       run in a new session, without a controlling terminal:
                     nothing inside can push input into your terminal
                     (TIOCSTI), but an interactive shell gets no job control
 -h, --help          display this help
";

/// The system directories that may sit at the top of the host's tree.
const TOP_DIRS: &[&str] = &["bin", "sbin", "lib", "lib32", "lib64", "libx32"];

/// The `/etc` entries the sandbox gets, read-only.
const ETC: &[&str] = &[
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

/// The device nodes bound from the host's `/dev`.
const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];

/// Signals `sandbox` passes on to the program instead of dying of them.
fn forwarded() -> SignalSet {
    Signal::INT | Signal::TERM | Signal::HUP | Signal::QUIT
}

const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

struct Options {
    hostname: OsString,
    tmpdir: Option<PathBuf>,
    new_session: bool,
    command: Vec<OsString>,
}

/// A failure that ends the program: the message (printed after `sandbox: `) and the exit
/// status.
struct Fatal {
    message: String,
    status: u8,
}

impl From<String> for Fatal {
    fn from(message: String) -> Fatal {
        Fatal { message, status: 1 }
    }
}

impl From<Error> for Fatal {
    /// As a shell reports it: 127 for a program that does not exist, 126 for one that cannot
    /// be executed, 1 for any other failure.
    fn from(e: Error) -> Fatal {
        match (&e, e.raw_os_error()) {
            (Error::Spawn { step, program, .. }, Some(n)) if step.kind() == StepKind::Exec => {
                let text = std::io::Error::from_raw_os_error(n).to_string();
                let text = text.split(" (os error").next().unwrap_or(&text);
                Fatal {
                    message: format!("failed to execute {program}: {text}"),
                    status: if n == libc::ENOENT { 127 } else { 126 },
                }
            }
            _ => Fatal::from(e.to_string()),
        }
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(status) => ExitCode::from(status),
        Err(f) => {
            eprintln!("sandbox: {}", f.message);
            ExitCode::from(f.status)
        }
    }
}

fn run() -> Result<u8, Fatal> {
    let Some(opts) = parse(std::env::args_os().skip(1))? else {
        print!("{USAGE}");
        return Ok(0);
    };
    let root = match &opts.tmpdir {
        Some(dir) => RootDir::create(dir)?,
        // $XDG_RUNTIME_DIR may be set but not ours (inherited across su or setpriv).
        None => match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
            Some(dir) => {
                RootDir::create(Path::new(&dir)).or_else(|_| RootDir::create(Path::new("/tmp")))?
            }
            None => RootDir::create(Path::new("/tmp"))?,
        },
    };

    let mut cmd = match opts.command.split_first() {
        Some((program, args)) => {
            let mut c = Command::new(program);
            c.args(args);
            c
        }
        None => Command::new("/bin/sh"),
    };
    cmd.unshare(
        NamespaceSet::USER
            | NamespaceSet::PID
            | NamespaceSet::MOUNT
            | NamespaceSet::UTS
            | NamespaceSet::IPC
            | NamespaceSet::NET,
    )
    .map_root()
    .loopback_up(true)
    .hostname(&opts.hostname)
    .env_clear()
    .env("PATH", PATH)
    .env("HOME", "/tmp")
    .no_new_privs(true)
    .init(true)
    .setsid(opts.new_session)
    .parent_death_signal(linux_namespaces::Signal::KILL)
    .kill_on_drop(true);
    if let Some(term) = std::env::var_os("TERM") {
        cmd.env("TERM", term);
    }
    for m in root_mounts(&root.path)? {
        cmd.mount(m);
    }

    // Blocked before the spawn so that no signal can kill this process between the spawn
    // and the forwarder starting (the child gets an empty mask of its own).
    forwarded()
        .thread_block()
        .map_err(|e| format!("blocking signals: {e}"))?;
    let waiting = SignalFd::new(forwarded()).map_err(|e| format!("signalfd: {e}"))?;
    let mut child = cmd.spawn()?;
    let pidfd: OwnedFd = child
        .pidfd()
        .as_fd()
        .try_clone_to_owned()
        .map_err(|e| format!("duplicating the pidfd: {e}"))?;
    std::thread::spawn(move || forward_signals(waiting, pidfd));
    let status = child.wait()?;
    drop(child);
    root.remove()?;
    Ok(exit_status(status))
}

/// The mount steps that assemble the new root in `root` and move into it.
fn root_mounts(root: &Path) -> Result<Vec<Mount>, String> {
    let at = |rel: &str| root.join(rel);
    let mut m = vec![
        // Nothing below may propagate back to the host, and pivot_root refuses shared mounts.
        Mount::propagation("/", Propagation::Private).recursive(),
        Mount::tmpfs(root)
            .mode(0o755)
            .size(4 << 20)
            .nosuid()
            .nodev(),
        Mount::mkdir(at("usr"), 0o755),
        // Host paths are trusted: their sources may follow symlinks (bind sources do not by
        // default, see Mount::bind).
        Mount::bind("/usr", at("usr"))
            .recursive()
            .read_only()
            .follow_source_symlinks(),
    ];

    for name in TOP_DIRS {
        let host = Path::new("/").join(name);
        match std::fs::symlink_metadata(&host) {
            Ok(md) if md.file_type().is_symlink() => {
                let target = std::fs::read_link(&host)
                    .map_err(|e| format!("reading the link {}: {e}", host.display()))?;
                m.push(Mount::symlink(target, at(name)));
            }
            Ok(md) if md.is_dir() => {
                m.push(Mount::mkdir(at(name), 0o755));
                m.push(
                    Mount::bind(&host, at(name))
                        .recursive()
                        .read_only()
                        .follow_source_symlinks(),
                );
            }
            // Absent (or something odd, like a file): the host has no such tree.
            _ => {}
        }
    }

    m.push(Mount::mkdir(at("etc"), 0o755));
    for name in ETC {
        let host = Path::new("/etc").join(name);
        let inside = at("etc").join(name);
        if let Some(target) = link_into_usr(&host) {
            m.push(Mount::symlink(target, inside));
            continue;
        }
        // Follows symlinks: what gets bound is the file the host's path names (say
        // /etc/hosts -> /run/...), hence follow_source_symlinks.
        match std::fs::metadata(&host) {
            Ok(md) if md.is_dir() => {
                m.push(Mount::mkdir(&inside, 0o755));
                m.push(
                    Mount::bind(&host, inside)
                        .recursive()
                        .read_only()
                        .follow_source_symlinks(),
                );
            }
            Ok(md) if md.is_file() => {
                m.push(Mount::file(&inside, 0o644));
                m.push(
                    Mount::bind(&host, inside)
                        .read_only()
                        .follow_source_symlinks(),
                );
            }
            _ => {}
        }
    }

    m.extend([
        // While the host's /proc is still in view: see the module docs.
        Mount::mkdir(at("proc"), 0o555),
        Mount::proc(at("proc")),
        Mount::mkdir(at("tmp"), 0o1777),
        Mount::tmpfs(at("tmp"))
            .mode(0o1777)
            .size(64 << 20)
            .nosuid()
            .nodev(),
        Mount::mkdir(at("dev"), 0o755),
        Mount::tmpfs(at("dev"))
            .mode(0o755)
            .size(64 << 10)
            .nosuid()
            .noexec(),
    ]);
    let dev = at("dev");
    for name in DEVICES {
        let host = Path::new("/dev").join(name);
        if std::fs::symlink_metadata(&host).is_err() {
            continue;
        }
        // A bind needs a target of the same type: an empty file to cover.
        m.push(Mount::file(dev.join(name), 0o666));
        m.push(Mount::bind(host, dev.join(name)).follow_source_symlinks());
    }
    for (link, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        m.push(Mount::symlink(target, dev.join(link)));
    }
    m.extend([
        Mount::mkdir(dev.join("shm"), 0o1777),
        Mount::tmpfs(dev.join("shm"))
            .mode(0o1777)
            .size(64 << 20)
            .nosuid()
            .nodev(),
        // A private devpts instance: terminals opened inside are the sandbox's own.
        Mount::mkdir(dev.join("pts"), 0o755),
        Mount::fs("devpts", dev.join("pts"))
            .option("newinstance", None)
            .option("ptmxmode", Some("0666"))
            .option("mode", Some("0620"))
            .nosuid()
            .noexec(),
        Mount::symlink("pts/ptmx", dev.join("ptmx")),
        Mount::pivot_root(root),
        // The tmpfs at / held only mount points and links: freeze it.
        Mount::remount("/").read_only(),
    ]);
    Ok(m)
}

/// If `path` is a symlink whose target lies under `/usr` (which the sandbox has), the target
/// text, so the link can be recreated as it is (`localtime -> /usr/share/zoneinfo/...`, and
/// tools that read the link to learn the zone name keep working).
fn link_into_usr(path: &Path) -> Option<PathBuf> {
    let target = std::fs::read_link(path).ok()?;
    let resolved = path.parent()?.join(&target);
    // Lexically: `..` is taken as going up (links in /etc are not expected to pass through
    // other links).
    let mut parts: Vec<Component<'_>> = Vec::new();
    for c in resolved.components() {
        match c {
            Component::ParentDir => {
                if parts.len() > 1 {
                    parts.pop();
                }
            }
            Component::CurDir => {}
            c => parts.push(c),
        }
    }
    let normal: PathBuf = parts.iter().collect();
    normal.starts_with("/usr").then_some(target)
}

/// The per-run directory the root is mounted on: made empty on the host, removed at the end
/// (on every path out of [`run`], through `Drop`).
struct RootDir {
    path: PathBuf,
    removed: bool,
}

impl RootDir {
    fn create(base: &Path) -> Result<RootDir, String> {
        use std::os::unix::fs::DirBuilderExt;
        let base = std::path::absolute(base).map_err(|e| format!("{}: {e}", base.display()))?;
        let pid = std::process::id();
        for n in 0..1000 {
            let path = base.join(format!("sandbox-{pid}-{n}"));
            match std::fs::DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => {
                    return Ok(RootDir {
                        path,
                        removed: false,
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(format!("creating {}: {e}", path.display())),
            }
        }
        Err(format!(
            "no free name for a root directory in {}",
            base.display()
        ))
    }

    fn remove(mut self) -> Result<(), String> {
        self.removed = true;
        std::fs::remove_dir(&self.path)
            .map_err(|e| format!("removing {}: {e}", self.path.display()))
    }
}

impl Drop for RootDir {
    fn drop(&mut self) {
        if !self.removed {
            let _ = std::fs::remove_dir(&self.path);
        }
    }
}

/// Takes the blocked signals as they arrive on `signals` and sends each to the child (the
/// init, which hands it to the program). Runs until the process exits.
fn forward_signals(signals: SignalFd, pidfd: OwnedFd) {
    loop {
        let Ok(info) = signals.read() else {
            continue;
        };
        let Some(signal) = rustix::process::Signal::from_named_raw(info.signal.as_raw()) else {
            continue;
        };
        // The child may have exited already (ESRCH): nothing to forward to.
        let _ = rustix::process::pidfd_send_signal(&pidfd, signal);
    }
}

/// The exit status a shell would show: the program's, or 128 + the signal that killed it.
fn exit_status(status: std::process::ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => code as u8,
        (None, Some(sig)) => (128 + sig) as u8,
        (None, None) => 1,
    }
}

/// `None` for `--help`.
fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Option<Options>, String> {
    let mut args = args.into_iter();
    let mut opts = Options {
        hostname: "sandbox".into(),
        tmpdir: None,
        new_session: false,
        command: Vec::new(),
    };
    while let Some(word) = args.next() {
        let b = word.as_bytes();
        let (name, inline) = match b.iter().position(|&c| c == b'=') {
            Some(i) if b.starts_with(b"--") => (
                &b[..i],
                Some(OsString::from(std::ffi::OsStr::from_bytes(&b[i + 1..]))),
            ),
            _ => (b, None),
        };
        let mut value = |what: &str| -> Result<OsString, String> {
            match inline.clone() {
                Some(v) => Ok(v),
                None => args
                    .next()
                    .ok_or_else(|| format!("option '{what}' requires an argument")),
            }
        };
        let flag = |on: &mut bool| -> Result<(), String> {
            match inline {
                Some(_) => Err(format!(
                    "option '{}' doesn't allow an argument",
                    String::from_utf8_lossy(name)
                )),
                None => {
                    *on = true;
                    Ok(())
                }
            }
        };
        match name {
            b"--" => break,
            b"-h" | b"--help" => {
                let mut help = false;
                flag(&mut help)?;
                return Ok(None);
            }
            b"--new-session" => flag(&mut opts.new_session)?,
            b"--hostname" => opts.hostname = value("--hostname")?,
            b"--tmpdir" => opts.tmpdir = Some(value("--tmpdir")?.into()),
            _ if b.len() > 1 && b[0] == b'-' => {
                return Err(format!(
                    "unrecognized option '{}' (try 'sandbox --help')",
                    word.to_string_lossy()
                ));
            }
            _ => {
                opts.command.push(word);
                break;
            }
        }
    }
    opts.command.extend(args);
    Ok(Some(opts))
}
