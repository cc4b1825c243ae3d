//! `lsns`: list the namespaces on the system, a drop-in for util-linux `lsns(8)`.
//!
//! ```text
//! cargo run --example lsns                        # NS TYPE NPROCS PID USER COMMAND, a process tree
//! cargo run --example lsns -- -l -t net -t uts    # network and UTS namespaces, a flat list
//! cargo run --example lsns -- -p 1234             # the namespaces of process 1234
//! cargo run --example lsns -- --tree=owner -o NS,TYPE,ONS
//! cargo run --example lsns -- -n -r -o PID -Q 'NS == 4026531836 && NPROCS > 1'
//! cargo run --example lsns -- 4026531836          # the processes of one namespace
//! cargo run --example lsns --all-features -- -o +NETNSID,NSFS -t net
//! ```
//!
//! The options, columns, output formats (table, `--raw`, `--json`, trees), `-Q` filter
//! expressions, messages and exit statuses are util-linux's (see `docs/compat-lsns.md` for the
//! few differences). The namespaces come from [`linux_namespaces::inspect::list`]: one pass
//! over `/proc`, passing over processes the caller may not inspect, plus namespaces kept alive
//! only by a bind mount or an open file descriptor. NETNSID needs the `net` feature (without
//! it the column stays empty).
//!
//! Text in the table is escaped as util-linux escapes it: control characters as `\xHH`, so a
//! newline in a command line cannot forge a row; in `--raw` also blanks and non-ASCII bytes.
//!
//! Exit status: 0 on success (also when `--task` names no process), 1 on any error.

#![allow(clippy::struct_excessive_bools)]

#[path = "filter.rs"]
pub mod filter;
#[path = "output.rs"]
pub mod output;

use std::collections::HashMap;
use std::io::{IsTerminal as _, Write as _};

use filter::{Filter, Ty};
use linux_namespaces::inspect::{self, ListOptions, NamespaceInfo};
use linux_namespaces::{NamespaceKind, NamespaceSet};
use output::{Format, Line, Table};

const USAGE: &str = "\
Usage:
 lsns [options] [<namespace ID>]

List the namespaces on the system, or the processes of one namespace.

Options:
 -J, --json             JSON output
 -l, --list             a flat list (no tree)
 -n, --noheadings       no header line
 -o, --output <list>    the columns to print (+<list> adds to the default ones)
     --output-all       every column
 -P, --persistent       only namespaces without processes
 -p, --task <pid>       only the namespaces of process <pid>
 -Q, --filter <expr>    only the rows for which <expr> is true (see scols-filter(5))
 -r, --raw              raw output
 -u, --notruncate       never truncate text
 -W, --nowrap           NSFS on one line, paths separated by commas
 -t, --type <name>      only namespaces of this type (mnt, net, ipc, user, pid, uts, cgroup,
                        time); repeatable
 -T, --tree[=<rel>]     a tree by parent, owner (the default) or process

 -H, --list-columns     list the columns
 -h, --help             display this help
 -V, --version          display version
";

/// A column of the output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Col {
    /// Namespace inode.
    Ns,
    /// Kind.
    Type,
    /// `/proc/<pid>/ns/<kind>` of the shown process.
    Path,
    /// Number of processes.
    Nprocs,
    /// The shown (lowest) pid.
    Pid,
    /// Its parent.
    Ppid,
    /// Its command line.
    Command,
    /// Its uid (the owner's for a namespace without process).
    Uid,
    /// That uid's name.
    User,
    /// The nsid the caller's network namespace gave it.
    Netnsid,
    /// nsfs bind mounts of it.
    Nsfs,
    /// Parent namespace inode.
    Pns,
    /// Owner namespace inode.
    Ons,
}

impl Col {
    /// Every column, in util-linux's order.
    pub const ALL: [Col; 13] = [
        Col::Ns,
        Col::Type,
        Col::Path,
        Col::Nprocs,
        Col::Pid,
        Col::Ppid,
        Col::Command,
        Col::Uid,
        Col::User,
        Col::Netnsid,
        Col::Nsfs,
        Col::Pns,
        Col::Ons,
    ];

    /// Header and filter name.
    pub fn name(self) -> &'static str {
        match self {
            Col::Ns => "NS",
            Col::Type => "TYPE",
            Col::Path => "PATH",
            Col::Nprocs => "NPROCS",
            Col::Pid => "PID",
            Col::Ppid => "PPID",
            Col::Command => "COMMAND",
            Col::Uid => "UID",
            Col::User => "USER",
            Col::Netnsid => "NETNSID",
            Col::Nsfs => "NSFS",
            Col::Pns => "PNS",
            Col::Ons => "ONS",
        }
    }

    fn help(self) -> &'static str {
        match self {
            Col::Ns => "namespace inode number",
            Col::Type => "namespace type",
            Col::Path => "namespace file of the process shown",
            Col::Nprocs => "processes in the namespace",
            Col::Pid => "the lowest pid in the namespace",
            Col::Ppid => "parent pid of that process",
            Col::Command => "command line of that process",
            Col::Uid => "uid of that process",
            Col::User => "user name of that process",
            Col::Netnsid => "id the network subsystem gives the namespace",
            Col::Nsfs => "nsfs mount points of the namespace",
            Col::Pns => "parent namespace inode number",
            Col::Ons => "owner namespace inode number",
        }
    }

    /// A number in JSON and in filters.
    pub fn is_number(self) -> bool {
        matches!(
            self,
            Col::Ns | Col::Nprocs | Col::Pid | Col::Ppid | Col::Uid | Col::Pns | Col::Ons
        )
    }

    fn right(self) -> bool {
        self.is_number() || self == Col::Netnsid
    }

    fn hint(self) -> usize {
        match self {
            Col::Ns | Col::Pns | Col::Ons => 10,
            Col::Type | Col::Nprocs | Col::Pid | Col::Ppid => 5,
            _ => 0,
        }
    }

    /// The column named `name`, ignoring case.
    pub fn by_name(name: &str) -> Option<Col> {
        Col::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(name))
    }
}

