//! The core's listing formatters (`ftpwire_core::listing`) on arbitrary
//! metadata, names and clocks: LIST (`ls -l`), NLST, MLSD lines, MLST facts
//! and MDTM timestamps.
//!
//! Checks, beyond "never panics": every writer appends exactly one line, and
//! a line ends in its only CRLF (a name with CR or LF in it, which a local
//! user can create, must not end the line early or forge a second entry); a
//! name without CR, LF or NUL is written verbatim at the end of the line; the
//! LIST columns (type, permission bits, size, date) say what the metadata
//! says and the part before the name is bounded; MLSD facts carry the size
//! and a 14-digit `modify`; `DateTime::from_unix` gives a valid civil date
//! that converts back to the same second.
#![no_main]

use ftpwire_core::listing::{
    DateTime, FileKind, ListEntry, Metadata, write_facts, write_list_line, write_mlsd_line,
    write_nlst_line, write_timestamp,
};
use libfuzzer_sys::fuzz_target;

/// The most a LIST line holds before the name: type and bits (10), link
/// count and owner columns, a 20-digit size, date and time or year.
const LIST_PREFIX_MAX: usize = 80;
/// The longest facts prefix: `type=OS.unix=special;size=<20>;modify=<14>;perm=elcdfmp; `.
const FACTS_MAX: usize = 90;

/// Input layout (little-endian, so seeds are easy to write by hand): kind
/// (1 byte: low two bits file, directory, symlink, other; the other six a
/// link target's length, taken from the end of the name), size (8), a flag byte
/// (bit 0: modification time known, bit 1: writable), modified (8), mode
/// (4), now (8), then the name (the rest).
const HEADER: usize = 1 + 8 + 1 + 8 + 4 + 8;

fuzz_target!(|data: &[u8]| {
    if data.len() < HEADER {
        return;
    }
    let (header, rest) = data.split_at(HEADER);
    let target_len = usize::from(header[0] >> 2).min(rest.len());
    let (name, target) = rest.split_at(rest.len() - target_len);
    let link_target = (flags_of(header) & 4 != 0).then_some(target);
    let u64_at = |at: usize| u64::from_le_bytes(header[at..at + 8].try_into().unwrap());
    let kind = match header[0] % 4 {
        0 => FileKind::File,
        1 => FileKind::Directory,
        2 => FileKind::Symlink,
        _ => FileKind::Other,
    };
    let flags = flags_of(header);
    let input = Input {
        size: u64_at(1),
        modified: (flags & 1 != 0).then_some(u64_at(10) as i64),
        writable: flags & 2 != 0,
        mode: u32::from_le_bytes(header[18..22].try_into().unwrap()),
        now: u64_at(22) as i64,
        name,
        link_target,
    };
    let metadata = Metadata {
        kind,
        size: input.size,
        modified: input.modified,
        mode: input.mode,
    };
    let entry = ListEntry {
        name: input.name,
        metadata,
        link_target: input.link_target,
    };

    let mut out = b"previous line\r\n".to_vec();
    write_list_line(&mut out, &entry, input.now);
    let line = one_line(&out[15..], input.name, input.link_target);
    check_list_columns(line, &metadata, input.name, input.link_target, input.now);

    let mut out = Vec::new();
    write_nlst_line(&mut out, input.name);
    one_line(&out, input.name, None);

    let mut out = Vec::new();
    write_mlsd_line(&mut out, &entry, input.writable);
    let line = one_line(&out, input.name, None);
    let facts_end = line
        .windows(2)
        .position(|w| w == b"; ")
        .expect("MLSD facts end in \"; \"")
        + 2;
    check_facts(
        &line[..facts_end],
        &metadata,
        input.writable,
        input.link_target,
    );
    let mut facts = Vec::new();
    write_facts(&mut facts, &metadata, input.writable);
    check_facts(&facts, &metadata, input.writable, None);

    check_date(input.now);
    if let Some(modified) = input.modified {
        check_date(modified);
    }
});

struct Input<'a> {
    link_target: Option<&'a [u8]>,
    size: u64,
    modified: Option<i64>,
    mode: u32,
    now: i64,
    writable: bool,
    name: &'a [u8],
}

fn flags_of(header: &[u8]) -> u8 {
    header[9]
}

/// A name or link target with no byte that needs escaping.
fn plain(bytes: &[u8]) -> bool {
    !bytes.iter().any(|&b| matches!(b, b'\r' | b'\n' | 0))
}

