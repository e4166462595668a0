//! Path selection: the one pattern language of backup exclusions and
//! restore inclusions/exclusions, with restic's meaning (its
//! `internal/filter`), matched against snapshot paths (`/` is the root of
//! the backed-up source). The user-facing description is
//! `docs/PATTERNS.md`; in short:
//!
//! - a pattern is split at `/` into components, each matched against one
//!   component of the path (`*`, `?` and `[...]` never cross a `/`; `[^...]`
//!   negates a class; `\` escapes the next character);
//! - a component `**` matches any number of path components (none too);
//! - a pattern without a leading `/` may match at any depth (`foo`,
//!   `*.log`, `foo/**/bar`); with a leading `/` it is anchored at the root;
//! - a pattern matches a path when it matches the path or one of its
//!   ancestors, so `/a` and `a` stand for the whole subtree;
//! - a trailing `/` is ignored, `.`/`..` components and `//` are cleaned as
//!   paths are;
//! - `!pattern` in a list cancels earlier matches of that list (gitignore
//!   style; it cannot bring back what lies below an excluded folder);
//! - the case-insensitive lists (`--iexclude`, `--iinclude`) lowercase both
//!   sides; a pattern starting with a drive letter (`C:/...`) always ignores
//!   case, and a path that looks like a Windows path (`C:\...`, `\\host\...`)
//!   is matched with `\` read as `/`.
//!
//! [`Selector`] combines lists: a path is selected when an inclusion
//! list matches it (or there are none) and no exclusion list matches it or
//! one of its ancestors. [`select_entries`] applies a selector to a
//! snapshot's flat entry list the way restic's restorer walks a tree
//! (folders above a selected path are kept). [`BackupFilter`] is what a
//! backup walker asks per entry (patterns, `--exclude-if-present`,
//! `--one-file-system`).

use std::borrow::Cow;
use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::model::v2::common::{PathFilter, PathType};
use crate::{Error, Result};

/// One token of a component pattern (Go `filepath.Match` syntax).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(char),
    /// `?`: one character.
    One,
    /// `*`: any run of characters.
    Star,
    /// `[...]` (`negated` for `[^...]`): inclusive character ranges.
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

/// One `/`-separated component of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    /// The root of an anchored pattern; matches only the path's root.
    Root,
    /// `**`: any number of components.
    AnyDirs,
    /// A component without wildcards, compared as text.
    Name(String),
    /// A component with wildcards.
    Glob(Vec<Token>),
}

/// The component `*` that `**` expands to.
static ONE_NAME: Part = Part::Glob(Vec::new());

impl Part {
    fn matches(&self, component: &str) -> bool {
        match self {
            Part::Root => component == "/",
            Part::AnyDirs => true,
            Part::Name(name) => name == component,
            // The root marker is no name: no wildcard matches it.
            _ if component == "/" => false,
            Part::Glob(tokens) if tokens.is_empty() => true,
            Part::Glob(tokens) => {
                let chars: Vec<char> = component.chars().collect();
                glob_match(tokens, &chars)
            }
        }
    }
}

/// Whether `tokens` match all of `name`. Backtracks over `*` (the last
/// star only, which is enough for a single-component glob).
fn glob_match(tokens: &[Token], name: &[char]) -> bool {
    let (mut t, mut n) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match tokens.get(t) {
            Some(Token::Star) => {
                star = Some((t, n));
                t += 1;
                continue;
            }
            Some(token) if token_matches(token, name[n]) => {
                t += 1;
                n += 1;
                continue;
            }
            _ => {}
        }
        match star {
            Some((st, sn)) => {
                t = st + 1;
                n = sn + 1;
                star = Some((st, sn + 1));
            }
            None => return false,
        }
    }
    tokens[t..].iter().all(|token| *token == Token::Star)
}

fn token_matches(token: &Token, c: char) -> bool {
    match token {
        Token::Literal(l) => *l == c,
        Token::One => true,
        Token::Star => false,
        Token::Class { negated, ranges } => {
            ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated
        }
    }
}

/// Parses one component with Go `filepath.Match`'s rules and errors.
fn parse_component(text: &str) -> std::result::Result<Part, String> {
    if text == "**" {
        return Ok(Part::AnyDirs);
    }
    if !text.contains(['\\', '[', ']', '*', '?']) {
        return Ok(Part::Name(text.to_string()));
    }
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '*' => {
                if tokens.last() != Some(&Token::Star) {
                    tokens.push(Token::Star);
                }
                i += 1;
            }
            '?' => {
                tokens.push(Token::One);
                i += 1;
            }
            '\\' => {
                let c = chars.get(i + 1).ok_or("a trailing \\ escapes nothing")?;
                tokens.push(Token::Literal(*c));
                i += 2;
            }
            '[' => {
                i += 1;
                let negated = chars.get(i) == Some(&'^');
                if negated {
                    i += 1;
                }
                let mut ranges = Vec::new();
                loop {
                    match chars.get(i) {
                        None => return Err("a [ is not closed".into()),
                        Some(']') if !ranges.is_empty() => {
                            i += 1;
                            break;
                        }
                        _ => {}
                    }
                    let lo = class_char(&chars, &mut i)?;
                    let hi = if chars.get(i) == Some(&'-') {
                        i += 1;
                        class_char(&chars, &mut i)?
                    } else {
                        lo
                    };
                    if hi < lo {
                        return Err(format!("the range {lo}-{hi} is empty"));
                    }
                    ranges.push((lo, hi));
                }
                tokens.push(Token::Class { negated, ranges });
            }
            ']' => return Err("a ] was never opened".into()),
            c => {
                tokens.push(Token::Literal(c));
                i += 1;
            }
        }
    }
    if tokens == [Token::Star] {
        return Ok(Part::Glob(Vec::new()));
    }
    Ok(Part::Glob(tokens))
}

/// One character of a class (Go's `getEsc`): not `-` or `]` unescaped,
/// and the class must go on after it.
fn class_char(chars: &[char], i: &mut usize) -> std::result::Result<char, String> {
    let mut c = match chars.get(*i) {
        None => return Err("a [ is not closed".into()),
        Some('-') | Some(']') => return Err("a class needs a character before - or ]".into()),
        Some(c) => *c,
    };
    if c == '\\' {
        *i += 1;
        c = *chars.get(*i).ok_or("a [ is not closed")?;
    }
    *i += 1;
    if *i >= chars.len() {
        return Err("a [ is not closed".into());
    }
    Ok(c)
}

/// Whether `text` starts with a drive letter (`C:`).
fn has_drive(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':'
}

/// The form of a path that patterns see: a Windows path (drive letter or
/// `\\` prefix) with `\` read as `/`; any other path as it is (a `\` is
/// an ordinary character of a Unix name).
pub fn match_key(path: &str) -> Cow<'_, str> {
    if (has_drive(path) || path.starts_with("\\\\")) && path.contains('\\') {
        Cow::Owned(path.replace('\\', "/"))
    } else {
        Cow::Borrowed(path)
    }
}

