//! `netns`: manage named network namespaces the way `ip netns` does, on this crate's
//! [`Namespace`] handles, [`Command`] and route netlink ([`net`], feature `net`).
//!
//! ```text
//! cargo run --features net --example netns -- add blue
//! cargo run --features net --example netns -- add red
//! cargo run --features net --example netns -- connect blue red \
//!     --addr-a fd00:6c6e:73::1/64 --addr-b fd00:6c6e:73::2/64
//! cargo run --features net --example netns -- exec blue ping -c1 fd00:6c6e:73::2
//! cargo run --features net --example netns -- list
//! cargo run --features net --example netns -- delete red
//! ```
//!
//! Namespaces live where `ip netns` keeps them, bind-mounted on `/run/netns/NAME`, so the
//! two tools see each other's: `ip netns list` shows what `netns add` made and `netns exec`
//! runs in what `ip netns add` made. `connect` does what takes a dozen `ip` commands: a veth
//! pair with one end in each namespace, an address on each end, loopback and both ends up, and
//! it returns once both ends run and both addresses have passed duplicate address detection
//! (waiting on netlink notifications), so traffic can flow as soon as it exits. No `ip`
//! process is run.
//!
//! Differences from `ip netns`: `exec` only joins the network namespace; it does not make a
//! mount namespace with `/sys` remounted, nor bind `/etc/netns/NAME/*` over `/etc` (policy
//! this example leaves to its user). A program killed by a signal makes `exec` exit with
//! 128 + the signal number, as a shell reports it.

use std::ffi::OsString;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use linux_namespaces::net::{self, IpPrefix, Netlink};
use linux_namespaces::{Command, Error, Namespace, PersistedNamespace};

const PROG: &str = "netns";
/// Where `ip netns` keeps named network namespaces.
const RUN_DIR: &str = "/run/netns";
/// How long `connect` waits for the links to run and for duplicate address detection.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

const USAGE: &str = "\
Usage:
 netns add NAME
 netns list
 netns exec NAME PROGRAM [ARGUMENT...]
 netns connect A B --addr-a ADDR/LEN --addr-b ADDR/LEN [--link-a IF] [--link-b IF]
 netns delete NAME
 netns help

Manage network namespaces persisted at /run/netns/NAME (compatible with ip netns).

 add       create a network namespace and persist it as NAME (making
           /run/netns a shared mount point first, as ip netns add does)
 list      print the names of the persisted network namespaces
 exec      run PROGRAM in the network namespace NAME; exits with its status
 connect   join A and B with a veth pair: interface IF (default veth-B) in A with
           ADDR/LEN, its peer (default veth-A) in B with the other address; bring
           loopback and both ends up and wait until the addresses are usable
 delete    unmount and remove NAME (the namespace lives on while a process is in it)
";

#[derive(Debug, PartialEq)]
enum Cmd {
    Help,
    Add(String),
    List,
    Exec(String, OsString, Vec<OsString>),
    Connect(Connect),
    Delete(String),
}

#[derive(Debug, PartialEq)]
struct Connect {
    a: String,
    b: String,
    addr_a: IpPrefix,
    addr_b: IpPrefix,
    link_a: String,
    link_b: String,
}

/// A command line that cannot be run; printed with a pointer to `help`, exit status 2.
struct Usage(String);

/// A command that failed; printed as is, exit status 1.
struct Failure(String);

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure(e.to_string())
    }
}

impl Failure {
    /// `what: text (os error N)`.
    fn io(what: String, e: std::io::Error) -> Failure {
        Failure(format!("{what}: {e}"))
    }
}

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let cmd = match parse(args) {
        Ok(cmd) => cmd,
        Err(Usage(message)) => {
            eprintln!("{PROG}: {message}");
            eprintln!("Try '{PROG} help' for more information.");
            return ExitCode::from(2);
        }
    };
    match run(cmd) {
        Ok(code) => code,
        Err(Failure(message)) => {
            eprintln!("{PROG}: {message}");
            ExitCode::FAILURE
        }
    }
}

fn text(arg: OsString, what: &str) -> Result<String, Usage> {
    arg.into_string()
        .map_err(|a| Usage(format!("{what} {a:?} is not valid UTF-8")))
}

/// A namespace name must be one path component under /run/netns.
fn name(arg: Option<OsString>, what: &str) -> Result<String, Usage> {
    let n = text(arg.ok_or_else(|| Usage(format!("missing {what}")))?, what)?;
    if n.is_empty() || n == "." || n == ".." || n.contains('/') || n.contains('\0') {
        return Err(Usage(format!("{what} {n:?} is not a valid namespace name")));
    }
    Ok(n)
}

