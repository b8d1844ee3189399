//! Directory listings (LIST, NLST, MLSD) as a byte stream for the data
//! connection, in name order (the core's, so every host sends the same
//! bytes). The entries the session's [`ListFilter`] shows are read once
//! into memory and sorted there, unless the storage lists in name order
//! already ([`Storage::lists_in_name_order`]: an object store), whose
//! entries stream through as they come; each is formatted by
//! [`ftpwire_core::listing`] only when the data connection wants it, so a
//! huge directory never sits in memory twice or as text.

use std::io::{self, Read};

use ftpwire_core::listing::{FileKind, ListEntry, ListFilter};
use ftpwire_core::path::components;

use crate::served::storage::{DirEntries, DirEntry, Storage};

/// The line format, as the session chose it (re-exported from the core).
pub use ftpwire_core::listing::ListFormat;

/// A listing being produced: implements [`Read`], yielding CRLF-terminated
/// lines.
pub struct Listing {
    entries: Entries,
    format: ListFormat,
    writable: bool,
    now_unix: i64,
    line: Vec<u8>,
    read: usize,
}

/// Where a listing's entries come from.
enum Entries {
    /// Read and sorted at the start.
    Sorted(std::vec::IntoIter<DirEntry>),
    /// As the storage gives them (in name order), filtered on the way;
    /// `last` is the name before, to refuse a storage out of order.
    Streamed {
        entries: DirEntries,
        filter: ListFilter,
        last: Option<Vec<u8>>,
    },
}

