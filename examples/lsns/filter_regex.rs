//! A small POSIX extended regular expression matcher (for `=~` and `!~`).

use super::*;

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
pub(crate) enum Re {
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
pub(crate) enum ClassItem {
    Range(char, char),
    Named(String),
}

pub(crate) fn is_unsafe(p: &str) -> bool {
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

pub(crate) struct ReParser<'a> {
    pub(crate) chars: std::iter::Peekable<std::str::Chars<'a>>,
}

impl ReParser<'_> {
    pub(crate) fn alt(&mut self, depth: usize) -> Result<Re, String> {
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

    pub(crate) fn concat(&mut self, depth: usize) -> Result<Re, String> {
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

    pub(crate) fn bounds(&mut self) -> Result<(u32, Option<u32>), String> {
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

    pub(crate) fn class(&mut self) -> Result<Re, String> {
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

pub(crate) fn class_has(negate: bool, items: &[ClassItem], c: char) -> bool {
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
pub(crate) fn m(re: &Re, s: &[char], pos: usize, k: &mut dyn FnMut(usize) -> bool) -> bool {
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

pub(crate) fn concat(
    items: &[Re],
    s: &[char],
    pos: usize,
    k: &mut dyn FnMut(usize) -> bool,
) -> bool {
    match items.split_first() {
        None => k(pos),
        Some((first, rest)) => m(first, s, pos, &mut |p| concat(rest, s, p, k)),
    }
}

pub(crate) fn repeat(
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
