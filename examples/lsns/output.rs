//! Tables as util-linux tools print them (libsmartcols' formats): an aligned table, possibly a
//! tree; raw (one row a line, cells separated by one space, blanks and non-ASCII escaped); and
//! JSON (rows nested under `children` in a tree).

use std::fmt::Write as _;

/// One column.
#[derive(Clone, Debug)]
pub struct Column {
    /// Header and (lower-cased) JSON key.
    pub name: &'static str,
    /// Right-aligned in the table.
    pub right: bool,
    /// A JSON number (else a string).
    pub number: bool,
    /// Truncated to fit a terminal.
    pub trunc: bool,
    /// Its text is split into lines at `\n` in the table.
    pub wrap: bool,
    /// Carries the tree's drawing.
    pub tree: bool,
    /// Width hint: at least this wide when the header is narrower.
    pub hint: usize,
}

/// One row; `parent` is the index of the row it hangs under in a tree (an earlier row).
#[derive(Clone, Debug, Default)]
pub struct Line {
    /// Text per column; `None` is an empty cell (`null` in JSON).
    pub cells: Vec<Option<String>>,
    /// The row it hangs under.
    pub parent: Option<usize>,
}

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Aligned columns; on a terminal of the given width, truncatable columns are cut to fit.
    Table {
        /// Print the header line.
        headings: bool,
        /// Terminal width, if stdout is a terminal and truncation is on.
        width: Option<usize>,
    },
    /// Raw.
    Raw {
        /// Print the header line.
        headings: bool,
    },
    /// JSON, under the table name.
    Json,
}

/// Rows to print, in the order they were added.
#[derive(Clone, Debug)]
pub struct Table {
    /// The JSON key of the row array.
    pub name: &'static str,
    /// Columns.
    pub columns: Vec<Column>,
    /// Rows.
    pub lines: Vec<Line>,
}

impl Table {
    fn is_tree(&self) -> bool {
        self.columns.iter().any(|c| c.tree)
    }

    fn children(&self) -> Vec<Vec<usize>> {
        let mut kids = vec![Vec::new(); self.lines.len()];
        for (i, l) in self.lines.iter().enumerate() {
            if let Some(p) = l.parent {
                kids[p].push(i);
            }
        }
        kids
    }

    /// Rows in printing order with their tree drawing: depth-first from the roots in a tree,
    /// else as added.
    fn order(&self) -> Vec<(usize, String, String)> {
        if !self.is_tree() {
            return (0..self.lines.len())
                .map(|i| (i, String::new(), String::new()))
                .collect();
        }
        let kids = self.children();
        let mut out = Vec::with_capacity(self.lines.len());
        fn walk(
            i: usize,
            prefix: &str,
            connector: &str,
            cont: &str,
            kids: &[Vec<usize>],
            out: &mut Vec<(usize, String, String)>,
        ) {
            // The drawing of a row, and what the lines of a multi-line row carry there.
            let art = format!("{prefix}{connector}");
            let mut more = format!("{prefix}{cont}");
            if !kids[i].is_empty() {
                more.push_str("│ ");
            }
            out.push((i, art, more));
            let below = format!("{prefix}{cont}");
            for (n, &k) in kids[i].iter().enumerate() {
                let last = n + 1 == kids[i].len();
                let (conn, c) = if last {
                    ("└─", "  ")
                } else {
                    ("├─", "│ ")
                };
                walk(k, &below, conn, c, kids, out);
            }
        }
        for (i, l) in self.lines.iter().enumerate() {
            if l.parent.is_none() {
                walk(i, "", "", "", &kids, &mut out);
            }
        }
        out
    }

