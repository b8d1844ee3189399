//! Directory listings as a client reads them: MLSD/MLST facts (RFC 3659
//! §7), exact; LIST lines, best effort (Unix `ls -l` and the DOS style IIS
//! sends), since RFC 959 never fixed their format.

use crate::listing::{FileKind, parse_timestamp};

/// One entry of a listing, borrowing its line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteEntry<'a> {
    /// The name (for MLSD, exactly as sent: it may contain spaces).
    pub name: &'a [u8],
    /// File, directory or link, when the line says.
    pub kind: Option<FileKind>,
    /// Size in bytes, when the line says.
    pub size: Option<u64>,
    /// Modification time as Unix seconds (UTC), when the line says so
    /// exactly (MLSD `modify`, or a LIST line that shows a year).
    pub modified: Option<i64>,
}

/// One MLSD line (or MLST's fact line, with its leading space):
/// `fact=value;fact=value; name`. `None` when it has no name.
///
/// ```
/// use ftpwire_core::client::listing::parse_mlsd_line;
/// use ftpwire_core::listing::FileKind;
/// let e = parse_mlsd_line(b"type=file;size=1234;modify=20240314092653; a b.txt\r\n").unwrap();
/// assert_eq!((e.name, e.kind, e.size, e.modified), (&b"a b.txt"[..], Some(FileKind::File), Some(1234), Some(1_710_408_413)));
/// ```
pub fn parse_mlsd_line(line: &[u8]) -> Option<RemoteEntry<'_>> {
    let line = strip_line_end(line);
    let line = line.strip_prefix(b" ").unwrap_or(line);
    let space = memchr::memchr(b' ', line)?;
    let (facts, name) = (&line[..space], &line[space + 1..]);
    if name.is_empty() {
        return None;
    }
    let mut entry = RemoteEntry {
        name,
        kind: None,
        size: None,
        modified: None,
    };
    for fact in facts.split(|&b| b == b';') {
        let Some(eq) = memchr::memchr(b'=', fact) else {
            continue;
        };
        let (key, value) = (&fact[..eq], &fact[eq + 1..]);
        if key.eq_ignore_ascii_case(b"type") {
            entry.kind = if value.eq_ignore_ascii_case(b"file") {
                Some(FileKind::File)
            } else if value.eq_ignore_ascii_case(b"dir")
                || value.eq_ignore_ascii_case(b"cdir")
                || value.eq_ignore_ascii_case(b"pdir")
            {
                Some(FileKind::Directory)
            } else if value.len() > 8 && value[..8].eq_ignore_ascii_case(b"os.unix=") {
                Some(FileKind::Symlink)
            } else {
                None
            };
        } else if key.eq_ignore_ascii_case(b"size") || key.eq_ignore_ascii_case(b"sizd") {
            entry.size = decimal(value);
        } else if key.eq_ignore_ascii_case(b"modify") {
            entry.modified = parse_timestamp(value);
        }
    }
    Some(entry)
}

/// Whether an MLSD entry is the listed directory itself or its parent
/// (`type=cdir` / `type=pdir`, which a mirror must skip).
pub fn is_self_or_parent(line: &[u8]) -> bool {
    let facts = line.split(|&b| b == b' ').next().unwrap_or(b"");
    facts.split(|&b| b == b';').any(|fact| {
        fact.eq_ignore_ascii_case(b"type=cdir") || fact.eq_ignore_ascii_case(b"type=pdir")
    })
}

/// One LIST line, best effort: Unix `ls -l` (`-rw-r--r-- 1 ann ann 1234
/// Mar 14 09:26 name`, also without the group, and `name -> target` for
/// links) or DOS style (`03-14-24  09:26AM  1234 name`, `<DIR>`). `None`
/// for lines that are not entries (`total 8`) or that it cannot read.
///
/// ```
/// use ftpwire_core::client::listing::parse_list_line;
/// use ftpwire_core::listing::FileKind;
/// let e = parse_list_line(b"-rw-r--r--    1 ann  ann   1234 Mar 14  2024 notes.txt\r\n").unwrap();
/// assert_eq!((e.name, e.kind, e.size), (&b"notes.txt"[..], Some(FileKind::File), Some(1234)));
/// assert_eq!(e.modified, Some(1_710_374_400));
/// assert!(parse_list_line(b"total 8").is_none());
/// ```
pub fn parse_list_line(line: &[u8]) -> Option<RemoteEntry<'_>> {
    let line = strip_line_end(line);
    match line.first()? {
        b'-' | b'd' | b'l' | b'c' | b'b' | b'p' | b's' => unix_line(line),
        b'0'..=b'9' => dos_line(line),
        _ => None,
    }
}

