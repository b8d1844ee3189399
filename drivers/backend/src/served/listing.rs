//! Directory listings (LIST, NLST, MLSD) as a byte stream for the data
//! connection. The entries the session's [`ListFilter`] shows are read
//! once into memory and sorted there by name (the core's order, so every
//! host sends the same bytes); each is formatted by
//! [`ftpwire_core::listing`] only when the data connection wants it, so a
//! huge directory never sits in memory twice or as text.

use std::io::{self, Read};

use ftpwire_core::listing::{FileKind, ListEntry, ListFilter, sort_by_name};
use ftpwire_core::path::components;

use crate::served::storage::{DirEntry, Storage};

/// The line format, as the session chose it (re-exported from the core).
pub use ftpwire_core::listing::ListFormat;

/// A listing being produced: implements [`Read`], yielding CRLF-terminated
/// lines.
pub struct Listing {
    entries: std::vec::IntoIter<DirEntry>,
    format: ListFormat,
    writable: bool,
    now_unix: i64,
    line: Vec<u8>,
    read: usize,
}

impl std::fmt::Debug for Listing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listing")
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

impl Listing {
    /// Starts listing `path`: a directory's entries that `filter` shows,
    /// sorted by name, or a file as a one-entry listing of itself (as
    /// `ls -l FILE` does). `writable` sets the MLSD `perm` fact; `now_unix`
    /// decides when LIST shows a year instead of a time. A directory that
    /// cannot be read fails here, before any byte is sent.
    ///
    /// ```
    /// use std::io::Read;
    /// use ftpwire_backend::{LocalFs, served::listing::{ListFormat, Listing}};
    /// use ftpwire_core::listing::ListFilter;
    /// let dir = tempfile::tempdir().unwrap();
    /// std::fs::write(dir.path().join("a.txt"), b"abc").unwrap();
    /// let fs = LocalFs::new(dir.path()).unwrap();
    /// let mut text = String::new();
    /// let all = ListFilter { dot_files: true };
    /// Listing::open(&fs, b"/", ListFormat::Names, all, false, 0).unwrap().read_to_string(&mut text).unwrap();
    /// assert_eq!(text, "a.txt\r\n");
    /// ```
    pub fn open(
        storage: &dyn Storage,
        path: &[u8],
        format: ListFormat,
        filter: ListFilter,
        writable: bool,
        now_unix: i64,
    ) -> io::Result<Listing> {
        let metadata = storage.stat(path)?;
        let entries = if metadata.kind == FileKind::Directory {
            let mut entries = Vec::new();
            for entry in storage.list(path)? {
                let entry = entry?;
                if filter.shows(&entry.name) {
                    entries.push(entry);
                }
            }
            sort_by_name(&mut entries, |entry| &entry.name);
            entries
        } else {
            let name = components(path).last().unwrap_or_default().to_vec();
            vec![DirEntry {
                name,
                metadata,
                link_target: None,
            }]
        };
        Ok(Listing {
            entries: entries.into_iter(),
            format,
            writable,
            now_unix,
            line: Vec::with_capacity(128),
            read: 0,
        })
    }

    /// Formats the next entry into `self.line`; false at the end.
    fn next_line(&mut self) -> io::Result<bool> {
        self.line.clear();
        self.read = 0;
        let Some(entry) = self.entries.next() else {
            return Ok(false);
        };
        let entry = ListEntry {
            name: &entry.name,
            metadata: entry.metadata,
            link_target: entry.link_target.as_deref(),
        };
        self.format
            .write_entry(&mut self.line, &entry, self.now_unix, self.writable);
        Ok(true)
    }
}

impl Read for Listing {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        while filled < buf.len() {
            if self.read == self.line.len() && !self.next_line()? {
                break;
            }
            let n = (self.line.len() - self.read).min(buf.len() - filled);
            buf[filled..filled + n].copy_from_slice(&self.line[self.read..self.read + n]);
            self.read += n;
            filled += n;
        }
        Ok(filled)
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::LocalFs;

    const ALL: ListFilter = ListFilter { dot_files: true };

