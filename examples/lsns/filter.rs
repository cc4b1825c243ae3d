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

/// The scanner: tokens and the characters it matched to none.
struct Lexer<'a> {
    src: &'a [u8],
    pos: usize,
    echoed: String,
}

fn is_id_start(b: u8) -> bool {
    b.is_ascii_alphabetic()
}

fn is_id_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'%' | b':' | b'/' | b'-')
}

impl Lexer<'_> {
    fn next(&mut self) -> Tok {
        loop {
            let rest = &self.src[self.pos..];
            let Some(&c) = rest.first() else {
                return Tok::Eof;
            };
            if matches!(c, b' ' | b'\t' | b'\n') {
                self.pos += 1;
                continue;
            }
            // Longest match first, as flex does.
            for (text, tok) in [
                ("&&", Tok::Op(Op::And)),
                ("||", Tok::Op(Op::Or)),
                ("==", Tok::Op(Op::Eq)),
                ("!=", Tok::Op(Op::Ne)),
                ("<=", Tok::Op(Op::Le)),
                (">=", Tok::Op(Op::Ge)),
                ("=~", Tok::Op(Op::Re)),
                ("!~", Tok::Op(Op::NotRe)),
                ("!", Tok::Op(Op::Not)),
                ("<", Tok::Op(Op::Lt)),
                (">", Tok::Op(Op::Gt)),
                ("(", Tok::Open),
                (")", Tok::Close),
            ] {
                if rest.starts_with(text.as_bytes()) {
                    self.pos += text.len();
                    return tok;
                }
            }
            if c == b'"' || c == b'\'' {
                if let Some(end) = rest[1..].iter().position(|&b| b == c || b == b'\n') {
                    if rest[1 + end] == c {
                        let inner = String::from_utf8_lossy(&rest[1..1 + end]);
                        self.pos += end + 2;
                        return Tok::Str(inner.trim().to_string());
                    }
                }
                if c == b'\'' {
                    self.pos += 1;
                    return Tok::Invalid;
                }
                self.echo(1);
                continue;
            }
            if c.is_ascii_digit() {
                return self.number();
            }
            if is_id_start(c) {
                let len = rest.iter().take_while(|&&b| is_id_char(b)).count();
                let word = String::from_utf8_lossy(&rest[..len]).into_owned();
                self.pos += len;
                return match word.as_str() {
                    "and" | "AND" => Tok::Op(Op::And),
                    "or" | "OR" => Tok::Op(Op::Or),
                    "not" | "NOT" => Tok::Op(Op::Not),
                    "eq" | "EQ" => Tok::Op(Op::Eq),
                    "ne" | "NE" => Tok::Op(Op::Ne),
                    "le" | "LE" => Tok::Op(Op::Le),
                    "lt" | "LT" => Tok::Op(Op::Lt),
                    "ge" | "GE" => Tok::Op(Op::Ge),
                    "gt" | "GT" => Tok::Op(Op::Gt),
                    "true" | "TRUE" => Tok::True,
                    "false" | "FALSE" => Tok::False,
                    _ => Tok::Holder(word),
                };
            }
            // A character no rule matches (a UTF-8 sequence as a whole).
            let len = std::str::from_utf8(&rest[..rest.len().min(4)])
                .ok()
                .or_else(|| {
                    (1..=rest.len().min(4))
                        .rev()
                        .find_map(|n| std::str::from_utf8(&rest[..n]).ok())
                })
                .and_then(|s| s.chars().next())
                .map_or(1, char::len_utf8);
            self.echo(len);
        }
    }

    fn echo(&mut self, len: usize) {
        let bytes = &self.src[self.pos..self.pos + len];
        self.echoed.push_str(&String::from_utf8_lossy(bytes));
        self.pos += len;
    }

    fn number(&mut self) -> Tok {
        let rest = &self.src[self.pos..];
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        let text = |n: usize| String::from_utf8_lossy(&rest[..n]).into_owned();
        // float: digits '.' digits
        if rest.get(digits) == Some(&b'.') {
            let frac = rest[digits + 1..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            if frac > 0 {
                let len = digits + 1 + frac;
                self.pos += len;
                return Tok::Float(text(len).parse().unwrap_or(f64::MAX));
            }
        }
        if let Some(&s) = rest.get(digits) {
            if let Some(power) = b"KMGTPEZY".iter().position(|&p| p == s) {
                let len = digits
                    + if rest[digits + 1..].starts_with(b"iB") {
                        3
                    } else {
                        1
                    };
                let word = text(len);
                self.pos += len;
                let base: Option<u64> = text(digits).parse().ok();
                let value = base.and_then(|b| {
                    let mult = 1u128 << (10 * (power as u32 + 1));
                    u64::try_from(u128::from(b) * mult).ok()
                });
                return match value {
                    Some(v) => Tok::Num(v),
                    None => Tok::BadNumber(format!(
                        "\"{word}\" token error: Numerical result out of range"
                    )),
                };
            }
        }
        self.pos += digits;
        // strtoumax saturates.
        Tok::Num(text(digits).parse().unwrap_or(u64::MAX))
    }
}

