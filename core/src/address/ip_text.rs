//! IP address text (EPRT arguments, CIDR networks, passive addresses, the
//! addresses a host hands in), read by hand: `core::net`'s parser is
//! generic over its number types and closures, and cost a small host (the
//! WebAssembly module) about 3 KiB. These functions accept exactly what
//! `str::parse` accepts for the same types; a test checks them against it.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A WebAssembly module with the PROXY protocol links `core::net`'s parser
/// anyway (its PROXY crate reads addresses with it): there the functions
/// below use it rather than add their own. (Native tests check the two
/// agree.)
const LINKED: bool = cfg!(all(target_family = "wasm", feature = "proxy"));

/// `text` as an IPv4 or IPv6 address, as `str::parse::<IpAddr>` reads it
/// (no zone, no brackets, no leading zeros in a dotted quad).
///
/// ```
/// use ftpwire_core::address::parse_ip;
/// assert_eq!(parse_ip(b"10.0.0.1"), "10.0.0.1".parse().ok());
/// assert_eq!(parse_ip(b"::ffff:10.0.0.1"), "::ffff:10.0.0.1".parse().ok());
/// assert_eq!(parse_ip(b"010.0.0.1"), None);
/// ```
pub fn parse_ip(text: &[u8]) -> Option<IpAddr> {
    if LINKED {
        return core::str::from_utf8(text).ok()?.parse().ok();
    }
    // An IPv4 address has no colon, and an IPv6 address always has one.
    if text.contains(&b':') {
        parse_ipv6(text).map(IpAddr::V6)
    } else {
        parse_ipv4(text).map(IpAddr::V4)
    }
}

/// `text` as a dotted quad, as `str::parse::<Ipv4Addr>` reads it.
pub fn parse_ipv4(text: &[u8]) -> Option<Ipv4Addr> {
    if LINKED {
        return core::str::from_utf8(text).ok()?.parse().ok();
    }
    let mut at = 0;
    let ip = read_ipv4(text, &mut at)?;
    (at == text.len()).then_some(ip)
}

/// `text` as an IPv6 address, as `str::parse::<Ipv6Addr>` reads it: eight
/// groups, or fewer around one `::`, the last two of which may be written
/// as a dotted quad.
pub fn parse_ipv6(text: &[u8]) -> Option<Ipv6Addr> {
    if LINKED {
        return core::str::from_utf8(text).ok()?.parse().ok();
    }
    let mut at = 0;
    let mut groups = [0u16; 8];
    let (head, head_quad) = read_groups(text, &mut at, &mut groups);
    if head < 8 {
        // A dotted quad ends the address: nothing may follow it.
        if head_quad || text.get(at..at + 2) != Some(b"::") {
            return None;
        }
        at += 2;
        // `::` stands for at least one group of zeros.
        let mut tail = [0u16; 7];
        let (tail_len, _) = read_groups(text, &mut at, &mut tail[..7 - head]);
        for (slot, group) in groups[8 - tail_len..].iter_mut().zip(&tail) {
            *slot = *group;
        }
    }
    (at == text.len()).then(|| Ipv6Addr::from(groups))
}

/// Reads a dotted quad at `*at` and moves past it; leaves `*at` alone if
/// there is none.
fn read_ipv4(text: &[u8], at: &mut usize) -> Option<Ipv4Addr> {
    let mut next = *at;
    let mut octets = [0u8; 4];
    for (i, octet) in octets.iter_mut().enumerate() {
        if i > 0 {
            if text.get(next) != Some(&b'.') {
                return None;
            }
            next += 1;
        }
        let (value, len) = read_number(text, next, 10, 3)?;
        // No leading zeros: elsewhere they make the number octal (RFC 6943 §3.1.1).
        if len > 1 && text.get(next) == Some(&b'0') {
            return None;
        }
        *octet = u8::try_from(value).ok()?;
        next += len;
    }
    *at = next;
    Some(Ipv4Addr::from(octets))
}

/// Reads up to `groups.len()` colon-separated groups at `*at` into
/// `groups`; returns how many, and whether the last two were a dotted quad.
/// `*at` ends after the last group read (a separator without a group after
/// it is left unread).
fn read_groups(text: &[u8], at: &mut usize, groups: &mut [u16]) -> (usize, bool) {
    let limit = groups.len();
    for i in 0..limit {
        let mut next = *at;
        if i > 0 {
            if text.get(next) != Some(&b':') {
                return (i, false);
            }
            next += 1;
        }
        // A dotted quad fills two groups, so one must be left for it.
        if i + 1 < limit
            && let Some(quad) = read_ipv4(text, &mut next)
        {
            let [a, b, c, d] = quad.octets();
            groups[i] = u16::from_be_bytes([a, b]);
            groups[i + 1] = u16::from_be_bytes([c, d]);
            *at = next;
            return (i + 2, true);
        }
        match read_number(text, next, 16, 4) {
            Some((value, len)) => {
                groups[i] = value as u16;
                *at = next + len;
            }
            None => return (i, false),
        }
    }
    (limit, false)
}

