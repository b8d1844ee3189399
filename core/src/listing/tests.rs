use super::*;
use proptest::prelude::*;

const MAR_14_2024: i64 = 1_710_408_413; // 2024-03-14 09:26:53 UTC

fn file(size: u64, modified: i64, mode: u32) -> Metadata {
    Metadata {
        kind: FileKind::File,
        size,
        modified: Some(modified),
        mode,
    }
}

#[test]
fn civil_dates() {
    let epoch = DateTime::from_unix(0);
    assert_eq!((epoch.year, epoch.month, epoch.day), (1970, 1, 1));
    let leap = DateTime::from_unix(951_782_400); // 2000-02-29
    assert_eq!((leap.year, leap.month, leap.day), (2000, 2, 29));
    let before = DateTime::from_unix(-1);
    assert_eq!(
        (
            before.year,
            before.month,
            before.day,
            before.hour,
            before.minute,
            before.second
        ),
        (1969, 12, 31, 23, 59, 59)
    );
}

#[test]
fn list_lines_look_like_ls() {
    let mut out = Vec::new();
    let entry = ListEntry {
        name: b"a.txt",
        metadata: file(1234, MAR_14_2024, 0o644),
    };
    write_list_line(&mut out, &entry, MAR_14_2024 + 86_400);
    assert_eq!(
        out,
        b"-rw-r--r--   1 ftp      ftp              1234 Mar 14 09:26 a.txt\r\n"
    );
    out.clear();
    let dir = ListEntry {
        name: b"pub",
        metadata: Metadata {
            kind: FileKind::Directory,
            size: 4096,
            modified: Some(MAR_14_2024),
            mode: 0o755,
        },
    };
    write_list_line(&mut out, &dir, MAR_14_2024 + 365 * 86_400);
    assert_eq!(
        out,
        b"drwxr-xr-x   2 ftp      ftp              4096 Mar 14  2024 pub\r\n"
    );
}

#[test]
fn facts_and_timestamps() {
    let mut out = Vec::new();
    write_timestamp(&mut out, MAR_14_2024);
    assert_eq!(out, b"20240314092653");
    out.clear();
    write_facts(&mut out, &file(5, MAR_14_2024, 0o644), false);
    assert_eq!(out, b"type=file;size=5;modify=20240314092653;perm=r; ");
    out.clear();
    let dir = Metadata {
        kind: FileKind::Directory,
        size: 0,
        modified: None,
        mode: 0o755,
    };
    write_mlsd_line(
        &mut out,
        &ListEntry {
            name: b"d",
            metadata: dir,
        },
        true,
    );
    assert_eq!(out, b"type=dir;size=0;perm=elcdfmp; d\r\n");
}

proptest! {
    #[test]
    fn timestamps_are_fourteen_digits(secs in 0i64..253_402_300_799) {
        let mut out = Vec::new();
        write_timestamp(&mut out, secs);
        prop_assert_eq!(out.len(), 14);
        prop_assert!(out.iter().all(u8::is_ascii_digit));
        let t = DateTime::from_unix(secs);
        prop_assert!((1..=12).contains(&t.month) && (1..=31).contains(&t.day));
    }

    #[test]
    fn list_lines_never_panic(size: u64, modified: i64, now: i64, mode: u32) {
        let mut out = Vec::new();
        let entry = ListEntry { name: b"x", metadata: file(size, modified, mode) };
        write_list_line(&mut out, &entry, now);
        prop_assert!(out.ends_with(b" x\r\n"));
    }
}
