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
    /// Its facts. For a symbolic link: the facts of what it points to when
    /// the storage follows it, or kind [`FileKind::Symlink`] when it does not
    /// (dangling, or leading out of the served root).
    pub metadata: Metadata,
    /// The entry is a symbolic link with this target (as stored in the
    /// link): LIST shows `name -> target`, MLSD `type=OS.unix=slink:target`.
    pub link_target: Option<&'a [u8]>,
}

/// How a listing writes its entries: the session picks it from the command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListFormat {
    /// LIST: `ls -l` lines ([`write_list_line`]).
    Long,
    /// NLST: names only ([`write_nlst_line`]).
    Names,
    /// MLSD: RFC 3659 facts ([`write_mlsd_line`]).
    Machine,
}

impl ListFormat {
    /// Writes one entry's line in this format. `now_unix` picks LIST's
    /// date style (recent or not); `writable`: the login may write (MLSD `perm`).
    pub fn write_entry(
        self,
        out: &mut Vec<u8>,
        entry: &ListEntry<'_>,
        now_unix: i64,
        writable: bool,
    ) {
        match self {
            ListFormat::Long => write_list_line(out, entry, now_unix),
            ListFormat::Names => write_nlst_line(out, entry.name),
            ListFormat::Machine => write_mlsd_line(out, entry, writable),
        }
    }
}

/// Which directory entries a listing shows.
///
/// The session decides it for each LIST, NLST or MLSD (from `-a`, the
/// configuration and the login) and the host applies it with
/// [`shows`](Self::shows) while it reads the directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListFilter {
    /// Show entries whose name starts with `.` (`ls -a`).
    pub dot_files: bool,
}

impl ListFilter {
    /// Whether an entry named `name` belongs in the listing.
    ///
    /// ```
    /// use ftpwire_core::listing::ListFilter;
    /// assert!(!ListFilter { dot_files: false }.shows(b".git"));
    /// assert!(ListFilter { dot_files: true }.shows(b".git"));
    /// ```
    pub fn shows(&self, name: &[u8]) -> bool {
        self.dot_files || !is_dot_file(name)
    }
}

/// A name that `ls` hides without `-a`: it starts with `.`.
pub fn is_dot_file(name: &[u8]) -> bool {
    name.first() == Some(&b'.')
}

