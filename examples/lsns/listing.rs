//! The listing: users, processes and the namespaces' table rows (cells, tree, build).

use super::*;

/// User names by uid, from `/etc/passwd`; numeric for uids it does not name.
#[derive(Debug, Default)]
pub struct Users {
    names: HashMap<u32, String>,
}

impl Users {
    /// Reads `/etc/passwd`; a missing or unreadable file means every uid shows as a number.
    pub fn from_passwd() -> Users {
        Users::parse(&passwd::read("/etc/passwd"))
    }

    /// Parses passwd(5) text; the first entry for a uid wins, as getpwuid(3) has it.
    pub fn parse(text: &[u8]) -> Users {
        let mut names = HashMap::new();
        for e in passwd::entries(text) {
            names.entry(e.id).or_insert_with(|| e.name_lossy());
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
    pub(crate) fn of_namespace(ns: &NamespaceInfo) -> Option<Proc> {
        Some(Proc {
            pid: ns.pid?,
            ppid: ns.ppid,
            uid: ns.uid,
            command: ns.command.clone(),
        })
    }

    /// Reads process `pid`'s parent, owner and command line from `/proc` (for the rows of
    /// `lsns <namespace>`, one per process); `None` if it is gone.
    pub(crate) fn read(pid: u32) -> Option<Proc> {
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

    pub(crate) fn uid(&self, ns: &NamespaceInfo, proc: Option<&Proc>) -> Option<u32> {
        match proc {
            Some(p) => p.uid,
            None => ns.owner_uid,
        }
    }

    /// NETNSID: for a network namespace, the id the caller's network namespace gave it, or
    /// "unassigned"; empty when it cannot be asked.
    pub(crate) fn netnsid(&mut self, ns: &NamespaceInfo) -> Option<String> {
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
    pub(crate) fn ask_netnsid(&mut self, ns: &NamespaceInfo) -> Option<String> {
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
    pub(crate) fn ask_netnsid(&mut self, _ns: &NamespaceInfo) -> Option<String> {
        None
    }
}

/// Builds the rows: applies `--task`, `--persistent`, the filter and the tree.
pub(crate) struct Builder<'a, 'b> {
    pub(crate) opts: &'a Options,
    pub(crate) cells: Cells<'b>,
    pub(crate) table: Table,
    pub(crate) error: Option<filter::EvalError>,
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
pub(crate) fn processes_of(b: &mut Builder<'_, '_>, ns: &NamespaceInfo) {
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
pub(crate) fn namespaces(b: &mut Builder<'_, '_>, list: &[NamespaceInfo]) {
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