struct Parser<'a> {
    lex: Lexer<'a>,
    tok: Tok,
    nodes: usize,
    columns: Vec<String>,
    /// A message set by the scanner or the regex compiler before the parse failed.
    message: Option<String>,
}

/// A failed parse; the message is in the parser.
struct Fail;

impl Parser<'_> {
    fn bump(&mut self) {
        self.tok = self.lex.next();
    }

    fn count(&mut self) -> Result<(), Fail> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(Fail);
        }
        Ok(())
    }

    fn syntax(&mut self, expecting_eof: bool) -> Fail {
        let mut msg = format!("syntax error, unexpected {}", self.tok.name());
        if expecting_eof {
            msg.push_str(", expecting end of file");
        }
        self.message = Some(msg);
        Fail
    }

    /// `expr` at the loose level: comparisons joined by AND/OR, from the left.
    fn expr(&mut self) -> Result<Node, Fail> {
        let mut left = self.comparison()?;
        while let Tok::Op(op @ (Op::And | Op::Or)) = self.tok {
            self.bump();
            let right = self.comparison()?;
            self.count()?;
            left = Node::Binary(op, Box::new(left), Box::new(right), None);
        }
        Ok(left)
    }

    /// Operands joined by comparison operators, from the left.
    fn comparison(&mut self) -> Result<Node, Fail> {
        let mut left = self.operand()?;
        while let Tok::Op(
            op @ (Op::Eq | Op::Ne | Op::Lt | Op::Le | Op::Gt | Op::Ge | Op::Re | Op::NotRe),
        ) = self.tok
        {
            self.bump();
            let right = self.operand()?;
            let re = if matches!(op, Op::Re | Op::NotRe) {
                // The right side must be a string literal; it is compiled now.
                let Node::Param(Param::Str(pattern)) = &right else {
                    return Err(Fail);
                };
                Some(Regex::new(pattern).map_err(|e| {
                    self.message = e;
                    Fail
                })?)
            } else {
                None
            };
            self.count()?;
            left = Node::Binary(op, Box::new(left), Box::new(right), re);
        }
        Ok(left)
    }

    /// A parameter, a negated operand or a parenthesised expression.
    fn operand(&mut self) -> Result<Node, Fail> {
        let param = match std::mem::replace(&mut self.tok, Tok::Eof) {
            Tok::Op(Op::Not) => {
                self.bump();
                let inner = self.operand()?;
                self.count()?;
                return Ok(Node::Not(Box::new(inner)));
            }
            Tok::Open => {
                self.bump();
                let inner = self.expr()?;
                if self.tok != Tok::Close {
                    return Err(self.syntax(false));
                }
                self.bump();
                return Ok(inner);
            }
            Tok::Num(n) => Param::Num(n),
            Tok::Float(f) => Param::Float(f),
            Tok::Str(s) => Param::Str(s),
            Tok::True => Param::Bool(true),
            Tok::False => Param::Bool(false),
            Tok::Holder(name) => {
                self.columns.push(name.clone());
                Param::Column(name)
            }
            Tok::BadNumber(msg) => {
                self.message = Some(msg);
                return Err(Fail);
            }
            other => {
                self.tok = other;
                return Err(self.syntax(false));
            }
        };
        self.count()?;
        self.bump();
        Ok(Node::Param(param))
    }
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

// ---------------------------------------------------------------------------------------
// A small POSIX extended regular expression matcher (for =~ and !~).

/// A compiled POSIX extended regular expression: literals, `.`, bracket expressions (ranges,
/// negation, `[:class:]`), `^`, `$`, groups, `|`, and the repetitions `*`, `+`, `?`, `{m}`,
/// `{m,}`, `{m,n}`; `\` quotes the next character. Matching backtracks; the patterns
/// libsmartcols rejects as too costly (consecutive quantifiers, a repeated group holding a
/// quantifier, counts over 1024) are rejected here too.
#[derive(Clone, Debug)]
pub struct Regex {
    root: Re,
}

#[derive(Clone, Debug)]
enum Re {
    Char(char),
    Any,
    Class(bool, Vec<ClassItem>),
    Start,
    End,
    Alt(Vec<Re>),
    Concat(Vec<Re>),
    Repeat(Box<Re>, u32, Option<u32>),
}

#[derive(Clone, Debug)]
enum ClassItem {
    Range(char, char),
    Named(String),
}

