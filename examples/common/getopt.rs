//! `getopt_long(3)` as util-linux's tools call it, shared by the example tools: short options
//! grouped (`-Urf`) with a value attached (`-R/srv`) or in the next word, long options as
//! `--name=value` or `--name value` and abbreviated to any unambiguous prefix, `--` ending the
//! options; rejections in glibc's words.

// Each tool uses a part of this module.
#![allow(dead_code)]

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::os::unix::ffi::OsStrExt;

/// Whether an option takes a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HasArg {
    No,
    /// Attached or in the next word.
    Required,
    /// Only attached: `-nFILE`, `--net=FILE`.
    Optional,
}

/// A long option: its name, whether it takes a value, and what the tool calls it.
pub type Long<K> = (&'static str, HasArg, K);
/// A short option: its letter, whether it takes a value, and what the tool calls it.
pub type Short<K> = (u8, HasArg, K);

/// One thing found on the command line.
#[derive(Debug, PartialEq, Eq)]
pub enum Item<K> {
    /// An option and its value.
    Opt(K, Option<OsString>),
    /// A word that is not an option.
    Operand(OsString),
}

/// A command line `getopt_long` rejects.
#[derive(Debug, PartialEq, Eq)]
pub enum Error {
    /// `--name` matches no long option.
    Unrecognized(String),
    /// `--name` abbreviates several; their full names.
    Ambiguous(String, Vec<&'static str>),
    /// `--name=value` for an option without a value.
    NoArgumentAllowed(&'static str),
    /// `--name` last on the line, without its value.
    RequiresArgument(&'static str),
    /// `-c` is no short option.
    Invalid(char),
    /// `-c` last on the line, without its value.
    ShortRequiresArgument(char),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Unrecognized(name) => write!(f, "unrecognized option '--{name}'"),
            Error::Ambiguous(name, all) => {
                write!(f, "option '--{name}' is ambiguous; possibilities:")?;
                all.iter().try_for_each(|n| write!(f, " '--{n}'"))
            }
            Error::NoArgumentAllowed(full) => {
                write!(f, "option '--{full}' doesn't allow an argument")
            }
            Error::RequiresArgument(full) => write!(f, "option '--{full}' requires an argument"),
            Error::Invalid(c) => write!(f, "invalid option -- '{c}'"),
            Error::ShortRequiresArgument(c) => {
                write!(f, "option requires an argument -- '{c}'")
            }
        }
    }
}

/// The command line as [`Item`]s, in order.
pub struct Getopt<'t, K, I> {
    args: I,
    long: &'t [Long<K>],
    short: &'t [Short<K>],
    /// Whether options may follow an operand (glibc's default); without, the first operand
    /// ends the options (a leading `+` in the option string, as `unshare` and `nsenter`).
    permute: bool,
    /// The rest of a group of short options being read, and where.
    group: Option<(Vec<u8>, usize)>,
    /// After `--` (or the first operand, without `permute`): every word is an operand.
    operands_only: bool,
}

impl<'t, K: Copy, I: Iterator<Item = OsString>> Getopt<'t, K, I> {
    pub fn new(
        args: impl IntoIterator<IntoIter = I>,
        long: &'t [Long<K>],
        short: &'t [Short<K>],
        permute: bool,
    ) -> Self {
        Getopt {
            args: args.into_iter(),
            long,
            short,
            permute,
            group: None,
            operands_only: false,
        }
    }

    /// The long option `name` stands for: an exact name, or the only one it abbreviates.
    pub fn find_long(&self, name: &str) -> Result<Long<K>, Error> {
        if let Some(&exact) = self.long.iter().find(|(n, _, _)| *n == name) {
            return Ok(exact);
        }
        let candidates: Vec<&Long<K>> = self
            .long
            .iter()
            .filter(|(n, _, _)| n.starts_with(name))
            .collect();
        match candidates.as_slice() {
            [one] if !name.is_empty() => Ok(**one),
            [] | [_] => Err(Error::Unrecognized(name.to_string())),
            many => Err(Error::Ambiguous(
                name.to_string(),
                many.iter().map(|(n, _, _)| *n).collect(),
            )),
        }
    }

    fn long_option(&mut self, word: &[u8]) -> Result<Item<K>, Error> {
        let (name, attached) = match word.iter().position(|&b| b == b'=') {
            Some(i) => (
                &word[..i],
                Some(OsStr::from_bytes(&word[i + 1..]).to_owned()),
            ),
            None => (word, None),
        };
        let (full, has_arg, key) = self.find_long(&String::from_utf8_lossy(name))?;
        let value = match (has_arg, attached) {
            (HasArg::No, Some(_)) => return Err(Error::NoArgumentAllowed(full)),
            (HasArg::Required, None) => {
                Some(self.args.next().ok_or(Error::RequiresArgument(full))?)
            }
            (_, value) => value,
        };
        Ok(Item::Opt(key, value))
    }

    /// The next option of the group being read.
    fn short_option(&mut self, group: Vec<u8>, at: usize) -> Result<Item<K>, Error> {
        let c = group[at];
        let Some(&(_, has_arg, key)) = self.short.iter().find(|(s, _, _)| *s == c) else {
            // The whole character, for a letter outside ASCII.
            let text = String::from_utf8_lossy(&group[at..]);
            return Err(Error::Invalid(text.chars().next().unwrap_or('?')));
        };
        let rest = OsStr::from_bytes(&group[at + 1..]).to_owned();
        let value = match has_arg {
            HasArg::No => {
                if at + 1 < group.len() {
                    self.group = Some((group, at + 1));
                }
                None
            }
            HasArg::Optional => (!rest.is_empty()).then_some(rest),
            HasArg::Required if !rest.is_empty() => Some(rest),
            HasArg::Required => Some(
                self.args
                    .next()
                    .ok_or(Error::ShortRequiresArgument(char::from(c)))?,
            ),
        };
        Ok(Item::Opt(key, value))
    }
}

impl<K: Copy, I: Iterator<Item = OsString>> Iterator for Getopt<'_, K, I> {
    type Item = Result<Item<K>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some((group, at)) = self.group.take() {
            return Some(self.short_option(group, at));
        }
        loop {
            let word = self.args.next()?;
            if self.operands_only {
                return Some(Ok(Item::Operand(word)));
            }
            let bytes = word.as_bytes();
            if bytes == b"--" {
                self.operands_only = true;
                continue;
            }
            if let Some(long) = bytes.strip_prefix(b"--") {
                return Some(self.long_option(long));
            }
            if bytes.len() > 1 && bytes[0] == b'-' {
                return Some(self.short_option(bytes.to_vec(), 1));
            }
            // An operand ("-" alone is one too).
            self.operands_only = !self.permute;
            return Some(Ok(Item::Operand(word)));
        }
    }
}

