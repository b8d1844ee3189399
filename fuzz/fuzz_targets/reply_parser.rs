//! The client side's reply parser (`ftpwire_core::reply::parse`) on
//! arbitrary bytes (inputs whose first byte is even), and the server side's reply writers feeding it.
//!
//! Checks, beyond "never panics": a parsed reply is a prefix of the input
//! ending in LF, its code is the first line's three digits, it ends at the
//! first line that closes it (a multi-line reply takes no line past its
//! terminator), and the answer does not change when more bytes follow (a
//! client reading in pieces sees what one read would); `Ok(None)` stays
//! `Ok(None)` or becomes a reply once bytes are added, an error stays an
//! error. Round trip (inputs whose first byte is odd): replies built with `reply::write`, `write_first` and
//! `write_quoted_path` (arbitrary path bytes, the escaping under test) parse
//! back whole, with their code and first-line text, and one escaped path
//! never makes a second line.
#![no_main]

use ftpwire_core::reply::{self, MalformedReply};
use libfuzzer_sys::arbitrary::{self, Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;

/// The server's writers' parts (`arbitrary` picks them from the input).
#[derive(Arbitrary, Debug)]
struct Written<'a> {
    code: u16,
    first: &'a str,
    middle: Vec<&'a str>,
    last: &'a str,
    path: &'a [u8],
    trailing: &'a [u8],
}

// First byte even: the rest is bytes as a server (or an attacker) might send
// them (the seeds are such replies); odd: parts for the writers.
fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        check_raw(rest);
    } else if let Ok(w) = Written::arbitrary(&mut Unstructured::new(rest)) {
        check_written(w.code, w.first, &w.middle, w.last, w.path, w.trailing);
    }
});

fn check_raw(buf: &[u8]) {
    let result = reply::parse(buf);
    match result {
        Ok(Some((parsed, used))) => {
            assert!(
                used > 0 && used <= buf.len(),
                "used {used} of {}",
                buf.len()
            );
            assert_eq!(parsed.raw, &buf[..used], "raw is not the consumed prefix");
            assert!(parsed.raw.ends_with(b"\n"));
            assert!(parsed.code <= 999);
            let digits = &buf[..3];
            assert!(digits.iter().all(u8::is_ascii_digit));
            assert_eq!(
                u16::from(digits[0] - b'0') * 100
                    + u16::from(digits[1] - b'0') * 10
                    + u16::from(digits[2] - b'0'),
                parsed.code
            );
            let text = parsed.text();
            let first_line = &buf[..=memchr(buf)];
            assert!(
                first_line.len() >= text.len(),
                "text longer than the first line"
            );
            if first_line.len() >= 4 && first_line[3] == b'-' {
                // It closes on the first later line with the same code and a space (or alone).
                let lines: Vec<&[u8]> = parsed.raw[first_line.len()..]
                    .split_inclusive(|&b| b == b'\n')
                    .collect();
                assert!(
                    !lines.is_empty(),
                    "a multi-line reply without its last line"
                );
                for (i, line) in lines.iter().enumerate() {
                    assert_eq!(
                        closes(line, digits),
                        i == lines.len() - 1,
                        "line {i} of {:?}",
                        parsed.raw
                    );
                }
            } else {
                assert_eq!(
                    used,
                    first_line.len(),
                    "a single-line reply took more lines"
                );
            }
            // The same reply whatever follows it.
            assert_eq!(reply::parse(&buf[..used]), Ok(Some((parsed, used))));
            let mut longer = buf.to_vec();
            longer.extend_from_slice(b"\r\n999 x\r\n");
            let again = reply::parse(&longer).map(|r| r.map(|(p, u)| (p.code, p.raw.len(), u)));
            assert_eq!(again, Ok(Some((parsed.code, used, used))));
            // One byte short is not a reply yet.
            assert_eq!(reply::parse(&buf[..used - 1]), Ok(None));
        }
        Ok(None) => {
            // Once the first line is complete, more bytes may finish the
            // reply but never make it malformed.
            let complete_first = buf.contains(&b'\n');
            let mut longer = buf.to_vec();
            longer.extend_from_slice(b"\n");
            let more = reply::parse(&longer);
            if complete_first {
                assert!(more.is_ok(), "a pending multi-line reply became malformed");
            }
        }
        Err(MalformedReply) => {
            let mut longer = buf.to_vec();
            longer.extend_from_slice(b"200 ok\r\n");
            assert_eq!(
                reply::parse(&longer),
                Err(MalformedReply),
                "an error went away"
            );
        }
    }
}

