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

#[path = "cli.rs"]
pub mod cli;
#[path = "../common/getopt.rs"]
mod getopt;
#[path = "listing.rs"]
pub mod listing;
#[path = "../common/passwd.rs"]
mod passwd;

use std::collections::HashMap;
use std::io::{IsTerminal as _, Write as _};

use cli::*;
use filter::{Filter, Ty};
use linux_namespaces::inspect::{self, ListOptions, NamespaceInfo};
use linux_namespaces::{NamespaceKind, NamespaceSet};
use listing::*;
use output::{Format, Line, Table};

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
    // Owners and parents of namespaces with processes are read only for the columns that
    // show them (the trees read them through `all_relatives`).
    let relation = |c: &Col| matches!(c, Col::Pns | Col::Ons);
    let relations = opts.columns.iter().any(relation)
        || opts.filter.as_ref().is_some_and(|f| {
            f.columns()
                .iter()
                .any(|c| Col::by_name(c).as_ref().is_some_and(relation))
        });
    // /proc is read by as many threads as there are CPUs to run them (at most 4): the
    // listing is the same, sooner.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    let list = inspect::list_with(
        &ListOptions::new(opts.kinds)
            .all_relatives(relatives)
            .relations(relations)
            .threads(threads),
    )
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
            b"root:x:0:0::/root:/bin/sh\nbad\nnobody:x:65534:65534::/:/bin/false\nroot2:x:0:0::/:/bin/sh\n",
        );
        assert_eq!(u.name(0), "root");
        assert_eq!(u.name(65534), "nobody");
        assert_eq!(u.name(7), "7");
    }
}