/// A path's components as patterns see them: a leading `/` becomes the
/// root marker `"/"`, empty components (`//`, a trailing `/`) are dropped.
fn split_path(path: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    if path.starts_with('/') {
        parts.push("/");
    }
    parts.extend(path.split('/').filter(|c| !c.is_empty()));
    parts
}

/// A parsed pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    original: String,
    parts: Vec<Part>,
    negated: bool,
    ignore_case: bool,
}

impl Pattern {
    /// Parses `text` (see the module docs). `ignore_case` lowercases it
    /// (paths are lowercased before matching); a pattern starting with a
    /// drive letter ignores case anyway. The error is the reason.
    pub fn parse(text: &str, ignore_case: bool) -> std::result::Result<Self, String> {
        let (negated, body) = match text.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let ignore_case = ignore_case || has_drive(body);
        let body: Cow<'_, str> = if ignore_case {
            Cow::Owned(body.to_lowercase())
        } else {
            Cow::Borrowed(body)
        };
        let mut parts = Vec::new();
        for component in clean(&body) {
            parts.push(if component == "/" {
                Part::Root
            } else {
                parse_component(component)?
            });
        }
        Ok(Pattern {
            original: text.to_string(),
            parts,
            negated,
            ignore_case,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.original
    }

    /// Whether it is a `!pattern`.
    pub fn is_negated(&self) -> bool {
        self.negated
    }

    /// Whether it matches `path` or one of its ancestors (`!` aside).
    pub fn matches(&self, path: &str) -> bool {
        let key = match_key(path);
        let path = Prepared::new(&key, self.ignore_case);
        self.matches_prepared(&path)
    }

    /// Whether something below `dir` may match (restic's `ChildMatch`).
    pub fn child_may_match(&self, dir: &str) -> bool {
        let key = match_key(dir);
        let path = Prepared::new(&key, self.ignore_case);
        self.child_may_match_prepared(&path)
    }

    fn matches_prepared(&self, path: &Prepared<'_>) -> bool {
        let parts: Vec<&Part> = self.parts.iter().collect();
        if self.ignore_case {
            !path.lower.is_empty() && match_parts(&parts, &path.lower)
        } else {
            !path.exact.is_empty() && match_parts(&parts, &path.exact)
        }
    }

    fn child_may_match_prepared(&self, path: &Prepared<'_>) -> bool {
        if self.ignore_case {
            self.child_match(&path.lower)
        } else {
            self.child_match(&path.exact)
        }
    }

    /// restic's `childMatch` on a split path.
    fn child_match<S: AsRef<str>>(&self, strs: &[S]) -> bool {
        if self.parts.first() != Some(&Part::Root) {
            return true; // a floating pattern can match at any depth
        }
        let mut strs = strs;
        if let Some(pos) = self.parts.iter().position(|p| *p == Part::AnyDirs) {
            strs = &strs[..strs.len().min(pos)];
        }
        let l = strs.len().min(self.parts.len());
        let parts: Vec<&Part> = self.parts[..l].iter().collect();
        match_parts(&parts, strs)
    }
}

/// Go's `filepath.Clean` on a pattern, split: the components, the root
/// marker `"/"` first for an anchored one; `/` alone is "the root and
/// everything" (`**`), as in restic.
fn clean(pattern: &str) -> Vec<&str> {
    let rooted = pattern.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for c in pattern.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|l| *l != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            c => out.push(c),
        }
    }
    if rooted {
        if out.is_empty() {
            return vec!["/", "**"];
        }
        out.insert(0, "/");
    } else if out.is_empty() {
        out.push(".");
    }
    out
}

/// restic's `match`: whether `parts` match a run of consecutive
/// components of `strs` (at the start for an anchored pattern), `**`
/// expanding to zero or more single-name wildcards.
fn match_parts<S: AsRef<str>>(parts: &[&Part], strs: &[S]) -> bool {
    if let Some(pos) = parts.iter().position(|p| **p == Part::AnyDirs) {
        // As many single-name wildcards as there are components to spare
        // (none at all when even that is short, as restic counts).
        if strs.len() + 1 < parts.len() {
            return false;
        }
        for i in 0..=strs.len() + 1 - parts.len() {
            let mut expanded: Vec<&Part> = parts[..pos].to_vec();
            expanded.extend(std::iter::repeat_n(&ONE_NAME, i));
            expanded.extend_from_slice(&parts[pos + 1..]);
            if match_parts(&expanded, strs) {
                return true;
            }
        }
        return false;
    }
    if parts.is_empty() {
        return strs.is_empty();
    }
    if parts.len() > strs.len() {
        return false;
    }
    let mut min = 0;
    let mut max = strs.len() - parts.len();
    if *parts[0] == Part::Root {
        max = 0;
    } else if strs[0].as_ref() == "/" {
        min = 1;
    }
    (min..=max).rev().any(|offset| {
        parts
            .iter()
            .zip(&strs[offset..])
            .all(|(p, s)| p.matches(s.as_ref()))
    })
}

/// A path split once, with its lowercased components for the
/// case-insensitive patterns.
struct Prepared<'a> {
    exact: Vec<&'a str>,
    lower: Vec<String>,
}

impl<'a> Prepared<'a> {
    /// `key` is a [`match_key`]; `lower` whether some pattern ignores case.
    fn new(key: &'a str, lower: bool) -> Self {
        let exact = split_path(key);
        let lower = if lower {
            exact.iter().map(|c| c.to_lowercase()).collect()
        } else {
            Vec::new()
        };
        Prepared { exact, lower }
    }
}

/// A list of patterns with restic's `List` meaning: a path matches when
/// some pattern matches it and no later `!pattern` cancels that.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PatternList {
    patterns: Vec<Pattern>,
    has_negated: bool,
    any_ignore_case: bool,
}

impl PatternList {
    /// Parses `patterns` (empty ones are skipped, as restic does);
    /// `ignore_case` for the `--iexclude`/`--iinclude` kind. A bad pattern
    /// is an [`Error::argument`] naming `list[index]` and the pattern.
    pub fn new<S: AsRef<str>>(list: &str, patterns: &[S], ignore_case: bool) -> Result<Self> {
        let mut parsed = Vec::with_capacity(patterns.len());
        for (i, text) in patterns.iter().enumerate() {
            let text = text.as_ref();
            if text.is_empty() {
                continue;
            }
            let pattern = Pattern::parse(text, ignore_case).map_err(|why| {
                Error::argument(
                    format!("{list}[{i}]"),
                    format!("{text:?} is not a valid pattern: {why}"),
                )
            })?;
            parsed.push(pattern);
        }
        Ok(PatternList {
            has_negated: parsed.iter().any(|p| p.negated),
            any_ignore_case: parsed.iter().any(|p| p.ignore_case),
            patterns: parsed,
        })
    }