fn is_unsafe(p: &str) -> bool {
    let b = p.as_bytes();
    for i in 0..b.len().saturating_sub(1) {
        let q = |c: u8| c == b'+' || c == b'*';
        if q(b[i]) && q(b[i + 1]) {
            return true;
        }
        if b[i] == b')' && q(b[i + 1]) {
            for j in (0..i).rev() {
                if b[j] == b'(' {
                    break;
                }
                if q(b[j]) {
                    return true;
                }
            }
        }
        if b[i] == b'{' {
            let mut j = i + 1;
            while j < b.len() && b[j] != b'}' {
                if b[j].is_ascii_digit() {
                    let n = b[j..].iter().take_while(|c| c.is_ascii_digit()).count();
                    let v: Option<u64> = p[j..j + n].parse().ok();
                    if v.is_none_or(|v| v > MAX_REPEAT) {
                        return true;
                    }
                    j += n;
                } else {
                    j += 1;
                }
            }
        }
    }
    false
}

struct ReParser<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
}

impl ReParser<'_> {
    fn alt(&mut self, depth: usize) -> Result<Re, String> {
        let mut branches = vec![self.concat(depth)?];
        while self.chars.peek() == Some(&'|') {
            self.chars.next();
            branches.push(self.concat(depth)?);
        }
        Ok(if branches.len() == 1 {
            branches.pop().unwrap_or(Re::Concat(Vec::new()))
        } else {
            Re::Alt(branches)
        })
    }

    fn concat(&mut self, depth: usize) -> Result<Re, String> {
        let mut items = Vec::new();
        while let Some(&c) = self.chars.peek() {
            let atom = match c {
                '|' => break,
                ')' if depth > 0 => break,
                '(' => {
                    self.chars.next();
                    let inner = self.alt(depth + 1)?;
                    if self.chars.next() != Some(')') {
                        return Err("Unmatched ( or \\(".into());
                    }
                    inner
                }
                '*' | '+' | '?' | '{' if items.is_empty() => {
                    return Err("Invalid preceding regular expression".into());
                }
                '*' | '+' | '?' | '{' => {
                    self.chars.next();
                    let (min, max) = match c {
                        '*' => (0, None),
                        '+' => (1, None),
                        '?' => (0, Some(1)),
                        _ => self.bounds()?,
                    };
                    let last = items.pop().unwrap_or(Re::Concat(Vec::new()));
                    items.push(Re::Repeat(Box::new(last), min, max));
                    continue;
                }
                '.' => {
                    self.chars.next();
                    Re::Any
                }
                '^' => {
                    self.chars.next();
                    Re::Start
                }
                '$' => {
                    self.chars.next();
                    Re::End
                }
                '[' => {
                    self.chars.next();
                    if self.chars.peek().is_none() {
                        return Err("Invalid regular expression".into());
                    }
                    self.class()?
                }
                '\\' => {
                    self.chars.next();
                    // glibc takes a trailing backslash for itself.
                    Re::Char(self.chars.next().unwrap_or('\\'))
                }
                c => {
                    self.chars.next();
                    Re::Char(c)
                }
            };
            items.push(atom);
        }
        Ok(Re::Concat(items))
    }

    fn bounds(&mut self) -> Result<(u32, Option<u32>), String> {
        let mut text = String::new();
        loop {
            match self.chars.next() {
                Some('}') => break,
                Some(c) if c.is_ascii_digit() || c == ',' => text.push(c),
                Some(_) => return Err("Invalid content of \\{\\}".into()),
                None => return Err("Unmatched \\{".into()),
            }
        }
        let bad = || "Invalid content of \\{\\}".to_string();
        let num = |s: &str| s.parse::<u32>().map_err(|_| bad());
        let (min, max) = match text.split_once(',') {
            None => {
                let n = num(&text)?;
                (n, Some(n))
            }
            Some((a, b)) => {
                let min = if a.is_empty() { 0 } else { num(a)? };
                let max = if b.is_empty() { None } else { Some(num(b)?) };
                (min, max)
            }
        };
        if max.is_some_and(|m| m < min) {
            return Err(bad());
        }
        Ok((min, max))
    }

    fn class(&mut self) -> Result<Re, String> {
        let unmatched = || "Unmatched [, [^, [:, [., or [=".to_string();
        let negate = self.chars.peek() == Some(&'^');
        if negate {
            self.chars.next();
        }
        let mut items = Vec::new();
        let mut first = true;
        loop {
            let c = self.chars.next().ok_or_else(unmatched)?;
            if c == ']' && !first {
                break;
            }
            first = false;
            if c == '[' && self.chars.peek() == Some(&':') {
                self.chars.next();
                let mut name = String::new();
                loop {
                    match self.chars.next() {
                        Some(':') if self.chars.peek() == Some(&']') => {
                            self.chars.next();
                            break;
                        }
                        Some(ch) => name.push(ch),
                        None => return Err(unmatched()),
                    }
                }
                if !matches!(
                    name.as_str(),
                    "alpha"
                        | "digit"
                        | "alnum"
                        | "upper"
                        | "lower"
                        | "space"
                        | "blank"
                        | "punct"
                        | "print"
                        | "graph"
                        | "cntrl"
                        | "xdigit"
                ) {
                    return Err("Invalid character class name".into());
                }
                items.push(ClassItem::Named(name));
                continue;
            }
            let mut peek = self.chars.clone();
            if peek.next() == Some('-') && peek.peek().is_some_and(|&e| e != ']') {
                self.chars.next();
                let end = self.chars.next().ok_or_else(unmatched)?;
                if end < c {
                    return Err("Invalid range end".into());
                }
                items.push(ClassItem::Range(c, end));
            } else {
                items.push(ClassItem::Range(c, c));
            }
        }
        Ok(Re::Class(negate, items))
    }
}