/// What the tree shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tree {
    /// Rows under the row of their process's parent process.
    Process,
    /// Namespaces under their owner user namespace.
    Owner,
    /// Pid and user namespaces under their parent.
    Parent,
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Request {
    /// Print the usage text.
    Help,
    /// Print the version.
    Version,
    /// List the columns.
    Columns(Options),
    /// List namespaces.
    List(Options),
}

/// Options of a listing.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--json`.
    pub json: bool,
    /// `--raw`.
    pub raw: bool,
    /// `--list`.
    pub list: bool,
    /// `--noheadings`.
    pub no_headings: bool,
    /// `--notruncate`.
    pub no_trunc: bool,
    /// `--nowrap` (also set by `--raw`).
    pub no_wrap: bool,
    /// `--persistent`.
    pub persistent: bool,
    /// The columns to print.
    pub columns: Vec<Col>,
    /// The tree, if any.
    pub tree: Option<Tree>,
    /// `--type`, accumulated; all kinds if none.
    pub kinds: NamespaceSet,
    /// `--task`.
    pub task: Option<u32>,
    /// The `<namespace>` argument.
    pub namespace: Option<u64>,
    /// `--filter`.
    pub filter: Option<Filter>,
}

/// How a command line fails: the message and whether to add "Try 'lsns --help'".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Lines for stderr, each without the `lsns: ` prefix.
    pub lines: Vec<String>,
    /// Text util-linux's filter scanner echoes to stdout first.
    pub stdout: String,
    /// Add the "Try 'lsns --help' for more information." line.
    pub try_help: bool,
}

impl Failure {
    fn msg(m: impl Into<String>) -> Failure {
        Failure {
            lines: vec![m.into()],
            stdout: String::new(),
            try_help: false,
        }
    }

    fn usage(m: impl Into<String>) -> Failure {
        Failure {
            try_help: true,
            ..Failure::msg(m)
        }
    }
}

const LONG: [(&str, char, Arg); 16] = [
    ("json", 'J', Arg::No),
    ("task", 'p', Arg::Required),
    ("help", 'h', Arg::No),
    ("output", 'o', Arg::Required),
    ("output-all", '\u{1}', Arg::No),
    ("persistent", 'P', Arg::No),
    ("filter", 'Q', Arg::Required),
    ("notruncate", 'u', Arg::No),
    ("version", 'V', Arg::No),
    ("noheadings", 'n', Arg::No),
    ("nowrap", 'W', Arg::No),
    ("list", 'l', Arg::No),
    ("raw", 'r', Arg::No),
    ("type", 't', Arg::Required),
    ("tree", 'T', Arg::Optional),
    ("list-columns", 'H', Arg::No),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Arg {
    No,
    Required,
    Optional,
}

fn short_arg(c: char) -> Option<Arg> {
    match c {
        'J' | 'l' | 'P' | 'n' | 'r' | 'u' | 'h' | 'V' | 'W' | 'H' => Some(Arg::No),
        'p' | 'o' | 't' | 'Q' => Some(Arg::Required),
        'T' => Some(Arg::Optional),
        _ => None,
    }
}

fn long_name(key: char) -> &'static str {
    LONG.iter()
        .find(|(_, k, _)| *k == key)
        .map_or("", |(n, _, _)| n)
}