fn unix_line(line: &[u8]) -> Option<RemoteEntry<'_>> {
    let kind = match line[0] {
        b'-' => Some(FileKind::File),
        b'd' => Some(FileKind::Directory),
        b'l' => Some(FileKind::Symlink),
        _ => None,
    };
    // Fields up to the date; the month names where the date starts, the size
    // is the field before it, and the name is what follows the date's three fields.
    let mut fields = Fields { line, at: 0 };
    let mut previous: Option<&[u8]> = None;
    let mut month = None;
    for _ in 0..6 {
        let field = fields.next()?;
        if let Some(m) = month_of(field)
            && previous.is_some_and(|p| decimal(p).is_some())
        {
            month = Some(m);
            break;
        }
        previous = Some(field);
    }
    let month = month?;
    let size = decimal(previous?);
    let day = decimal(fields.next()?)?;
    let time_or_year = fields.next()?;
    let name = fields.rest()?;
    let name = match (kind, find(name, b" -> ")) {
        (Some(FileKind::Symlink), Some(arrow)) => &name[..arrow],
        _ => name,
    };
    let modified = if memchr::memchr(b':', time_or_year).is_none() {
        let year = decimal(time_or_year).filter(|y| (1900..=9999).contains(y))?;
        (1..=31).contains(&day).then(|| {
            crate::listing::DateTime {
                year: year as i64,
                month,
                day: day as u8,
                hour: 0,
                minute: 0,
                second: 0,
            }
            .to_unix()
        })
    } else {
        None
    };
    Some(RemoteEntry {
        name,
        kind,
        size,
        modified,
    })
}

fn dos_line(line: &[u8]) -> Option<RemoteEntry<'_>> {
    let mut fields = Fields { line, at: 0 };
    let date = fields.next()?;
    let time = fields.next()?;
    if date.len() < 8 || !date.contains(&b'-') || !time.contains(&b':') {
        return None;
    }
    let size_or_dir = fields.next()?;
    let name = fields.rest()?;
    let (kind, size) = if size_or_dir.eq_ignore_ascii_case(b"<DIR>") {
        (Some(FileKind::Directory), None)
    } else {
        (Some(FileKind::File), Some(decimal(size_or_dir)?))
    };
    Some(RemoteEntry {
        name,
        kind,
        size,
        modified: None,
    })
}

/// Whitespace-separated fields of a line, and the rest of it after them.
struct Fields<'a> {
    line: &'a [u8],
    at: usize,
}

impl<'a> Fields<'a> {
    fn skip_spaces(&mut self) {
        while self
            .line
            .get(self.at)
            .is_some_and(|&b| b == b' ' || b == b'\t')
        {
            self.at += 1;
        }
    }

    fn next(&mut self) -> Option<&'a [u8]> {
        self.skip_spaces();
        let start = self.at;
        while self
            .line
            .get(self.at)
            .is_some_and(|&b| b != b' ' && b != b'\t')
        {
            self.at += 1;
        }
        (self.at > start).then(|| &self.line[start..self.at])
    }

    /// The rest after one run of spaces (a name may start with more spaces
    /// in theory, but every server pads the field before it).
    fn rest(&mut self) -> Option<&'a [u8]> {
        self.skip_spaces();
        let rest = &self.line[self.at..];
        (!rest.is_empty()).then_some(rest)
    }
}

fn month_of(field: &[u8]) -> Option<u8> {
    const MONTHS: [&[u8; 3]; 12] = [
        b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov",
        b"dec",
    ];
    let field: &[u8; 3] = field.try_into().ok()?;
    let lower = field.map(|b| b.to_ascii_lowercase());
    MONTHS
        .iter()
        .position(|m| **m == lower)
        .map(|i| i as u8 + 1)
}

