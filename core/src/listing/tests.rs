use super::*;
use alloc::format;
use alloc::string::{String, ToString};
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
        link_target: None,
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
        link_target: None,
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
            link_target: None,
        },
        true,
    );
    assert_eq!(out, b"type=dir;size=0;perm=elcdfmp; d\r\n");
}

fn link(metadata: Metadata, target: &'static [u8]) -> ListEntry<'static> {
    ListEntry {
        name: b"ln",
        metadata,
        link_target: Some(target),
    }
}

#[test]
fn a_symlink_lists_as_a_link_with_its_target() {
    let mut out = Vec::new();
    // Followed inside the root (target's facts) or not: LIST shows the link.
    write_list_line(
        &mut out,
        &link(file(1234, MAR_14_2024, 0o644), b"a.txt"),
        MAR_14_2024,
    );
    assert_eq!(
        out,
        b"lrwxrwxrwx   1 ftp      ftp                 5 Mar 14 09:26 ln -> a.txt\r\n"
    );
    out.clear();
    let unfollowed = Metadata {
        kind: FileKind::Symlink,
        size: 11,
        modified: Some(MAR_14_2024),
        mode: 0o777,
    };
    write_list_line(&mut out, &link(unfollowed, b"../../outside"), MAR_14_2024);
    assert_eq!(
        out,
        b"lrwxrwxrwx   1 ftp      ftp                13 Mar 14 09:26 ln -> ../../outside\r\n"
    );
}

#[test]
fn mlsd_shows_a_link_as_slink() {
    let mut out = Vec::new();
    write_mlsd_line(
        &mut out,
        &link(file(5, MAR_14_2024, 0o644), b"a.txt"),
        false,
    );
    assert_eq!(
        out,
        b"type=OS.unix=slink:a.txt;size=5;modify=20240314092653;perm=; ln\r\n"
    );
    out.clear();
    let unfollowed = Metadata {
        kind: FileKind::Symlink,
        size: 3,
        modified: None,
        mode: 0o777,
    };
    write_mlsd_line(&mut out, &link(unfollowed, b"/etc"), false);
    assert_eq!(out, b"type=OS.unix=slink:/etc;size=3;perm=; ln\r\n");
    // A target that cannot be a fact value is left out, never mangled.
    for target in [&b"a b"[..], b"a;b", b"a\r\nb", b""] {
        out.clear();
        write_mlsd_line(
            &mut out,
            &ListEntry {
                link_target: Some(target),
                ..link(unfollowed, b"")
            },
            false,
        );
        assert_eq!(
            out, b"type=OS.unix=slink;size=3;perm=; ln\r\n",
            "{target:?}"
        );
    }
}

#[test]
fn line_ends_in_names_and_targets_are_escaped() {
    let mut out = Vec::new();
    let entry = ListEntry {
        name: b"a\r\nb",
        metadata: file(1, MAR_14_2024, 0o644),
        link_target: Some(b"x\ny"),
    };
    write_list_line(&mut out, &entry, MAR_14_2024);
    assert!(out.ends_with(b" a\r\0\0b -> x\0y\r\n"), "{out:?}");
    out.clear();
    write_nlst_line(&mut out, b"a\rb\n");
    assert_eq!(out, b"a\r\0b\0\r\n");
    out.clear();
    write_mlsd_line(
        &mut out,
        &ListEntry {
            link_target: None,
            ..entry
        },
        true,
    );
    assert!(out.ends_with(b"; a\r\0\0b\r\n"), "{out:?}");
}

#[test]
fn timestamps_parse_back() {
    assert_eq!(parse_timestamp(b"19700101000000"), Some(0));
    assert_eq!(parse_timestamp(b"20000229235959"), Some(951_868_799));
    assert_eq!(parse_timestamp(b"19000229000000"), None);
    assert_eq!(parse_timestamp(b"20161231235960"), Some(1_483_228_800));
    assert_eq!(parse_timestamp(b"20240314092653.5"), Some(MAR_14_2024));
    for bad in [
        &b""[..],
        b"2024031409265",
        b"202403140926533",
        b"20240314092653.",
        b"2024031409265a",
        b"20240001000000",
        b"20240100000000",
    ] {
        assert_eq!(parse_timestamp(bad), None, "{bad:?}");
    }
}

#[test]
fn dot_files_are_filtered_and_names_sorted_bytewise() {
    let hide = ListFilter { dot_files: false };
    assert!(!hide.shows(b".git") && !hide.shows(b".") && hide.shows(b"a.txt") && hide.shows(b""));
    let mut names = [&b"b"[..], b"\xc3\xa9", b"B", b"a", b".env", b"a0"];
    sort_by_name(&mut names, |n| n);
    assert_eq!(names, [&b".env"[..], b"B", b"a", b"a0", b"b", b"\xc3\xa9"]);
}

proptest! {
    #[test]
    fn timestamps_round_trip(secs in 0i64..253_402_300_799) {
        let mut out = Vec::new();
        write_timestamp(&mut out, secs);
        prop_assert_eq!(parse_timestamp(&out), Some(secs));
    }

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
    fn list_lines_are_what_a_byte_at_a_time_writer_makes(
        kind in prop_oneof![
            Just(FileKind::File),
            Just(FileKind::Directory),
            Just(FileKind::Symlink),
            Just(FileKind::Other),
        ],
        size in prop_oneof![0u64..2_000_000, any::<u64>()],
        modified in prop_oneof![
            Just(None),
            (-62_167_219_200i64..253_402_300_800).prop_map(Some),
            any::<i64>().prop_map(Some),
        ],
        age in prop_oneof![-86_400i64..400 * 86_400, any::<i64>()],
        mode in any::<u32>(),
        name in proptest::collection::vec(any::<u8>(), 0..12),
        target in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..12)),
    ) {
        let now = modified.unwrap_or(0).saturating_add(age);
        let entry = ListEntry {
            name: &name,
            metadata: Metadata { kind, size, modified, mode },
            link_target: target.as_deref(),
        };
        let mut out = Vec::new();
        write_list_line(&mut out, &entry, now);
        let reference = reference_list_line(&entry, now);
        prop_assert_eq!(String::from_utf8_lossy(&out), String::from_utf8_lossy(&reference));
    }

    #[test]
    fn list_lines_never_panic(size: u64, modified: i64, now: i64, mode: u32) {
        let mut out = Vec::new();
        let entry = ListEntry { name: b"x", metadata: file(size, modified, mode), link_target: None };
        write_list_line(&mut out, &entry, now);
        prop_assert!(out.ends_with(b" x\r\n"));
    }
}

