//! Paths as bytes: what a snapshot records is exactly what the operating
//! system gave the host (any name it allows, not only UTF-8), and the
//! one text form every JSON shape and message uses for it.
//!
//! ## The quoted form
//!
//! Git's `core.quotePath` rule, so it reads naturally and round-trips
//! exactly: a path that is valid UTF-8, holds no control character and does
//! not start with `"` is written as it is (`/home/ana/notes.txt`,
//! `C:\Users\ana`). Any other path is written between double quotes with
//! C escapes: `\\`, `\"`, `\n`, `\t`, `\r`, and `\xNN` for every other
//! control character and for each byte that is not part of valid UTF-8
//! (`"/data/caf\xe9"` for the Latin-1 name `café`). Reading a quoted form
//! back gives the same bytes: [`RawPath::parse_quoted`] of
//! [`RawPath::quoted`] is the identity.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{Error, Result};

/// A path's bytes, as the host's operating system spells them.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct RawPath(Vec<u8>);

impl RawPath {
    /// The path made of `bytes`.
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Self {
        RawPath(bytes.into())
    }

    /// The path's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The path's bytes, owned.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    /// The path as text when it is valid UTF-8.
    pub fn to_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }

    /// The path as text, each invalid byte shown as U+FFFD (for matching
    /// patterns and for display only: it does not round-trip).
    pub fn to_string_lossy(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.0)
    }

    /// Whether the path has no bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The lossless text form (see the module docs).
    pub fn quoted(&self) -> Cow<'_, str> {
        match self.to_str() {
            Some(s) if !needs_quotes(s) => Cow::Borrowed(s),
            _ => Cow::Owned(quote(&self.0)),
        }
    }

    /// The path a quoted form names (see the module docs): text not
    /// starting with `"` is taken as it is; a quoted form must end with
    /// `"` and use only the escapes [`quoted`](Self::quoted) writes.
    /// [`Error::InvalidValue`] naming the text otherwise.
    pub fn parse_quoted(text: &str) -> Result<Self> {
        match text.strip_prefix('"') {
            None => Ok(RawPath(text.as_bytes().to_vec())),
            Some(rest) => unquote(text, rest).map(RawPath),
        }
    }
}

/// Whether `s` has to be written quoted.
fn needs_quotes(s: &str) -> bool {
    s.starts_with('"') || s.chars().any(char::is_control)
}

fn quote(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 8);
    out.push('"');
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                // Every other control character is one byte (C0, DEL) or
                // two (C1): each byte escaped, so the form stays printable.
                c if c.is_control() => {
                    let mut buf = [0u8; 4];
                    for b in c.encode_utf8(&mut buf).bytes() {
                        out.push_str(&format!("\\x{b:02x}"));
                    }
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out.push('"');
    out
}

fn unquote(text: &str, rest: &str) -> Result<Vec<u8>> {
    let bad = |why: &str| Error::InvalidValue {
        field: "path".into(),
        reason: format!("{text:?} is not a quoted path: {why}"),
    };
    let body = rest
        .strip_suffix('"')
        .ok_or_else(|| bad("no closing quote"))?;
    let mut out = Vec::with_capacity(body.len());
    let mut bytes = body.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'\\' => match bytes.next() {
                Some(b'\\') => out.push(b'\\'),
                Some(b'"') => out.push(b'"'),
                Some(b'n') => out.push(b'\n'),
                Some(b't') => out.push(b'\t'),
                Some(b'r') => out.push(b'\r'),
                Some(b'x') => {
                    let hi = bytes.next().and_then(hex_digit);
                    let lo = bytes.next().and_then(hex_digit);
                    match (hi, lo) {
                        (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
                        _ => return Err(bad("\\x takes two hex digits")),
                    }
                }
                _ => return Err(bad("unknown escape")),
            },
            b'"' => return Err(bad("an unescaped quote inside")),
            b => out.push(b),
        }
    }
    Ok(out)
}

fn hex_digit(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

impl fmt::Display for RawPath {
    /// The quoted form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.quoted())
    }
}

impl fmt::Debug for RawPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.quoted())
    }
}

impl From<&str> for RawPath {
    fn from(s: &str) -> Self {
        RawPath(s.as_bytes().to_vec())
    }
}

impl From<String> for RawPath {
    fn from(s: String) -> Self {
        RawPath(s.into_bytes())
    }
}

impl From<Vec<u8>> for RawPath {
    fn from(bytes: Vec<u8>) -> Self {
        RawPath(bytes)
    }
}

impl From<&[u8]> for RawPath {
    fn from(bytes: &[u8]) -> Self {
        RawPath(bytes.to_vec())
    }
}

impl PartialEq<str> for RawPath {
    fn eq(&self, other: &str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<&str> for RawPath {
    fn eq(&self, other: &&str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl Serialize for RawPath {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.quoted())
    }
}

impl<'de> Deserialize<'de> for RawPath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = Cow::<str>::deserialize(d)?;
        RawPath::parse_quoted(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_paths_are_written_as_they_are() {
        for p in ["/a/b c", "C:\\Users\\ana", "/ü/日本", "/a\"b", "/x\\y"] {
            let raw = RawPath::from(p);
            assert_eq!(raw.quoted(), p);
            assert_eq!(RawPath::parse_quoted(p).unwrap(), raw);
        }
    }

    #[test]
    fn other_paths_are_quoted_and_round_trip() {
        let cases: &[(&[u8], &str)] = &[
            (b"/caf\xe9", r#""/caf\xe9""#),
            (b"/a\nb", r#""/a\nb""#),
            (b"\"q", r#""\"q""#),
            (b"/t\tab\\x\x7f\x01", r#""/t\tab\\x\x7f\x01""#),
            ("/é\u{85}".as_bytes(), r#""/é\xc2\x85""#),
            (b"/\xff\xfe/ok", r#""/\xff\xfe/ok""#),
        ];
        for (bytes, quoted) in cases {
            let raw = RawPath::from_bytes(*bytes);
            assert_eq!(raw.quoted(), *quoted);
            assert_eq!(RawPath::parse_quoted(quoted).unwrap(), raw);
            let json = serde_json::to_string(&raw).unwrap();
            assert_eq!(serde_json::from_str::<RawPath>(&json).unwrap(), raw);
        }
    }

    #[test]
    fn every_byte_string_round_trips() {
        let mut x = 0x2545F4914F6CDD1Du64;
        for len in 0..300 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    // Mostly the interesting bytes.
                    [b'"', b'\\', b'x', b'a', 0, 0x80, 0xc3, 0xa9, 0xff, b'\n'][(x % 10) as usize]
                })
                .collect();
            let raw = RawPath::from_bytes(bytes);
            assert_eq!(RawPath::parse_quoted(&raw.quoted()).unwrap(), raw);
        }
    }

    #[test]
    fn malformed_quoted_forms_are_refused() {
        for bad in [r#""/a"#, r#""/a\q""#, r#""/a\x4""#, r#""/a"b""#, r#""\"#] {
            let e = RawPath::parse_quoted(bad).unwrap_err();
            assert_eq!(e.code(), crate::ErrorCode::InvalidValue, "{bad}");
        }
    }
}