/// Puts listing entries in the order every host sends them: by name,
/// bytewise (what `LC_ALL=C ls` does), sorted in place so a host holds a
/// directory in memory once. `name` picks an entry's name.
///
/// ```
/// let mut names = [&b"b"[..], b"B", b"a", b".x"];
/// ftpwire_core::listing::sort_by_name(&mut names, |n| n);
/// assert_eq!(names, [&b".x"[..], b"B", b"a", b"b"]);
/// ```
pub fn sort_by_name<T>(entries: &mut [T], name: impl Fn(&T) -> &[u8]) {
    // Names in one directory are unique, so an unstable sort is exact.
    entries.sort_unstable_by(|a, b| name(a).cmp(name(b)));
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

impl DateTime {
    /// Seconds since the Unix epoch of this UTC date and time (the inverse
    /// of [`from_unix`](Self::from_unix) for valid dates).
    pub fn to_unix(&self) -> i64 {
        // Days-from-civil over 400-year eras (Howard Hinnant's public-domain algorithm).
        let month = i64::from(self.month);
        let year = self.year - i64::from(month <= 2);
        let era = year.div_euclid(400);
        let yoe = year.rem_euclid(400);
        let mp = (month + 9) % 12;
        let doy = (153 * mp + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        days * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
    }
}

/// Parses an RFC 3659 `time-val` (`YYYYMMDDHHMMSS`, optionally `.` and
/// fraction digits, which are dropped) into Unix seconds; `None` unless it
/// is a real UTC date and time (a leap second `60` counts as the next
/// minute's first).
///
/// ```
/// use ftpwire_core::listing::parse_timestamp;
/// assert_eq!(parse_timestamp(b"20240314092653"), Some(1_710_408_413));
/// assert_eq!(parse_timestamp(b"20240230000000"), None);
/// ```
pub fn parse_timestamp(text: &[u8]) -> Option<i64> {
    let (whole, fraction) = match text.split_first_chunk::<14>()? {
        (whole, []) => (whole, &b""[..]),
        (whole, [b'.', fraction @ ..]) if !fraction.is_empty() => (whole, fraction),
        _ => return None,
    };
    if !whole.iter().chain(fraction).all(u8::is_ascii_digit) {
        return None;
    }
    let number = |range: core::ops::Range<usize>| {
        whole[range]
            .iter()
            .fold(0u32, |n, &d| n * 10 + u32::from(d - b'0'))
    };
    let (year, month, day) = (number(0..4), number(4..6) as u8, number(6..8) as u8);
    let (hour, minute, second) = (
        number(8..10) as u8,
        number(10..12) as u8,
        number(12..14) as u8,
    );
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if day == 0 || day > month_days || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let time = DateTime {
        year: i64::from(year),
        month,
        day,
        hour,
        minute,
        second,
    };
    Some(time.to_unix())
}

/// Appends one `ls -l` style line with CRLF, e.g.
/// `-rw-r--r--   1 ftp      ftp          1234 Mar 14 09:26 name\r\n`;
/// entries older than ~6 months (relative to `now_unix`) or in the future show the year.
/// A symbolic link reads like `ls -l` shows one:
/// `lrwxrwxrwx   1 ftp      ftp                 6 Mar 14 09:26 name -> target`
/// (its size is the target's length). A CR in a name or target is sent
/// as CR NUL and an LF as NUL, as in replies (RFC 959 §3.2), so no entry
/// can break a line.
pub fn write_list_line(out: &mut Vec<u8>, entry: &ListEntry<'_>, now_unix: i64) {
    let meta = &entry.metadata;
    // The first columns are filled in place and copied once: a push per
    // byte is a capacity check per byte, on every entry of a listing.
    let mut head = *b"----------   1 ftp      ftp      ";
    if entry.link_target.is_some() {
        head[..10].copy_from_slice(b"lrwxrwxrwx");
    } else {
        head[0] = match meta.kind {
            FileKind::File => b'-',
            FileKind::Directory => b'd',
            FileKind::Symlink => b'l',
            FileKind::Other => b'?',
        };
        for (i, letter) in b"rwxrwxrwx".iter().enumerate() {
            if meta.mode & (0o400 >> i) != 0 {
                head[1 + i] = *letter;
            }
        }
        if meta.kind == FileKind::Directory {
            head[13] = b'2';
        }
    }
    out.extend_from_slice(&head);
    let size = match entry.link_target {
        Some(target) => target.len() as u64,
        None => meta.size,
    };
    // Twelve columns, wider for a size of a terabyte or more.
    pad_decimal(out, size, 12);
    let when = meta.modified.unwrap_or(0);
    let t = DateTime::from_unix(when);
    out.push(b' ');
    out.extend_from_slice(MONTHS[usize::from(t.month - 1)]);
    out.push(b' ');
    pad_decimal(out, u64::from(t.day), 2);
    out.push(b' ');
    // `ls` shows the time for the last ~6 months, the year otherwise.
    const HALF_YEAR: i64 = 183 * 86_400;
    if when <= now_unix && now_unix.saturating_sub(when) < HALF_YEAR {
        out.extend_from_slice(&two_digits(t.hour));
        out.push(b':');
        out.extend_from_slice(&two_digits(t.minute));
    } else {
        out.push(b' ');
        pad_decimal(out, t.year.clamp(0, 9999) as u64, 4);
    }
    out.push(b' ');
    crate::reply::write_path(out, entry.name);
    if let Some(target) = entry.link_target {
        out.extend_from_slice(b" -> ");
        crate::reply::write_path(out, target);
    }
    out.extend_from_slice(b"\r\n");
}

/// `n` (below 100) as two digits.
fn two_digits(n: u8) -> [u8; 2] {
    [b'0' + n / 10 % 10, b'0' + n % 10]
}

const MONTHS: [&[u8]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// `n` right-aligned in `width` columns.
fn pad_decimal(out: &mut Vec<u8>, n: u64, width: usize) {
    crate::reply::write_decimal_padded(out, n, width);
}

/// Appends an NLST line: the name (CR and LF escaped as in
/// [`write_list_line`]) and CRLF.
pub fn write_nlst_line(out: &mut Vec<u8>, name: &[u8]) {
    crate::reply::write_path(out, name);
    out.extend_from_slice(b"\r\n");
}

/// Appends MLSx facts followed by one space (RFC 3659 §7.2):
/// `type=file;size=1234;modify=20240314092653;perm=radfw; ` (perm `r` alone
/// when `writable` is false; `type=dir` with perm `el`, plus `cdfmp` when
/// writable, for directories; `type=OS.unix=slink` for a link not followed).
pub fn write_facts(out: &mut Vec<u8>, metadata: &Metadata, writable: bool) {
    write_facts_of(out, metadata, writable, None);
}

fn write_facts_of(out: &mut Vec<u8>, metadata: &Metadata, writable: bool, link: Option<&[u8]>) {
    let link = link.filter(|_| metadata.kind != FileKind::Other);
    let (kind, perm): (&[u8], &[u8]) = match (metadata.kind, writable) {
        _ if link.is_some() => (b"OS.unix=slink", b""),
        (FileKind::Directory, true) => (b"dir", b"elcdfmp"),
        (FileKind::Directory, false) => (b"dir", b"el"),
        (FileKind::File, true) => (b"file", b"radfw"),
        (FileKind::File, false) => (b"file", b"r"),
        (FileKind::Symlink, _) => (b"OS.unix=slink", b""),
        (FileKind::Other, _) => (b"OS.unix=special", b""),
    };
    out.extend_from_slice(b"type=");
    out.extend_from_slice(kind);
    // A fact value cannot hold `;`, a space or a line end (RFC 3659 §7.2):
    // a target with one is left out rather than mangled.
    if let Some(target) = link
        && !target.is_empty()
        && !target
            .iter()
            .any(|&b| b == b';' || b == b' ' || b < 0x20 || b == 0x7f)
    {
        out.push(b':');
        out.extend_from_slice(target);
    }
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

/// Appends one MLSD line: facts, the name (escaped as in
/// [`write_list_line`]), CRLF. A symbolic link shows as
/// `type=OS.unix=slink:target` (ProFTPD's `UseSlink` form, which lftp and
/// FileZilla read as a link), whatever facts the storage gave it.
pub fn write_mlsd_line(out: &mut Vec<u8>, entry: &ListEntry<'_>, writable: bool) {
    write_facts_of(out, &entry.metadata, writable, entry.link_target);
    crate::reply::write_path(out, entry.name);
    out.extend_from_slice(b"\r\n");
}

/// Appends an MDTM / `modify` fact timestamp `YYYYMMDDHHMMSS`.
pub fn write_timestamp(out: &mut Vec<u8>, unix_secs: i64) {
    let t = DateTime::from_unix(unix_secs);
    let year = t.year.clamp(0, 9999) as u16;
    for n in [
        (year / 100) as u8,
        (year % 100) as u8,
        t.month,
        t.day,
        t.hour,
        t.minute,
        t.second,
    ] {
        out.extend_from_slice(&two_digits(n));
    }
}

#[cfg(test)]
mod tests;
