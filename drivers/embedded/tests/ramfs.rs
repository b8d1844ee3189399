//! The RAM filesystem's rules: a bounded capacity, directories, renames
//! that carry a directory's contents, REST/APPE offsets, STOU names.

use ftpwire_core::listing::FileKind;
use ftpwire_core::server::{Change, FileError, WriteMode};
use ftpwire_smoltcp::{RamFs, Storage};

fn names(fs: &RamFs, dir: &[u8]) -> Vec<String> {
    let mut names = Vec::new();
    fs.list(dir, &mut |name, _| {
        names.push(String::from_utf8(name.to_vec()).unwrap())
    })
    .unwrap();
    names
}

#[test]
fn capacity_bounds_file_contents() {
    let mut fs = RamFs::new(10);
    fs.insert_file(b"/a", b"123456").unwrap();
    assert_eq!(fs.insert_file(b"/b", b"12345"), Err(FileError::StorageFull));
    // The refused write left an empty file and used nothing.
    assert_eq!((fs.file(b"/b"), fs.used()), (Some(&b""[..]), 6));
    fs.insert_file(b"/b", b"1234").unwrap();
    assert_eq!(fs.used(), 10);
    fs.change(Change::Delete(b"/a")).unwrap();
    assert_eq!(fs.used(), 4);
    // Truncating on STOR frees the old contents first.
    fs.insert_file(b"/b", b"0123456789").unwrap();
    assert_eq!(fs.used(), 10);
}

#[test]
fn rest_and_append_offsets() {
    let mut fs = RamFs::new(100);
    fs.insert_file(b"/f", b"abcdef").unwrap();
    assert_eq!(fs.open_write(b"/f", WriteMode::At(2)), Ok(2));
    fs.write(b"/f", 2, b"XY").unwrap();
    assert_eq!(fs.file(b"/f"), Some(&b"abXY"[..]));
    assert_eq!(fs.open_write(b"/f", WriteMode::Append), Ok(4));
    fs.write(b"/f", 4, b"!").unwrap();
    assert_eq!((fs.file(b"/f"), fs.used()), (Some(&b"abXY!"[..]), 5));
    let mut buf = [0; 3];
    assert_eq!(fs.read(b"/f", 3, &mut buf), Ok(2));
    assert_eq!(fs.read(b"/f", 9, &mut buf), Ok(0));
}

#[test]
fn directories_and_renames() {
    let mut fs = RamFs::new(100);
    fs.change(Change::MakeDirectory(b"/d")).unwrap();
    fs.change(Change::MakeDirectory(b"/d/e")).unwrap();
    fs.insert_file(b"/d/e/f", b"x").unwrap();
    fs.insert_file(b"/d/g", b"yy").unwrap();
    assert_eq!(fs.insert_file(b"/nowhere/f", b""), Err(FileError::NotFound));
    assert_eq!(names(&fs, b"/d"), ["e", "g"], "direct children only");
    assert_eq!(
        fs.change(Change::RemoveDirectory(b"/d")),
        Err(FileError::DirectoryNotEmpty)
    );
    assert_eq!(
        fs.change(Change::Rename {
            from: b"/d",
            to: b"/d/e/d"
        }),
        Err(FileError::PermissionDenied),
        "not into itself"
    );
    fs.change(Change::Rename {
        from: b"/d",
        to: b"/m",
    })
    .unwrap();
    assert_eq!(fs.file(b"/m/e/f"), Some(&b"x"[..]));
    assert_eq!(fs.stat(b"/d"), Err(FileError::NotFound));
    assert_eq!(fs.stat(b"/m/e").unwrap().kind, FileKind::Directory);
    // A file renamed over another replaces it; the space is counted once.
    fs.change(Change::Rename {
        from: b"/m/g",
        to: b"/m/e/f",
    })
    .unwrap();
    assert_eq!((fs.file(b"/m/e/f"), fs.used()), (Some(&b"yy"[..]), 2));
    fs.change(Change::Rename {
        from: b"/m/e/f",
        to: b"/m/e/f",
    })
    .unwrap();
    assert_eq!(fs.used(), 2);
    assert_eq!(
        fs.change(Change::SetModified {
            path: b"/m",
            modified: 0
        }),
        Err(FileError::Unsupported)
    );
}

#[test]
fn unique_names_do_not_collide() {
    let mut fs = RamFs::new(100);
    fs.insert_file(b"/ftpwire.1", b"taken").unwrap();
    let first = fs.create_unique(b"/").unwrap();
    let second = fs.create_unique(b"/").unwrap();
    assert_eq!(
        (&first[..], &second[..]),
        (&b"ftpwire.2"[..], &b"ftpwire.3"[..])
    );
    assert_eq!(fs.file(b"/ftpwire.1"), Some(&b"taken"[..]));
    assert_eq!(fs.create_unique(b"/ftpwire.1"), Err(FileError::NotFound));
}