/// Parses the arguments after the program name like getopt_long(3): grouped short options,
/// `--long=value` or `--long value`, unambiguous prefixes of long options, options and the
/// `<namespace>` operand in any order, `--` ending the options.
///
/// # Errors
/// The messages util-linux `lsns` prints, in order.
pub fn parse_args<I, S>(args: I) -> Result<Request, Failure>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let args: Vec<String> = args.into_iter().map(Into::into).collect();
    let mut opts = Options::default();
    let mut output: Option<String> = None;
    let mut output_all = false;
    let mut list_columns = false;
    let mut operands = Vec::new();
    // Mutually exclusive pairs: (--json, --raw), (--persistent, --task).
    let mut seen_excl: [Option<char>; 2] = [None, None];
    let mut i = 0;
    let mut parsed: Vec<(char, Option<String>)> = Vec::new();
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--" {
            operands.extend(args[i..].iter().cloned());
            break;
        }
        if let Some(long) = arg.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let exact = LONG.iter().find(|(n, _, _)| *n == name);
            let candidates: Vec<_> = LONG
                .iter()
                .filter(|(n, _, _)| n.starts_with(name))
                .collect();
            let (full, key, kind) = match (exact, candidates.as_slice()) {
                (Some(e), _) => *e,
                (None, [one]) => **one,
                (None, []) => {
                    return Err(Failure::usage(format!("unrecognized option '--{name}'")));
                }
                (None, many) => {
                    let list: Vec<String> =
                        many.iter().map(|(n, _, _)| format!("'--{n}'")).collect();
                    return Err(Failure::usage(format!(
                        "option '--{name}' is ambiguous; possibilities: {}",
                        list.join(" ")
                    )));
                }
            };
            let value = match kind {
                Arg::No if inline.is_some() => {
                    return Err(Failure::usage(format!(
                        "option '--{full}' doesn't allow an argument"
                    )));
                }
                Arg::No => None,
                Arg::Optional => inline,
                Arg::Required => match inline {
                    Some(v) => Some(v),
                    None if i < args.len() => {
                        i += 1;
                        Some(args[i - 1].clone())
                    }
                    None => {
                        return Err(Failure::usage(format!(
                            "option '--{full}' requires an argument"
                        )));
                    }
                },
            };
            parsed.push((key, value));
        } else if let Some(group) = arg.strip_prefix('-').filter(|g| !g.is_empty()) {
            for (pos, c) in group.char_indices() {
                let rest = &group[pos + c.len_utf8()..];
                match short_arg(c) {
                    None => return Err(Failure::usage(format!("invalid option -- '{c}'"))),
                    Some(Arg::No) => parsed.push((c, None)),
                    Some(Arg::Optional) => {
                        parsed.push((c, (!rest.is_empty()).then(|| rest.to_string())));
                        break;
                    }
                    Some(Arg::Required) => {
                        let value = if !rest.is_empty() {
                            rest.to_string()
                        } else if i < args.len() {
                            i += 1;
                            args[i - 1].clone()
                        } else {
                            return Err(Failure::usage(format!(
                                "option requires an argument -- '{c}'"
                            )));
                        };
                        parsed.push((c, Some(value)));
                        break;
                    }
                }
            }
        } else {
            operands.push(arg.clone());
        }
    }
    let mut net = false;
    for (key, value) in parsed {
        for (slot, pair) in seen_excl.iter_mut().zip([['J', 'r'], ['P', 'p']]) {
            if pair.contains(&key) {
                match *slot {
                    Some(prev) if prev != key => {
                        return Err(Failure::msg(format!(
                            "options --{} and --{} cannot be combined",
                            long_name(prev),
                            long_name(key)
                        )));
                    }
                    _ => *slot = Some(key),
                }
            }
        }
        let optional = value.clone();
        let value = value.unwrap_or_default();
        match key {
            'J' => opts.json = true,
            'l' => opts.list = true,
            'o' => output = Some(value),
            '\u{1}' => output_all = true,
            'P' => opts.persistent = true,
            'p' => opts.task = Some(parse_pid(&value)?),
            'n' => opts.no_headings = true,
            'r' => {
                opts.raw = true;
                opts.no_wrap = true;
            }
            'u' => opts.no_trunc = true,
            't' => {
                let kind = NamespaceKind::from_proc_name(&value)
                    .ok_or_else(|| Failure::msg(format!("unknown namespace type: {value}")))?;
                opts.kinds |= kind.as_set();
                net |= kind == NamespaceKind::Network;
            }
            'W' => opts.no_wrap = true,
            'T' => {
                let rel = value.strip_prefix('=').unwrap_or(&value);
                opts.tree = Some(match rel {
                    _ if optional.is_none() => Tree::Owner,
                    "owner" => Tree::Owner,
                    "parent" => Tree::Parent,
                    "process" => Tree::Process,
                    _ => return Err(Failure::msg(format!("unknown tree type: {rel}"))),
                });
            }
            'Q' => {
                opts.filter = Some(Filter::parse(&value).map_err(|e| Failure {
                    lines: vec![format!("failed to parse \"{value}\": {}", e.message)],
                    stdout: e.echoed,
                    try_help: false,
                })?);
            }
            'H' => list_columns = true,
            'h' => return Ok(Request::Help),
            'V' => return Ok(Request::Version),
            _ => {}
        }
    }
    if list_columns {
        return Ok(Request::Columns(opts));
    }
    if opts.kinds.is_empty() {
        opts.kinds = NamespaceSet::all();
    }
    if output_all {
        opts.columns = Col::ALL.to_vec();
    }
    if let Some(first) = operands.first() {
        if opts.task.is_some() {
            return Err(Failure::msg(
                "--task is mutually exclusive with <namespace>",
            ));
        }
        opts.namespace = Some(
            parse_u64(first)
                .ok_or_else(|| Failure::msg(format!("invalid namespace argument: '{first}'")))?,
        );
        if opts.tree.is_none() && !opts.list {
            opts.tree = Some(Tree::Process);
        }
        if opts.columns.is_empty() {
            opts.columns = vec![Col::Pid, Col::Ppid, Col::User, Col::Command];
        }
    }
    if opts.columns.is_empty() {
        opts.columns = vec![Col::Ns, Col::Type, Col::Nprocs, Col::Pid, Col::User];
        if net {
            opts.columns.extend([Col::Netnsid, Col::Nsfs]);
        }
        opts.columns.push(Col::Command);
        if opts.tree.is_none() && !opts.list {
            opts.tree = Some(Tree::Process);
        }
    }
    if let Some(list) = output {
        add_columns(&mut opts.columns, &list)?;
    }
    Ok(Request::List(opts))
}