/// The number written at `at` in `radix` (10 or 16) and how many digits it
/// took: `None` for no digit or more than `max` of them.
fn read_number(text: &[u8], at: usize, radix: u32, max: usize) -> Option<(u32, usize)> {
    let mut value = 0;
    let mut len = 0;
    // (By hand rather than `char::to_digit`, whose check of a radix that
    // is not a constant keeps a panic message.)
    while let Some(digit) = text.get(at + len).and_then(|&b| {
        let digit = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => return None,
        };
        (u32::from(digit) < radix).then_some(u32::from(digit))
    }) {
        len += 1;
        if len > max {
            return None;
        }
        value = value * radix + digit;
    }
    (len > 0).then_some((value, len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::string::String;
    use std::vec::Vec;

    /// What `core::net` makes of `text`, for comparison.
    fn std_ip(text: &[u8]) -> Option<IpAddr> {
        core::str::from_utf8(text).ok()?.parse().ok()
    }

    fn agrees(text: &[u8]) {
        let as_str = core::str::from_utf8(text).ok();
        assert_eq!(
            parse_ip(text),
            std_ip(text),
            "{:?}",
            String::from_utf8_lossy(text)
        );
        assert_eq!(
            parse_ipv4(text),
            as_str.and_then(|s| s.parse().ok()),
            "v4 {as_str:?}"
        );
        assert_eq!(
            parse_ipv6(text),
            as_str.and_then(|s| s.parse().ok()),
            "v6 {as_str:?}"
        );
    }

    #[test]
    fn hand_examples() {
        for good in [
            "::",
            "::1",
            "1::",
            "::ffff:1.2.3.4",
            "1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6:1.2.3.4",
            "1:2:3:4:5:6:7::",
            "::2:3:4:5:6:7:8",
            "0:0::0",
            "fe80::1",
            "ABCD:ef01::0000",
            "0.0.0.0",
            "255.255.255.255",
            "10.0.0.1",
        ] {
            assert!(parse_ip(good.as_bytes()).is_some(), "{good}");
            agrees(good.as_bytes());
        }
        for bad in [
            "",
            "01.2.3.4",
            "1.2.3",
            "1.2.3.4.",
            "1.2.3.256",
            "1::2::3",
            ":::",
            ":1::",
            "1:2:3:4:5:6:7:8:9",
            "1:2:3:4:5:6:7:1.2.3.4",
            "::1.2.3.4:5",
            "12345::",
            "1.2.3.4::",
            "fe80::1%eth0",
            "[::1]",
            " 1.2.3.4",
            "1.2.3.4 ",
        ] {
            assert_eq!(parse_ip(bad.as_bytes()), None, "{bad}");
            agrees(bad.as_bytes());
        }
    }

    fn mutate(mut text: Vec<u8>, at: usize, how: u8, byte: u8) -> Vec<u8> {
        if text.is_empty() {
            return text;
        }
        let at = at % text.len();
        match how % 3 {
            0 => {
                text.remove(at);
            }
            1 => text.insert(at, text[at]),
            _ => text[at] = byte,
        }
        text
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        /// Random text over the characters addresses are made of.
        #[test]
        fn agrees_with_core_net_on_random_text(text in "[0-9a-fA-F:.]{0,45}") {
            agrees(text.as_bytes());
        }

        /// Real addresses as `Display` writes them, and each with one byte
        /// dropped, doubled or changed.
        #[test]
        fn agrees_with_core_net_on_addresses(
            v4 in any::<[u8; 4]>(),
            v6 in any::<[u16; 8]>(),
            zeros in 0usize..8,
            at in any::<usize>(),
            how in any::<u8>(),
            byte in proptest::sample::select(b"0123456789abcdefABCDEF:.x%/ ".to_vec()),
        ) {
            let mut v6 = v6;
            // Runs of zero groups, so `::` appears in the text.
            for group in v6.iter_mut().skip(zeros / 2).take(zeros) {
                *group = 0;
            }
            let texts = [
                std::format!("{}", Ipv4Addr::from(v4)),
                std::format!("{}", Ipv6Addr::from(v6)),
                std::format!("::ffff:{}", Ipv4Addr::from(v4)),
            ];
            for text in texts {
                prop_assert_eq!(parse_ip(text.as_bytes()), std_ip(text.as_bytes()));
                prop_assert!(parse_ip(text.as_bytes()).is_some());
                let changed = mutate(text.into_bytes(), at, how, byte);
                agrees(&changed);
            }
        }
    }
}

#[cfg(test)]
#[path = "ip_text_differential.rs"]
mod differential;