    /// The lines in the order they were sent.
    fn listing_with(
        fs: &LocalFs,
        path: &[u8],
        format: ListFormat,
        filter: ListFilter,
    ) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        Listing::open(fs, path, format, filter, true, 0)
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        assert!(out.is_empty() || out.ends_with(b"\r\n"));
        out.split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(<[u8]>::to_vec)
            .collect()
    }

    fn listing(fs: &LocalFs, path: &[u8], format: ListFormat) -> Vec<Vec<u8>> {
        listing_with(fs, path, format, ALL)
    }

    fn fixture() -> (tempfile::TempDir, LocalFs) {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("b.txt"), b"bb").unwrap();
        fs::write(dir.path().join("a.txt"), b"a").unwrap();
        fs::create_dir(dir.path().join("sub")).unwrap();
        let fs = LocalFs::new(dir.path()).unwrap();
        (dir, fs)
    }

    #[test]
    fn names_lists_each_entry_once() {
        let (_dir, fs) = fixture();
        assert_eq!(
            listing(&fs, b"/", ListFormat::Names),
            [&b"a.txt\r"[..], b"b.txt\r", b"sub\r"]
        );
    }

    #[test]
    fn entries_are_sorted_by_name_bytewise() {
        let dir = tempfile::tempdir().unwrap();
        // Created out of order; many, so readdir's own order is not sorted by luck.
        let mut names: Vec<String> = (0..200)
            .map(|i| format!("f{:03}", (i * 7919) % 200))
            .collect();
        names.extend([
            "B".into(),
            "a".into(),
            "Z.txt".into(),
            "\u{e9}t\u{e9}".into(),
            "_x".into(),
        ]);
        for name in &names {
            fs::write(dir.path().join(name), b"").unwrap();
        }
        let fs = LocalFs::new(dir.path()).unwrap();
        let mut expected: Vec<Vec<u8>> = names
            .iter()
            .map(|n| format!("{n}\r").into_bytes())
            .collect();
        expected.sort();
        for format in [ListFormat::Names, ListFormat::Long, ListFormat::Machine] {
            let lines = listing(&fs, b"/", format);
            let listed: Vec<&[u8]> = lines
                .iter()
                .map(|l| {
                    let start = l.iter().rposition(|&b| b == b' ').map_or(0, |s| s + 1);
                    &l[start..]
                })
                .collect();
            assert_eq!(listed, expected, "{format:?}");
        }
    }

    #[test]
    fn dot_files_are_listed_only_when_the_filter_shows_them() {
        let (dir, _) = fixture();
        fs::write(dir.path().join(".env"), b"secret").unwrap();
        fs::create_dir(dir.path().join(".git")).unwrap();
        let fs = LocalFs::new(dir.path()).unwrap();
        let hidden = ListFilter { dot_files: false };
        assert_eq!(
            listing_with(&fs, b"/", ListFormat::Names, hidden),
            [&b"a.txt\r"[..], b"b.txt\r", b"sub\r"]
        );
        assert_eq!(
            listing_with(&fs, b"/", ListFormat::Names, ALL),
            [&b".env\r"[..], b".git\r", b"a.txt\r", b"b.txt\r", b"sub\r"]
        );
        // Listing a dot file by name lists it: the session decides whether that is allowed.
        assert_eq!(
            listing_with(&fs, b"/.env", ListFormat::Names, hidden),
            [b".env\r"]
        );
    }

    #[test]
    fn an_empty_directory_is_an_empty_listing() {
        let (_dir, fs) = fixture();
        assert!(listing(&fs, b"/sub", ListFormat::Long).is_empty());
    }

    #[test]
    fn a_file_lists_itself() {
        let (_dir, fs) = fixture();
        assert_eq!(listing(&fs, b"/b.txt", ListFormat::Names), [b"b.txt\r"]);
    }

    #[test]
    fn a_missing_path_fails_before_any_byte() {
        let (_dir, fs) = fixture();
        let error = Listing::open(&fs, b"/nope", ListFormat::Long, ALL, true, 0).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn small_reads_reassemble_the_same_bytes() {
        let (_dir, fs) = fixture();
        let mut whole = Vec::new();
        Listing::open(&fs, b"/", ListFormat::Names, ALL, true, 0)
            .unwrap()
            .read_to_end(&mut whole)
            .unwrap();
        let mut listing = Listing::open(&fs, b"/", ListFormat::Names, ALL, true, 0).unwrap();
        let mut pieces = Vec::new();
        let mut buf = [0u8; 3];
        loop {
            let n = listing.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            pieces.extend_from_slice(&buf[..n]);
        }
        assert_eq!(pieces, whole);
        assert_eq!(whole.len(), "a.txt\r\nb.txt\r\nsub\r\n".len());
    }
}
