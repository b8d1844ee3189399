use super::*;
use proptest::prelude::*;

fn resolved(cwd: &[u8], arg: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    resolve(cwd, arg, &mut out).unwrap();
    out
}

#[test]
fn resolution_cases() {
    let cases: &[(&[u8], &[u8], &[u8])] = &[
        (b"/", b"", b"/"),
        (b"/", b"a", b"/a"),
        (b"/pub", b"a/b/", b"/pub/a/b"),
        (b"/pub", b"/x//y/./z", b"/x/y/z"),
        (b"/pub", b"..", b"/"),
        (b"/pub", b"../../../etc/passwd", b"/etc/passwd"),
        (b"/a/b", b"../c", b"/a/c"),
        (b"/a/b", b".", b"/a/b"),
        (b"/", b"/..", b"/"),
        (b"/", b"...", b"/..."),
        (b"/", b"\xff\xfe", b"/\xff\xfe"),
    ];
    for (cwd, arg, expected) in cases {
        assert_eq!(resolved(cwd, arg), *expected, "{cwd:?} + {arg:?}");
    }
    let mut out = Vec::new();
    assert_eq!(resolve(b"/", b"a\0b", &mut out), Err(PathError::Nul));
}

#[test]
fn file_name_and_parent() {
    assert_eq!(file_name(b"/"), b"");
    assert_eq!(file_name(b"/a/b.txt"), b"b.txt");
    assert_eq!(parent(b"/"), b"/");
    assert_eq!(parent(b"/a"), b"/");
    assert_eq!(parent(b"/a/b"), b"/a");
}

/// The definition, written plainly: what `path::is_normalized` must agree with.
fn is_normalized(path: &[u8]) -> bool {
    path == b"/"
        || (path.starts_with(b"/")
            && !path.contains(&0)
            && !path.ends_with(b"/")
            && path[1..]
                .split(|&b| b == b'/')
                .all(|c| !c.is_empty() && c != b"." && c != b".."))
}

proptest! {
    /// Whatever the client sends, the result stays a normalized path under `/`:
    /// no `..` component survives, so the host can never be asked to climb.
    #[test]
    fn never_escapes_the_root(
        cwd_parts in proptest::collection::vec("[a-z.]{1,3}", 0..4),
        arg in proptest::collection::vec(prop_oneof![
            Just(b'/'), Just(b'.'), Just(b'a'), Just(0xffu8), Just(b'\\')
        ], 0..40),
    ) {
        let mut cwd = Vec::new();
        resolve(b"/", cwd_parts.join("/").as_bytes(), &mut cwd).unwrap();
        let mut out = Vec::new();
        resolve(&cwd, &arg, &mut out).unwrap();
        prop_assert!(is_normalized(&out), "{:?}", out);
        // Idempotent: a resolved path resolves to itself from anywhere.
        let mut again = Vec::new();
        resolve(b"/elsewhere", &out, &mut again).unwrap();
        prop_assert_eq!(again, out);
    }

    #[test]
    fn the_fast_normalized_check_agrees_with_the_definition(
        path in proptest::collection::vec(prop_oneof![
            Just(b'/'), Just(b'.'), Just(b'a'), Just(0u8)
        ], 0..12),
    ) {
        prop_assert_eq!(super::is_normalized(&path), is_normalized(&path), "{:?}", path);
    }

    /// A cwd that is not normalized (a caller's mistake) is normalized on the way.
    #[test]
    fn plain_arguments_join_as_their_components_do(
        cwd_parts in proptest::collection::vec("[a-z]{1,3}", 0..3),
        arg in proptest::collection::vec(prop_oneof![
            Just(b'/'), Just(b'/'), Just(b'.'), Just(b'a'), Just(b'b'), Just(0u8), Just(0xffu8)
        ], 0..40),
    ) {
        let cwd: Vec<u8> = if cwd_parts.is_empty() {
            b"/".to_vec()
        } else {
            cwd_parts.iter().flat_map(|p| [b"/".as_slice(), p.as_bytes()].concat()).collect()
        };
        let mut fast = Vec::new();
        let fast_result = join(&cwd, &arg, &mut fast);
        // The general case alone, as `join` did before its fast path.
        let mut general = Vec::new();
        if !arg.starts_with(b"/") && cwd != b"/" {
            general.extend_from_slice(&cwd);
        }
        let general_result = join_components(&arg, &mut general);
        prop_assert_eq!(fast_result, general_result);
        if fast_result.is_ok() {
            prop_assert_eq!(fast, general);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(cwd: Vec<u8>, arg: Vec<u8>) {
        let mut out = Vec::new();
        match resolve(&cwd, &arg, &mut out) {
            Ok(()) => prop_assert!(out.starts_with(b"/")),
            Err(PathError::Nul) => prop_assert!(arg.contains(&0)),
        }
    }
}

#[test]
fn plain_arguments_are_told_apart() {
    for plain in [
        &b"a"[..],
        b"a/b.txt",
        b"/a/b",
        b"dir/sub/file_012.txt",
        b"a b/c d",
        b"0123456/89abcdef/x",
    ] {
        assert!(is_plain(plain), "{plain:?}");
    }
    for not in [
        &b""[..],
        b"/",
        b".",
        b"..",
        b"./a",
        b"a/",
        b"a//b",
        b"a/./b",
        b"a/../b",
        b"a/.env",
        b"/.",
        b"a\0b",
        b"0123456/89abcdef/",
        b"0123456\0",
        b"01234567/",
        b"01234567//x",
    ] {
        assert!(!is_plain(not), "{not:?}");
    }
}

#[test]
fn dot_files_are_found_in_any_component() {
    assert!(names_dot_file(b"/.env"));
    assert!(names_dot_file(b"/a/.git/config"));
    assert!(!names_dot_file(b"/a.b/c.d"));
    assert!(!names_dot_file(b"/"));
}

/// `names_dot_file` is exactly "a piece after a `/` starts with `.`", for
/// every path of up to five bytes from `/`, `.` and `a` (ends and repeats
/// included).
#[test]
fn dot_files_are_exactly_where_slash_dot_occurs() {
    let alphabet = [b'/', b'.', b'a'];
    for len in 0..=5u32 {
        for n in 0..3usize.pow(len) {
            let path: Vec<u8> = (0..len).map(|i| alphabet[n / 3usize.pow(i) % 3]).collect();
            let expected = path
                .split(|&b| b == b'/')
                .skip(1)
                .any(|piece| piece.first() == Some(&b'.'));
            assert_eq!(names_dot_file(&path), expected, "{:?}", path);
        }
    }
}