/// `write_list_line` as it was written first, a byte at a time: the
/// columns every LIST client parses.
fn reference_list_line(entry: &ListEntry<'_>, now_unix: i64) -> Vec<u8> {
    fn pad(out: &mut Vec<u8>, n: u64, width: usize) {
        let digits = n.to_string();
        out.extend(core::iter::repeat_n(
            b' ',
            width.saturating_sub(digits.len()),
        ));
        out.extend_from_slice(digits.as_bytes());
    }
    let mut out = Vec::new();
    let meta = &entry.metadata;
    if entry.link_target.is_some() {
        out.extend_from_slice(b"lrwxrwxrwx");
    } else {
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
    }
    let directory = meta.kind == FileKind::Directory && entry.link_target.is_none();
    out.extend_from_slice(if directory { b"   2" } else { b"   1" });
    out.extend_from_slice(b" ftp      ftp      ");
    let size = entry.link_target.map_or(meta.size, |t| t.len() as u64);
    pad(&mut out, size, 12);
    out.push(b' ');
    let when = meta.modified.unwrap_or(0);
    let t = DateTime::from_unix(when);
    out.extend_from_slice(MONTHS[usize::from(t.month - 1)]);
    out.push(b' ');
    pad(&mut out, u64::from(t.day), 2);
    out.push(b' ');
    if when <= now_unix && now_unix.saturating_sub(when) < 183 * 86_400 {
        out.extend_from_slice(format!("{:02}:{:02}", t.hour, t.minute).as_bytes());
    } else {
        out.push(b' ');
        pad(&mut out, t.year.clamp(0, 9999) as u64, 4);
    }
    out.push(b' ');
    crate::reply::write_path(&mut out, entry.name);
    if let Some(target) = entry.link_target {
        out.extend_from_slice(b" -> ");
        crate::reply::write_path(&mut out, target);
    }
    out.extend_from_slice(b"\r\n");
    out
}