    /// Whether the list has no pattern.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// The parsed patterns, in order.
    pub fn patterns(&self) -> &[Pattern] {
        &self.patterns
    }

    /// Whether `path` matches (restic's `List`).
    pub fn matches(&self, path: &str) -> bool {
        self.list(path, false).0
    }

    /// Whether `path` matches and whether something below it may still
    /// match (restic's `ListWithChild`).
    pub fn matches_with_child(&self, path: &str) -> (bool, bool) {
        self.list(path, true)
    }

    fn list(&self, path: &str, check_child: bool) -> (bool, bool) {
        if self.patterns.is_empty() {
            return (false, false);
        }
        let key = match_key(path);
        let prepared = Prepared::new(&key, self.any_ignore_case);
        if prepared.exact.is_empty() {
            return (false, false);
        }
        let (mut matched, mut child) = (false, false);
        for pattern in &self.patterns {
            let m = pattern.matches_prepared(&prepared);
            let c = !check_child || pattern.child_may_match_prepared(&prepared);
            if pattern.negated {
                matched = matched && !m;
                child = child && !m;
            } else {
                matched = matched || m;
                child = child || c;
                if matched && child && !self.has_negated {
                    break; // nothing later can change the answer
                }
            }
        }
        (matched, child)
    }
}

/// Inclusion and exclusion lists together. Case-sensitive and
/// case-insensitive lists stay apart (a `!pattern` acts on its own list),
/// as restic keeps `--exclude` and `--iexclude` apart.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selector {
    includes: Vec<PatternList>,
    excludes: Vec<PatternList>,
}

impl Selector {
    /// A selector that takes everything.
    pub fn all() -> Self {
        Selector::default()
    }

    /// Adds an inclusion list (`list` names it in errors).
    pub fn include<S: AsRef<str>>(
        mut self,
        list: &str,
        patterns: &[S],
        ignore_case: bool,
    ) -> Result<Self> {
        let parsed = PatternList::new(list, patterns, ignore_case)?;
        if !parsed.is_empty() {
            self.includes.push(parsed);
        }
        Ok(self)
    }

    /// Adds an exclusion list (`list` names it in errors).
    pub fn exclude<S: AsRef<str>>(
        mut self,
        list: &str,
        patterns: &[S],
        ignore_case: bool,
    ) -> Result<Self> {
        let parsed = PatternList::new(list, patterns, ignore_case)?;
        if !parsed.is_empty() {
            self.excludes.push(parsed);
        }
        Ok(self)
    }

    /// Whether there is any inclusion pattern.
    pub fn has_includes(&self) -> bool {
        !self.includes.is_empty()
    }

    /// Whether there is any exclusion pattern.
    pub fn has_excludes(&self) -> bool {
        !self.excludes.is_empty()
    }

    /// Whether an exclusion list matches `path` itself (restic's
    /// `RejectByPattern`). A backup walker that does not descend into an
    /// excluded folder leaves out its whole subtree this way; over a flat
    /// list use [`Selector::excludes_tree`].
    pub fn excludes(&self, path: &str) -> bool {
        self.excludes.iter().any(|l| l.matches(path))
    }

    /// Whether `path` or one of its ancestors is excluded: what a walk
    /// from the root that prunes excluded folders would leave out.
    pub fn excludes_tree(&self, path: &str) -> bool {
        if self.excludes.is_empty() {
            return false;
        }
        ancestors_and_self(&match_key(path)).any(|p| self.excludes(p))
    }

    /// Whether an inclusion list matches `path` (or there is none).
    pub fn includes(&self, path: &str) -> bool {
        self.includes.is_empty() || self.includes.iter().any(|l| l.matches(path))
    }

    /// The inclusion patterns, as written, that match none of `paths`
    /// (nor any of their ancestors): a restore's `--include` that selects
    /// nothing, most often a mistyped path, which hosts warn about rather
    /// than restore nothing in silence. `!pattern`s are never listed.
    pub fn unmatched_includes<'a, I>(&self, paths: I) -> Vec<String>
    where
        I: IntoIterator<Item = &'a str>,
    {
        let mut open: Vec<&Pattern> = self
            .includes
            .iter()
            .flat_map(|l| l.patterns())
            .filter(|p| !p.is_negated())
            .collect();
        for path in paths {
            if open.is_empty() {
                break;
            }
            open.retain(|p| !p.matches(path));
        }
        open.into_iter().map(|p| p.as_str().to_string()).collect()
    }

    /// Whether something below folder `dir` may be selected: it is not
    /// excluded and some inclusion may match below it (restic's
    /// `childMayMatch`), so a walker can skip folders that cannot matter.
    pub fn child_may_match(&self, dir: &str) -> bool {
        !self.excludes(dir)
            && (self.includes.is_empty()
                || self.includes.iter().any(|l| l.matches_with_child(dir).1))
    }

    /// Whether `path` is taken on its own: included and not excluded
    /// (ancestors aside; see [`select_entries`]).
    pub fn selects(&self, path: &str) -> bool {
        self.includes(path) && !self.excludes(path)
    }
}

/// `/a`, `/a/b`, `/a/b/c` for `/a/b/c` (a `match_key`); ancestors first.
fn ancestors_and_self(key: &str) -> impl Iterator<Item = &str> {
    let starts_root = key.starts_with('/');
    key.char_indices()
        .filter(move |&(i, c)| c == '/' && !(starts_root && i == 0))
        .map(|(i, _)| &key[..i])
        .chain(std::iter::once(key))
        .filter(|p| !p.is_empty())
}