fn parse(args: Vec<OsString>) -> Result<Cmd, Usage> {
    let mut args = args.into_iter();
    let Some(sub) = args.next() else {
        return Err(Usage("missing command".into()));
    };
    let sub = text(sub, "command")?;
    let no_more = |mut rest: std::vec::IntoIter<OsString>| match rest.next() {
        Some(extra) => Err(Usage(format!("unexpected argument {extra:?}"))),
        None => Ok(()),
    };
    let cmd = match sub.as_str() {
        "help" | "-h" | "--help" => Cmd::Help,
        "add" => {
            let n = name(args.next(), "NAME")?;
            no_more(args)?;
            Cmd::Add(n)
        }
        "list" | "ls" => {
            no_more(args)?;
            Cmd::List
        }
        "delete" | "del" => {
            let n = name(args.next(), "NAME")?;
            no_more(args)?;
            Cmd::Delete(n)
        }
        "exec" => {
            let n = name(args.next(), "NAME")?;
            let program = args.next().ok_or_else(|| Usage("missing PROGRAM".into()))?;
            Cmd::Exec(n, program, args.collect())
        }
        "connect" => Cmd::Connect(parse_connect(args)?),
        other => return Err(Usage(format!("unknown command {other:?}"))),
    };
    Ok(cmd)
}

fn parse_connect(args: std::vec::IntoIter<OsString>) -> Result<Connect, Usage> {
    let mut names = Vec::new();
    let (mut addr_a, mut addr_b, mut link_a, mut link_b) = (None, None, None, None);
    let mut args = args.map(|a| text(a, "argument"));
    while let Some(arg) = args.next() {
        let arg = arg?;
        // Both `--opt VALUE` and `--opt=VALUE`.
        let (opt, inline) = match arg.split_once('=') {
            Some((o, v)) if o.starts_with("--") => (o.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = || match inline.clone() {
            Some(v) => Ok(v),
            None => args
                .next()
                .unwrap_or_else(|| Err(Usage(format!("{opt} needs a value")))),
        };
        match opt.as_str() {
            "--addr-a" => addr_a = Some(prefix(&value()?)?),
            "--addr-b" => addr_b = Some(prefix(&value()?)?),
            "--link-a" => link_a = Some(value()?),
            "--link-b" => link_b = Some(value()?),
            o if o.starts_with('-') => return Err(Usage(format!("unknown option {o}"))),
            _ => names.push(name(Some(arg.into()), "namespace")?),
        }
    }
    let [a, b]: [String; 2] = names.try_into().map_err(|n: Vec<String>| {
        Usage(format!("connect takes two namespaces, not {}", n.len()))
    })?;
    if a == b {
        return Err(Usage(format!("cannot connect {a} to itself")));
    }
    let addr_a = addr_a.ok_or_else(|| Usage("missing --addr-a".into()))?;
    let addr_b = addr_b.ok_or_else(|| Usage("missing --addr-b".into()))?;
    if addr_a.is_ipv6() != addr_b.is_ipv6() {
        return Err(Usage("--addr-a and --addr-b must be of one family".into()));
    }
    let link_a = link_a.unwrap_or_else(|| format!("veth-{b}"));
    let link_b = link_b.unwrap_or_else(|| format!("veth-{a}"));
    Ok(Connect {
        a,
        b,
        addr_a,
        addr_b,
        link_a,
        link_b,
    })
}

fn prefix(s: &str) -> Result<IpPrefix, Usage> {
    if !s.contains('/') {
        return Err(Usage(format!("{s:?}: give the address as ADDR/LEN")));
    }
    s.parse().map_err(|e: Error| Usage(e.to_string()))
}

fn path_of(name: &str) -> PathBuf {
    Path::new(RUN_DIR).join(name)
}

fn open(name: &str) -> Result<Namespace, Error> {
    Namespace::from_path(path_of(name))
}

fn run(cmd: Cmd) -> Result<ExitCode, Failure> {
    match cmd {
        Cmd::Help => print!("{USAGE}"),
        Cmd::Add(name) => add(&name)?,
        Cmd::List => {
            for name in list()? {
                println!("{name}");
            }
        }
        Cmd::Exec(name, program, args) => return Ok(exec(&name, program, args)?),
        Cmd::Connect(c) => connect(&c)?,
        Cmd::Delete(name) => PersistedNamespace::at(path_of(&name)).and_then(|p| p.remove(true))?,
    }
    Ok(ExitCode::SUCCESS)
}

fn add(name: &str) -> Result<(), Failure> {
    prepare_run_dir().map_err(|e| Failure::io(format!("preparing {RUN_DIR}"), e))?;
    let ns = net::create_namespace()?;
    ns.persist(path_of(name))?;
    Ok(())
}

/// Makes /run/netns a shared mount point, as `ip netns add` does: a bind mount of itself if it
/// is not a mount point yet. Namespaces mounted on it later then propagate to mount namespaces
/// copied from this one, and `ip netns` finds the directory as it would have made it (if it
/// made the bind mount after ours were there, each of ours would be mounted twice and
/// `delete` could unmount only one).
fn prepare_run_dir() -> std::io::Result<()> {
    use rustix::mount::{MountPropagationFlags as P, mount_bind_recursive, mount_change};
    std::fs::create_dir_all(RUN_DIR)?;
    match mount_change(RUN_DIR, P::SHARED | P::REC) {
        Ok(()) => Ok(()),
        // Not a mount point yet.
        Err(rustix::io::Errno::INVAL) => {
            mount_bind_recursive(RUN_DIR, RUN_DIR)?;
            Ok(mount_change(RUN_DIR, P::SHARED | P::REC)?)
        }
        Err(e) => Err(e.into()),
    }
}

/// The names in /run/netns, sorted; none if the directory does not exist.
fn list() -> Result<Vec<String>, Failure> {
    let entries = match std::fs::read_dir(RUN_DIR) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Failure::io(format!("reading {RUN_DIR}"), e)),
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    names.sort();
    Ok(names)
}

fn exec(name: &str, program: OsString, args: Vec<OsString>) -> Result<ExitCode, Error> {
    let ns = open(name)?;
    let status = Command::new(&program).args(&args).join(&ns).status()?;
    use std::os::unix::process::ExitStatusExt;
    let code = match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(signal)) => 128 + signal,
        (None, None) => 1,
    };
    Ok(ExitCode::from(code.clamp(0, 255) as u8))
}