/// Applies an `--output` list: `+LIST` appends to `columns`, `LIST` replaces them.
fn add_columns(columns: &mut Vec<Col>, list: &str) -> Result<(), Failure> {
    let names = match list.strip_prefix('+') {
        Some(rest) => rest,
        None => {
            columns.clear();
            list
        }
    };
    if names.is_empty() || names.split(',').any(str::is_empty) {
        // util-linux fails silently on an empty name.
        return Err(Failure {
            lines: Vec::new(),
            stdout: String::new(),
            try_help: false,
        });
    }
    let mut start = 0;
    for name in names.split(',') {
        let col = Col::by_name(name)
            .ok_or_else(|| Failure::msg(format!("unknown column: {}", &names[start..])))?;
        start += name.len() + 1;
        if columns.len() >= 2 * Col::ALL.len() {
            return Err(Failure::msg(format!(
                "too many columns specified, the limit is {} columns",
                2 * Col::ALL.len() - 1
            )));
        }
        columns.push(col);
    }
    Ok(())
}

/// A pid as util-linux reads one: a positive decimal that fits a pid_t.
fn parse_pid(text: &str) -> Result<u32, Failure> {
    match parse_u64(text) {
        Some(0) => Err(Failure::msg(format!(
            "invalid PID argument: '{text}': Numerical result out of range"
        ))),
        Some(n) if n <= i32::MAX as u64 => Ok(n as u32),
        Some(_) => Err(Failure::msg(format!(
            "invalid PID argument: '{text}': Numerical result out of range"
        ))),
        None => Err(Failure::msg(format!("invalid PID argument: '{text}'"))),
    }
}

fn parse_u64(text: &str) -> Option<u64> {
    let t = text.trim_start();
    let t = t.strip_prefix('+').unwrap_or(t);
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse().ok()
}

/// User names by uid, from `/etc/passwd`; numeric for uids it does not name.
#[derive(Debug, Default)]
pub struct Users {
    names: HashMap<u32, String>,
}

impl Users {
    /// Reads `/etc/passwd`; a missing or unreadable file means every uid shows as a number.
    pub fn from_passwd() -> Users {
        std::fs::read("/etc/passwd")
            .map(|text| Users::parse(&String::from_utf8_lossy(&text)))
            .unwrap_or_default()
    }

    /// Parses passwd(5) text; the first entry for a uid wins, as getpwuid(3) has it.
    pub fn parse(text: &str) -> Users {
        let mut names = HashMap::new();
        for line in text.lines() {
            let mut fields = line.split(':');
            let (Some(name), Some(_), Some(uid)) = (fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            if let (false, Ok(uid)) = (name.is_empty(), uid.parse::<u32>()) {
                names.entry(uid).or_insert_with(|| name.to_string());
            }
        }
        Users { names }
    }

    /// The name of `uid`, or the number.
    pub fn name(&self, uid: u32) -> String {
        self.names
            .get(&uid)
            .cloned()
            .unwrap_or_else(|| uid.to_string())
    }
}

/// The process a row shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proc {
    /// Its pid.
    pub pid: u32,
    /// Its parent's pid.
    pub ppid: Option<u32>,
    /// Owner of `/proc/<pid>`.
    pub uid: Option<u32>,
    /// Command line (or name).
    pub command: Option<String>,
}

impl Proc {
    fn of_namespace(ns: &NamespaceInfo) -> Option<Proc> {
        Some(Proc {
            pid: ns.pid?,
            ppid: ns.ppid,
            uid: ns.uid,
            command: ns.command.clone(),
        })
    }

    /// Reads process `pid`'s parent, owner and command line from `/proc` (for the rows of
    /// `lsns <namespace>`, one per process); `None` if it is gone.
    fn read(pid: u32) -> Option<Proc> {
        let dir = format!("/proc/{pid}");
        let stat = std::fs::read(format!("{dir}/stat")).ok()?;
        // "pid (comm) S ppid ...": the comm may hold anything, so look after its last ')'.
        let close = stat.iter().rposition(|&b| b == b')')?;
        let after = String::from_utf8_lossy(&stat[close + 1..]).into_owned();
        let ppid = after.split_whitespace().nth(1).and_then(|p| p.parse().ok());
        let uid = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&dir).ok()?);
        let mut cmdline = std::fs::read(format!("{dir}/cmdline")).unwrap_or_default();
        if cmdline.last() == Some(&0) {
            cmdline.pop();
        }
        let command = if cmdline.is_empty() {
            std::fs::read_to_string(format!("{dir}/comm"))
                .ok()
                .map(|c| c.trim_end_matches('\n').to_string())
        } else {
            for b in &mut cmdline {
                if *b == 0 {
                    *b = b' ';
                }
            }
            Some(String::from_utf8_lossy(&cmdline).into_owned())
        };
        Some(Proc {
            pid,
            ppid,
            uid: Some(uid),
            command,
        })
    }
}

/// Cell values, computed on demand; the NETNSID of a namespace once.
pub struct Cells<'a> {
    users: &'a Users,
    no_wrap: bool,
    #[cfg(feature = "net")]
    netlink: Option<Option<linux_namespaces::net::Netlink>>,
    netnsids: HashMap<u64, Option<String>>,
}

