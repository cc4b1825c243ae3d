//! `-Q/--filter` expressions: the language of libsmartcols filters (scols-filter(5)) as
//! `lsns` accepts them, parsed by a small recursive-descent parser and evaluated per row.
//!
//! ```text
//! expr   := param | ( expr ) | expr AND expr | expr OR expr | NOT expr
//!         | expr CMP expr | expr =~ "regex" | expr !~ "regex"
//! param  := integer (with an optional K, M, .. or KiB, MiB, .. suffix) | float
//!         | "string" | 'string' | true | false | COLUMN
//! ```
//!
//! As in libsmartcols: `&&`/`and`/`AND` and `||`/`or`/`OR` bind equally loosely and group
//! from the left; the comparisons and `!`/`not` bind equally tightly and group from the left
//! (`! a == b` is `(!a) == b`). A bare column is true when its cell is not empty (and not 0
//! for a number column). Values are compared as the type of the literal side (a column's own
//! type when both sides are columns, float over integer); an empty number cell compares false.
//! `=~`/`!~` take POSIX extended regular expressions ([`Regex`]), matched anywhere in the text.

use std::fmt;

#[path = "filter_parse.rs"]
mod parse;
#[path = "filter_regex.rs"]
mod regex;

use parse::*;
pub use regex::Regex;

/// Longest expression accepted, in bytes.
const MAX_EXPR: usize = 1024;
/// Most parameters and operators in one expression.
const MAX_NODES: usize = 256;
/// Longest regular expression, in bytes.
const MAX_REGEX: usize = 256;
/// Largest repetition count in a regular expression.
const MAX_REPEAT: u64 = 1024;

/// The type of a value or a column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    /// Text.
    Str,
    /// Unsigned 64-bit integer.
    U64,
    /// Floating point.
    Float,
    /// true/false.
    Bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    And,
    Or,
    Not,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Re,
    NotRe,
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Eof,
    Num(u64),
    Float(f64),
    Str(String),
    Holder(String),
    Op(Op),
    True,
    False,
    Open,
    Close,
    /// A lone `'`.
    Invalid,
    /// A number with a suffix that does not fit; the message is the scanner's.
    BadNumber(String),
}

impl Tok {
    /// The token's name in a syntax error, as libsmartcols' bison parser names it.
    fn name(&self) -> &'static str {
        match self {
            Tok::Eof => "end of file",
            Tok::Num(_) => "NUMBER",
            Tok::Float(_) => "FLOAT",
            Tok::Str(_) => "STRING",
            Tok::Holder(_) => "HOLDER",
            Tok::True => "TRUE",
            Tok::False => "FALSE",
            Tok::Open => "'('",
            Tok::Close => "')'",
            Tok::Invalid => "invalid token",
            Tok::BadNumber(_) => "INVALID_NUMBER",
            Tok::Op(op) => match op {
                Op::And => "AND",
                Op::Or => "OR",
                Op::Not => "NEG",
                Op::Eq => "EQ",
                Op::Ne => "NE",
                Op::Lt => "LT",
                Op::Le => "LE",
                Op::Gt => "GT",
                Op::Ge => "GE",
                Op::Re => "REG",
                Op::NotRe => "NREG",
            },
        }
    }
}

/// A literal or a column.
#[derive(Clone, Debug)]
enum Param {
    Num(u64),
    Float(f64),
    Str(String),
    Bool(bool),
    /// A column, by the name written.
    Column(String),
}

#[derive(Clone, Debug)]
enum Node {
    Param(Param),
    Not(Box<Node>),
    Binary(Op, Box<Node>, Box<Node>, Option<Regex>),
}

/// A parsed filter.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    root: Option<Node>,
    columns: Vec<String>,
    echoed: String,
}

/// Why an expression did not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// libsmartcols' message; `(null)` where it has none.
    pub message: String,
    /// Characters the scanner matched to no token; libsmartcols' scanner echoes them to
    /// standard output.
    pub echoed: String,
}

/// Evaluating a filter failed: a value could not be converted to the type of the comparison
/// (such as the text of a TYPE cell to a number).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EvalError;

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Invalid argument")
    }
}

/// A value during evaluation. `empty` is libsmartcols' "no data" flag.
#[derive(Clone, Debug)]
enum Val {
    Str(Option<String>),
    U64(u64, bool),
    Float(f64, bool),
    Bool(bool, bool),
}

impl Val {
    fn ty(&self) -> Ty {
        match self {
            Val::Str(_) => Ty::Str,
            Val::U64(..) => Ty::U64,
            Val::Float(..) => Ty::Float,
            Val::Bool(..) => Ty::Bool,
        }
    }