fn connect(c: &Connect) -> Result<(), Error> {
    let (a, b) = (open(&c.a)?, open(&c.b)?);
    let (na, nb) = (Netlink::open(&a)?, Netlink::open(&b)?);
    na.create_veth(&c.link_a, &c.link_b, Some(&b))?;
    let ends: [(&Netlink, &str, IpAddr, u8); 2] = [
        (&na, &c.link_a, c.addr_a.addr(), c.addr_a.prefix_len()),
        (&nb, &c.link_b, c.addr_b.addr(), c.addr_b.prefix_len()),
    ];
    for (nl, link, addr, len) in ends {
        nl.add_address(link, addr, len)?;
        nl.loopback_up()?;
        nl.link_up(link)?;
    }
    for (nl, link, addr, _) in ends {
        nl.wait_link_running(link, READY_TIMEOUT)?;
        nl.wait_address_ready(link, addr, READY_TIMEOUT)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<OsString> {
        s.iter().map(OsString::from).collect()
    }

    #[test]
    fn connect_takes_options_in_both_spellings_and_derives_link_names() {
        let Ok(Cmd::Connect(c)) = parse(args(&[
            "connect",
            "blue",
            "--addr-a=10.0.0.1/24",
            "red",
            "--addr-b",
            "10.0.0.2/24",
        ])) else {
            panic!("not parsed");
        };
        assert_eq!((c.a.as_str(), c.b.as_str()), ("blue", "red"));
        assert_eq!(
            (c.link_a.as_str(), c.link_b.as_str()),
            ("veth-red", "veth-blue")
        );
        assert_eq!(c.addr_b.to_string(), "10.0.0.2/24");
    }

    #[test]
    fn bad_command_lines_are_usage_errors() {
        for bad in [
            &[][..],
            &["frobnicate"],
            &["add"],
            &["add", "a/b"],
            &["add", "x", "y"],
            &["exec", "x"],
            &["connect", "a", "b", "--addr-a", "10.0.0.1/24"],
            &[
                "connect",
                "a",
                "a",
                "--addr-a",
                "10.0.0.1/24",
                "--addr-b",
                "10.0.0.2/24",
            ],
            &[
                "connect",
                "a",
                "b",
                "--addr-a",
                "10.0.0.1",
                "--addr-b",
                "10.0.0.2/24",
            ],
            &[
                "connect",
                "a",
                "b",
                "--addr-a",
                "10.0.0.1/24",
                "--addr-b",
                "fd00::1/64",
            ],
            &["connect", "a", "b", "--bogus"],
        ] {
            assert!(parse(args(bad)).is_err(), "{bad:?}");
        }
    }
}