/// Whether `line` ends a multi-line reply with code `digits`.
fn closes(line: &[u8], digits: &[u8]) -> bool {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let bare = line.strip_suffix(b"\r").unwrap_or(line);
    line.starts_with(digits) && line.get(3) == Some(&b' ') || bare == digits
}

fn memchr(buf: &[u8]) -> usize {
    buf.iter()
        .position(|&b| b == b'\n')
        .expect("a parsed reply has an LF")
}

fn check_written(
    code: u16,
    first: &str,
    middle: &[&str],
    last: &str,
    path: &[u8],
    trailing: &[u8],
) {
    let code = 100 + code % 900;
    let one_line = |s: &str| !s.contains(['\r', '\n']);
    if !(one_line(first) && one_line(last) && middle.iter().all(|m| one_line(m))) {
        return;
    }

    // Single line.
    let mut out = Vec::new();
    reply::write(&mut out, code, first);
    let reply_len = out.len();
    out.extend_from_slice(trailing);
    let (parsed, used) = reply::parse(&out).unwrap().expect("a whole reply");
    assert_eq!(
        (parsed.code, parsed.text(), used),
        (code, first.as_bytes(), reply_len)
    );

    // Multi-line: middle lines indented by a space, as the server writes FEAT and STAT.
    let mut out = Vec::new();
    reply::write_first(&mut out, code, first);
    for line in middle {
        out.push(b' ');
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    reply::write(&mut out, code, last);
    let reply_len = out.len();
    out.extend_from_slice(trailing);
    let (parsed, used) = reply::parse(&out).unwrap().expect("a whole reply");
    assert_eq!(
        (parsed.code, parsed.text(), used),
        (code, first.as_bytes(), reply_len)
    );

    // A quoted path: whatever its bytes, one line.
    let mut out = Vec::new();
    reply::write_quoted_path(&mut out, code, path, last);
    assert_eq!(
        out.iter().filter(|&&b| b == b'\n').count(),
        1,
        "an escaped path made another line: {out:?}"
    );
    let reply_len = out.len();
    out.extend_from_slice(trailing);
    let (parsed, used) = reply::parse(&out).unwrap().expect("a whole reply");
    assert_eq!((parsed.code, used), (code, reply_len));
    // The quoted path reads back: undouble `""`, CR NUL is CR, NUL was LF.
    let text = parsed.text();
    let quoted = &text[1..text.len() - last.len() - 1];
    let mut back = Vec::new();
    let mut i = 0;
    while i < quoted.len() {
        match (quoted[i], quoted.get(i + 1)) {
            (b'"', Some(b'"')) => {
                back.push(b'"');
                i += 2;
            }
            (b'"', _) => panic!("an undoubled quote inside the path: {out:?}"),
            (b'\r', Some(0)) => {
                back.push(b'\r');
                i += 2;
            }
            (b'\r', _) => panic!("a bare CR inside the path: {out:?}"),
            (0, _) => {
                back.push(b'\n');
                i += 1;
            }
            (b, _) => {
                back.push(b);
                i += 1;
            }
        }
    }
    // LF and NUL are both sent as NUL; a path never holds NUL (the core refuses it).
    if !path.contains(&0) {
        assert_eq!(back, path, "the quoted path does not read back");
    }
}