impl<'a> Cells<'a> {
    /// Cells for rows, with user names from `users`; NSFS paths joined by commas if
    /// `no_wrap`, else by newlines.
    pub fn new(users: &'a Users, no_wrap: bool) -> Cells<'a> {
        Cells {
            users,
            no_wrap,
            #[cfg(feature = "net")]
            netlink: None,
            netnsids: HashMap::new(),
        }
    }

    /// The text of column `col` for namespace `ns` shown through process `proc`.
    pub fn get(&mut self, col: Col, ns: &NamespaceInfo, proc: Option<&Proc>) -> Option<String> {
        let kind = ns.id.kind();
        match col {
            Col::Ns => Some(ns.id.ino().to_string()),
            Col::Type => Some(kind.proc_name().to_string()),
            Col::Path => proc.map(|p| format!("/proc/{}/ns/{}", p.pid, kind.proc_name())),
            Col::Nprocs => Some(ns.nprocs().to_string()),
            Col::Pid => proc.map(|p| p.pid.to_string()),
            Col::Ppid => proc.and_then(|p| p.ppid).map(|p| p.to_string()),
            Col::Command => proc.and_then(|p| p.command.clone()),
            Col::Uid => self.uid(ns, proc).map(|u| u.to_string()),
            Col::User => self.uid(ns, proc).map(|u| self.users.name(u)),
            Col::Netnsid => self.netnsid(ns),
            Col::Nsfs => {
                let mut paths: Vec<String> = Vec::new();
                for m in &ns.mounts {
                    let p = m.to_string_lossy().into_owned();
                    if !paths.contains(&p) {
                        paths.push(p);
                    }
                }
                (!paths.is_empty()).then(|| paths.join(if self.no_wrap { "," } else { "\n" }))
            }
            Col::Pns => Some(ns.parent.map_or(0, |p| p.ino()).to_string()),
            Col::Ons => Some(ns.owner.map_or(0, |p| p.ino()).to_string()),
        }
    }

    fn uid(&self, ns: &NamespaceInfo, proc: Option<&Proc>) -> Option<u32> {
        match proc {
            Some(p) => p.uid,
            None => ns.owner_uid,
        }
    }

    /// NETNSID: for a network namespace, the id the caller's network namespace gave it, or
    /// "unassigned"; empty when it cannot be asked.
    fn netnsid(&mut self, ns: &NamespaceInfo) -> Option<String> {
        if ns.id.kind() != NamespaceKind::Network {
            return None;
        }
        if let Some(v) = self.netnsids.get(&ns.id.ino()) {
            return v.clone();
        }
        let v = self.ask_netnsid(ns);
        self.netnsids.insert(ns.id.ino(), v.clone());
        v
    }

    #[cfg(feature = "net")]
    fn ask_netnsid(&mut self, ns: &NamespaceInfo) -> Option<String> {
        use linux_namespaces::Namespace;
        use linux_namespaces::net::Netlink;
        let netlink = self.netlink.get_or_insert_with(|| {
            Namespace::current(NamespaceKind::Network)
                .and_then(|me| Netlink::open(&me))
                .ok()
        });
        let handle = ns.open().ok()?;
        match netlink.as_ref()?.nsid_of(&handle).ok()? {
            Some(id) => Some(id.to_string()),
            None => Some("unassigned".into()),
        }
    }

    #[cfg(not(feature = "net"))]
    fn ask_netnsid(&mut self, _ns: &NamespaceInfo) -> Option<String> {
        None
    }
}

/// Builds the rows: applies `--task`, `--persistent`, the filter and the tree.
struct Builder<'a, 'b> {
    opts: &'a Options,
    cells: Cells<'b>,
    table: Table,
    error: Option<filter::EvalError>,
}

impl Builder<'_, '_> {
    /// Adds the row for `ns` shown through `proc` under `parent` (an earlier row), unless
    /// the filter drops it; returns its index.
    fn add(
        &mut self,
        ns: &NamespaceInfo,
        proc: Option<&Proc>,
        parent: Option<usize>,
    ) -> Option<usize> {
        if self.error.is_some() {
            return None;
        }
        if let Some(f) = &self.opts.filter {
            let cells = &mut self.cells;
            let printed = self.opts.columns.contains(&Col::Netnsid);
            let mut lookup = |name: &str| -> (Option<String>, Ty) {
                match Col::by_name(name) {
                    // NETNSID is asked for only when printed or named exactly so in the
                    // filter (as util-linux opens its netlink socket only then).
                    Some(Col::Netnsid) if name != "NETNSID" && !printed => (None, Ty::Str),
                    Some(c) => (
                        cells.get(c, ns, proc),
                        if c.is_number() { Ty::U64 } else { Ty::Str },
                    ),
                    None => (None, Ty::Str),
                }
            };
            match f.matches(&mut lookup) {
                Ok(true) => {}
                Ok(false) => return None,
                Err(e) => {
                    self.error = Some(e);
                    return None;
                }
            }
        }
        let cells = self
            .opts
            .columns
            .iter()
            .map(|&c| self.cells.get(c, ns, proc))
            .collect();
        self.table.lines.push(Line { cells, parent });
        Some(self.table.lines.len() - 1)
    }
}

/// The table for a listing of `list` (as [`inspect::list`] gives it) with `opts`.
///
/// # Errors
/// The messages util-linux prints: an unknown namespace for `<namespace>`, a filter that
/// cannot be applied.
pub fn build(opts: &Options, list: &[NamespaceInfo], users: &Users) -> Result<Table, Failure> {
    let tree = opts.tree;
    let columns = opts
        .columns
        .iter()
        .map(|&c| output::Column {
            name: c.name(),
            right: c.right() && !(c == Col::Ns && matches!(tree, Some(Tree::Owner | Tree::Parent))),
            number: c.is_number(),
            trunc: c == Col::Command && !opts.no_trunc,
            wrap: c == Col::Nsfs && !opts.no_wrap,
            tree: match tree {
                Some(Tree::Process) => c == Col::Command,
                Some(Tree::Owner | Tree::Parent) => c == Col::Ns,
                None => false,
            },
            hint: c.hint(),
        })
        .collect();
    let mut b = Builder {
        opts,
        cells: Cells::new(users, opts.no_wrap),
        table: Table {
            name: "namespaces",
            columns,
            lines: Vec::new(),
        },
        error: None,
    };
    if let Some(ino) = opts.namespace {
        let ns = list
            .iter()
            .find(|n| n.id.ino() == ino)
            .ok_or_else(|| Failure::msg(format!("not found namespace: {ino}")))?;
        processes_of(&mut b, ns);
    } else {
        namespaces(&mut b, list);
    }
    if let Some(e) = b.error {
        return Err(Failure::msg(format!("failed to apply filter: {e}")));
    }
    Ok(b.table)
}

/// The rows of `lsns <namespace>`: one per process, under its parent's row when the parent
/// is in the namespace too.
fn processes_of(b: &mut Builder<'_, '_>, ns: &NamespaceInfo) {
    let procs: Vec<Proc> = ns
        .pids
        .iter()
        .filter_map(|&pid| {
            if Some(pid) == ns.pid {
                Proc::of_namespace(ns)
            } else {
                Proc::read(pid)
            }
        })
        .collect();
    let index: HashMap<u32, usize> = procs.iter().enumerate().map(|(i, p)| (p.pid, i)).collect();
    let mut line: Vec<Option<usize>> = vec![None; procs.len()];
    let mut done = vec![false; procs.len()];
    fn show(
        b: &mut Builder<'_, '_>,
        ns: &NamespaceInfo,
        procs: &[Proc],
        index: &HashMap<u32, usize>,
        line: &mut [Option<usize>],
        done: &mut [bool],
        i: usize,
    ) {
        done[i] = true;
        let parent = procs[i].ppid.and_then(|pp| index.get(&pp).copied());
        if b.opts.tree == Some(Tree::Process) {
            if let Some(p) = parent.filter(|&p| !done[p]) {
                show(b, ns, procs, index, line, done, p);
            }
        }
        let under = match b.opts.tree {
            Some(Tree::Process) => parent.and_then(|p| line[p]),
            _ => None,
        };
        line[i] = b.add(ns, Some(&procs[i]), under);
    }
    for i in 0..procs.len() {
        if !done[i] {
            show(b, ns, &procs, &index, &mut line, &mut done, i);
        }
    }
}

/// The rows of a namespace listing, in inode order, trees as util-linux builds them.
fn namespaces(b: &mut Builder<'_, '_>, list: &[NamespaceInfo]) {
    let by_id: HashMap<_, usize> = list.iter().enumerate().map(|(i, n)| (n.id, i)).collect();
    let mut ns_line: Vec<Option<usize>> = vec![None; list.len()];
    let mut visiting = vec![false; list.len()];
    // The latest row shown through each pid (for the process tree).
    let mut proc_line: HashMap<u32, usize> = HashMap::new();
    struct Walk<'l> {
        list: &'l [NamespaceInfo],
        by_id: HashMap<linux_namespaces::NamespaceId, usize>,
    }
    let walk = Walk { list, by_id };
    fn show(
        b: &mut Builder<'_, '_>,
        w: &Walk<'_>,
        ns_line: &mut [Option<usize>],
        visiting: &mut [bool],
        proc_line: &mut HashMap<u32, usize>,
        i: usize,
    ) {
        let ns = &w.list[i];
        let owner = ns
            .owner
            .and_then(|o| w.by_id.get(&o).copied())
            .filter(|&o| o != i);
        let parent = ns
            .parent
            .and_then(|p| w.by_id.get(&p).copied())
            .filter(|&p| p != i);
        visiting[i] = true;
        let first = match b.opts.tree {
            Some(Tree::Owner) => owner,
            Some(Tree::Parent) => parent.or(owner),
            _ => None,
        };
        if let Some(r) = first.filter(|&r| ns_line[r].is_none() && !visiting[r]) {
            show(b, w, ns_line, visiting, proc_line, r);
        }
        visiting[i] = false;
        let proc = Proc::of_namespace(ns);
        let under = match b.opts.tree {
            Some(Tree::Owner) => owner.and_then(|o| ns_line[o]),
            Some(Tree::Parent) => parent.and_then(|p| ns_line[p]),
            Some(Tree::Process) => proc
                .as_ref()
                .and_then(|p| p.ppid)
                .and_then(|pp| proc_line.get(&pp).copied()),
            None => None,
        };
        let line = b.add(ns, proc.as_ref(), under);
        if let Some(l) = line {
            if matches!(b.opts.tree, Some(Tree::Owner | Tree::Parent)) {
                ns_line[i] = Some(l);
            } else if let Some(p) = &proc {
                proc_line.insert(p.pid, l);
            }
        }
    }
    for (i, ns) in list.iter().enumerate() {
        if let Some(pid) = b.opts.task {
            if !ns.pids.contains(&pid) {
                continue;
            }
        }
        if b.opts.persistent && ns.nprocs() != 0 {
            continue;
        }
        if ns_line[i].is_none() {
            show(b, &walk, &mut ns_line, &mut visiting, &mut proc_line, i);
        }
    }
}