/// A decimal number of at most 20 digits, nothing else (the reply and
/// listing fields a client reads: SIZE's `213`, `size=` facts, LIST sizes).
pub(crate) fn decimal(text: &[u8]) -> Option<u64> {
    if text.is_empty() || text.len() > 20 {
        return None;
    }
    text.iter().try_fold(0u64, |n, &b| {
        b.is_ascii_digit()
            .then_some(())
            .and_then(|()| n.checked_mul(10)?.checked_add(u64::from(b - b'0')))
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn strip_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn mlsd_lines_as_servers_send_them() {
        let e =
            parse_mlsd_line(b"Type=dir;Modify=20240314092653;Perm=flcdmpe; sub dir\r\n").unwrap();
        assert_eq!(
            (e.name, e.kind, e.size),
            (&b"sub dir"[..], Some(FileKind::Directory), None)
        );
        let e = parse_mlsd_line(b" type=OS.unix=symlink;size=3; link").unwrap();
        assert_eq!(e.kind, Some(FileKind::Symlink));
        assert!(parse_mlsd_line(b"type=file;size=1;").is_none());
        assert!(parse_mlsd_line(b"type=file;size=1; ").is_none());
        assert!(is_self_or_parent(b"type=cdir;modify=20240101000000; /pub"));
        assert!(!is_self_or_parent(b"type=file; type=cdir"));
        // A fact value that is not a number is dropped, not guessed.
        let e = parse_mlsd_line(b"size=12x;modify=2024; f").unwrap();
        assert_eq!((e.size, e.modified), (None, None));
    }

    #[test]
    fn our_own_lines_read_back() {
        // What the server half writes, the client half reads.
        let metadata = crate::listing::Metadata {
            kind: FileKind::File,
            size: 98_765,
            modified: Some(1_710_408_413),
            mode: 0o644,
        };
        let entry = crate::listing::ListEntry {
            name: b"report 2024.csv",
            metadata,
            link_target: None,
        };
        let mut out = Vec::new();
        crate::listing::write_mlsd_line(&mut out, &entry, true);
        let e = parse_mlsd_line(&out).unwrap();
        assert_eq!(
            (e.name, e.kind, e.size, e.modified),
            (
                &b"report 2024.csv"[..],
                Some(FileKind::File),
                Some(98_765),
                Some(1_710_408_413)
            )
        );
        for now in [1_710_408_413 + 86_400, 1_710_408_413 + 400 * 86_400] {
            out.clear();
            crate::listing::write_list_line(&mut out, &entry, now);
            let e = parse_list_line(&out).unwrap();
            assert_eq!(
                (e.name, e.size),
                (&b"report 2024.csv"[..], Some(98_765)),
                "{out:?}"
            );
        }
    }

    #[test]
    fn list_lines_of_other_servers() {
        type Case<'a> = (&'a [u8], &'a [u8], Option<FileKind>, Option<u64>);
        let cases: &[Case<'_>] = &[
            (
                b"drwxr-xr-x    2 0        0            4096 Jan 02 10:00 pub",
                b"pub",
                Some(FileKind::Directory),
                Some(4096),
            ),
            (
                b"-rw-r--r--   1 ftp      ftp        0 Dec 31  1999 y2k",
                b"y2k",
                Some(FileKind::File),
                Some(0),
            ),
            (
                b"lrwxrwxrwx 1 root root 7 Mar  1 12:00 latest -> v1.2.3",
                b"latest",
                Some(FileKind::Symlink),
                Some(7),
            ),
            // No group column (some embedded servers).
            (
                b"-rw-r--r-- 1 owner 512 Feb 29 2024 leap",
                b"leap",
                Some(FileKind::File),
                Some(512),
            ),
            // A name with spaces.
            (
                b"-rw-r--r-- 1 a b 5 Apr 1 01:02 two  spaces",
                b"two  spaces",
                Some(FileKind::File),
                Some(5),
            ),
            (
                b"03-14-24  09:26AM                 1234 notes.txt",
                b"notes.txt",
                Some(FileKind::File),
                Some(1234),
            ),
            (
                b"03-14-24  09:26AM       <DIR>          folder",
                b"folder",
                Some(FileKind::Directory),
                None,
            ),
        ];
        for (line, name, kind, size) in cases {
            let e = parse_list_line(line).unwrap_or_else(|| panic!("{line:?}"));
            assert_eq!((e.name, e.kind, e.size), (*name, *kind, *size), "{line:?}");
        }
        for junk in [
            &b"total 12"[..],
            b"",
            b"-",
            b"drwx",
            b"-rw 1 a b c Mar 1 2024 x",
            b"12-3 x",
        ] {
            assert!(parse_list_line(junk).is_none(), "{junk:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_lines_never_panic(line in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..120)) {
            let _ = parse_list_line(&line);
            let _ = parse_mlsd_line(&line);
            let _ = is_self_or_parent(&line);
        }
    }
}