/// How the command line of a tool that runs a program ends.
pub enum Line<T> {
    /// An option asked for something else (`--help`, `--version`).
    Done(T),
    /// The program and its arguments (empty: none given).
    Program(Vec<OsString>),
}

/// The command line of a tool that runs a program (`unshare`, `nsenter`): the options up to
/// the first operand or `--`, each handed to `apply` (which ends the parsing by returning
/// `Some`), then the program and its arguments, options or not. `error` words a rejection.
pub fn program_line<K: Copy, T, E>(
    args: impl IntoIterator<Item = OsString>,
    long: &[Long<K>],
    short: &[Short<K>],
    mut apply: impl FnMut(K, Option<OsString>) -> Result<Option<T>, E>,
    error: impl Fn(Error) -> E,
) -> Result<Line<T>, E> {
    let mut program = Vec::new();
    for item in Getopt::new(args, long, short, false) {
        match item.map_err(&error)? {
            Item::Opt(key, value) => {
                if let Some(done) = apply(key, value)? {
                    return Ok(Line::Done(done));
                }
            }
            // Without `permute`, every word from the first operand on is one.
            Item::Operand(word) => program.push(word),
        }
    }
    Ok(Line::Program(program))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONG: &[Long<char>] = &[
        ("net", HasArg::Optional, 'n'),
        ("net-socket", HasArg::Required, 'N'),
        ("fork", HasArg::No, 'f'),
        ("root", HasArg::Required, 'R'),
    ];
    const SHORT: &[Short<char>] = &[
        (b'n', HasArg::Optional, 'n'),
        (b'f', HasArg::No, 'f'),
        (b'R', HasArg::Required, 'R'),
    ];

    fn parse(words: &[&str], permute: bool) -> Result<Vec<Item<char>>, Error> {
        Getopt::new(words.iter().map(OsString::from), LONG, SHORT, permute).collect()
    }

    fn opt(k: char, v: Option<&str>) -> Item<char> {
        Item::Opt(k, v.map(OsString::from))
    }

    #[test]
    fn options_values_and_operands() {
        assert_eq!(
            parse(
                &[
                    "-fnX", "-fR", "/srv", "--net=a", "--fo", "--root", "/r", "cmd", "-f"
                ],
                false
            ),
            Ok(vec![
                opt('f', None),
                opt('n', Some("X")),
                opt('f', None),
                opt('R', Some("/srv")),
                opt('n', Some("a")),
                opt('f', None),
                opt('R', Some("/r")),
                Item::Operand("cmd".into()),
                Item::Operand("-f".into()),
            ])
        );
        assert_eq!(
            parse(&["x", "-f", "--", "-n", "-"], true),
            Ok(vec![
                Item::Operand("x".into()),
                opt('f', None),
                Item::Operand("-n".into()),
                Item::Operand("-".into()),
            ])
        );
        // An exact name wins over longer ones it is a prefix of.
        assert_eq!(parse(&["--net"], false), Ok(vec![opt('n', None)]));
    }

    #[test]
    fn a_program_line_ends_at_the_program_or_at_done() {
        let line = |words: &[&str]| {
            let mut seen = Vec::new();
            let apply = |k, _| Ok::<_, Error>((k == 'R').then_some("done"));
            let words = words.iter().map(OsString::from);
            match program_line(
                words,
                LONG,
                SHORT,
                |k, v| {
                    seen.push(k);
                    apply(k, v)
                },
                |e| e,
            )
            .unwrap()
            {
                Line::Done(d) => (seen, Err(d)),
                Line::Program(p) => (seen, Ok(p)),
            }
        };
        assert_eq!(
            line(&["-f", "--net", "sh", "-f", "--", "x"]),
            (
                vec!['f', 'n'],
                Ok(["sh", "-f", "--", "x"].map(OsString::from).to_vec())
            )
        );
        assert_eq!(
            line(&["-f", "--", "-f"]),
            (vec!['f'], Ok(vec!["-f".into()]))
        );
        assert_eq!(line(&["-R/", "-x"]), (vec!['R'], Err("done")));
    }

    #[test]
    fn rejections_in_glibcs_words() {
        let err = |words: &[&str]| parse(words, false).unwrap_err().to_string();
        assert_eq!(
            err(&["--n"]),
            "option '--n' is ambiguous; possibilities: '--net' '--net-socket'"
        );
        assert_eq!(err(&["--bogus"]), "unrecognized option '--bogus'");
        assert_eq!(
            err(&["--fork=1"]),
            "option '--fork' doesn't allow an argument"
        );
        assert_eq!(err(&["--ro"]), "option '--root' requires an argument");
        assert_eq!(err(&["-fx"]), "invalid option -- 'x'");
        assert_eq!(err(&["-é"]), "invalid option -- 'é'");
        assert_eq!(err(&["-fR"]), "option requires an argument -- 'R'");
    }
}