    fn empty(&self) -> bool {
        match self {
            Val::Str(s) => s.is_none(),
            Val::U64(_, e) | Val::Float(_, e) | Val::Bool(_, e) => *e,
        }
    }

    fn truth(&self) -> bool {
        match self {
            Val::Str(s) => s.as_deref().is_some_and(|s| !s.is_empty()),
            Val::U64(n, e) => !e && *n != 0,
            Val::Float(f, e) => !e && *f != 0.0,
            Val::Bool(b, e) => !e && *b,
        }
    }

    /// The value as type `to`. A converted value is a copy, and (as in libsmartcols) a copy
    /// of a non-text value is never empty.
    fn cast(self, to: Ty) -> Result<Val, EvalError> {
        if self.ty() == to {
            return Ok(self);
        }
        Ok(match (self, to) {
            (Val::Str(s), Ty::U64) => {
                let empty = s.is_none();
                let n = match s {
                    Some(s) => parse_u64_text(&s).ok_or(EvalError)?,
                    None => 0,
                };
                Val::U64(n, empty)
            }
            (Val::Str(s), Ty::Float) => {
                let empty = s.is_none();
                let f = match s {
                    Some(s) => s.trim().parse::<f64>().map_err(|_| EvalError)?,
                    None => 0.0,
                };
                Val::Float(f, empty)
            }
            (Val::Str(s), _) => {
                let empty = s.is_none();
                let b = s.is_some_and(|s| {
                    s == "1" || s.eq_ignore_ascii_case("true") || s.starts_with(['y', 'Y'])
                });
                Val::Bool(b, empty)
            }
            (Val::U64(n, _), Ty::Str) => Val::Str(Some(n.to_string())),
            (Val::U64(n, _), Ty::Float) => Val::Float(n as f64, false),
            (Val::U64(n, _), _) => Val::Bool(n > 0, false),
            (Val::Float(f, _), Ty::Str) => Val::Str(Some(format_float(f))),
            (Val::Float(f, _), Ty::U64) => Val::U64(f as u64, false),
            (Val::Float(f, _), _) => Val::Bool(f > 0.0, false),
            (Val::Bool(b, _), Ty::Str) => Val::Str(Some(if b { "true" } else { "false" }.into())),
            (Val::Bool(b, _), Ty::U64) => Val::U64(u64::from(b), false),
            (Val::Bool(b, _), _) => Val::Float(if b { 1.0 } else { 0.0 }, false),
        })
    }
}

