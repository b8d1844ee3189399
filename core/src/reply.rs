//! Replies (RFC 959 §4.2): `code text CRLF`, or the multi-line form
//! `code-first CRLF ... code last CRLF`. Formatting for the server side,
//! parsing for the client side.
//!
//! ```
//! use ftpwire_core::reply;
//! let mut out = Vec::new();
//! reply::write(&mut out, 226, "Transfer complete.");
//! assert_eq!(out, b"226 Transfer complete.\r\n");
//! let (parsed, used) = reply::parse(&out).unwrap().unwrap();
//! assert_eq!((parsed.code, parsed.text(), used), (226, &b"Transfer complete."[..], out.len()));
//! ```

use alloc::vec::Vec;

/// Appends a single-line reply.
pub fn write(out: &mut Vec<u8>, code: u16, text: &str) {
    write_code(out, code, b' ');
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Appends the first line of a multi-line reply (`code-text`); end it with [`write()`].
pub fn write_first(out: &mut Vec<u8>, code: u16, text: &str) {
    write_code(out, code, b'-');
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Appends `code text "path" rest` with the path quoted per RFC 959 Appendix
/// II (an embedded `"` doubled) and a CR in it sent as CR NUL (§3.2 pathnames).
pub fn write_quoted_path(out: &mut Vec<u8>, code: u16, path: &[u8], rest: &str) {
    write_code(out, code, b' ');
    out.push(b'"');
    for chunk in path.split_inclusive(|&b| b == b'"') {
        write_path(out, chunk);
        if chunk.ends_with(b"\"") {
            out.push(b'"');
        }
    }
    out.push(b'"');
    out.extend_from_slice(rest.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Appends a path inside a reply line: a CR is sent as CR NUL (RFC 959
/// §3.2) and an LF, which no reply line can carry, as NUL, so a file name
/// can never end the line or forge a reply.
pub fn write_path(out: &mut Vec<u8>, path: &[u8]) {
    if memchr::memchr2(b'\r', b'\n', path).is_none() {
        return out.extend_from_slice(path);
    }
    for &b in path {
        match b {
            b'\r' => out.extend_from_slice(b"\r\0"),
            b'\n' => out.push(0),
            _ => out.push(b),
        }
    }
}

/// Appends `code` and the separator (space for a last line, `-` otherwise).
pub fn write_code(out: &mut Vec<u8>, code: u16, separator: u8) {
    let code = code.min(999);
    out.extend_from_slice(&[
        b'0' + (code / 100) as u8,
        b'0' + (code / 10 % 10) as u8,
        b'0' + (code % 10) as u8,
        separator,
    ]);
}

/// Appends a decimal number. (Its own loop rather than a call to
/// `write_decimal_padded` with width 0: replies write numbers all the time,
/// and the whole-session benchmark counts 9 instructions a line fewer so.)
pub fn write_decimal(out: &mut Vec<u8>, n: u64) {
    let mut digits = [0u8; 20];
    let start = digits_at_end(n, &mut digits);
    out.extend_from_slice(&digits[start..]);
}

/// Writes `n`'s decimal digits at the end of `digits` (which must have room
/// for them) and returns where they start.
pub(crate) fn digits_at_end(mut n: u64, digits: &mut [u8]) -> usize {
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    i
}

/// Appends a decimal number right-aligned in `width` columns (spaces
/// before it), as LIST's size column wants.
pub(crate) fn write_decimal_padded(out: &mut Vec<u8>, n: u64, width: usize) {
    let mut digits = [0u8; 20];
    let i = digits_at_end(n, &mut digits);
    let len = digits.len() - i;
    if width > len {
        out.resize(out.len() + width - len, b' ');
    }
    out.extend_from_slice(&digits[i..]);
}

/// A reply as a client receives it, borrowing the received bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply<'a> {
    /// The three-digit code.
    pub code: u16,
    /// Every line of the reply, line ends included.
    pub raw: &'a [u8],
}

impl<'a> Reply<'a> {
    /// The text of a single-line reply, or of the first line of a multi-line one.
    pub fn text(&self) -> &'a [u8] {
        let first = match memchr::memchr(b'\n', self.raw) {
            Some(lf) => &self.raw[..lf],
            None => self.raw,
        };
        let first = first.strip_suffix(b"\r").unwrap_or(first);
        first.get(4..).unwrap_or(&[])
    }

    /// Whether the code is 1yz (preliminary: another reply follows).
    pub fn is_preliminary(&self) -> bool {
        self.code / 100 == 1
    }
}

/// A reply line that does not follow RFC 959 §4.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed reply: a line must start with a three-digit code and a space or '-'")]
pub struct MalformedReply;

/// Parses the first complete reply in `buf`: `Ok(Some((reply, bytes used)))`,
/// `Ok(None)` if more bytes are needed.
pub fn parse(buf: &[u8]) -> Result<Option<(Reply<'_>, usize)>, MalformedReply> {
    let Some(lf) = memchr::memchr(b'\n', buf) else {
        return Ok(None);
    };
    let (code, separator) = code_of(&buf[..lf]).ok_or(MalformedReply)?;
    if separator == b' ' {
        return Ok(Some((
            Reply {
                code,
                raw: &buf[..lf + 1],
            },
            lf + 1,
        )));
    }
    // Multi-line: ends at the first line that starts with the same code and a space.
    let mut start = lf + 1;
    while let Some(next) = memchr::memchr(b'\n', &buf[start..]) {
        let line = &buf[start..start + next];
        start += next + 1;
        if code_of(line) == Some((code, b' ')) {
            return Ok(Some((
                Reply {
                    code,
                    raw: &buf[..start],
                },
                start,
            )));
        }
    }
    Ok(None)
}

fn code_of(line: &[u8]) -> Option<(u16, u8)> {
    // A bare `226` line (CRLF or LF) is tolerated as a last line.
    if let [a, b, c] = *line.strip_suffix(b"\r").unwrap_or(line) {
        return [a, b, c]
            .iter()
            .all(u8::is_ascii_digit)
            .then(|| (code_value(a, b, c), b' '));
    }
    let [a, b, c, sep, ..] = *line else {
        return None;
    };
    if ![a, b, c].iter().all(u8::is_ascii_digit) || !(sep == b' ' || sep == b'-') {
        return None;
    }
    Some((code_value(a, b, c), sep))
}

fn code_value(a: u8, b: u8, c: u8) -> u16 {
    u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn formats() {
        let mut out = Vec::new();
        write_first(&mut out, 211, "Features:");
        out.extend_from_slice(b" SIZE\r\n");
        write(&mut out, 211, "End");
        write_quoted_path(&mut out, 257, b"/a \"q\"\rb", " is the current directory");
        assert_eq!(
            out,
            b"211-Features:\r\n SIZE\r\n211 End\r\n257 \"/a \"\"q\"\"\r\0b\" is the current directory\r\n"
        );
        let mut n = Vec::new();
        write_decimal(&mut n, 0);
        n.push(b' ');
        write_decimal(&mut n, u64::MAX);
        assert_eq!(n, b"0 18446744073709551615");
    }

    #[test]
    fn parses_single_and_multi_line() {
        assert_eq!(parse(b"220 hi\r"), Ok(None));
        let buf = b"211-Features:\r\n 211 not the end\r\n211-still not\r\n211 End\r\n230 next";
        let (reply, used) = parse(buf).unwrap().unwrap();
        assert_eq!(reply.code, 211);
        assert_eq!(reply.text(), b"Features:");
        assert_eq!(&buf[used..], b"230 next");
        assert_eq!(parse(b"211-a\r\n211 b"), Ok(None));
        assert_eq!(parse(b"hello\r\n"), Err(MalformedReply));
        assert!(parse(b"150 x\r\n").unwrap().unwrap().0.is_preliminary());
    }

    #[test]
    fn a_bare_code_line_ends_a_reply_with_or_without_cr() {
        // Found by the reply_parser fuzz target: `211\r\n` did not close a
        // multi-line reply (and `226\r\n` alone was malformed), `211\n` did.
        for end in [&b"\n"[..], b"\r\n"] {
            let single = [&b"226"[..], end].concat();
            let (reply, used) = parse(&single).unwrap().unwrap();
            assert_eq!(
                (reply.code, reply.text(), used),
                (226, &b""[..], single.len())
            );
            let multi = [&b"211-Features:\r\n SIZE\r\n211"[..], end, b"230 next\r\n"].concat();
            let (reply, used) = parse(&multi).unwrap().unwrap();
            assert_eq!((reply.code, &multi[used..]), (211, &b"230 next\r\n"[..]));
        }
    }

    proptest! {
        #[test]
        fn parse_never_panics(buf in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(Some((reply, used))) = parse(&buf) {
                prop_assert!(used <= buf.len());
                prop_assert!(reply.code <= 999);
            }
        }
    }
}