/// `out` is one line ending in its only CRLF; returns it. A plain name
/// (no CR, LF, NUL) ends the line verbatim (before ` -> target` for a link).
fn one_line<'a>(out: &'a [u8], name: &[u8], target: Option<&[u8]>) -> &'a [u8] {
    let body = out
        .strip_suffix(b"\r\n")
        .unwrap_or_else(|| panic!("line does not end in CRLF: {out:?}"));
    assert!(
        !body.contains(&b'\n'),
        "an LF inside a listing line (name {name:?}): {out:?}"
    );
    // A CR is only ever followed by NUL (RFC 959 §3.2's escape), never bare.
    for (i, &b) in body.iter().enumerate() {
        if b == b'\r' {
            assert_eq!(
                body.get(i + 1),
                Some(&0),
                "a bare CR inside a listing line (name {name:?}): {out:?}"
            );
        }
    }
    match target {
        Some(target) if plain(name) && plain(target) => {
            let end = [name, b" -> ", target].concat();
            assert!(
                body.ends_with(&end),
                "not `name -> target` at the end: {out:?}"
            );
        }
        None if plain(name) => {
            assert!(body.ends_with(name), "the name is not at the end: {out:?}")
        }
        _ => {}
    }
    out
}

fn check_list_columns(
    line: &[u8],
    metadata: &Metadata,
    name: &[u8],
    target: Option<&[u8]>,
    now: i64,
) {
    if let Some(target) = target {
        assert!(
            line.starts_with(b"lrwxrwxrwx   1 "),
            "a link's columns: {line:?}"
        );
        let size = String::from_utf8_lossy(&line[10..]);
        let size = size.split_ascii_whitespace().nth(3).expect("size column");
        assert_eq!(
            size,
            target.len().to_string(),
            "a link's size is its target's length"
        );
        assert!(line.len() <= LIST_PREFIX_MAX + 2 * (name.len() + target.len()) + 6);
        return;
    }
    let kind = match metadata.kind {
        FileKind::File => b'-',
        FileKind::Directory => b'd',
        FileKind::Symlink => b'l',
        FileKind::Other => b'?',
    };
    assert_eq!(line[0], kind, "type column: {line:?}");
    for (i, bit) in (0..9).rev().enumerate() {
        let set = metadata.mode & (1 << bit) != 0;
        let expected = if set { b"rwx"[i % 3] } else { b'-' };
        assert_eq!(line[1 + i], expected, "permission bit {bit}: {line:?}");
    }
    // Escaping may at most double the name (CR becomes CR NUL).
    assert!(
        line.len() <= LIST_PREFIX_MAX + 2 * name.len() + 2,
        "LIST line of {} bytes for a {}-byte name: {line:?}",
        line.len(),
        name.len()
    );
    let text = String::from_utf8_lossy(&line[10..line.len().min(LIST_PREFIX_MAX)]);
    let mut fields = text.split_ascii_whitespace();
    let links = fields.next().expect("link count");
    assert_eq!(
        links,
        if metadata.kind == FileKind::Directory {
            "2"
        } else {
            "1"
        }
    );
    assert_eq!((fields.next(), fields.next()), (Some("ftp"), Some("ftp")));
    assert_eq!(
        fields.next(),
        Some(metadata.size.to_string().as_str()),
        "size"
    );
    let when = metadata.modified.unwrap_or(0);
    let t = DateTime::from_unix(when);
    let month = fields.next().expect("month");
    assert_eq!(
        month,
        [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
        ][usize::from(t.month - 1)]
    );
    assert_eq!(fields.next(), Some(t.day.to_string().as_str()), "day");
    let time_or_year = fields.next().expect("time or year");
    if when <= now && now.saturating_sub(when) < 183 * 86_400 {
        assert_eq!(time_or_year, format!("{:02}:{:02}", t.hour, t.minute));
    } else {
        assert_eq!(time_or_year, format!("{}", t.year.clamp(0, 9999)));
    }
}