/// Which of a snapshot's entries (`(path, is_dir)`, any order) a restore
/// takes, as restic's restorer would walking the tree: an entry is taken
/// when it is included and neither it nor an ancestor is excluded; a
/// folder is also taken when something below it is (so the folders above
/// an included path are restored, with their metadata).
pub fn select_entries<'a, I>(selector: &Selector, entries: I) -> Vec<bool>
where
    I: IntoIterator<Item = (&'a str, bool)>,
{
    let entries: Vec<(Cow<'a, str>, bool)> = entries
        .into_iter()
        .map(|(p, d)| (match_key(p), d))
        .collect();
    // Each folder's own exclusion is computed once, however many entries
    // lie below it.
    let mut excluded: HashMap<&str, bool> = HashMap::new();
    let mut taken: Vec<bool> = Vec::with_capacity(entries.len());
    for (path, _) in &entries {
        let mut out = false;
        if selector.has_excludes() {
            for a in ancestors_and_self(path) {
                if *excluded.entry(a).or_insert_with(|| selector.excludes(a)) {
                    out = true;
                    break;
                }
            }
        }
        taken.push(!out && selector.includes(path));
    }
    if selector.has_includes() {
        let dirs: HashMap<&str, usize> = entries
            .iter()
            .enumerate()
            .filter(|(_, (_, d))| *d)
            .map(|(i, (p, _))| (p.trim_end_matches('/'), i))
            .collect();
        for i in 0..entries.len() {
            if !taken[i] {
                continue;
            }
            // Ancestors of a taken entry are never excluded (that would
            // have excluded the entry), so they are all taken.
            for ancestor in ancestors_and_self(&entries[i].0) {
                if let Some(&d) = dirs.get(ancestor) {
                    taken[d] = true;
                }
            }
        }
    }
    taken
}

/// Escapes `text` so that it matches itself literally (`\` before each of
/// `\ * ? [ ]`, and before a leading `!`).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, c) in text.chars().enumerate() {
        if matches!(c, '\\' | '*' | '?' | '[' | ']') || (i == 0 && c == '!') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Patterns equivalent to v2 path filters (a backup configuration's or a
/// restore's inclusions/exclusions): each path escaped, so it means
/// exactly that path; a folder also means everything below it, which a
/// pattern does by itself. Windows paths become `/`-separated (their
/// drive letter makes them ignore case).
pub fn filter_globs(filters: &[PathFilter]) -> Vec<String> {
    filters
        .iter()
        .map(|f| {
            let key = match_key(&f.path);
            let path = match f.kind {
                PathType::File => &*key,
                PathType::Folder => match key.trim_end_matches('/') {
                    "" if key.starts_with('/') => "/",
                    trimmed => trimmed,
                },
            };
            escape(path)
        })
        .collect()
}

/// The patterns of an exclude/include file, as restic reads them: each
/// line trimmed, empty lines and lines starting with `#` skipped, `$VAR`
/// and `${VAR}` replaced with `lookup(VAR)` (empty when unset; `$$` is a
/// `$`), like Go's `os.Expand`.
pub fn read_pattern_file(text: &str, lookup: impl Fn(&str) -> Option<String>) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| expand_env(l, &lookup))
        .collect()
}

/// Go's `os.Expand` with restic's mapping (`$$` is `$`).
pub fn expand_env(text: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let special = |c: char| "*#$@!?-".contains(c) || c.is_ascii_digit();
    let name_char = |c: char| c == '_' || c.is_ascii_alphanumeric();
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        // (name, bytes consumed after the `$`); "" with 0 keeps the `$`,
        // "" with more is bad syntax, dropped as Go drops it.
        let (name, used): (&str, usize) = if let Some(inner) = after.strip_prefix('{') {
            let mut chars = inner.chars();
            match (chars.next(), chars.next()) {
                (Some(c), Some('}')) if special(c) => (&inner[..c.len_utf8()], c.len_utf8() + 2),
                _ => match inner.find('}') {
                    Some(0) => ("", 2),
                    Some(end) => (&inner[..end], end + 2),
                    None => ("", 1),
                },
            }
        } else {
            match after.chars().next() {
                Some(c) if special(c) => (&after[..c.len_utf8()], c.len_utf8()),
                _ => {
                    let end = after.find(|c: char| !name_char(c)).unwrap_or(after.len());
                    (&after[..end], end)
                }
            }
        };
        if name.is_empty() {
            if used == 0 {
                out.push('$');
            }
        } else if name == "$" {
            out.push('$');
        } else if let Some(value) = lookup(name) {
            out.push_str(&value);
        }
        rest = &after[used..];
    }
    out.push_str(rest);
    out
}

/// A `--exclude-if-present NAME[:HEADER]` rule: a folder holding a file
/// `NAME` (whose content starts with `HEADER`, when given) keeps only that
/// file; the rest of its content is left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagFile {
    /// The file name (no wildcards).
    pub name: String,
    /// The bytes the file must start with, if any.
    pub header: Option<Vec<u8>>,
}

impl TagFile {
    /// Parses `NAME[:HEADER]` (restic's `--exclude-if-present`).
    pub fn parse(spec: &str) -> Result<Self> {
        let (name, header) = match spec.split_once(':') {
            Some((name, header)) => (name, Some(header.as_bytes().to_vec())),
            None => (spec, None),
        };
        if name.is_empty() {
            return Err(Error::argument(
                "exclude_if_present",
                format!("{spec:?} names no file"),
            ));
        }
        if name.contains('/') {
            return Err(Error::argument(
                "exclude_if_present",
                format!("{spec:?}: the name of a file, not a path"),
            ));
        }
        Ok(TagFile {
            name: name.to_string(),
            header: header.filter(|h| !h.is_empty()),
        })
    }

    /// How many leading bytes of the file the host must read (0: its
    /// existence is enough).
    pub fn header_len(&self) -> usize {
        self.header.as_ref().map_or(0, Vec::len)
    }

    /// Whether a file of this name whose first bytes are `head` (up to
    /// [`TagFile::header_len`] of them) tags its folder.
    pub fn confirms(&self, head: &[u8]) -> bool {
        match &self.header {
            None => true,
            Some(h) => head.starts_with(h),
        }
    }
}

/// A backup's selection options as the bindings take them (JSON, every
/// member optional, unknown members refused): `{"exclude": [patterns],
/// "iexclude": [patterns], "exclusions": [v2 path filters],
/// "exclude_if_present": ["NAME[:HEADER]"], "one_file_system": bool}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BackupFilterOptions {
    /// Exclusion patterns.
    pub exclude: Vec<String>,
    /// Exclusion patterns that ignore case.
    pub iexclude: Vec<String>,
    /// A v2 backup configuration's exclusions.
    pub exclusions: Vec<PathFilter>,
    /// `--exclude-if-present` rules.
    pub exclude_if_present: Vec<String>,
    /// Stay on the source root's file system.
    pub one_file_system: bool,
}

impl BackupFilterOptions {
    /// The filter of these options (a bad pattern or rule is an
    /// [`Error::argument`] naming its list and index).
    pub fn build(&self) -> Result<BackupFilter> {
        Ok(BackupFilter::new()
            .exclude("exclude", &self.exclude, false)?
            .exclude("iexclude", &self.iexclude, true)?
            .exclude_filters(&self.exclusions)?
            .exclude_if_present(&self.exclude_if_present)?
            .one_file_system(self.one_file_system))
    }
}

/// What a backup walker does with one entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visit {
    /// Leave it (and, for a folder, everything below) out.
    Skip,
    /// Back it up (and descend into a folder).
    Keep,
    /// Back the folder up as an empty folder, without descending: a mount
    /// point of another file system under `--one-file-system`.
    KeepEmpty,
}

/// The selection of a backup, which the host's walker asks per entry:
/// exclusion patterns, `--exclude-if-present` rules and
/// `--one-file-system`. Paths are snapshot paths (`/` is the source root).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BackupFilter {
    selector: Selector,
    tags: Vec<TagFile>,
    one_file_system: bool,
}

impl BackupFilter {
    /// Everything is backed up.
    pub fn new() -> Self {
        BackupFilter::default()
    }