/// The table of `--list-columns`.
fn columns_table(opts: &Options) -> String {
    let col = |name, right| output::Column {
        name,
        right,
        number: false,
        trunc: false,
        wrap: false,
        tree: false,
        hint: 0,
    };
    let table = Table {
        name: "lsns-columns",
        columns: vec![
            col("HOLDER", true),
            col("TYPE", false),
            col("DESCRIPTION", false),
        ],
        lines: Col::ALL
            .iter()
            .map(|c| Line {
                cells: vec![
                    Some(c.name().to_string()),
                    Some(
                        if c.is_number() {
                            "<integer>"
                        } else {
                            "<string>"
                        }
                        .to_string(),
                    ),
                    Some(c.help().to_string()),
                ],
                parent: None,
            })
            .collect(),
    };
    // util-linux prints this table without a header.
    table.render(if opts.json {
        Format::Json
    } else if opts.raw {
        Format::Raw { headings: false }
    } else {
        Format::Table {
            headings: false,
            width: None,
        }
    })
}

/// The namespaces `opts` select, as text for stdout.
///
/// # Errors
/// As util-linux: listing failures, an unknown `<namespace>`, a filter that cannot be applied.
pub fn run(opts: &Options) -> Result<String, Failure> {
    if let Some(f) = &opts.filter {
        let unknown: Vec<String> = f
            .columns()
            .iter()
            .filter(|c| Col::by_name(c).is_none())
            .map(|c| format!("unknown column: {c}"))
            .collect();
        if !unknown.is_empty() {
            let mut lines = unknown;
            lines.push("failed to initialize filter".into());
            return Err(Failure {
                lines,
                stdout: String::new(),
                try_help: false,
            });
        }
    }
    // The owner/parent trees also show the relatives no process, mount or fd holds (as
    // util-linux reads those only for its trees).
    let relatives = matches!(opts.tree, Some(Tree::Owner | Tree::Parent));
    let list = inspect::list_with(&ListOptions::new(opts.kinds).all_relatives(relatives))
        .map_err(|e| Failure::msg(e.to_string()))?;
    let users = Users::from_passwd();
    let table = build(opts, &list, &users)?;
    let format = if opts.json {
        Format::Json
    } else if opts.raw {
        Format::Raw {
            headings: !opts.no_headings,
        }
    } else {
        let stdout = std::io::stdout();
        let width = (!opts.no_trunc && stdout.is_terminal()).then(|| terminal_width(&stdout));
        Format::Table {
            headings: !opts.no_headings,
            width,
        }
    };
    Ok(table.render(format))
}