fn check_facts(facts: &[u8], metadata: &Metadata, writable: bool, target: Option<&[u8]>) {
    assert!(
        facts.len() <= FACTS_MAX + target.map_or(0, |t| t.len() + 1),
        "facts too long: {facts:?}"
    );
    // A link target in `type=OS.unix=slink:TARGET;` may be any bytes but
    // `;`, space and controls: compare them as bytes, then drop them.
    let mut facts = facts.to_vec();
    if let Some(rest) = facts.strip_prefix(b"type=OS.unix=slink:") {
        let end = rest
            .iter()
            .position(|&b| b == b';')
            .expect("a fact ends in ;");
        assert_eq!(
            Some(&rest[..end]),
            target,
            "slink fact names another target"
        );
        assert!(
            !rest[..end]
                .iter()
                .any(|&b| b == b' ' || b < 0x20 || b == 0x7f)
        );
        // Any entry that carries a link target is a link (special files aside).
        assert_ne!(metadata.kind, FileKind::Other);
        let shown = b"type=OS.unix=slink".len() + 1 + end;
        facts.drain(b"type=OS.unix=slink".len()..shown);
    }
    let facts = std::str::from_utf8(&facts).expect("facts other than a link target are ASCII");
    let text = facts;
    let text = text.strip_suffix("; ").expect("facts end in \"; \"");
    let mut seen_size = false;
    for fact in text.split(';') {
        let (key, value) = fact.split_once('=').expect("fact is key=value");
        match key {
            "type" => {
                let expected = match metadata.kind {
                    // A link, even with its target left out of the fact.
                    FileKind::File | FileKind::Directory if target.is_some() => "OS.unix=slink",
                    FileKind::File => "file",
                    FileKind::Directory => "dir",
                    FileKind::Symlink => "OS.unix=slink",
                    FileKind::Other => "OS.unix=special",
                };
                assert_eq!(value, expected);
            }
            "size" => {
                seen_size = true;
                assert_eq!(value, metadata.size.to_string());
            }
            "modify" => {
                let secs = metadata.modified.expect("modify without a time");
                let mut stamp = Vec::new();
                write_timestamp(&mut stamp, secs);
                assert_eq!(value.as_bytes(), stamp);
            }
            "perm" => {
                if !writable {
                    assert!(!value.contains(['a', 'd', 'f', 'w', 'c', 'm', 'p']));
                }
            }
            other => panic!("unknown fact {other:?} in {facts:?}"),
        }
    }
    assert!(seen_size, "no size fact");
    assert_eq!(
        metadata.modified.is_some(),
        text.contains("modify="),
        "modify fact present iff the time is known"
    );
}

/// `from_unix` is a valid date that converts back; the timestamp is 14 digits.
fn check_date(secs: i64) {
    let t = DateTime::from_unix(secs);
    assert!((1..=12).contains(&t.month), "{t:?}");
    assert!(
        (1..=days_in_month(t.year, t.month)).contains(&t.day),
        "{t:?}"
    );
    assert!(t.hour < 24 && t.minute < 60 && t.second < 60, "{t:?}");
    let back = days_from_civil(t.year, t.month, t.day) * 86_400
        + i128::from(t.hour) * 3600
        + i128::from(t.minute) * 60
        + i128::from(t.second);
    assert_eq!(back, i128::from(secs), "{t:?} is not {secs}");
    let mut stamp = Vec::new();
    write_timestamp(&mut stamp, secs);
    assert_eq!(stamp.len(), 14);
    assert!(stamp.iter().all(u8::is_ascii_digit), "{stamp:?}");
    if (0..=9999).contains(&t.year) {
        let expected = format!(
            "{:04}{:02}{:02}{:02}{:02}{:02}",
            t.year, t.month, t.day, t.hour, t.minute, t.second
        );
        assert_eq!(stamp, expected.as_bytes());
    }
}

fn days_in_month(year: i64, month: u8) -> u8 {
    let leap = year.rem_euclid(4) == 0 && (year.rem_euclid(100) != 0 || year.rem_euclid(400) == 0);
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a civil date, by counting (an independent
/// reference, not the core's era arithmetic): whole 400-year cycles of
/// 146,097 days, then years, then months.
fn days_from_civil(year: i64, month: u8, day: u8) -> i128 {
    let cycles = (year - 1970).div_euclid(400);
    let mut y = 1970 + cycles * 400;
    let mut days = i128::from(cycles) * 146_097;
    while y < year {
        days += if days_in_month(y, 2) == 29 { 366 } else { 365 };
        y += 1;
    }
    for m in 1..month {
        days += i128::from(days_in_month(year, m));
    }
    days + i128::from(day) - 1
}