    /// The table in `format`.
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Json => self.json(),
            Format::Raw { headings } => self.raw(headings),
            Format::Table { headings, width } => self.human(headings, width),
        }
    }

    fn raw(&self, headings: bool) -> String {
        let mut out = String::new();
        if self.lines.is_empty() {
            return out;
        }
        if headings {
            let names: Vec<String> = self.columns.iter().map(|c| raw_escape(c.name)).collect();
            out.push_str(&names.join(" "));
            out.push('\n');
        }
        for (i, art, _) in self.order() {
            for (n, (c, cell)) in self.columns.iter().zip(&self.lines[i].cells).enumerate() {
                if n > 0 {
                    out.push(' ');
                }
                let mut text = cell.clone().unwrap_or_default();
                if c.tree {
                    text.insert_str(0, &art);
                }
                out.push_str(&raw_escape(&text));
            }
            out.push('\n');
        }
        out
    }

    fn json(&self) -> String {
        let mut out = format!("{{\n   \"{}\": [\n", self.name);
        let roots: Vec<usize> = if self.is_tree() {
            (0..self.lines.len())
                .filter(|&i| self.lines[i].parent.is_none())
                .collect()
        } else {
            (0..self.lines.len()).collect()
        };
        let kids = if self.is_tree() {
            self.children()
        } else {
            vec![Vec::new(); self.lines.len()]
        };
        if roots.is_empty() {
            out.push('\n');
        }
        self.json_objects(&roots, &kids, 2, &mut out);
        out.push_str("   ]\n}\n");
        out
    }

    fn json_objects(&self, rows: &[usize], kids: &[Vec<usize>], level: usize, out: &mut String) {
        let ind = |n: usize| " ".repeat(3 * n);
        for (n, &i) in rows.iter().enumerate() {
            if n == 0 {
                out.push_str(&ind(level));
                out.push_str("{\n");
            }
            let line = &self.lines[i];
            let has_kids = !kids[i].is_empty();
            for (k, (c, cell)) in self.columns.iter().zip(&line.cells).enumerate() {
                let key = c.name.to_ascii_lowercase();
                let _ = write!(out, "{}\"{}\": ", ind(level + 1), key);
                match cell {
                    None => out.push_str("null"),
                    Some(v) if c.number => {
                        out.push_str(if v.is_empty() { "null" } else { v });
                    }
                    Some(v) => json_string(out, v),
                }
                if k + 1 < self.columns.len() || has_kids {
                    out.push(',');
                }
                out.push('\n');
            }
            if has_kids {
                let _ = writeln!(out, "{}\"children\": [", ind(level + 1));
                self.json_objects(&kids[i], kids, level + 2, out);
                let _ = writeln!(out, "{}]", ind(level + 1));
            }
            out.push_str(&ind(level));
            if n + 1 < rows.len() {
                out.push_str("},{\n");
            } else {
                out.push_str("}\n");
            }
        }
    }

    fn human(&self, headings: bool, term: Option<usize>) -> String {
        let mut out = String::new();
        if self.lines.is_empty() {
            return out;
        }
        let order = self.order();
        let ncols = self.columns.len();
        // Encoded cell text, split into its lines for wrapping columns; the tree drawing
        // in front of the tree column.
        let cells: Vec<Vec<Vec<String>>> = order
            .iter()
            .map(|(i, art, _)| {
                self.columns
                    .iter()
                    .zip(&self.lines[*i].cells)
                    .map(|(c, cell)| {
                        let text = cell.as_deref().unwrap_or("");
                        let mut parts: Vec<String> = if c.wrap {
                            text.split('\n').map(safe).collect()
                        } else {
                            vec![safe(text)]
                        };
                        if c.tree {
                            parts[0].insert_str(0, art);
                        }
                        parts
                    })
                    .collect()
            })
            .collect();
        let mut width: Vec<usize> = self
            .columns
            .iter()
            .enumerate()
            .map(|(n, c)| {
                let min = if headings { c.name.len() } else { 1 };
                let max = cells
                    .iter()
                    .flat_map(|row| row[n].iter())
                    .map(|s| s.chars().count())
                    .max()
                    .unwrap_or(0);
                // As libsmartcols: at least the header; the hint only widens a column whose
                // data is wider than its header.
                let mut w = max.max(min);
                if max > min && max < c.hint {
                    w = c.hint;
                }
                if max == 0 && !headings && w <= 1 {
                    w = 0;
                }
                w
            })
            .collect();
        if let Some(term) = term {
            let total: usize = width.iter().sum::<usize>() + ncols.saturating_sub(1);
            if total > term {
                let mut excess = total - term;
                for (n, c) in self.columns.iter().enumerate().rev() {
                    if c.trunc && excess > 0 {
                        let floor = if headings { c.name.len() } else { 1 };
                        let cut = excess.min(width[n].saturating_sub(floor));
                        width[n] -= cut;
                        excess -= cut;
                    }
                }
            }
        }
        let cell_text = |n: usize, text: &str, last: bool, out: &mut String| {
            let c = &self.columns[n];
            let mut text = text.to_string();
            let mut len = text.chars().count();
            if len > width[n] && c.trunc {
                text = text.chars().take(width[n]).collect();
                len = width[n];
            }
            if c.right && !text.is_empty() {
                out.extend(std::iter::repeat_n(' ', width[n].saturating_sub(len)));
                out.push_str(&text);
                if !last {
                    out.push(' ');
                }
            } else {
                out.push_str(&text);
                if !last {
                    out.extend(std::iter::repeat_n(' ', width[n].saturating_sub(len)));
                    out.push(' ');
                }
            }
        };
        if headings {
            for (n, c) in self.columns.iter().enumerate() {
                let right = c.right;
                let last = n + 1 == ncols;
                if right {
                    out.extend(std::iter::repeat_n(
                        ' ',
                        width[n].saturating_sub(c.name.len()),
                    ));
                    out.push_str(c.name);
                    if !last {
                        out.push(' ');
                    }
                } else {
                    cell_text(n, c.name, last, &mut out);
                }
            }
            out.push('\n');
        }
        for (row, (_, _, more)) in cells.iter().zip(&order) {
            for (n, parts) in row.iter().enumerate() {
                cell_text(n, &parts[0], n + 1 == ncols, &mut out);
            }
            out.push('\n');
            // Further lines of multi-line cells: every other cell empty (padded but the last).
            let extra = row.iter().map(Vec::len).max().unwrap_or(1);
            for k in 1..extra {
                for (n, parts) in row.iter().enumerate() {
                    let last = n + 1 == ncols;
                    if self.columns[n].wrap && k < parts.len() {
                        cell_text(n, &parts[k], last, &mut out);
                    } else if self.columns[n].tree {
                        cell_text(n, more, last, &mut out);
                    } else {
                        cell_text(n, "", last, &mut out);
                    }
                }
                out.push('\n');
            }
        }
        out
    }
}