/// The terminal's width (TIOCGWINSZ), else `COLUMNS`, else 80.
fn terminal_width(stdout: &std::io::Stdout) -> usize {
    rustix::termios::tcgetwinsize(stdout)
        .ok()
        .map(|w| usize::from(w.ws_col))
        .filter(|&w| w > 0)
        .or_else(|| std::env::var("COLUMNS").ok()?.parse().ok())
        .unwrap_or(80)
}

fn main() {
    let request = parse_args(std::env::args().skip(1));
    // What libsmartcols' filter scanner echoes while parsing comes first on stdout, and after
    // any error message (util-linux's stdout is flushed at exit).
    let echo = match &request {
        Ok(Request::List(opts) | Request::Columns(opts)) => opts
            .filter
            .as_ref()
            .map_or_else(String::new, |f| f.echoed().to_string()),
        _ => String::new(),
    };
    let text = match request {
        Ok(Request::Help) => USAGE.to_string(),
        Ok(Request::Version) => {
            format!("lsns from linux-namespaces {}\n", env!("CARGO_PKG_VERSION"))
        }
        Ok(Request::Columns(opts)) => echo + &columns_table(&opts),
        Ok(Request::List(opts)) => match run(&opts) {
            Ok(text) => echo + &text,
            Err(mut e) => {
                e.stdout.insert_str(0, &echo);
                fail(&e)
            }
        },
        Err(e) => fail(&e),
    };
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => {}
        // `lsns | head`: the reader has what it wanted.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(e) => {
            // util-linux's wording: "write error: No space left on device".
            let text = e.to_string();
            let text = text.split(" (os error").next().unwrap_or(&text);
            fail(&Failure::msg(format!("write error: {text}")))
        }
    }
}

