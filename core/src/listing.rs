//! Directory listings and file facts: LIST (`ls -l` style, the de-facto
//! format clients parse), NLST, MLSD/MLST facts (RFC 3659 §7) and MDTM
//! timestamps (RFC 3659 §3), all formatted from plain metadata values.

use alloc::vec::Vec;

/// What kind of object a directory entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A regular file.
    File,
    /// A directory.
    Directory,
    /// A symbolic link the host chose to show as such.
    Symlink,
    /// Anything else (device, socket, ...).
    Other,
}

/// Facts about one file, as the host's storage knows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metadata {
    /// What it is.
    pub kind: FileKind,
    /// Size in bytes.
    pub size: u64,
    /// Last modification, seconds since the Unix epoch (UTC), if known.
    pub modified: Option<i64>,
    /// Unix permission bits (`0o644`); shown in LIST.
    pub mode: u32,
}

/// One line of a directory listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListEntry<'a> {
    /// The entry's name (one path component, bytes as stored).
    pub name: &'a [u8],
    /// Its facts.
    pub metadata: Metadata,
}

/// A civil UTC date and time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime {
    /// Year (proleptic Gregorian).
    pub year: i64,
    /// 1..=12
    pub month: u8,
    /// 1..=31
    pub day: u8,
    /// 0..=23
    pub hour: u8,
    /// 0..=59
    pub minute: u8,
    /// 0..=59
    pub second: u8,
}

impl DateTime {
    /// The UTC date and time `secs` seconds after the Unix epoch.
    ///
    /// ```
    /// use ftpwire_core::listing::DateTime;
    /// let t = DateTime::from_unix(1_710_408_413);
    /// assert_eq!((t.year, t.month, t.day, t.hour, t.minute, t.second), (2024, 3, 14, 9, 26, 53));
    /// ```
    pub fn from_unix(secs: i64) -> Self {
        let days = secs.div_euclid(86_400);
        let of_day = secs.rem_euclid(86_400);
        // Civil-from-days over 400-year eras (Howard Hinnant's public-domain algorithm).
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = yoe + era * 400 + i64::from(month <= 2);
        DateTime {
            year,
            month,
            day,
            hour: (of_day / 3600) as u8,
            minute: (of_day / 60 % 60) as u8,
            second: (of_day % 60) as u8,
        }
    }
}

/// Appends one `ls -l` style line with CRLF, e.g.
/// `-rw-r--r--   1 ftp      ftp          1234 Mar 14 09:26 name\r\n`;
/// entries older than ~6 months (relative to `now_unix`) or in the future show the year.
pub fn write_list_line(out: &mut Vec<u8>, entry: &ListEntry<'_>, now_unix: i64) {
    let meta = &entry.metadata;
    out.push(match meta.kind {
        FileKind::File => b'-',
        FileKind::Directory => b'd',
        FileKind::Symlink => b'l',
        FileKind::Other => b'?',
    });
    for shift in [6u32, 3, 0] {
        let bits = meta.mode >> shift;
        out.push(if bits & 4 != 0 { b'r' } else { b'-' });
        out.push(if bits & 2 != 0 { b'w' } else { b'-' });
        out.push(if bits & 1 != 0 { b'x' } else { b'-' });
    }
    let links: &[u8] = if meta.kind == FileKind::Directory {
        b"2"
    } else {
        b"1"
    };
    out.extend_from_slice(b"   ");
    out.extend_from_slice(links);
    out.extend_from_slice(b" ftp      ftp      ");
    pad_decimal(out, meta.size, 12);
    out.push(b' ');
    let when = meta.modified.unwrap_or(0);
    let t = DateTime::from_unix(when);
    out.extend_from_slice(MONTHS[usize::from(t.month - 1)]);
    out.push(b' ');
    pad_decimal(out, u64::from(t.day), 2);
    out.push(b' ');
    // `ls` shows the time for the last ~6 months, the year otherwise.
    const HALF_YEAR: i64 = 183 * 86_400;
    if when <= now_unix && now_unix.saturating_sub(when) < HALF_YEAR {
        two_digits(out, t.hour);
        out.push(b':');
        two_digits(out, t.minute);
    } else {
        out.push(b' ');
        pad_decimal(out, t.year.clamp(0, 9999) as u64, 4);
    }
    out.push(b' ');
    out.extend_from_slice(entry.name);
    out.extend_from_slice(b"\r\n");
}

const MONTHS: [&[u8]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// `n` right-aligned in `width` columns.
fn pad_decimal(out: &mut Vec<u8>, n: u64, width: usize) {
    let start = out.len();
    crate::reply::write_decimal(out, n);
    let len = out.len() - start;
    if len < width {
        let pad = width - len;
        out.splice(start..start, core::iter::repeat_n(b' ', pad));
    }
}

fn two_digits(out: &mut Vec<u8>, n: u8) {
    out.push(b'0' + n / 10 % 10);
    out.push(b'0' + n % 10);
}

/// Appends an NLST line: the name and CRLF.
pub fn write_nlst_line(out: &mut Vec<u8>, name: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b"\r\n");
}

/// Appends MLSx facts followed by one space (RFC 3659 §7.2):
/// `type=file;size=1234;modify=20240314092653;perm=radfw; ` (perm `r` alone
/// when `writable` is false; `type=dir` with perm `el`, plus `cdfmp` when
/// writable, for directories).
pub fn write_facts(out: &mut Vec<u8>, metadata: &Metadata, writable: bool) {
    let (kind, perm): (&[u8], &[u8]) = match (metadata.kind, writable) {
        (FileKind::Directory, true) => (b"dir", b"elcdfmp"),
        (FileKind::Directory, false) => (b"dir", b"el"),
        (FileKind::File, true) => (b"file", b"radfw"),
        (FileKind::File, false) => (b"file", b"r"),
        (FileKind::Symlink | FileKind::Other, _) => (b"OS.unix=special", b""),
    };
    out.extend_from_slice(b"type=");
    out.extend_from_slice(kind);
    out.extend_from_slice(b";size=");
    crate::reply::write_decimal(out, metadata.size);
    out.push(b';');
    if let Some(modified) = metadata.modified {
        out.extend_from_slice(b"modify=");
        write_timestamp(out, modified);
        out.push(b';');
    }
    out.extend_from_slice(b"perm=");
    out.extend_from_slice(perm);
    out.extend_from_slice(b"; ");
}

/// Appends one MLSD line: facts, the name, CRLF.
pub fn write_mlsd_line(out: &mut Vec<u8>, entry: &ListEntry<'_>, writable: bool) {
    write_facts(out, &entry.metadata, writable);
    out.extend_from_slice(entry.name);
    out.extend_from_slice(b"\r\n");
}

/// Appends an MDTM / `modify` fact timestamp `YYYYMMDDHHMMSS`.
pub fn write_timestamp(out: &mut Vec<u8>, unix_secs: i64) {
    let t = DateTime::from_unix(unix_secs);
    let year = t.year.clamp(0, 9999) as u16;
    two_digits(out, (year / 100) as u8);
    two_digits(out, (year % 100) as u8);
    for n in [t.month, t.day, t.hour, t.minute, t.second] {
        two_digits(out, n);
    }
}

#[cfg(test)]
mod tests;