    /// Adds exclusion patterns (`list` names them in errors).
    pub fn exclude<S: AsRef<str>>(
        mut self,
        list: &str,
        patterns: &[S],
        ignore_case: bool,
    ) -> Result<Self> {
        self.selector = self.selector.exclude(list, patterns, ignore_case)?;
        Ok(self)
    }

    /// Adds a v2 backup configuration's `exclusions` (through
    /// [`filter_globs`]: each path exactly, a folder with its subtree).
    /// Its paths must be named as the walker names entries.
    pub fn exclude_filters(self, exclusions: &[PathFilter]) -> Result<Self> {
        self.exclude("exclusions", &filter_globs(exclusions), false)
    }

    /// Adds `--exclude-if-present` rules (`NAME[:HEADER]` each).
    pub fn exclude_if_present<S: AsRef<str>>(mut self, specs: &[S]) -> Result<Self> {
        for spec in specs {
            self.tags.push(TagFile::parse(spec.as_ref())?);
        }
        Ok(self)
    }

    /// Stays on the file system of the source root.
    pub fn one_file_system(mut self, on: bool) -> Self {
        self.one_file_system = on;
        self
    }

    /// The patterns.
    pub fn selector(&self) -> &Selector {
        &self.selector
    }

    /// The `--exclude-if-present` rules, whose files the walker looks for
    /// in each folder it enters.
    pub fn tag_files(&self) -> &[TagFile] {
        &self.tags
    }

    /// Whether the walker can skip looking for tag files.
    pub fn has_tag_files(&self) -> bool {
        !self.tags.is_empty()
    }

    /// Whether `one_file_system` is on.
    pub fn is_one_file_system(&self) -> bool {
        self.one_file_system
    }

    /// Whether the patterns exclude `path` (a pruned folder takes its
    /// subtree with it).
    pub fn excluded(&self, path: &str) -> bool {
        self.selector.excludes(path)
    }

    /// What to do with the entry `path` (its parent was kept and entered)
    /// on file system `device`, when the source root is on `root_device`.
    pub fn visit(&self, path: &str, is_dir: bool, device: u64, root_device: u64) -> Visit {
        if self.excluded(path) {
            Visit::Skip
        } else if self.one_file_system && device != root_device {
            // restic keeps the mount point (its parent is on the root's
            // file system), not what is mounted there.
            if is_dir {
                Visit::KeepEmpty
            } else {
                Visit::Skip
            }
        } else {
            Visit::Keep
        }
    }