fn fail(f: &Failure) -> ! {
    for line in &f.lines {
        eprintln!("lsns: {line}");
    }
    if f.try_help {
        eprintln!("Try 'lsns --help' for more information.");
    }
    if !f.stdout.is_empty() {
        let mut out = std::io::stdout();
        let _ = out.write_all(f.stdout.as_bytes());
        let _ = out.flush();
    }
    std::process::exit(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(args: &[&str]) -> Options {
        match parse_args(args.iter().copied()) {
            Ok(Request::List(o)) => o,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    fn failure(args: &[&str]) -> Failure {
        parse_args(args.iter().copied()).expect_err("should fail")
    }

    #[test]
    fn default_columns_and_tree() {
        let o = opts(&[]);
        assert_eq!(
            o.columns,
            [
                Col::Ns,
                Col::Type,
                Col::Nprocs,
                Col::Pid,
                Col::User,
                Col::Command
            ]
        );
        assert_eq!(o.tree, Some(Tree::Process));
        assert_eq!(opts(&["-l"]).tree, None);
        let net = opts(&["-t", "net"]);
        assert_eq!(
            net.columns,
            [
                Col::Ns,
                Col::Type,
                Col::Nprocs,
                Col::Pid,
                Col::User,
                Col::Netnsid,
                Col::Nsfs,
                Col::Command
            ]
        );
        assert_eq!(net.kinds, NamespaceSet::NET);
        // -o replaces the default columns but keeps the default tree.
        let o = opts(&["-o", "ns,Type"]);
        assert_eq!(o.columns, [Col::Ns, Col::Type]);
        assert_eq!(o.tree, Some(Tree::Process));
        let o = opts(&["--output", "+NETNSID,NSFS"]);
        assert_eq!(o.columns.len(), 8);
        let all = opts(&["--output-all"]);
        assert_eq!(all.columns, Col::ALL);
        assert_eq!(all.tree, None);
    }

    #[test]
    fn namespace_argument() {
        let o = opts(&["4026531836"]);
        assert_eq!(o.namespace, Some(4026531836));
        assert_eq!(o.columns, [Col::Pid, Col::Ppid, Col::User, Col::Command]);
        assert_eq!(o.tree, Some(Tree::Process));
        let o = opts(&[
            "--type",
            "user",
            "--noheadings",
            "--output",
            "NS,PNS,ONS",
            "12",
        ]);
        assert_eq!(o.columns, [Col::Ns, Col::Pns, Col::Ons]);
        assert!(o.no_headings);
        assert_eq!(
            failure(&["extra"]).lines,
            ["invalid namespace argument: 'extra'"]
        );
        assert_eq!(
            failure(&["-p", "1", "5"]).lines,
            ["--task is mutually exclusive with <namespace>"]
        );
    }

    #[test]
    fn trees() {
        assert_eq!(opts(&["-T"]).tree, Some(Tree::Owner));
        assert_eq!(opts(&["--tree"]).tree, Some(Tree::Owner));
        assert_eq!(opts(&["--tree=parent"]).tree, Some(Tree::Parent));
        assert_eq!(opts(&["-Tprocess"]).tree, Some(Tree::Process));
        assert_eq!(opts(&["-T=owner"]).tree, Some(Tree::Owner));
        // -l does not win over -T (util-linux does not check that pair).
        assert_eq!(opts(&["-l", "-T"]).tree, Some(Tree::Owner));
        assert_eq!(failure(&["--tree=foo"]).lines, ["unknown tree type: foo"]);
        assert_eq!(failure(&["--tree="]).lines, ["unknown tree type: "]);
    }

    #[test]
    fn getopt_like_parsing() {
        let o = opts(&["-n", "-ur", "-tnet", "--type=uts"]);
        assert!(o.no_headings && o.raw && o.no_trunc && o.no_wrap);
        assert_eq!(o.kinds, NamespaceSet::NET | NamespaceSet::UTS);
        let o = opts(&["--noh", "--notr", "--raw"]);
        assert!(o.no_headings && o.no_trunc && o.raw);
        let f = failure(&["--no"]);
        assert!(f.try_help);
        assert!(
            f.lines[0].starts_with("option '--no' is ambiguous"),
            "{f:?}"
        );
        assert_eq!(failure(&["--frob"]).lines, ["unrecognized option '--frob'"]);
        assert_eq!(failure(&["-x"]).lines, ["invalid option -- 'x'"]);
        assert_eq!(
            failure(&["--json=yes"]).lines,
            ["option '--json' doesn't allow an argument"]
        );
        assert_eq!(
            failure(&["-Q"]).lines,
            ["option requires an argument -- 'Q'"]
        );
        assert_eq!(
            failure(&["--task"]).lines,
            ["option '--task' requires an argument"]
        );
        let o = opts(&["--", "7"]);
        assert_eq!(o.namespace, Some(7));
        assert!(matches!(parse_args(["-V"]), Ok(Request::Version)));
        assert!(parse_args(["--help", "-x"]).is_err());
        assert!(matches!(parse_args(["-h"]), Ok(Request::Help)));
        assert!(matches!(parse_args(["-H", "-J"]), Ok(Request::Columns(_))));
    }

    #[test]
    fn bad_values() {
        assert_eq!(
            failure(&["-t", "bogus"]).lines,
            ["unknown namespace type: bogus"]
        );
        assert_eq!(
            failure(&["-t", "network"]).lines,
            ["unknown namespace type: network"]
        );
        assert_eq!(failure(&["-o", "BOGUS"]).lines, ["unknown column: BOGUS"]);
        assert_eq!(
            failure(&["-o", "bogus,NS"]).lines,
            ["unknown column: bogus,NS"]
        );
        assert_eq!(failure(&["-o", "NS,,TYPE"]).lines, Vec::<String>::new());
        assert_eq!(
            failure(&["-p", "abc"]).lines,
            ["invalid PID argument: 'abc'"]
        );
        assert_eq!(
            failure(&["-p", "0"]).lines,
            ["invalid PID argument: '0': Numerical result out of range"]
        );
        assert_eq!(
            failure(&["-J", "-r"]).lines,
            ["options --json and --raw cannot be combined"]
        );
        assert_eq!(
            failure(&["-r", "-J"]).lines,
            ["options --raw and --json cannot be combined"]
        );
        assert_eq!(
            failure(&["-p", "1", "-P"]).lines,
            ["options --task and --persistent cannot be combined"]
        );
        let f = failure(&["-Q", "NS=5"]);
        assert_eq!(
            f.lines,
            ["failed to parse \"NS=5\": syntax error, unexpected NUMBER, expecting end of file"]
        );
        assert_eq!(f.stdout, "=");
        // A pid that does not exist is no error.
        assert_eq!(opts(&["-p", "99999999"]).task, Some(99999999));
    }

    #[test]
    fn users_from_passwd_text() {
        let u = Users::parse(
            "root:x:0:0::/root:/bin/sh\nbad\nnobody:x:65534:65534::/:/bin/false\nroot2:x:0:0::/:/bin/sh\n",
        );
        assert_eq!(u.name(0), "root");
        assert_eq!(u.name(65534), "nobody");
        assert_eq!(u.name(7), "7");
    }
}
