//! `lsns`: list the namespaces on the system, like util-linux `lsns(8)`.
//!
//! ```text
//! cargo run --example lsns                    # NS TYPE NPROCS PID USER COMMAND
//! cargo run --example lsns -- -t net -t uts   # only network and UTS namespaces
//! cargo run --example lsns -- -p 1234         # only the namespaces of process 1234
//! cargo run --example lsns -- --json          # the same keys as `lsns -J --list`, plus pns/ons
//! ```
//!
//! Everything comes from [`linux_namespaces::inspect::list`]: one pass over `/proc`, passing
//! over processes the caller may not inspect, as `lsns` does. Unlike util-linux 2.38 `lsns`,
//! namespaces that only a bind mount keeps alive (`ip netns add`, `Namespace::persist`) are
//! listed too, with 0 processes.
//!
//! Text in the table (user names, commands) is escaped as util-linux escapes it: control
//! characters as `\xHH`, so a newline in a command line cannot forge a row.
//!
//! Errors print one line to stderr and exit with status 1.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write as _;

use linux_namespaces::inspect::{self, NamespaceIds, NamespaceInfo};
use linux_namespaces::{NamespaceKind, NamespaceSet};

const USAGE: &str = "\
Usage: lsns [options]

List system namespaces.

Options:
 -J, --json          use JSON output format
 -l, --list          use list format output (always the case; accepted for compatibility)
 -p, --task <pid>    print the namespaces of process <pid> only
 -t, --type <name>   namespace type (mnt, net, ipc, user, pid, uts, cgroup, time); repeatable
 -h, --help          display this help

Columns: NS TYPE NPROCS PID USER COMMAND; --json adds pns and ons (parent and owner
namespace inode, or null).
";

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Print the usage text.
    Help,
    /// List namespaces.
    List(Options),
}

/// Options of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// `--json`.
    pub json: bool,
    /// `--type`, accumulated; empty means every kind.
    pub kinds: NamespaceSet,
    /// `--task`.
    pub task: Option<u32>,
}

/// Parses the arguments after the program name, getopt style: short options may be grouped
/// (`-Jt net`, `-tnet`), long options take their value as `--type net` or `--type=net`, and
/// `--` ends the options.
pub fn parse_args<I, S>(args: I) -> Result<Request, String>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut opts = Options {
        json: false,
        kinds: NamespaceSet::empty(),
        task: None,
    };
    let mut args = args.into_iter().map(Into::into);
    let mut help = false;
    while let Some(arg) = args.next() {
        if arg == "--" {
            if let Some(extra) = args.next() {
                return Err(format!("unexpected argument: {extra}"));
            }
            break;
        }
        if let Some(long) = arg.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let mut value = |opt: &str| {
                inline
                    .clone()
                    .or_else(|| args.next())
                    .ok_or_else(|| format!("option --{opt} requires an argument"))
            };
            match name {
                "json" | "list" | "help" if inline.is_some() => {
                    return Err(format!("option --{name} takes no argument"));
                }
                "json" => opts.json = true,
                "list" => {}
                "help" => help = true,
                "type" => opts.kinds |= parse_kind(&value("type")?)?,
                "task" => opts.task = Some(parse_pid(&value("task")?)?),
                _ => return Err(format!("unrecognized option '--{name}' (try --help)")),
            }
        } else if let Some(group) = arg.strip_prefix('-').filter(|g| !g.is_empty()) {
            for (i, c) in group.char_indices() {
                let rest = &group[i + c.len_utf8()..];
                let mut value = |opt: char| {
                    if rest.is_empty() {
                        args.next()
                            .ok_or_else(|| format!("option -{opt} requires an argument"))
                    } else {
                        Ok(rest.to_string())
                    }
                };
                match c {
                    'J' => opts.json = true,
                    'l' => {}
                    'h' => help = true,
                    't' => {
                        opts.kinds |= parse_kind(&value('t')?)?;
                        break;
                    }
                    'p' => {
                        opts.task = Some(parse_pid(&value('p')?)?);
                        break;
                    }
                    _ => return Err(format!("invalid option -- '{c}' (try --help)")),
                }
            }
        } else {
            return Err(format!("unexpected argument: {arg}"));
        }
    }
    if help {
        return Ok(Request::Help);
    }
    if opts.kinds.is_empty() {
        opts.kinds = NamespaceSet::all();
    }
    Ok(Request::List(opts))
}

fn parse_kind(name: &str) -> Result<NamespaceSet, String> {
    name.parse::<NamespaceKind>()
        .map(NamespaceKind::as_set)
        .map_err(|_| format!("unknown namespace type: {name}"))
}