/// `%Lg`-like: up to 6 significant digits, no trailing zeros.
fn format_float(f: f64) -> String {
    let s = format!("{f:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// Text to a number as ul_strtou64 reads it: optional leading blanks and `+`, decimal digits.
fn parse_u64_text(s: &str) -> Option<u64> {
    let t = s.trim_start();
    let t = t.strip_prefix('+').unwrap_or(t);
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse().ok()
}

impl Filter {
    /// Parses `text`. An empty expression is no filter (everything passes).
    ///
    /// # Errors
    /// The message libsmartcols gives (`(null)` where it gives none: an expression over
    /// 1024 bytes or 256 nodes, or a regex operator without a string on its right).
    pub fn parse(text: &str) -> Result<Filter, ParseError> {
        if text.is_empty() {
            return Ok(Filter::default());
        }
        if text.len() > MAX_EXPR {
            return Err(ParseError {
                message: "(null)".into(),
                echoed: String::new(),
            });
        }
        let mut p = Parser {
            lex: Lexer {
                src: text.as_bytes(),
                pos: 0,
                echoed: String::new(),
            },
            tok: Tok::Eof,
            nodes: 0,
            columns: Vec::new(),
            message: None,
        };
        p.bump();
        let result = p.expr().and_then(|root| {
            if p.tok == Tok::Eof {
                Ok(root)
            } else {
                Err(p.syntax(true))
            }
        });
        match result {
            Ok(root) => Ok(Filter {
                root: Some(root),
                columns: p.columns,
                echoed: p.lex.echoed,
            }),
            Err(Fail) => Err(ParseError {
                message: p.message.unwrap_or_else(|| "(null)".into()),
                echoed: p.lex.echoed,
            }),
        }
    }

    /// The column names the expression uses, in order of appearance (repeats included).
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// Characters the scanner matched to no token and skipped; libsmartcols' scanner echoes
    /// them to standard output.
    pub fn echoed(&self) -> &str {
        &self.echoed
    }

    /// Whether the expression names column `name` (exactly, as libsmartcols compares).
    pub fn has_column(&self, name: &str) -> bool {
        self.columns.iter().any(|c| c == name)
    }

    /// Evaluates the filter for one row. `cell` gives a column's text (`None`: empty) and
    /// type, by the name written in the expression.
    ///
    /// # Errors
    /// [`EvalError`] when a value cannot be converted to the type of a comparison.
    pub fn matches(
        &self,
        cell: &mut dyn FnMut(&str) -> (Option<String>, Ty),
    ) -> Result<bool, EvalError> {
        match &self.root {
            None => Ok(true),
            Some(root) => truth(root, cell),
        }
    }
}

/// The type libsmartcols gives a node before evaluating it.
fn node_type(n: &Node, cell: &mut dyn FnMut(&str) -> (Option<String>, Ty)) -> Ty {
    match n {
        Node::Param(Param::Num(_)) => Ty::U64,
        Node::Param(Param::Float(_)) => Ty::Float,
        Node::Param(Param::Str(_)) => Ty::Str,
        Node::Param(Param::Bool(_)) => Ty::Bool,
        Node::Param(Param::Column(name)) => cell(name).1,
        Node::Not(_) | Node::Binary(..) => Ty::Bool,
    }
}

fn value(n: &Node, cell: &mut dyn FnMut(&str) -> (Option<String>, Ty)) -> Result<Val, EvalError> {
    Ok(match n {
        Node::Param(Param::Num(v)) => Val::U64(*v, false),
        Node::Param(Param::Float(v)) => Val::Float(*v, false),
        Node::Param(Param::Str(v)) => Val::Str(Some(v.clone())),
        Node::Param(Param::Bool(v)) => Val::Bool(*v, false),
        Node::Param(Param::Column(name)) => {
            let (text, ty) = cell(name);
            Val::Str(text.map(|t| t.trim().to_string())).cast(ty)?
        }
        Node::Not(_) | Node::Binary(..) => Val::Bool(truth(n, cell)?, false),
    })
}

fn is_column(n: &Node) -> bool {
    matches!(n, Node::Param(Param::Column(_)))
}

/// Copies a value for a conversion: a copy of a non-text value is never empty.
fn copy(v: Val) -> Val {
    match v {
        Val::U64(n, _) => Val::U64(n, false),
        Val::Float(f, _) => Val::Float(f, false),
        Val::Bool(b, _) => Val::Bool(b, false),
        s @ Val::Str(_) => s,
    }
}

fn truth(n: &Node, cell: &mut dyn FnMut(&str) -> (Option<String>, Ty)) -> Result<bool, EvalError> {
    let (op, l, r, re) = match n {
        Node::Param(_) => return Ok(value(n, cell)?.truth()),
        Node::Not(inner) => return Ok(!truth(inner, cell)?),
        Node::Binary(Op::And, l, r, _) => return Ok(truth(l, cell)? && truth(r, cell)?),
        Node::Binary(Op::Or, l, r, _) => return Ok(truth(l, cell)? || truth(r, cell)?),
        Node::Binary(op, l, r, re) => (*op, l, r, re),
    };
    let (lt, rt) = (node_type(l, cell), node_type(r, cell));
    let mut ty = if lt == rt {
        lt
    } else if is_column(l) && !is_column(r) {
        rt
    } else {
        lt
    };
    if lt != rt && ty == Ty::U64 && (lt == Ty::Float || rt == Ty::Float) {
        ty = Ty::Float;
    }
    let conv = |v: Val| {
        if v.ty() == ty {
            Ok(v)
        } else {
            copy(v).cast(ty)
        }
    };
    let lv = conv(value(l, cell)?)?;
    // A regex survives only when its side needs no conversion.
    let re = if rt == ty { re.as_ref() } else { None };
    let rv = conv(value(r, cell)?)?;
    let ord = |a: std::cmp::Ordering| match op {
        Op::Eq => Ok(a.is_eq()),
        Op::Ne => Ok(a.is_ne()),
        Op::Lt => Ok(a.is_lt()),
        Op::Le => Ok(a.is_le()),
        Op::Gt => Ok(a.is_gt()),
        Op::Ge => Ok(a.is_ge()),
        _ => Err(EvalError),
    };
    match (lv, rv) {
        (Val::Str(a), Val::Str(b)) => match op {
            Op::Re | Op::NotRe => {
                let re = re.ok_or(EvalError)?;
                let hit = re.is_match(a.as_deref().unwrap_or(""));
                Ok(hit == (op == Op::Re))
            }
            // NULL sorts before any text.
            _ => ord(a.cmp(&b)),
        },
        (a, b) if a.empty() || b.empty() => {
            if matches!(op, Op::Re | Op::NotRe) {
                Err(EvalError)
            } else {
                Ok(false)
            }
        }
        (Val::U64(a, _), Val::U64(b, _)) => ord(a.cmp(&b)),
        (Val::Bool(a, _), Val::Bool(b, _)) => ord(a.cmp(&b)),
        (Val::Float(a, _), Val::Float(b, _)) => match a.partial_cmp(&b) {
            Some(o) => ord(o),
            None => Ok(op == Op::Ne),
        },
        _ => Err(EvalError),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str) -> (Option<String>, Ty) {
        match name {
            "NS" => (Some("4026531840".into()), Ty::U64),
            "NPROCS" => (Some("1".into()), Ty::U64),
            "PID" => (None, Ty::U64),
            "PNS" => (Some("0".into()), Ty::U64),
            "TYPE" => (Some("net".into()), Ty::Str),
            "NETNSID" => (Some("123".into()), Ty::Str),
            "NSFS" => (None, Ty::Str),
            "COMMAND" => (Some("sleep 300".into()), Ty::Str),
            _ => (None, Ty::Str),
        }
    }

    fn eval(expr: &str) -> Result<bool, EvalError> {
        Filter::parse(expr)
            .unwrap_or_else(|e| panic!("{expr}: {e:?}"))
            .matches(&mut row)
    }

    fn err(expr: &str) -> String {
        Filter::parse(expr).expect_err(expr).message
    }

    #[test]
    fn comparisons_of_numbers_and_strings() {
        assert!(eval("NS == 4026531840 && NPROCS == 1").unwrap());
        assert!(!eval("NS == 4026531840 && NPROCS == 2").unwrap());
        assert!(eval("NETNSID == '123'").unwrap());
        assert!(eval("TYPE == \"net\"").unwrap());
        assert!(eval("TYPE != \"mnt\"").unwrap());
        assert!(eval("NS > 4026531839 and NS < 4026531841").unwrap());
        assert!(eval("NS ge 4026531840 AND NS le 4026531840").unwrap());
        assert!(eval("NS gt 1 && NS GT 2 && NS eq 4026531840 && NS ne 1 && NS lt 5G").unwrap());
        assert!(eval("NPROCS >= 1 && NPROCS <= 1").unwrap());
        // The literal's type wins: NS compared as text.
        assert!(eval("NS == \"4026531840\"").unwrap());
        assert!(eval("NPROCS < 1.5 && NPROCS > 0.5").unwrap());
        assert!(eval("TYPE < \"o\" && TYPE > \"m\"").unwrap());
    }

    #[test]
    fn suffixes_and_big_numbers() {
        assert!(eval("NS < 4G").unwrap());
        assert!(eval("NS > 3GiB").unwrap());
        assert!(eval("NS < 99999999999999999999999").unwrap());
        assert!(err("NS == 99999999999999999999K").contains("token error"));
    }

    #[test]
    fn empty_cells() {
        // An empty number compares false either way; as a bare column it is false.
        assert!(!eval("PID == 0").unwrap());
        assert!(!eval("PID != 0").unwrap());
        assert!(!eval("PID").unwrap());
        assert!(eval("!PID").unwrap());
        assert!(!eval("NSFS").unwrap());
        assert!(eval("NSFS != \"x\"").unwrap());
        assert!(eval("TYPE && NS").unwrap());
        // A zero is false as a bare column.
        assert!(!eval("PNS").unwrap());
        // Converting an empty number to text gives "0" (libsmartcols copies it).
        assert!(eval("PID == \"0\"").unwrap());
    }

    #[test]
    fn precedence_is_flat_and_left_to_right() {
        // (true || true) && false
        assert!(!eval("NPROCS == 1 || NPROCS == 1 && NPROCS == 2").unwrap());
        // (!NPROCS) == false: !1 is false, false == false
        assert!(eval("! NPROCS == false").unwrap());
        assert!(eval("not (NPROCS == 2)").unwrap());
        assert!(eval("NOT NPROCS == 2 || true").unwrap());
        assert!(eval("(NPROCS == 1) == true").unwrap());
        assert!(eval("NPROCS == 1 == 1").unwrap());
        assert!(eval("((TYPE == 'net'))").unwrap());
        assert!(eval("true").unwrap() && !eval("FALSE").unwrap());
    }

    #[test]
    fn regex_operators() {
        assert!(eval("TYPE =~ \"^n.t$\"").unwrap());
        assert!(eval("TYPE !~ \"^m\"").unwrap());
        assert!(eval("COMMAND =~ 'sle+p [0-9]{3}'").unwrap());
        assert!(eval("NS =~ \"^4026\"").unwrap());
        assert!(eval("COMMAND =~ \"(foo|sleep)\"").unwrap());
        assert!(!eval("COMMAND =~ \"^(foo|bar)\"").unwrap());
        assert!(eval("COMMAND =~ \"[[:digit:]]+$\"").unwrap());
        assert!(eval("COMMAND =~ \"[^a-z ]\"").unwrap());
        assert_eq!(err("NS =~ \"(\""), "Unmatched ( or \\(");
        assert_eq!(err("NS =~ NS"), "(null)");
        assert_eq!(err("NS =~ \"a++\""), "(null)");
        assert_eq!(err("NS =~ \"(a+)+\""), "(null)");
        assert_eq!(err("NS =~ \"a{1,2000}\""), "(null)");
        // A parenthesised string is still the string.
        assert!(eval("TYPE =~ (\"net\")").unwrap());
    }

    #[test]
    fn regex_matcher() {
        let r = |p: &str, t: &str| Regex::new(p).unwrap().is_match(t);
        assert!(r("", "anything"));
        assert!(r("b", "abc"));
        assert!(!r("^b", "abc"));
        assert!(r("a?b*c+$", "xxc"));
        assert!(r("^(ab|cd){2}$", "abcd"));
        assert!(!r("^(ab|cd){3}$", "abcd"));
        assert!(r("^a{2,}$", "aaaa"));
        assert!(!r("^a{2,3}$", "aaaa"));
        assert!(r("[]x]", "]"));
        assert!(r("[a-]", "-"));
        assert!(r("\\.", "a.b"));
        assert!(!r("\\.", "ab"));
        assert!(r("a)", "xa)"));
        assert!(r("\\", "a\\b"));
        assert_eq!(
            Regex::new("[").unwrap_err().as_deref(),
            Some("Invalid regular expression")
        );
        assert_eq!(
            Regex::new("[a").unwrap_err().as_deref(),
            Some("Unmatched [, [^, [:, [., or [=")
        );
        assert_eq!(
            Regex::new("[z-a]").unwrap_err().as_deref(),
            Some("Invalid range end")
        );
        assert_eq!(
            Regex::new("a{1").unwrap_err().as_deref(),
            Some("Unmatched \\{")
        );
    }

    #[test]
    fn syntax_errors_read_like_libsmartcols() {
        assert_eq!(err("NS=="), "syntax error, unexpected end of file");
        assert_eq!(
            err("NS == 1 2"),
            "syntax error, unexpected NUMBER, expecting end of file"
        );
        assert_eq!(err("NS && && x"), "syntax error, unexpected AND");
        assert_eq!(err("'"), "syntax error, unexpected invalid token");
        assert_eq!(err("(NS == 1"), "syntax error, unexpected end of file");
        assert_eq!(
            err("NS == 1)"),
            "syntax error, unexpected ')', expecting end of file"
        );
        assert_eq!(err("()"), "syntax error, unexpected ')'");
        assert_eq!(err(&"x".repeat(1025)), "(null)");
        let many = vec!["NS == 1"; 100].join(" && ");
        assert_eq!(err(&many), "(null)");
    }

    #[test]
    fn unmatched_characters_are_echoed() {
        let e = Filter::parse("NS=5").unwrap_err();
        assert_eq!(e.echoed, "=");
        assert_eq!(
            e.message,
            "syntax error, unexpected NUMBER, expecting end of file"
        );
        // The rest parses: a comparison with the column "abc".
        let f = Filter::parse("NS == \"abc").unwrap();
        assert_eq!(f.echoed(), "\"");
        assert_eq!(f.columns(), ["NS", "abc"]);
    }

    #[test]
    fn columns_are_collected_in_order() {
        let f = Filter::parse("NS == 1 && (TYPE == 'net' || NS > 2 || not PID)").unwrap();
        assert_eq!(f.columns(), ["NS", "TYPE", "NS", "PID"]);
        assert!(f.has_column("PID") && !f.has_column("USER"));
        assert!(Filter::parse("").unwrap().matches(&mut row).unwrap());
        // Keywords only in these spellings; others are column names.
        assert_eq!(Filter::parse("And").unwrap().columns(), ["And"]);
        assert_eq!(Filter::parse("android").unwrap().columns(), ["android"]);
    }

    #[test]
    fn conversion_failures_are_errors() {
        assert_eq!(eval("TYPE == 5"), Err(EvalError));
        // ...but only when evaluated.
        assert!(!eval("NPROCS == 2 && TYPE == 5").unwrap());
        assert_eq!(eval("5 =~ \"5\""), Err(EvalError));
    }
}
