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

impl Quoted<'_> {
    /// Appends the quoted text to `out`: what `to_string` gives, without
    /// `core::fmt`, whose machinery a small host (the WebAssembly module)
    /// leaves out.
    ///
    /// ```
    /// use ftpwire_core::text::Quoted;
    /// let mut message = String::from("unknown setting ");
    /// Quoted("a\tb").push_to(&mut message);
    /// assert_eq!(message, "unknown setting \"a\\tb\"");
    /// ```
    pub fn push_to(&self, out: &mut alloc::string::String) {
        let _ = self.pieces(|piece| {
            out.push_str(piece);
            Ok::<(), core::convert::Infallible>(())
        });
    }

    /// The quoted text in pieces (plain runs and escapes), for `Display`
    /// and [`push_to`](Self::push_to) alike.
    fn pieces<E>(&self, mut piece: impl FnMut(&str) -> Result<(), E>) -> Result<(), E> {
        piece("\"")?;
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
            piece(self.0.get(plain..at).unwrap_or_default())?;
            plain = at + c.len_utf8();
            if escape.is_empty() {
                unicode_escape(c, &mut piece)?;
            } else {
                piece(escape)?;
            }
        }
        piece(self.0.get(plain..).unwrap_or_default())?;
        piece("\"")
    }
}

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.pieces(|piece| f.write_str(piece))
    }
}

/// `\u{hex}`, lowercase without leading zeros, as `char::escape_debug`.
fn unicode_escape<E>(c: char, piece: &mut impl FnMut(&str) -> Result<(), E>) -> Result<(), E> {
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
    piece("\\u{")?;
    // Only ASCII hex digits were written.
    piece(core::str::from_utf8(&digits[..len]).unwrap_or("?"))?;
    piece("}")
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
            let mut pushed = String::from("<");
            Quoted(text).push_to(&mut pushed);
            assert_eq!(pushed, format!("<{text:?}"), "{text:?}");
        }
    }
}