fn parse_pid(text: &str) -> Result<u32, String> {
    match text.parse::<u32>() {
        Ok(pid) if pid > 0 && pid <= i32::MAX as u32 => Ok(pid),
        _ => Err(format!("invalid PID argument: '{text}'")),
    }
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

/// Text as util-linux shows it in a table or list: each byte of a control character (C0, DEL,
/// C1, and the Unicode line and paragraph separators) as `\xHH`, and a backslash before an
/// `x` as `\x5c`, so that a process name or command line can neither start a row or column of
/// its own nor pass for an escape. (The library gives text with invalid UTF-8 already replaced
/// by U+FFFD.)
pub fn safe(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') {
            for b in c.encode_utf8(&mut [0; 4]).bytes() {
                let _ = write!(out, "\\x{b:02x}");
            }
        } else if c == '\\' && chars.peek() == Some(&'x') {
            out.push_str("\\x5c");
        } else {
            out.push(c);
        }
    }
    out
}

/// The default table: `NS TYPE NPROCS PID USER COMMAND`, numbers right-aligned, columns as
/// wide as their widest cell, the command last and untruncated; text cells [`safe`].
pub fn render_table(list: &[NamespaceInfo], users: &Users) -> String {
    const HEAD: [&str; 6] = ["NS", "TYPE", "NPROCS", "PID", "USER", "COMMAND"];
    const RIGHT: [bool; 6] = [true, false, true, true, false, false];
    let rows: Vec<[String; 6]> = list
        .iter()
        .map(|ns| {
            [
                ns.id.ino().to_string(),
                ns.id.kind().to_string(),
                ns.nprocs().to_string(),
                ns.pid.map(|p| p.to_string()).unwrap_or_default(),
                ns.uid.map(|u| safe(&users.name(u))).unwrap_or_default(),
                ns.command.as_deref().map(safe).unwrap_or_default(),
            ]
        })
        .collect();
    let mut width = HEAD.map(str::len);
    for row in &rows {
        for (w, cell) in width.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: [&str; 6]| {
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                text.push(' ');
            }
            let pad = width[i].saturating_sub(cell.chars().count());
            if RIGHT[i] {
                text.extend(std::iter::repeat_n(' ', pad));
                text.push_str(cell);
            } else if i + 1 < cells.len() {
                text.push_str(cell);
                text.extend(std::iter::repeat_n(' ', pad));
            } else {
                text.push_str(cell);
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(HEAD);
    for row in &rows {
        line(row.each_ref().map(String::as_str));
    }
    out
}

/// The JSON form: `{"namespaces":[{"ns":..,"type":..,"nprocs":..,"pid":..,"user":..,
/// "command":..,"pns":..,"ons":..}]}`, with the key names of `lsns -J`; absent values are
/// `null` (where `lsns` writes 0 for pns/ons).
pub fn render_json(list: &[NamespaceInfo], users: &Users) -> String {
    let mut out = String::with_capacity(64 + list.len() * 160);
    out.push_str("{\n   \"namespaces\": [");
    for (i, ns) in list.iter().enumerate() {
        out.push_str(if i == 0 { "\n" } else { ",\n" });
        let _ = write!(
            out,
            "      {{\"ns\": {}, \"type\": \"{}\", \"nprocs\": {}, \"pid\": ",
            ns.id.ino(),
            ns.id.kind(),
            ns.nprocs()
        );
        match ns.pid {
            Some(p) => {
                let _ = write!(out, "{p}");
            }
            None => out.push_str("null"),
        }
        out.push_str(", \"user\": ");
        match ns.uid {
            Some(u) => json_string(&mut out, &users.name(u)),
            None => out.push_str("null"),
        }
        out.push_str(", \"command\": ");
        match &ns.command {
            Some(c) => json_string(&mut out, c),
            None => out.push_str("null"),
        }
        for (key, related) in [("pns", ns.parent), ("ons", ns.owner)] {
            let _ = write!(out, ", \"{key}\": ");
            match related {
                Some(id) => {
                    let _ = write!(out, "{}", id.ino());
                }
                None => out.push_str("null"),
            }
        }
        out.push('}');
    }
    out.push_str("\n   ]\n}\n");
    out
}

/// Appends `s` as a JSON string literal.
fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The namespaces the options select, rendered.
pub fn run(opts: &Options) -> Result<String, String> {
    let only = match opts.task {
        Some(pid) => Some(NamespaceIds::of_kinds(pid, opts.kinds).map_err(|e| e.to_string())?),
        None => None,
    };
    let mut list = inspect::list(opts.kinds).map_err(|e| e.to_string())?;
    if let Some(only) = &only {
        list.retain(|ns| only.get(ns.id.kind()) == Some(ns.id));
    }
    let users = Users::from_passwd();
    Ok(if opts.json {
        render_json(&list, &users)
    } else {
        render_table(&list, &users)
    })
}

fn main() {
    let text = match parse_args(std::env::args().skip(1)) {
        Ok(Request::Help) => USAGE.to_string(),
        Ok(Request::List(opts)) => match run(&opts) {
            Ok(text) => text,
            Err(e) => fail(&e),
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
        Err(e) => fail(&format!("write error: {e}")),
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("lsns: {msg}");
    std::process::exit(1)
}