impl Regex {
    /// Compiles `pattern`.
    ///
    /// # Errors
    /// The regerror(3)-style message; `None` (libsmartcols reports no message) for a pattern
    /// over 256 bytes or one of the costly forms.
    pub fn new(pattern: &str) -> Result<Regex, Option<String>> {
        if pattern.len() > MAX_REGEX || is_unsafe(pattern) {
            return Err(None);
        }
        let mut p = ReParser {
            chars: pattern.chars().peekable(),
        };
        // An unmatched `)` is an ordinary character (as glibc has it).
        let mut branches = Vec::new();
        loop {
            branches.push(p.alt(0).map_err(Some)?);
            match p.chars.next() {
                Some(c) => branches.push(Re::Char(c)),
                None => break,
            }
        }
        let root = if branches.len() == 1 {
            branches.pop().unwrap_or(Re::Concat(Vec::new()))
        } else {
            Re::Concat(branches)
        };
        Ok(Regex { root })
    }

    /// Whether the pattern matches anywhere in `text`.
    pub fn is_match(&self, text: &str) -> bool {
        let chars: Vec<char> = text.chars().collect();
        (0..=chars.len()).any(|start| m(&self.root, &chars, start, &mut |_| true))
    }
}

fn class_has(negate: bool, items: &[ClassItem], c: char) -> bool {
    let hit = items.iter().any(|item| match item {
        ClassItem::Range(a, b) => (*a..=*b).contains(&c),
        ClassItem::Named(n) => match n.as_str() {
            "alpha" => c.is_alphabetic(),
            "digit" => c.is_ascii_digit(),
            "alnum" => c.is_alphanumeric(),
            "upper" => c.is_uppercase(),
            "lower" => c.is_lowercase(),
            "space" => c.is_whitespace(),
            "blank" => c == ' ' || c == '\t',
            "punct" => c.is_ascii_punctuation(),
            "print" => !c.is_control(),
            "graph" => !c.is_control() && !c.is_whitespace(),
            "cntrl" => c.is_control(),
            _ => c.is_ascii_hexdigit(),
        },
    });
    hit != negate
}

/// Matches `re` at `pos`, then the continuation `k` at the end position.
fn m(re: &Re, s: &[char], pos: usize, k: &mut dyn FnMut(usize) -> bool) -> bool {
    match re {
        Re::Char(c) => s.get(pos) == Some(c) && k(pos + 1),
        Re::Any => pos < s.len() && k(pos + 1),
        Re::Class(neg, items) => {
            s.get(pos).is_some_and(|&c| class_has(*neg, items, c)) && k(pos + 1)
        }
        Re::Start => pos == 0 && k(pos),
        Re::End => pos == s.len() && k(pos),
        Re::Alt(branches) => branches.iter().any(|b| m(b, s, pos, k)),
        Re::Concat(items) => concat(items, s, pos, k),
        Re::Repeat(inner, min, max) => repeat(inner, *min, *max, s, pos, k),
    }
}

fn concat(items: &[Re], s: &[char], pos: usize, k: &mut dyn FnMut(usize) -> bool) -> bool {
    match items.split_first() {
        None => k(pos),
        Some((first, rest)) => m(first, s, pos, &mut |p| concat(rest, s, p, k)),
    }
}

fn repeat(
    inner: &Re,
    min: u32,
    max: Option<u32>,
    s: &[char],
    pos: usize,
    k: &mut dyn FnMut(usize) -> bool,
) -> bool {
    if max == Some(0) {
        return k(pos);
    }
    let next_max = max.map(|x| x - 1);
    // Greedy: one more (never an empty iteration past the minimum), then stop.
    let more = m(inner, s, pos, &mut |p| {
        (p != pos || min > 0) && repeat(inner, min.saturating_sub(1), next_max, s, p, k)
    });
    more || (min == 0 && k(pos))
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
