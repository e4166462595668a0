//! Hex text as the service writes it: with embedded spaces
//! ([`HexString`]) or as a bare JSON number ([`HexNumber`]).

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// Hex text that may contain embedded whitespace (the samples wrap long
/// moduli with spaces). The original text is kept for a faithful round trip;
/// [`HexString::to_bytes`] decodes it ignoring whitespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct HexString(String);

impl HexString {
    /// Validates `text` (hex digits and whitespace only) and keeps it as is.
    pub fn parse(text: &str) -> crate::Result<Self> {
        validate_hex(text).map_err(|reason| crate::Error::InvalidValue {
            field: "hex string".into(),
            reason,
        })?;
        Ok(HexString(text.to_string()))
    }

    /// Hex-encodes `bytes` (lower case, no spaces).
    pub fn from_bytes(bytes: &[u8]) -> Self {
        HexString(encode_hex(bytes))
    }

    /// The text as it travels.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The hex digits alone, whitespace removed.
    pub fn digits(&self) -> String {
        self.0.chars().filter(|c| !c.is_whitespace()).collect()
    }

    /// Decodes the digits; an odd count gets a leading zero (big-endian numbers).
    pub fn to_bytes(&self) -> Vec<u8> {
        decode_hex_digits(&self.digits())
    }
}

impl Serialize for HexString {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for HexString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        validate_hex(&s).map_err(de::Error::custom)?;
        Ok(HexString(s))
    }
}

/// Hex digits that may travel as a JSON string or as a bare JSON number whose
/// decimal digits are really hex digits (`"ExponentHex": 10001` means 0x10001).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HexNumber {
    /// The hex digits (whitespace removed).
    digits: String,
    /// Whether it travelled as a string (otherwise a bare number).
    quoted: bool,
}

impl HexNumber {
    /// A value written as a JSON string of lower-case hex digits.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        HexNumber {
            digits: encode_hex(bytes),
            quoted: true,
        }
    }

    /// Parses hex digits (whitespace ignored).
    pub fn parse(text: &str) -> crate::Result<Self> {
        validate_hex(text).map_err(|reason| crate::Error::InvalidValue {
            field: "hex number".into(),
            reason,
        })?;
        Ok(HexNumber {
            digits: text.chars().filter(|c| !c.is_whitespace()).collect(),
            quoted: true,
        })
    }

    /// The hex digits.
    pub fn digits(&self) -> &str {
        &self.digits
    }

    /// The big-endian bytes of the number.
    pub fn to_bytes(&self) -> Vec<u8> {
        decode_hex_digits(&self.digits)
    }
}

impl Serialize for HexNumber {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.quoted {
            return s.serialize_str(&self.digits);
        }
        // Only decimal-looking digits were ever accepted unquoted.
        match self.digits.parse::<u64>() {
            Ok(n) => s.serialize_u64(n),
            Err(_) => s.serialize_str(&self.digits),
        }
    }
}

impl<'de> Deserialize<'de> for HexNumber {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = HexNumber;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("hex digits as a string or a bare number")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<HexNumber, E> {
                Ok(HexNumber {
                    digits: v.to_string(),
                    quoted: false,
                })
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<HexNumber, E> {
                u64::try_from(v)
                    .map_err(|_| E::custom(format!("{v} is not a hex number")))
                    .and_then(|v| self.visit_u64(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<HexNumber, E> {
                validate_hex(v).map_err(E::custom)?;
                Ok(HexNumber {
                    digits: v.chars().filter(|c| !c.is_whitespace()).collect(),
                    quoted: true,
                })
            }
        }
        d.deserialize_any(V)
    }
}

fn validate_hex(text: &str) -> Result<(), String> {
    if let Some(bad) = text
        .chars()
        .find(|c| !c.is_ascii_hexdigit() && !c.is_whitespace())
    {
        return Err(format!("{bad:?} is not a hex digit"));
    }
    if !text.chars().any(|c| c.is_ascii_hexdigit()) {
        return Err("no hex digits".into());
    }
    Ok(())
}

/// Lower-case hex encoding of `bytes`.
pub fn encode_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    s
}

/// Decodes already-validated hex digits; an odd count gets a leading zero.
fn decode_hex_digits(digits: &str) -> Vec<u8> {
    let nibble = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
    let bytes = digits.as_bytes();
    let mut out = Vec::with_capacity(bytes.len().div_ceil(2));
    let mut rest = bytes;
    if bytes.len() % 2 == 1 {
        out.push(nibble(bytes[0]));
        rest = &bytes[1..];
    }
    for pair in rest.chunks_exact(2) {
        out.push((nibble(pair[0]) << 4) | nibble(pair[1]));
    }
    out
}
