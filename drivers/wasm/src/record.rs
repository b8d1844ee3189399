//! Outputs as a compact record: a session writes each output as tagged
//! bytes into one reused buffer, and a small JavaScript decoder
//! (`record.js`, handed to wasm-bindgen as an inline snippet) builds the
//! JS object from it in one pass. Building the object field by field from
//! Rust costs an import call, a string copy and a few hundred bytes of
//! module code per field (README "Size"); a byte push costs a few.
//!
//! The encoding: a value is a tag byte and its payload.
//!
//! | tag | value | payload |
//! | ---: | --- | --- |
//! | 1 | `null` | — |
//! | 2, 3 | `false`, `true` | — |
//! | 4 | number | f64, little-endian |
//! | 5 | string | u32 length (little-endian), UTF-8 (read lossily: U+FFFD for bytes that are not) |
//! | 6 | `Uint8Array` | u32 length, the bytes |
//! | 7 | object | properties (key: u8 length and ASCII, then a value) until a 0 byte |
//!
//! [`Value::decode`] reads the same bytes back (native tests, the Rust API).

use alloc::string::String;
use alloc::vec::Vec;

use crate::value::Value;

const NULL: u8 = 1;
const FALSE: u8 = 2;
const NUMBER: u8 = 4;
const TEXT: u8 = 5;
const BYTES: u8 = 6;
const OBJECT: u8 = 7;
const END: u8 = 0;

/// One output being written: an object whose `type` comes first.
#[derive(Debug, Default)]
pub struct Record {
    bytes: Vec<u8>,
}

impl Record {
    /// Starts the next output (`{type: kind, …}`), reusing the buffer.
    pub fn start(&mut self, kind: &str) -> &mut Self {
        self.begin().text("type", kind)
    }

    /// Starts an object with no `type`, reusing the buffer.
    pub fn begin(&mut self) -> &mut Self {
        self.bytes.clear();
        self.bytes.push(OBJECT);
        self
    }

    /// The record so far, closed (every object the caller opened it closed itself).
    pub fn finish(&mut self) -> &[u8] {
        self.bytes.push(END);
        &self.bytes
    }

    fn key(&mut self, key: &str, tag: u8) -> &mut Self {
        self.bytes.push(key.len() as u8);
        self.bytes.extend_from_slice(key.as_bytes());
        self.bytes.push(tag);
        self
    }

    fn sized(&mut self, key: &str, tag: u8, payload: &[u8]) -> &mut Self {
        self.key(key, tag);
        self.bytes
            .extend_from_slice(&(payload.len() as u32).to_le_bytes());
        self.bytes.extend_from_slice(payload);
        self
    }

    /// `key: "text"`.
    pub fn text(&mut self, key: &str, text: &str) -> &mut Self {
        self.sized(key, TEXT, text.as_bytes())
    }

    /// `key: "text"`, the text written by `write` (its length is filled in
    /// after): bytes that are not UTF-8 read as U+FFFD, as
    /// `String::from_utf8_lossy` reads them (user names, paths).
    pub fn text_with(&mut self, key: &str, write: impl FnOnce(&mut Vec<u8>)) -> &mut Self {
        self.key(key, TEXT);
        let at = self.bytes.len();
        self.bytes.extend_from_slice(&[0; 4]);
        write(&mut self.bytes);
        let len = (self.bytes.len() - at - 4) as u32;
        self.bytes[at..at + 4].copy_from_slice(&len.to_le_bytes());
        self
    }

    /// `key: Uint8Array`.
    pub fn bytes(&mut self, key: &str, bytes: &[u8]) -> &mut Self {
        self.sized(key, BYTES, bytes)
    }

    /// `key: number`.
    pub fn number(&mut self, key: &str, n: f64) -> &mut Self {
        self.key(key, NUMBER);
        self.bytes.extend_from_slice(&n.to_le_bytes());
        self
    }

    /// `key: number`, or `null` for `None`.
    pub fn id(&mut self, key: &str, id: Option<u32>) -> &mut Self {
        match id {
            Some(id) => self.number(key, f64::from(id)),
            None => self.null(key),
        }
    }