    /// Whether the child `name` of a folder is left out because of the
    /// tag files found there: `confirmed` are the names of the rules whose
    /// file the folder holds (with the right header). Each such rule keeps
    /// only its own file, as in restic.
    pub fn excluded_by_tags<S: AsRef<str>>(&self, confirmed: &[S], name: &str) -> bool {
        confirmed.iter().any(|tag| tag.as_ref() != name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(text: &str) -> Pattern {
        Pattern::parse(text, false).unwrap()
    }

    /// restic's `matchTests` (internal/filter/filter_test.go), minus the
    /// empty pattern (skipped in lists) and empty path.
    #[test]
    fn patterns_match_like_restic() {
        let cases: &[(&str, &str, bool)] = &[
            ("*.go", "/foo/bar/test.go", true),
            ("*.c", "/foo/bar/test.go", false),
            ("*", "/foo/bar/test.go", true),
            ("**", "/foo/bar/test.go", true),
            ("foo*", "/foo/bar/test.go", true),
            ("bar*", "/foo/bar/test.go", true),
            ("/bar*", "/foo/bar/test.go", false),
            ("bar/*", "/foo/bar/test.go", true),
            ("baz/*", "/foo/bar/test.go", false),
            ("bar/test.go", "/foo/bar/test.go", true),
            ("bar/*.go", "/foo/bar/test.go", true),
            ("ba*/*.go", "/foo/bar/test.go", true),
            ("bb*/*.go", "/foo/bar/test.go", false),
            ("test.*", "/foo/bar/test.go", true),
            ("tesT.*", "/foo/bar/test.go", false),
            ("bar/*", "/foo/bar/baz", true),
            ("bar", "/foo/bar", true),
            ("/foo/bar", "/foo/bar", true),
            ("/foo/bar/", "/foo/bar", true),
            ("/foo/bar", "/foo/baz", false),
            ("/foo/bar", "/foo/baz/", false),
            ("/foo///bar", "/foo/bar", true),
            ("/foo/../bar", "/foo/bar", false),
            ("/foo/../bar", "/bar", true),
            ("/foo", "/foo/baz", true),
            ("/foo/", "/foo/baz", true),
            ("/foo/*", "/foo", false),
            ("/foo/*", "/foo/baz", true),
            ("bar", "/foo/bar/baz", true),
            ("bar", "/foo/bar/test.go", true),
            ("/foo/*test.*", "/foo/bar/test.go", false),
            ("/foo/*/test.*", "/foo/bar/test.go", true),
            ("/foo/*/bar/test.*", "/foo/bar/test.go", false),
            ("/*/*/bar/test.*", "/foo/bar/test.go", false),
            ("/*/*/bar/test.*", "/foo/bar/baz/test.go", false),
            ("/*/*/baz/test.*", "/foo/bar/baz/test.go", true),
            ("/*/foo/bar/test.*", "/foo/bar/baz/test.go", false),
            ("/foo/bar/test.*", "bar/baz/test.go", false),
            ("/x/y/bar/baz/test.*", "bar/baz/test.go", false),
            ("/x/y/bar/baz/test.c", "bar/baz/test.go", false),
            ("baz/test.*", "bar/baz/test.go", true),
            ("baz/tesT.*", "bar/baz/test.go", false),
            ("test.go", "bar/baz/test.go", true),
            ("*.go", "bar/baz/test.go", true),
            ("*.c", "bar/baz/test.go", false),
            ("sdk", "/foo/bar/sdk", true),
            ("sdk", "/foo/bar/sdk/test/sdk_foo.go", true),
            (
                "sdk/*/cpp/*/*vars.html",
                "/usr/share/doc/libreoffice/sdk/docs/cpp/ref/a00517.html",
                false,
            ),
            (
                "foo/**/bar/*.go",
                "/home/user/foo/work/special/project/bar/test.go",
                true,
            ),
            ("foo/**/bar/*.go", "/home/user/foo/bar/test.go", true),
            ("foo/**/bar/*.go", "x/foo/bar/test.go", true),
            ("foo/**/bar/*.go", "foo/bar/test.go", true),
            ("foo/**/bar/*.go", "foo/bar/baz/bar/test.go", true),
            ("foo/**/bar/*.go", "/home/user/foo/test.c", false),
            ("foo/**/bar/*.go", "bar/foo/main.go", false),
            ("foo/**/bar/*.go", "/foo/bar/main.go", true),
            ("foo/**/bar/*.go", "bar/main.go", false),
            ("foo/**/bar", "/home/user/foo/x/y/bar", true),
            ("foo/**/bar", "/home/user/foo/x/y/bar/main.go", true),
            ("foo/**/bar/**/x", "/home/user/foo/bar/x", true),
            (
                "foo/**/bar/**/x",
                "/home/user/foo/blaaa/blaz/bar/shared/work/x",
                true,
            ),
            ("user/**/important*", "/home/user/work/x/y/hidden/x", false),
            (
                "user/**/hidden*/**/c",
                "/home/user/work/x/y/hidden/z/a/b/c",
                true,
            ),
            ("c:/foo/*test.*", "c:/foo/bar/test.go", false),
            ("c:/foo", "c:/foo/bar", true),
            ("c:/foo/", "c:/foo/bar", true),
            ("c:/foo/*/test.*", "c:/foo/bar/test.go", true),
            ("c:/foo/*/bar/test.*", "c:/foo/bar/test.go", false),
        ];
        for &(p, path, want) in cases {
            assert_eq!(pattern(p).matches(path), want, "{p:?} on {path:?}");
        }
    }

    /// restic's `childMatchTests`.
    #[test]
    fn child_matches_like_restic() {
        let cases: &[(&str, &str, bool)] = &[
            ("foo/bar", "/foo", true),
            ("baz/bar", "/foo", true),
            ("foo", "/foo/bar", true),
            ("bar", "/foo", true),
            ("baz", "/foo/bar", true),
            ("*", "/foo", true),
            ("*", "/foo/bar", true),
            ("/foo/bar", "/foo", true),
            ("/foo/bar/baz", "/foo", true),
            ("/foo/bar/baz", "/foo/bar", true),
            ("/foo/bar/baz", "/foo/baz", false),
            ("/foo/**/baz", "/foo/bar/baz", true),
            ("/foo/**/baz", "/foo/bar/baz/blah", true),
            ("/foo/**/qux", "/foo/bar/baz/qux", true),
            ("/foo/**/qux", "/foo/bar/baz", true),
            ("/foo/**/qux", "/foo/bar/baz/boo", true),
            ("/foo/**", "/foo/bar/baz", true),
            ("/foo/**", "/foo/bar", true),
            ("foo/**/bar/**/x", "/home/user/foo", true),
            ("foo/**/bar/**/x", "/home/user/foo/bar", true),
            (
                "foo/**/bar/**/x",
                "/home/user/foo/blaaa/blaz/bar/shared/work/x",
                true,
            ),
            ("/foo/*/qux", "/foo/bar", true),
            ("/foo/*/qux", "/foo/bar/boo", false),
            ("/foo/*/qux", "/foo/bar/boo/xx", false),
            ("/baz/bar", "/foo", false),
            ("/foo", "/foo/bar", true),
            ("/*", "/foo", true),
            ("/*", "/foo/bar", true),
            ("/foo", "/foo/bar", true),
            ("/**", "/foo", true),
            ("/*/**", "/foo", true),
            ("/*/**", "/foo/bar", true),
            ("/*/bar", "/foo", true),
            ("/bar/*", "/foo", false),
            ("/foo/*/baz", "/foo/bar", true),
            ("/foo/*/baz", "/foo/baz", true),
            ("/foo/*/baz", "/bar/baz", false),
            ("/**/*", "/foo", true),
            ("/**/bar", "/foo/bar", true),
        ];
        for &(p, path, want) in cases {
            assert_eq!(
                pattern(p).child_may_match(path),
                want,
                "{p:?} below {path:?}"
            );
        }
    }

    /// restic's `filterListTests` (with `ListWithChild`), negation included.
    #[test]
    fn lists_with_negation_like_restic() {
        let cases: &[(&[&str], &str, bool, bool)] = &[
            (&["*.go"], "/foo/bar/test.go", true, true),
            (&["*.go"], "/foo/bar", false, true),
            (&["*.c"], "/foo/bar/test.go", false, true),
            (&["*.go", "*.c"], "/foo/bar/test.go", true, true),
            (&["*"], "/foo/bar/test.go", true, true),
            (&["x"], "/foo/bar/test.go", false, true),
            (&["?"], "/foo/bar/test.go", false, true),
            (&["?", "x"], "/foo/bar/x", true, true),
            (&["/*/*/bar/test.*"], "/foo/bar/test.go", false, false),
            (&["/*/*/bar/test.*"], "/foo/bar/bar", false, true),
            (&["/*/*/bar/test.*", "*.go"], "/foo/bar/test.go", true, true),
            (&["", "*.c"], "/foo/bar/test.go", false, true),
            (&["!**", "*.go"], "/foo/bar/test.go", true, true),
            (&["!**", "*.c"], "/foo/bar/test.go", false, true),
            (&["/foo/*/test.*", "!*.c"], "/foo/bar/test.c", false, false),
            (&["/foo/*/test.*", "!*.c"], "/foo/bar/test.go", true, true),
            (
                &["/foo/*/*", "!test.*", "*.c"],
                "/foo/bar/test.go",
                false,
                true,
            ),
            (
                &["/foo/*/*", "!test.*", "*.c"],
                "/foo/bar/test.c",
                true,
                true,
            ),
            (
                &["/foo/*/*", "!test.*", "*.c"],
                "/foo/bar/file.go",
                true,
                true,
            ),
            (
                &["/**/*", "!/foo", "/foo/*", "!/foo/bar"],
                "/foo/other/test.go",
                true,
                true,
            ),
            (
                &["/**/*", "!/foo", "/foo/*", "!/foo/bar"],
                "/foo/bar",
                false,
                false,
            ),
            (
                &["/**/*", "!/foo", "/foo/*", "!/foo/bar"],
                "/foo/bar/test.go",
                false,
                false,
            ),
            (
                &["/**/*", "!/foo", "/foo/*", "!/foo/bar"],
                "/foo/bar/test.go/child",
                false,
                false,
            ),
            (
                &["/**/*", "!/foo", "/foo/*", "!/foo/bar", "/foo/bar/test*"],
                "/foo/bar/test.go/child",
                true,
                true,
            ),
            (&["/foo/bar/*"], "/foo", false, true),
            (&["/foo/bar/*", "!/foo/bar/[a-m]*"], "/foo", false, true),
            (&["/foo/**/test.c"], "/foo/bar/foo/bar/test.c", true, true),
            (&["/foo/*/test.c"], "/foo/bar/foo/bar/test.c", false, false),
        ];
        for &(patterns, path, matched, child) in cases {
            let list = PatternList::new("exclude", patterns, false).unwrap();
            assert_eq!(
                list.matches_with_child(path),
                (matched, child),
                "{patterns:?} on {path:?}"
            );
            assert_eq!(list.matches(path), matched, "{patterns:?} on {path:?}");
        }
    }

    /// The examples of docs/PATTERNS.md (restic's), which it says hold.
    #[test]
    fn the_documented_examples_hold() {
        let cases: &[(&str, &[&str], &[&str])] = &[
            ("*.go", &["/foo/bar/test.go"], &["/foo/bar/test.c"]),
            (
                "foo",
                &["/dir1/foo/dir2/file", "/dir/foo"],
                &["/dir/foobar"],
            ),
            ("/bin", &["/bin/bash"], &["/usr/bin/restic"]),
            ("b*ash", &["/bin/bash"], &["/bin/ash"]),
            ("bar/*", &["/foo/bar/baz"], &["/foo/baz/bar"]),
            ("/foo/*/test.*", &["/foo/bar/test.go"], &["/foo/test.go"]),
            (
                "foo/**/bar",
                &["/dir1/foo/dir2/bar/file", "/foo/bar/file", "/tmp/foo/bar"],
                &["/bar/foo"],
            ),
            (
                "/home/user/repos/**/target",
                &["/home/user/repos/a/b/target", "/home/user/repos/target/x"],
                &["/home/user/target"],
            ),
            ("/foo/*", &["/foo/baz"], &["/foo"]),
        ];
        for &(p, yes, no) in cases {
            for path in yes {
                assert!(pattern(p).matches(path), "{p:?} on {path:?}");
            }
            for path in no {
                assert!(!pattern(p).matches(path), "{p:?} not on {path:?}");
            }
        }
        let text =
            "/*\n!/Documents\n!/code\n# and below those, never these:\nnode_modules\n*.pyc\n";
        let list = PatternList::new("exclude", &read_pattern_file(text, |_| None), false).unwrap();
        assert!(list.matches("/other"));
        assert!(!list.matches("/Documents/a.txt"));
        assert!(list.matches("/code/web/node_modules/x.js"));
        assert!(list.matches("/code/m.pyc"));
    }

    #[test]
    fn wildcards_stay_in_one_name_and_escapes_are_literal() {
        let cases: &[(&str, &str, bool)] = &[
            ("b*ash", "/bin/bash", true),
            ("b*ash", "/bin/ash", false),
            ("/a*", "/abc/x", true),
            ("a?c", "/x/abc", true),
            ("a?c", "/x/a/c", false),
            ("[a-c]x", "/bx", true),
            ("[^a-c]x", "/bx", false),
            ("[^a-c]x", "/dx", true),
            ("[!a]x", "/!x", true),
            ("\\*", "/*", true),
            ("\\*", "/a", false),
            ("a\\[1\\]", "/a[1]", true),
            ("a\\[1\\]", "/a1", false),
            ("\\!x", "/!x", true),
            ("**/*.log", "/a/b/c.log", true),
            ("/a/**", "/a", true),
            ("/a/**", "/a/b/c", true),
            ("/", "/anything/at/all", true),
            ("*.log", "/x.log/inner", true),
            ("ünï*", "/ünïcode", true),
        ];
        for &(p, path, want) in cases {
            assert_eq!(pattern(p).matches(path), want, "{p:?} on {path:?}");
        }
        assert_eq!(escape("/a[1]/*?\\x"), "/a\\[1\\]/\\*\\?\\\\x");
        assert_eq!(escape("!x"), "\\!x");
        for name in ["/a[1]/*?\\x", "!x", "/a b/c", "/x]y"] {
            assert!(pattern(&escape(name)).matches(name), "{name:?}");
        }
    }

    #[test]
    fn bad_patterns_are_refused_with_list_index_and_pattern() {
        for bad in ["[", "a[", "[]", "[-a]", "[a-", "x\\", "[z-a]", "a]", "[^]"] {
            assert!(Pattern::parse(bad, false).is_err(), "{bad:?}");
        }
        for good in ["[]a]", "[a-]"] {
            // Go refuses these too (`]` first, `-` last need escaping).
            assert!(Pattern::parse(good, false).is_err(), "{good:?}");
        }
        assert!(Pattern::parse("[\\]a]", false).is_ok());
        let e = PatternList::new("exclude", &["ok", "", "/bad/["], false).unwrap_err();
        assert_eq!(e.code(), crate::ErrorCode::InvalidArgument);
        let text = e.to_string();
        assert!(
            text.contains("exclude[2]") && text.contains("/bad/["),
            "{text}"
        );
    }

    #[test]
    fn case_insensitive_lists_and_drive_letters_ignore_case() {
        let list = PatternList::new("iexclude", &["*.JPG", "/Photos"], true).unwrap();
        assert!(list.matches("/a/b.jpg"));
        assert!(list.matches("/PHOTOS/x"));
        let exact = PatternList::new("exclude", &["*.JPG"], false).unwrap();
        assert!(!exact.matches("/a/b.jpg"));
        // Windows paths: `\` read as `/`, a drive-letter pattern ignores case.
        let win = pattern("C:/Users/Admin");
        assert!(win.matches("c:\\users\\admin\\Desktop\\a.txt"));
        assert!(!win.matches("c:\\users\\other"));
        // A Unix name may hold a `\`: it stays an ordinary character.
        assert!(pattern("a\\\\b").matches("/x/a\\b"));
        assert!(!pattern("b").matches("/x/a\\b"));
    }

    #[test]
    fn a_selector_excludes_subtrees_and_keeps_folders_above_inclusions() {
        let s = Selector::all()
            .include(
                "include",
                &["/etc/sub/a.conf", "/docs/**/*.txt", "/cache/**/*.txt"],
                false,
            )
            .unwrap()
            .exclude("exclude", &["/cache", "!/cache/keep"], false)
            .unwrap();
        assert!(s.excludes("/cache/x"));
        assert!(!s.excludes("/cache/keep/y"), "as a path on its own");
        assert!(
            s.excludes_tree("/cache/keep/y"),
            "but below an excluded folder nothing comes back"
        );
        assert!(s.child_may_match("/etc"));
        assert!(
            !s.child_may_match("/usr"),
            "no inclusion can match below /usr"
        );
        assert!(!s.child_may_match("/cache"));
        let entries = [
            ("/etc", true),
            ("/etc/sub", true),
            ("/etc/sub/a.conf", false),
            ("/etc/b.conf", false),
            ("/cache", true),
            ("/cache/keep", true),
            ("/cache/keep/y.txt", false),
            ("/docs", true),
            ("/docs/deep", true),
            ("/docs/deep/n.txt", false),
            ("/empty", true),
        ];
        let taken: Vec<&str> = select_entries(&s, entries)
            .into_iter()
            .zip(entries)
            .filter(|(t, _)| *t)
            .map(|(_, (p, _))| p)
            .collect();
        assert_eq!(
            taken,
            [
                "/etc",
                "/etc/sub",
                "/etc/sub/a.conf",
                "/docs",
                "/docs/deep",
                "/docs/deep/n.txt"
            ]
        );
        let all = Selector::all();
        assert!(select_entries(&all, entries).iter().all(|t| *t));
    }

    #[test]
    fn includes_that_match_nothing_are_named() {
        let paths = ["/etc", "/etc/a.conf", "/docs/deep/n.txt", "/Photos/x.JPG"];
        let s = Selector::all()
            .include(
                "include",
                &[
                    "/etc",
                    "*.conf",
                    "/etx",
                    "!/etc/a.conf",
                    "/docs",
                    "/docs/deep/n.txt/more",
                ],
                false,
            )
            .unwrap()
            .include("iinclude", &["*.jpg", "*.png"], true)
            .unwrap();
        // `/docs` matches as the ancestor of an entry the snapshot holds
        // though its folder entry is left out; a `!pattern` is never named.
        assert_eq!(
            s.unmatched_includes(paths),
            ["/etx", "/docs/deep/n.txt/more", "*.png"]
        );
        assert!(Selector::all().unmatched_includes(paths).is_empty());
        // Exclusions play no part: the inclusion did match.
        let ex = Selector::all()
            .include("include", &["/etc"], false)
            .unwrap()
            .exclude("exclude", &["/etc"], false)
            .unwrap();
        assert!(ex.unmatched_includes(paths).is_empty());
        assert_eq!(ex.unmatched_includes(std::iter::empty()), ["/etc"]);
    }

    #[test]
    fn v2_filters_become_escaped_patterns() {
        let filter = |kind, path: &str| PathFilter {
            kind,
            path: path.into(),
        };
        let globs = filter_globs(&[
            filter(PathType::Folder, "/web/"),
            filter(PathType::File, "/etc/web/app[1].conf"),
            filter(PathType::Folder, "C:\\Users\\Admin"),
            filter(PathType::Folder, "/"),
        ]);
        assert_eq!(
            globs,
            ["/web", "/etc/web/app\\[1\\].conf", "C:/Users/Admin", "/"]
        );
        let s = Selector::all()
            .include("inclusions", &globs[..3], false)
            .unwrap();
        assert!(s.selects("/web"));
        assert!(s.selects("/web/x/y"));
        assert!(s.selects("/etc/web/app[1].conf"));
        assert!(!s.selects("/etc/web/app1.conf"), "brackets are literal");
        assert!(
            s.selects("c:\\users\\admin\\Desktop\\a.txt"),
            "Windows paths ignore case"
        );
        assert!(!s.selects("/etc/other"));
        assert!(!s.selects("/website"));
        let root = Selector::all()
            .include("inclusions", &["/"], false)
            .unwrap();
        assert!(root.selects("/a/b"));
    }

    #[test]
    fn pattern_files_skip_comments_and_expand_variables() {
        let env = |name: &str| match name {
            "HOME" => Some("/home/bob".to_string()),
            "X" => Some("x".to_string()),
            _ => None,
        };
        let text = "# exclude go-files\n*.go\n\n   \n  foo/**/bar  \n$HOME/cache\n${X}y\n$$lit\n$UNSET/z\n#x\n a b \r\n";
        assert_eq!(
            read_pattern_file(text, env),
            [
                "*.go",
                "foo/**/bar",
                "/home/bob/cache",
                "xy",
                "$lit",
                "/z",
                "a b"
            ]
        );
        assert_eq!(expand_env("a$", env), "a$");
        assert_eq!(expand_env("a${}b", env), "ab");
        assert_eq!(expand_env("a${X", env), "aX", "Go drops the bad `$`{{`");
        assert_eq!(expand_env("$1$X-", env), "x-");
    }

    #[test]
    fn backup_filter_prunes_tags_and_file_systems() {
        let f = BackupFilter::new()
            .exclude("exclude", &["*.tmp", "/build"], false)
            .unwrap()
            .exclude("iexclude", &["*.BAK"], true)
            .unwrap()
            .exclude_if_present(&[
                "CACHEDIR.TAG:Signature: 8a477f597d28d172789f06886806bc55",
                ".nobackup",
            ])
            .unwrap()
            .one_file_system(true);
        assert_eq!(f.visit("/a/x.tmp", false, 1, 1), Visit::Skip);
        assert_eq!(f.visit("/build", true, 1, 1), Visit::Skip);
        assert_eq!(f.visit("/src/build", true, 1, 1), Visit::Keep, "anchored");
        assert_eq!(f.visit("/a/x.bak", false, 1, 1), Visit::Skip);
        assert_eq!(f.visit("/mnt", true, 2, 1), Visit::KeepEmpty);
        assert_eq!(f.visit("/mnt/file", false, 2, 1), Visit::Skip);
        assert_eq!(f.visit("/a", true, 1, 1), Visit::Keep);
        let same_fs = BackupFilter::new();
        assert_eq!(same_fs.visit("/mnt", true, 2, 1), Visit::Keep);
        let tags = f.tag_files();
        assert_eq!(tags[0].name, "CACHEDIR.TAG");
        assert_eq!(tags[0].header_len(), 43);
        assert!(tags[0].confirms(b"Signature: 8a477f597d28d172789f06886806bc55\n# x"));
        assert!(!tags[0].confirms(b"Signature: 0"));
        assert!(tags[1].confirms(b""));
        assert!(f.excluded_by_tags(&[".nobackup"], "data"));
        assert!(!f.excluded_by_tags(&[".nobackup"], ".nobackup"));
        assert!(!f.excluded_by_tags::<&str>(&[], "data"));
        let v2 = BackupFilter::new()
            .exclude_filters(&[
                PathFilter {
                    kind: PathType::Folder,
                    path: "/var/cache/".into(),
                },
                PathFilter {
                    kind: PathType::File,
                    path: "C:\\pagefile.sys".into(),
                },
            ])
            .unwrap();
        assert!(v2.excluded("/var/cache"));
        assert!(v2.excluded("/var/cache/apt/x"));
        assert!(!v2.excluded("/var/cached"));
        assert!(v2.excluded("c:\\PAGEFILE.SYS"));
        let options: BackupFilterOptions = serde_json::from_str(
            r#"{"exclude": ["*.o"], "exclusions": [{"type": "folder", "path": "/tmp/"}], "one_file_system": true}"#,
        )
        .unwrap();
        let built = options.build().unwrap();
        assert!(built.excluded("/a/b.o") && built.excluded("/tmp/x") && built.is_one_file_system());
        assert!(serde_json::from_str::<BackupFilterOptions>(r#"{"excludes": []}"#).is_err());
        let bad = BackupFilterOptions {
            iexclude: vec!["ok".into(), "[".into()],
            ..BackupFilterOptions::default()
        };
        assert!(bad.build().unwrap_err().to_string().contains("iexclude[1]"));
        assert!(TagFile::parse(":x").is_err());
        assert!(TagFile::parse("").is_err());
        assert!(TagFile::parse("a/b").is_err());
    }
}