/// Text as libsmartcols shows it in a table: each byte of a control character (C0, DEL, C1,
/// and the Unicode line and paragraph separators) as `\xHH`, and a backslash before an `x` as
/// `\x5c`, so that a process name or command line can neither start a row or column of its
/// own nor pass for an escape. (Text with invalid UTF-8 already has U+FFFD in its place.)
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

/// Text as libsmartcols' raw format shows it: every byte that is a blank, a backslash, a
/// control character or not ASCII as `\xHH`.
pub fn raw_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b == b' ' || b == b'\t' || b == b'\\' || !(0x21..0x7f).contains(&b) {
            let _ = write!(out, "\\x{b:02x}");
        } else {
            out.push(char::from(b));
        }
    }
    out
}

/// Appends `s` as a JSON string literal, escaped as util-linux escapes it.
pub fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &'static str, right: bool) -> Column {
        Column {
            name,
            right,
            number: right,
            trunc: false,
            wrap: false,
            tree: false,
            hint: 0,
        }
    }

    fn line(cells: &[Option<&str>], parent: Option<usize>) -> Line {
        Line {
            cells: cells.iter().map(|c| c.map(str::to_string)).collect(),
            parent,
        }
    }

    fn sample(tree: bool) -> Table {
        let mut cmd = col("COMMAND", false);
        cmd.tree = tree;
        cmd.trunc = true;
        Table {
            name: "namespaces",
            columns: vec![col("NS", true), col("USER", false), cmd],
            lines: vec![
                line(&[Some("10"), Some("root"), Some("init")], None),
                line(&[Some("2"), None, Some("a b")], Some(0)),
                line(&[Some("300"), Some("x"), None], Some(1)),
                line(&[Some("4"), Some("y"), Some("z")], Some(0)),
            ],
        }
    }

    #[test]
    fn table_aligns_and_draws_the_tree() {
        let t = sample(true).render(Format::Table {
            headings: true,
            width: None,
        });
        assert_eq!(
            t,
            " NS USER COMMAND\n 10 root init\n  2      ├─a b\n300 x    │ └─\n  4 y    └─z\n"
        );
        let flat = sample(false).render(Format::Table {
            headings: false,
            width: None,
        });
        assert_eq!(flat, " 10 root init\n  2      a b\n300 x    \n  4 y    z\n");
    }

    #[test]
    fn terminal_width_truncates_the_command() {
        let t = sample(false).render(Format::Table {
            headings: false,
            width: Some(10),
        });
        assert_eq!(t, " 10 root i\n  2      a\n300 x    \n  4 y    z\n");
    }

    #[test]
    fn raw_escapes_blanks_and_keeps_the_tree() {
        let t = sample(true).render(Format::Raw { headings: true });
        assert_eq!(
            t,
            "NS USER COMMAND\n10 root init\n2  \\xe2\\x94\\x9c\\xe2\\x94\\x80a\\x20b\n300 x \\xe2\\x94\\x82\\x20\\xe2\\x94\\x94\\xe2\\x94\\x80\n4 y \\xe2\\x94\\x94\\xe2\\x94\\x80z\n"
        );
    }

    #[test]
    fn json_nests_children_and_types_values() {
        let j = sample(true).render(Format::Json);
        let v: serde_json::Value = serde_json::from_str(&j).unwrap();
        let top = v["namespaces"].as_array().unwrap();
        assert_eq!(top.len(), 1);
        assert_eq!(top[0]["ns"], 10);
        assert_eq!(top[0]["children"][0]["user"], serde_json::Value::Null);
        assert_eq!(top[0]["children"][0]["children"][0]["ns"], 300);
        assert_eq!(top[0]["children"][1]["command"], "z");
        assert!(j.starts_with("{\n   \"namespaces\": [\n      {\n         \"ns\": 10,\n"));
        let flat = sample(false).render(Format::Json);
        let v: serde_json::Value = serde_json::from_str(&flat).unwrap();
        assert_eq!(v["namespaces"].as_array().unwrap().len(), 4);
        let empty = Table {
            lines: Vec::new(),
            ..sample(true)
        };
        assert_eq!(
            empty.render(Format::Json),
            "{\n   \"namespaces\": [\n\n   ]\n}\n"
        );
        assert_eq!(
            empty.render(Format::Table {
                headings: true,
                width: None
            }),
            ""
        );
    }

    #[test]
    fn multi_line_cells() {
        let mut nsfs = col("NSFS", false);
        nsfs.wrap = true;
        let t = Table {
            name: "namespaces",
            columns: vec![col("NS", true), nsfs, col("NPROCS", true)],
            lines: vec![
                line(&[Some("1"), Some("/a/b\n/c"), Some("0")], None),
                line(&[Some("2"), None, Some("3")], None),
            ],
        };
        let mut later = t.clone();
        later.columns.push(col("ONS", true));
        for l in &mut later.lines {
            l.cells.push(Some("9".into()));
        }
        let s = later.render(Format::Table {
            headings: false,
            width: None,
        });
        assert_eq!(s, "1 /a/b 0 9\n  /c     \n2      3 9\n");
        let s = t.render(Format::Table {
            headings: true,
            width: None,
        });
        assert_eq!(
            s,
            "NS NSFS NPROCS\n 1 /a/b      0\n   /c   \n 2           3\n"
        );
    }

    #[test]
    fn escaping() {
        assert_eq!(safe("a\nb\\xc\\d"), "a\\x0ab\\x5cxc\\d");
        assert_eq!(raw_escape("a b\\é"), "a\\x20b\\x5c\\xc3\\xa9");
        let mut s = String::new();
        json_string(&mut s, "q\"\\\u{1}\n");
        assert_eq!(s, "\"q\\\"\\\\\\u0001\\n\"");
    }
}
