//! The command line: usage text, columns, options and their parsing.

use std::ffi::OsString;

use super::*;
use crate::getopt::{Getopt, HasArg, Item, Long, Short};

pub(crate) const USAGE: &str = "\
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

    pub(crate) fn help(self) -> &'static str {
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

    pub(crate) fn right(self) -> bool {
        self.is_number() || self == Col::Netnsid
    }

    pub(crate) fn hint(self) -> usize {
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
    pub(crate) fn msg(m: impl Into<String>) -> Failure {
        Failure {
            lines: vec![m.into()],
            stdout: String::new(),
            try_help: false,
        }
    }

    pub(crate) fn usage(m: impl Into<String>) -> Failure {
        Failure {
            try_help: true,
            ..Failure::msg(m)
        }
    }
}

pub(crate) const LONG: &[Long<char>] = &[
    ("json", HasArg::No, 'J'),
    ("task", HasArg::Required, 'p'),
    ("help", HasArg::No, 'h'),
    ("output", HasArg::Required, 'o'),
    ("output-all", HasArg::No, '\u{1}'),
    ("persistent", HasArg::No, 'P'),
    ("filter", HasArg::Required, 'Q'),
    ("notruncate", HasArg::No, 'u'),
    ("version", HasArg::No, 'V'),
    ("noheadings", HasArg::No, 'n'),
    ("nowrap", HasArg::No, 'W'),
    ("list", HasArg::No, 'l'),
    ("raw", HasArg::No, 'r'),
    ("type", HasArg::Required, 't'),
    ("tree", HasArg::Optional, 'T'),
    ("list-columns", HasArg::No, 'H'),
];

pub(crate) const SHORT: &[Short<char>] = &[
    (b'J', HasArg::No, 'J'),
    (b'l', HasArg::No, 'l'),
    (b'P', HasArg::No, 'P'),
    (b'n', HasArg::No, 'n'),
    (b'r', HasArg::No, 'r'),
    (b'u', HasArg::No, 'u'),
    (b'h', HasArg::No, 'h'),
    (b'V', HasArg::No, 'V'),
    (b'W', HasArg::No, 'W'),
    (b'H', HasArg::No, 'H'),
    (b'p', HasArg::Required, 'p'),
    (b'o', HasArg::Required, 'o'),
    (b't', HasArg::Required, 't'),
    (b'Q', HasArg::Required, 'Q'),
    (b'T', HasArg::Optional, 'T'),
];

pub(crate) fn long_name(key: char) -> &'static str {
    LONG.iter()
        .find(|(_, _, k)| *k == key)
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
    let mut opts = Options::default();
    let mut output: Option<String> = None;
    let mut output_all = false;
    let mut list_columns = false;
    let mut operands = Vec::new();
    // Mutually exclusive pairs: (--json, --raw), (--persistent, --task).
    let mut seen_excl: [Option<char>; 2] = [None, None];
    let mut parsed: Vec<(char, Option<String>)> = Vec::new();
    let words = args.into_iter().map(|a| OsString::from(a.into()));
    for item in Getopt::new(words, LONG, SHORT, true) {
        let text = |w: OsString| w.to_string_lossy().into_owned();
        match item.map_err(|e| Failure::usage(e.to_string()))? {
            Item::Opt(key, value) => parsed.push((key, value.map(text))),
            Item::Operand(word) => operands.push(text(word)),
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
pub(crate) fn add_columns(columns: &mut Vec<Col>, list: &str) -> Result<(), Failure> {
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
pub(crate) fn parse_pid(text: &str) -> Result<u32, Failure> {
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

pub(crate) fn parse_u64(text: &str) -> Option<u64> {
    let t = text.trim_start();
    let t = t.strip_prefix('+').unwrap_or(t);
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse().ok()
}
