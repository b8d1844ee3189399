//! More differential tests (written independently of the parser, by a
//! second session that wrote its own): every text std's `FromStr` accepts,
//! these parsers accept with the same value, and every text it rejects
//! they reject, on text shaped like IPv6 addresses too.

use super::*;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::str::FromStr;
use proptest::prelude::*;
use proptest::sample::{Index, select};

/// Asserts the three parsers agree with std's on `text` (natively they
/// are always the byte loops: only a WebAssembly build with the PROXY
/// protocol hands text to std's).
fn agrees_with_std(text: &str) {
    let bytes = text.as_bytes();
    assert_eq!(
        parse_ip(bytes),
        IpAddr::from_str(text).ok(),
        "IpAddr {text:?}"
    );
    assert_eq!(
        parse_ipv4(bytes),
        Ipv4Addr::from_str(text).ok(),
        "Ipv4Addr {text:?}"
    );
    assert_eq!(
        parse_ipv6(bytes),
        Ipv6Addr::from_str(text).ok(),
        "Ipv6Addr {text:?}"
    );
}

const ALPHABET: &[u8] = b"0123456789abcdefABCDEF:.";

/// Text over the bytes IP literals are made of, mostly invalid.
fn alphabet_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(select(ALPHABET), 0..45)
        .prop_map(|bytes| String::from_utf8(bytes).expect("ASCII"))
}

/// std's own text for an address; IPv6 groups are often zero so that
/// Display compresses them, and IPv4-mapped ones end in a quad.
fn displayed_address() -> impl Strategy<Value = String> {
    let group = prop_oneof![Just(0u16), Just(0xffff), any::<u16>()];
    prop_oneof![
        any::<[u8; 4]>().prop_map(|o| format!("{}", Ipv4Addr::from(o))),
        proptest::array::uniform8(group).prop_map(|g| format!("{}", Ipv6Addr::from(g))),
        any::<[u8; 4]>().prop_map(|o| format!("{}", Ipv4Addr::from(o).to_ipv6_mapped())),
    ]
}

/// IPv6-shaped text: pieces joined by `:` (an empty piece makes `::`),
/// groups of 1 to 5 hex digits, sometimes a quad (with leading zeros and
/// numbers above 255) at the end.
fn ipv6_shaped() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just(String::new()),
        "[0-9a-fA-F]{1,5}",
        "0{0,2}[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}",
    ];
    proptest::collection::vec(piece, 0..11).prop_map(|pieces| pieces.join(":"))
}

#[derive(Debug, Clone)]
enum Mutation {
    Drop(Index),
    Duplicate(Index),
    Change(Index, u8),
}

/// Applies one byte-level change; a changed byte is ASCII (NUL included:
/// the parser reads NUL past the end) so the text stays a `str` for std.
fn mutated(text: &str, mutation: &Mutation) -> String {
    let mut bytes: Vec<u8> = text.as_bytes().to_vec();
    if !bytes.is_empty() {
        match mutation {
            Mutation::Drop(at) => {
                bytes.remove(at.index(bytes.len()));
            }
            Mutation::Duplicate(at) => {
                let at = at.index(bytes.len());
                bytes.insert(at, bytes[at]);
            }
            Mutation::Change(at, byte) => {
                let at = at.index(bytes.len());
                bytes[at] = *byte;
            }
        }
    }
    String::from_utf8(bytes).expect("ASCII")
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let ascii = prop_oneof![select(ALPHABET), 0u8..0x80];
    prop_oneof![
        any::<Index>().prop_map(Mutation::Drop),
        any::<Index>().prop_map(Mutation::Duplicate),
        (any::<Index>(), ascii).prop_map(|(at, b)| Mutation::Change(at, b)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn random_text_parses_as_std_parses_it(text in alphabet_text()) {
        agrees_with_std(&text);
    }

    #[test]
    fn displayed_addresses_and_their_mutations_parse_as_std_parses_them(
        text in displayed_address(),
        change in mutation(),
    ) {
        // std's own text must round-trip, not only agree.
        let ip = IpAddr::from_str(&text).expect("std reads its own text");
        prop_assert_eq!(parse_ip(text.as_bytes()), Some(ip));
        agrees_with_std(&text);
        agrees_with_std(&mutated(&text, &change));
    }

    #[test]
    fn ipv6_shaped_text_and_its_mutations_parse_as_std_parses_them(
        text in ipv6_shaped(),
        change in mutation(),
    ) {
        agrees_with_std(&text);
        agrees_with_std(&mutated(&text, &change));
    }
}

#[test]
fn accepts_the_usual_forms() {
    let v6 = |text: &[u8]| parse_ipv6(text).map(|a| a.segments());
    assert_eq!(v6(b"::"), Some([0; 8]));
    assert_eq!(v6(b"::1"), Some([0, 0, 0, 0, 0, 0, 0, 1]));
    assert_eq!(v6(b"1::"), Some([1, 0, 0, 0, 0, 0, 0, 0]));
    assert_eq!(v6(b"1:2:3:4:5:6:7:8"), Some([1, 2, 3, 4, 5, 6, 7, 8]));
    assert_eq!(v6(b"1:2:3:4:5:6:7::"), Some([1, 2, 3, 4, 5, 6, 7, 0]));
    assert_eq!(v6(b"::2:3:4:5:6:7:8"), Some([0, 2, 3, 4, 5, 6, 7, 8]));
    assert_eq!(
        v6(b"2001:DB8::a:0:ffff"),
        Some([0x2001, 0xdb8, 0, 0, 0, 0xa, 0, 0xffff])
    );
    assert_eq!(
        v6(b"::ffff:1.2.3.4"),
        Some([0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304])
    );
    assert_eq!(
        v6(b"1:2:3:4:5:6:1.2.3.4"),
        Some([1, 2, 3, 4, 5, 6, 0x0102, 0x0304])
    );
    assert_eq!(parse_ipv4(b"0.0.0.0"), Some(Ipv4Addr::UNSPECIFIED));
    assert_eq!(
        parse_ip(b"255.255.255.255"),
        Some(IpAddr::V4(Ipv4Addr::BROADCAST))
    );
    assert_eq!(parse_ip(b"::1"), Some(IpAddr::V6(Ipv6Addr::LOCALHOST)));
}

#[test]
fn rejects_what_std_rejects() {
    for bad in [
        "",
        "01.2.3.4",
        "1.2.3.00",
        "1.2.3",
        "1.2.3.4.",
        ".1.2.3.4",
        "1.2.3.4.5",
        "1.2.3.256",
        "1.2.3.1000",
        "1..2.3",
        "1::2::3",
        ":::",
        ":1::",
        "1:",
        "::1:",
        "1:::2",
        "1:2:3:4:5:6:7:8:9",
        "1:2:3:4:5:6:7:8::",
        "::1:2:3:4:5:6:7:8",
        "1:2:3:4:5:6:7",
        "12345::",
        "1.2.3.4::",
        "::1.2.3.4:5",
        "1:2:3:4:5:6:7:1.2.3.4",
        "1:2:3:4:5:6::1.2.3.4",
        "::ffff:01.2.3.4",
        "fe80::1%eth0",
        "[::1]",
        " ::1",
        "::1\0",
        "1:2:3:4:5:6:7:8\0",
        "1.2.3.4\0",
        "g::",
    ] {
        assert_eq!(parse_ip(bad.as_bytes()), None, "{bad:?}");
        assert_eq!(parse_ip(bad.as_bytes()), None, "parse_ip {bad:?}");
        // The list is std's judgement too, not only ours.
        assert!(bad.parse::<IpAddr>().is_err(), "std accepts {bad:?}");
    }
}
