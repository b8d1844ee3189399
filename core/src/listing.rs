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
    pub fn from_unix(secs: i64) -> Self {
        todo!("H1: {secs}")
    }
}

/// Appends one `ls -l` style line with CRLF, e.g.
/// `-rw-r--r--   1 ftp      ftp          1234 Mar 14 09:26 name\r\n`;
/// entries older than ~6 months (relative to `now_unix`) or in the future show the year.
pub fn write_list_line(out: &mut Vec<u8>, entry: &ListEntry<'_>, now_unix: i64) {
    todo!("H1: {out:?} {entry:?} {now_unix}")
}

/// Appends an NLST line: the name and CRLF.
pub fn write_nlst_line(out: &mut Vec<u8>, name: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b"\r\n");
}

/// Appends MLSx facts followed by one space (RFC 3659 §7.2):
/// `type=file;size=1234;modify=20240314092653;perm=rwadf; ` (perm without
/// write letters when `writable` is false; `type=dir`, perm `elcmp`/`el` for directories).
pub fn write_facts(out: &mut Vec<u8>, metadata: &Metadata, writable: bool) {
    todo!("H1: {out:?} {metadata:?} {writable}")
}

/// Appends one MLSD line: facts, the name, CRLF.
pub fn write_mlsd_line(out: &mut Vec<u8>, entry: &ListEntry<'_>, writable: bool) {
    write_facts(out, &entry.metadata, writable);
    out.extend_from_slice(entry.name);
    out.extend_from_slice(b"\r\n");
}

/// Appends an MDTM / `modify` fact timestamp `YYYYMMDDHHMMSS`.
pub fn write_timestamp(out: &mut Vec<u8>, unix_secs: i64) {
    todo!("H1: {out:?} {unix_secs}")
}
