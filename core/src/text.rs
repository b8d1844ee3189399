//! Text a person typed, quoted inside a message: `"nope"`, with quotes,
//! backslashes and control characters escaped so the message stays one
//! readable line.
//!
//! Written here rather than with `{:?}`: `str`'s `Debug` also escapes
//! invisible Unicode characters, which needs Unicode tables that cost a
//! small host (the WebAssembly module) several KiB. The two agree on all
//! text but such characters, which this leaves as they are.

use core::fmt;

/// `text` in double quotes, escaped as `{:?}` escapes it (`\"`, `\\`, `\n`,
/// `\r`, `\t`, `\0`, `\u{1b}` for other control characters).
///
/// ```
/// use ftpwire_core::text::Quoted;
/// assert_eq!(Quoted("nope").to_string(), "\"nope\"");
/// assert_eq!(Quoted("a\"b\\c\n\u{1b}").to_string(), format!("{:?}", "a\"b\\c\n\u{1b}"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quoted<'a>(pub &'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        let mut plain = 0;
        for (at, c) in self.0.char_indices() {
            let escape = match c {
                '"' => "\\\"",
                '\\' => "\\\\",
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                '\0' => "\\0",
                c if c.is_control() => "",
                _ => continue,
            };
            // `get`, not indexing: `at` is a char boundary, and a
            // panicking slice would pull its Debug formatting in.
            f.write_str(self.0.get(plain..at).unwrap_or_default())?;
            plain = at + c.len_utf8();
            if escape.is_empty() {
                write_unicode_escape(f, c)?;
            } else {
                f.write_str(escape)?;
            }
        }
        f.write_str(self.0.get(plain..).unwrap_or_default())?;
        f.write_str("\"")
    }
}

/// `\u{hex}`, lowercase without leading zeros, as `char::escape_debug`.
fn write_unicode_escape(f: &mut fmt::Formatter<'_>, c: char) -> fmt::Result {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let code = u32::from(c);
    let mut digits = [0u8; 8];
    let mut len = 0;
    let mut shift = 32;
    while shift > 0 {
        shift -= 4;
        let digit = (code >> shift) & 0xf;
        if digit != 0 || len > 0 || shift == 0 {
            digits[len] = HEX[digit as usize];
            len += 1;
        }
    }
    f.write_str("\\u{")?;
    // Only ASCII hex digits were written.
    f.write_str(core::str::from_utf8(&digits[..len]).unwrap_or("?"))?;
    f.write_str("}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use std::format;
    use std::string::String;

    /// Agrees with `{:?}` on ASCII (every byte) and on printable Unicode.
    #[test]
    fn agrees_with_debug() {
        let mut all: String = (0u8..=0x7f).map(char::from).collect();
        all.push_str("é ünïcødé ✓ 文字 \u{80}\u{9f}");
        for text in [all.as_str(), "", "plain", "\"", "\\", "x\u{7f}y"] {
            assert_eq!(Quoted(text).to_string(), format!("{text:?}"), "{text:?}");
        }
    }
}