impl Entries {
    fn next(&mut self) -> io::Result<Option<DirEntry>> {
        match self {
            Entries::Sorted(entries) => Ok(entries.next()),
            Entries::Streamed {
                entries,
                filter,
                last,
            } => loop {
                let Some(entry) = entries.next().transpose()? else {
                    return Ok(None);
                };
                if let Some(last) = last.as_mut() {
                    if entry.name <= *last {
                        return Err(io::Error::other(format!(
                            "the storage listed {:?} after {:?}, out of name order",
                            String::from_utf8_lossy(&entry.name),
                            String::from_utf8_lossy(last)
                        )));
                    }
                    last.clear();
                    last.extend_from_slice(&entry.name);
                } else {
                    *last = Some(entry.name.clone());
                }
                if filter.shows(&entry.name) {
                    return Ok(Some(entry));
                }
            },
        }
    }
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
    /// cannot be read fails here, before any byte is sent (a streamed one
    /// can also fail later, in `read`, if its storage does).
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
        let entries = if metadata.kind == FileKind::Directory && storage.lists_in_name_order() {
            Entries::Streamed {
                entries: storage.list(path)?,
                filter,
                last: None,
            }
        } else if metadata.kind == FileKind::Directory {
            let mut entries = Vec::new();
            for entry in storage.list(path)? {
                let entry = entry?;
                if filter.shows(&entry.name) {
                    entries.push(entry);
                }
            }
            Entries::Sorted(in_name_order(entries).into_iter())
        } else {
            let name = components(path).last().unwrap_or_default().to_vec();
            Entries::Sorted(
                vec![DirEntry {
                    name,
                    metadata,
                    link_target: None,
                }]
                .into_iter(),
            )
        };
        Ok(Listing {
            entries,
            format,
            writable,
            now_unix,
            line: Vec::with_capacity(128),
            read: 0,
        })
    }

    /// Whether reading it may block on the storage: its entries stream
    /// from [`Storage::list`] as they are read (an object store fetches a
    /// page at a time), so an async driver reads it on a blocking pool;
    /// `false`: its entries are in memory.
    pub fn may_block(&self) -> bool {
        matches!(self.entries, Entries::Streamed { .. })
    }

    /// Formats the next entry into `self.line`; false at the end.
    fn next_line(&mut self) -> io::Result<bool> {
        self.line.clear();
        self.read = 0;
        let Some(entry) = self.entries.next()? else {
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

/// `entries` in [`sort_by_name`](ftpwire_core::listing::sort_by_name) order
/// (names compared as bytes). Sorted as (key, index) pairs and then moved
/// once: an entry is some 90 bytes, which a sort would move about N log N
/// times, and a name's first eight bytes as a big-endian key settle most
/// comparisons without a `memcmp` (names hold no NUL, so the zero padding
/// orders a shorter name first, as bytes do).
fn in_name_order(entries: Vec<DirEntry>) -> Vec<DirEntry> {
    let mut order: Vec<(u64, usize)> = entries
        .iter()
        .enumerate()
        .map(|(i, entry)| (name_key(&entry.name), i))
        .collect();
    // Unique names: an unstable sort is exact.
    order.sort_unstable_by(|&(key_a, a), &(key_b, b)| {
        key_a
            .cmp(&key_b)
            .then_with(|| entries[a].name.cmp(&entries[b].name))
    });
    let mut slots: Vec<Option<DirEntry>> = entries.into_iter().map(Some).collect();
    order
        .into_iter()
        .filter_map(|(_, i)| slots[i].take())
        .collect()
}

/// A name's first eight bytes, zero-padded, as a big-endian number.
fn name_key(name: &[u8]) -> u64 {
    let mut key = [0; 8];
    let n = name.len().min(8);
    key[..n].copy_from_slice(&name[..n]);
    u64::from_be_bytes(key)
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::LocalFs;
    use ftpwire_core::listing::Metadata;
    use proptest::prelude::{Just, Strategy};

    const ALL: ListFilter = ListFilter { dot_files: true };

    /// A storage whose `/` lists `names` as files, in that order, and says
    /// it lists in name order; counts the entries taken from it.
    struct InOrder {
        names: Vec<&'static str>,
        taken: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    }

    impl Storage for InOrder {
        fn stat(&self, path: &[u8]) -> io::Result<ftpwire_core::listing::Metadata> {
            let kind = if path == b"/" {
                FileKind::Directory
            } else {
                FileKind::File
            };
            Ok(ftpwire_core::listing::Metadata {
                kind,
                size: 1,
                modified: None,
                mode: 0o644,
            })
        }
        fn list(&self, _: &[u8]) -> io::Result<DirEntries> {
            let taken = self.taken.clone();
            let entries = self.names.clone().into_iter().map(move |name| {
                taken.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Ok(DirEntry {
                    name: name.as_bytes().to_vec(),
                    metadata: ftpwire_core::listing::Metadata {
                        kind: FileKind::File,
                        size: 1,
                        modified: None,
                        mode: 0o644,
                    },
                    link_target: None,
                })
            });
            Ok(Box::new(entries))
        }
        fn lists_in_name_order(&self) -> bool {
            true
        }
        fn open_read(&self, _: &[u8], _: u64) -> io::Result<crate::served::storage::FileReader> {
            Err(io::ErrorKind::Unsupported.into())
        }
        fn open_write(
            &self,
            _: &[u8],
            _: crate::served::storage::WriteMode,
        ) -> io::Result<crate::served::storage::FileWriter> {
            Err(io::ErrorKind::Unsupported.into())
        }
        fn create_unique(
            &self,
            _: &[u8],
        ) -> io::Result<(Vec<u8>, crate::served::storage::FileWriter)> {
            Err(io::ErrorKind::Unsupported.into())
        }
        fn make_directory(&self, _: &[u8]) -> io::Result<()> {
            Err(io::ErrorKind::Unsupported.into())
        }
        fn remove_directory(&self, _: &[u8]) -> io::Result<()> {
            Err(io::ErrorKind::Unsupported.into())
        }
        fn delete(&self, _: &[u8]) -> io::Result<()> {
            Err(io::ErrorKind::Unsupported.into())
        }
        fn rename(&self, _: &[u8], _: &[u8]) -> io::Result<()> {
            Err(io::ErrorKind::Unsupported.into())
        }
    }

    fn in_order(
        names: &[&'static str],
    ) -> (InOrder, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        let taken = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        (
            InOrder {
                names: names.to_vec(),
                taken: taken.clone(),
            },
            taken,
        )
    }

    #[test]
    fn a_storage_in_name_order_streams_its_entries_filtered() {
        let (storage, taken) = in_order(&[".env", "a", "b", "c"]);
        let hidden = ListFilter { dot_files: false };
        let mut listing =
            Listing::open(&storage, b"/", ListFormat::Names, hidden, false, 0).unwrap();
        // Nothing is read from the storage before the data connection asks.
        assert_eq!(taken.load(std::sync::atomic::Ordering::Relaxed), 0);
        let mut first = [0u8; 3];
        listing.read_exact(&mut first).unwrap();
        assert_eq!(&first, b"a\r\n");
        // Only what the first line needed (.env, filtered out, and a).
        assert_eq!(taken.load(std::sync::atomic::Ordering::Relaxed), 2);
        let mut rest = String::new();
        listing.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "b\r\nc\r\n");
    }

    #[test]
    fn a_storage_out_of_its_name_order_fails_the_listing() {
        let (storage, _) = in_order(&["a", "c", "b"]);
        let mut listing = Listing::open(&storage, b"/", ListFormat::Names, ALL, false, 0).unwrap();
        let mut text = String::new();
        let error = listing.read_to_string(&mut text).unwrap_err();
        assert!(error.to_string().contains("\"b\" after \"c\""), "{error}");
        let (storage, _) = in_order(&["a", "a"]);
        let mut listing = Listing::open(&storage, b"/", ListFormat::Names, ALL, false, 0).unwrap();
        assert!(listing.read_to_string(&mut String::new()).is_err());
    }

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

    proptest::proptest! {
        /// The (key, index) sort gives the bytewise order of whole names,
        /// for names that share their first eight bytes or are shorter,
        /// with bytes either side of the padding's zero.
        #[test]
        fn in_name_order_is_the_bytewise_order(
            names in proptest::collection::hash_set(
                (
                    proptest::prop_oneof![
                        Just(&b""[..]),
                        Just(&b"file-00"[..]),
                        Just(&b"file-001"[..]),
                        Just(&b"file-0012"[..]),
                    ],
                    proptest::collection::vec(
                        proptest::prop_oneof![Just(1u8), Just(b'a'), Just(b'b'), Just(0xff)],
                        0..6,
                    ),
                )
                    .prop_map(|(prefix, tail)| [prefix, &tail[..]].concat()),
                0..60,
            )
        ) {
            let entries: Vec<DirEntry> = names
                .iter()
                .map(|name| DirEntry {
                    name: name.clone(),
                    metadata: Metadata {
                        kind: FileKind::File,
                        size: 0,
                        modified: None,
                        mode: 0o644,
                    },
                    link_target: None,
                })
                .collect();
            let mut expected: Vec<Vec<u8>> = names.into_iter().collect();
            expected.sort();
            let sorted: Vec<Vec<u8>> = in_name_order(entries).into_iter().map(|e| e.name).collect();
            proptest::prop_assert_eq!(sorted, expected);
        }
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
        // (A local directory is read and sorted at the start.)
        let (_dir, fs) = fixture();
        assert!(
            !Listing::open(&fs, b"/", ListFormat::Names, ALL, true, 0)
                .unwrap()
                .may_block()
        );
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