    /// `key: true|false`.
    pub fn bool(&mut self, key: &str, b: bool) -> &mut Self {
        self.key(key, FALSE + u8::from(b))
    }

    /// `key: null`.
    pub fn null(&mut self, key: &str) -> &mut Self {
        self.key(key, NULL)
    }

    /// `key: {`: the properties that follow are the nested object's until [`end`](Self::end).
    pub fn object(&mut self, key: &str) -> &mut Self {
        self.key(key, OBJECT)
    }

    /// `}`: closes the object [`object`](Self::object) opened.
    pub fn end(&mut self) -> &mut Self {
        self.bytes.push(END);
        self
    }
}

impl Value {
    /// The value a finished [`Record`] holds (`None` if it is not one).
    ///
    /// ```
    /// use ftpwire_wasm::{Record, Value};
    /// let mut record = Record::default();
    /// record.start("closed").number("at", 2.0);
    /// let value = Value::decode(record.finish()).unwrap();
    /// assert_eq!(value.kind(), Some("closed"));
    /// assert_eq!(value.get("at"), Some(&Value::Number(2.0)));
    /// ```
    pub fn decode(bytes: &[u8]) -> Option<Value> {
        let mut at = 0;
        let value = read(bytes, &mut at)?;
        (at == bytes.len()).then_some(value)
    }
}

fn take<'a>(bytes: &'a [u8], at: &mut usize, n: usize) -> Option<&'a [u8]> {
    let taken = bytes.get(*at..*at + n)?;
    *at += n;
    Some(taken)
}

fn read(bytes: &[u8], at: &mut usize) -> Option<Value> {
    let tag = *take(bytes, at, 1)?.first()?;
    Some(match tag {
        NULL => Value::Null,
        FALSE => Value::Bool(false),
        3 => Value::Bool(true),
        NUMBER => Value::Number(f64::from_le_bytes(take(bytes, at, 8)?.try_into().ok()?)),
        TEXT | BYTES => {
            let len = u32::from_le_bytes(take(bytes, at, 4)?.try_into().ok()?) as usize;
            let payload = take(bytes, at, len)?;
            if tag == TEXT {
                Value::Text(String::from_utf8_lossy(payload).into_owned())
            } else {
                Value::Bytes(payload.to_vec())
            }
        }
        OBJECT => {
            let mut properties = Vec::new();
            loop {
                let len = usize::from(*take(bytes, at, 1)?.first()?);
                if len == 0 {
                    break;
                }
                let key = core::str::from_utf8(take(bytes, at, len)?).ok()?;
                properties.push((String::from(key), read(bytes, at)?));
            }
            Value::Object(properties)
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every tag, a nested object and text that is not UTF-8 (read as
    /// U+FFFD, as the JS decoder's `TextDecoder` reads it) come back.
    #[test]
    fn records_round_trip() {
        let mut record = Record::default();
        record
            .start("connectData")
            .number("id", 7.0)
            .id("none", None)
            .object("data")
            .text("mode", "active")
            .text_with("address", |out| out.extend_from_slice(b"a\xffb"))
            .end()
            .bool("yes", true)
            .bool("no", false)
            .bytes("raw", b"\0\xff");
        let whole = record.finish().to_vec();
        let value = Value::decode(&whole).unwrap();
        let text = |s: &str| Value::Text(String::from(s));
        assert_eq!(
            value,
            Value::Object(vec![
                (String::from("type"), text("connectData")),
                (String::from("id"), Value::Number(7.0)),
                (String::from("none"), Value::Null),
                (
                    String::from("data"),
                    Value::Object(vec![
                        (String::from("mode"), text("active")),
                        (String::from("address"), text("a\u{fffd}b")),
                    ])
                ),
                (String::from("yes"), Value::Bool(true)),
                (String::from("no"), Value::Bool(false)),
                (String::from("raw"), Value::Bytes(vec![0, 0xff])),
            ])
        );
        // A record cut short is not one.
        assert_eq!(Value::decode(&whole[..whole.len() - 2]), None);
    }
}
