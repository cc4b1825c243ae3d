//! The scanner and the recursive-descent parser of `-Q/--filter` expressions.

use super::*;

/// The scanner: tokens and the characters it matched to none.
pub(crate) struct Lexer<'a> {
    pub(crate) src: &'a [u8],
    pub(crate) pos: usize,
    pub(crate) echoed: String,
}

pub(crate) fn is_id_start(b: u8) -> bool {
    b.is_ascii_alphabetic()
}

pub(crate) fn is_id_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'%' | b':' | b'/' | b'-')
}

impl Lexer<'_> {
    pub(crate) fn next(&mut self) -> Tok {
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

    pub(crate) fn echo(&mut self, len: usize) {
        let bytes = &self.src[self.pos..self.pos + len];
        self.echoed.push_str(&String::from_utf8_lossy(bytes));
        self.pos += len;
    }

    pub(crate) fn number(&mut self) -> Tok {
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

pub(crate) struct Parser<'a> {
    pub(crate) lex: Lexer<'a>,
    pub(crate) tok: Tok,
    pub(crate) nodes: usize,
    pub(crate) columns: Vec<String>,
    /// A message set by the scanner or the regex compiler before the parse failed.
    pub(crate) message: Option<String>,
}

/// A failed parse; the message is in the parser.
pub(crate) struct Fail;

impl Parser<'_> {
    pub(crate) fn bump(&mut self) {
        self.tok = self.lex.next();
    }

    pub(crate) fn count(&mut self) -> Result<(), Fail> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(Fail);
        }
        Ok(())
    }

    pub(crate) fn syntax(&mut self, expecting_eof: bool) -> Fail {
        let mut msg = format!("syntax error, unexpected {}", self.tok.name());
        if expecting_eof {
            msg.push_str(", expecting end of file");
        }
        self.message = Some(msg);
        Fail
    }

    /// `expr` at the loose level: comparisons joined by AND/OR, from the left.
    pub(crate) fn expr(&mut self) -> Result<Node, Fail> {
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
    pub(crate) fn comparison(&mut self) -> Result<Node, Fail> {
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
    pub(crate) fn operand(&mut self) -> Result<Node, Fail> {
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
