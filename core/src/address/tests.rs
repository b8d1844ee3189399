use super::*;
use alloc::string::ToString;
use alloc::vec;
use proptest::prelude::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn cidr_parsing_and_membership() {
    let net: IpNet = "10.0.0.0/8".parse().unwrap();
    assert!(net.contains(ip("10.255.0.1")));
    assert!(!net.contains(ip("11.0.0.1")));
    assert!(
        net.contains(ip("::ffff:10.1.2.3")),
        "mapped IPv4 counts as IPv4"
    );
    assert!(!net.contains(ip("fd00::1")));

    let v6: IpNet = "fd00::/8".parse().unwrap();
    assert!(v6.contains(ip("fd12::1")));
    assert!(!v6.contains(ip("fe80::1")));

    let host: IpNet = "192.0.2.1".parse().unwrap();
    assert!(host.contains(ip("192.0.2.1")));
    assert!(!host.contains(ip("192.0.2.2")));

    let all: IpNet = "0.0.0.0/0".parse().unwrap();
    assert!(all.contains(ip("198.51.100.1")));
    let mapped: IpNet = "::ffff:127.0.0.0/104".parse().unwrap();
    assert!(mapped.contains(ip("127.9.9.9")));

    for bad in [
        "10.0.0.0/33",
        "fd00::/129",
        "10.0.0/8",
        "10.0.0.0/",
        "10.0.0.0/x",
        "",
        "/8",
    ] {
        assert!(bad.parse::<IpNet>().is_err(), "{bad}");
    }
    assert_eq!(net.to_string(), "10.0.0.0/8");
}

#[test]
fn passive_address_is_ip_or_hostname() {
    assert_eq!(
        "203.0.113.7".parse::<PassiveAddress>().unwrap(),
        PassiveAddress::Ip(ip("203.0.113.7"))
    );
    assert_eq!(
        "2001:db8::1".parse::<PassiveAddress>().unwrap(),
        PassiveAddress::Ip(ip("2001:db8::1"))
    );
    assert_eq!(
        "ftp.example.com.".parse::<PassiveAddress>().unwrap(),
        PassiveAddress::Hostname("ftp.example.com.".into())
    );
    assert_eq!(
        "my-vm".parse::<PassiveAddress>().unwrap(),
        PassiveAddress::Hostname("my-vm".into())
    );
    for bad in [
        "",
        "has space",
        "-lead.example",
        "a..b",
        "203.0.113",
        "x_y.com",
        ".",
    ] {
        assert!(bad.parse::<PassiveAddress>().is_err(), "{bad}");
    }
}

#[test]
fn policy_masquerades_only_outside_peers() {
    let mut policy = PassivePolicy::default();
    assert_eq!(policy.choose(ip("198.51.100.1")), PassiveChoice::Local);
    policy.external = Some("203.0.113.7".parse().unwrap());
    assert_eq!(
        policy.choose(ip("198.51.100.1")),
        PassiveChoice::External(ip("203.0.113.7"))
    );
    policy.local_networks = vec!["127.0.0.0/8".parse().unwrap()];
    assert_eq!(policy.choose(ip("127.0.0.1")), PassiveChoice::Local);
    assert_eq!(policy.choose(ip("::ffff:127.0.0.1")), PassiveChoice::Local);
    policy.external = Some("ftp.example.com".parse().unwrap());
    assert_eq!(
        policy.choose(ip("198.51.100.1")),
        PassiveChoice::Resolve("ftp.example.com")
    );
}

#[test]
fn host_port_text() {
    let mut out = Vec::new();
    write_host_port(&mut out, "203.0.113.7:50000".parse().unwrap());
    assert_eq!(out, b"203,0,113,7,195,80");
    assert_eq!(
        parse_host_port(b" 127,0,0,1,0,21 ").unwrap(),
        "127.0.0.1:21".parse().unwrap()
    );
    for bad in [
        &b"127,0,0,1,0"[..],
        b"127,0,0,1,0,21,1",
        b"256,0,0,1,0,21",
        b"127,0,0,1,0,-1",
        b"127,0,0,1,,21",
        b"1270,0,0,1,0,21",
        b"",
    ] {
        assert!(parse_host_port(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn eprt_text() {
    let mut out = Vec::new();
    write_eprt_argument(&mut out, "132.235.1.2:6275".parse().unwrap());
    assert_eq!(out, b"|1|132.235.1.2|6275|");
    out.clear();
    write_eprt_argument(&mut out, "[::1]:6275".parse().unwrap());
    assert_eq!(out, b"|2|::1|6275|");
    assert_eq!(
        parse_eprt_argument(b"!1!10.0.0.1!21!").unwrap(),
        "10.0.0.1:21".parse().unwrap()
    );
    assert_eq!(
        parse_eprt_argument(b"|3|::1|21|"),
        Err(AddressError::UnsupportedProtocol)
    );
    for bad in [
        &b"|1|::1|21|"[..],
        b"|2|10.0.0.1|21|",
        b"|1|10.0.0.1|70000|",
        b"|1|10.0.0.1|21",
        b"|1|10.0.0.1|21|x",
        b" 1 10.0.0.1 21 ",
        b"",
    ] {
        assert!(parse_eprt_argument(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn client_side_reply_parsing() {
    assert_eq!(
        parse_pasv_reply(b"227 Entering Passive Mode (127,0,0,1,195,80).").unwrap(),
        "127.0.0.1:50000".parse().unwrap()
    );
    assert_eq!(
        parse_pasv_reply(b"227 =127,0,0,1,0,21").unwrap(),
        "127.0.0.1:21".parse().unwrap()
    );
    assert!(parse_pasv_reply(b"227 nothing here").is_err());
    assert_eq!(
        parse_epsv_reply(b"229 Entering Extended Passive Mode (|||6446|)").unwrap(),
        6446
    );
    assert!(parse_epsv_reply(b"229 (|1|6446|)").is_err());
    assert!(parse_epsv_reply(b"229 (|||99999|)").is_err());
}

proptest! {
    #[test]
    fn host_port_round_trip(a: [u8; 4], port: u16) {
        let addr = SocketAddrV4::new(Ipv4Addr::from(a), port);
        let mut out = Vec::new();
        write_host_port(&mut out, addr);
        prop_assert_eq!(parse_host_port(&out).unwrap(), addr);
        let mut reply = b"227 Entering Passive Mode (".to_vec();
        reply.extend_from_slice(&out);
        reply.extend_from_slice(b").");
        prop_assert_eq!(parse_pasv_reply(&reply).unwrap(), addr);
    }

    #[test]
    fn eprt_round_trip(v4: [u8; 4], v6: [u8; 16], port: u16, use_v6: bool) {
        let ip: IpAddr = if use_v6 {
            core::net::Ipv6Addr::from(v6).into()
        } else {
            Ipv4Addr::from(v4).into()
        };
        let addr = SocketAddr::new(ip, port);
        let mut out = Vec::new();
        write_eprt_argument(&mut out, addr);
        prop_assert_eq!(parse_eprt_argument(&out).unwrap(), addr);
    }

    #[test]
    fn epsv_round_trip(port: u16) {
        let reply = alloc::format!("229 Entering Extended Passive Mode (|||{port}|)");
        prop_assert_eq!(parse_epsv_reply(reply.as_bytes()).unwrap(), port);
    }

    #[test]
    fn parsers_never_panic(bytes: Vec<u8>) {
        let _ = parse_host_port(&bytes);
        let _ = parse_eprt_argument(&bytes);
        let _ = parse_pasv_reply(&bytes);
        let _ = parse_epsv_reply(&bytes);
        if let Ok(text) = core::str::from_utf8(&bytes) {
            let _ = text.parse::<IpNet>();
            let _ = text.parse::<PassiveAddress>();
        }
    }

    #[test]
    fn cidr_contains_its_own_network(a: [u8; 4], prefix in 0u8..=32) {
        let net = IpNet::new(Ipv4Addr::from(a).into(), prefix).unwrap();
        prop_assert!(net.contains(Ipv4Addr::from(a).into()));
    }
}

proptest! {
    /// `write_ip` and `write_socket_addr` write exactly what `Display` does,
    /// also for addresses heavy in zero groups (where `::` goes) and
    /// IPv4-mapped ones.
    #[test]
    fn ip_text_is_display(
        groups in proptest::array::uniform8(prop_oneof![Just(0u16), Just(0xffff), any::<u16>()]),
        mapped in any::<bool>(),
        port: u16,
        scope in prop_oneof![Just(0u32), any::<u32>()],
    ) {
        let mut v6 = core::net::Ipv6Addr::from(groups);
        if mapped {
            v6 = Ipv4Addr::from(u32::from(groups[6]) << 16 | u32::from(groups[7])).to_ipv6_mapped();
        }
        let v4 = IpAddr::V4(Ipv4Addr::from(u32::from(groups[0]) << 16 | u32::from(groups[1])));
        for ip in [IpAddr::V6(v6), v4] {
            let mut out = Vec::new();
            write_ip(&mut out, ip);
            prop_assert_eq!(out, ip.to_string().into_bytes());
        }
        let addrs = [
            SocketAddr::V6(core::net::SocketAddrV6::new(v6, port, 0, scope)),
            SocketAddr::new(v4, port),
        ];
        for addr in addrs {
            let mut out = Vec::new();
            write_socket_addr(&mut out, addr);
            prop_assert_eq!(out, addr.to_string().into_bytes());
        }
    }
}

/// `is_dns_name` as it was written with `str`'s splitting, kept as the
/// oracle for the byte loop that replaced it.
fn dns_name_by_str_splits(s: &str) -> bool {
    let name = s.strip_suffix('.').unwrap_or(s);
    if name.is_empty() || name.len() > 253 {
        return false;
    }
    let labels_ok = name.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    });
    let last_numeric = name
        .rsplit('.')
        .next()
        .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()));
    labels_ok && !last_numeric
}

proptest! {
    /// Host name checks agree with the `str` version, on short names of
    /// the characters that matter and on long labels and names.
    #[test]
    fn dns_names_are_checked_as_before(
        short in "[a-z0-9.-]{0,12}",
        label in 60usize..66,
        labels in 1usize..6,
        odd in "[a-zA-Z0-9._ -]{0,8}",
    ) {
        prop_assert_eq!(is_dns_name(&short), dns_name_by_str_splits(&short), "{:?}", short);
        prop_assert_eq!(is_dns_name(&odd), dns_name_by_str_splits(&odd), "{:?}", odd);
        let long = vec!["a".repeat(label); labels].join(".");
        prop_assert_eq!(is_dns_name(&long), dns_name_by_str_splits(&long), "{} x {}", label, labels);
        let dotted = long + ".";
        prop_assert_eq!(is_dns_name(&dotted), dns_name_by_str_splits(&dotted));
    }
}

#[test]
fn dns_name_examples() {
    for good in ["ftp.example.com", "ftp.example.com.", "a", "x-1.y2", "1a.b"] {
        assert!(is_dns_name(good), "{good}");
    }
    for bad in [
        "", ".", "a..b", "-a.b", "a-.b", "a.b-", "1.2.3", "a.123", "a_b.c", "a b", ".a",
    ] {
        assert!(!is_dns_name(bad), "{bad}");
    }
}

/// `PassivePortMap::from_str` as it was written with `str`'s splitting and
/// Unicode trimming, kept as the oracle for the byte version: the map's
/// text form, or the error.
fn port_map_by_str_splits(s: &str) -> Result<String, AddressError> {
    let port = |text: &str| {
        text.trim()
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or(AddressError::Malformed(
                "passive port map: a port is not a number in 1-65535",
            ))
    };
    let mut runs = vec![];
    for entry in s.split(',') {
        let (bound, to) = entry.split_once(':').ok_or(AddressError::Malformed(
            "passive port map entry is not BOUND:ADVERTISED",
        ))?;
        let (first, last) = match bound.split_once('-') {
            Some((first, last)) => (port(first)?, port(last)?),
            None => (port(bound)?, port(bound)?),
        };
        let to = port(to)?;
        if first > last {
            return Err(AddressError::Malformed(
                "passive port map: LO-HI with LO above HI",
            ));
        }
        if u32::from(to) + u32::from(last - first) > u32::from(u16::MAX) {
            return Err(AddressError::Malformed(
                "passive port map: advertised ports run past 65535",
            ));
        }
        runs.push(if first == last {
            alloc::format!("{first}:{to}")
        } else {
            alloc::format!("{first}-{last}:{to}")
        });
    }
    Ok(runs.join(","))
}

proptest! {
    /// Port maps and CIDR prefixes read as before, on ASCII text (the byte
    /// versions trim ASCII white space only, where `str::trim` also took
    /// Unicode's).
    #[test]
    fn port_maps_and_prefixes_read_as_before(
        map in "[0-9:, \t+-]{0,24}",
        ports in proptest::collection::vec((1u16..=65535, 0u16..40, 1u16..=65535), 1..4),
        spaced in any::<bool>(),
        prefix in "[0-9]{0,6}",
    ) {
        let read = |text: &str| text.parse::<PassivePortMap>().map(|m| m.to_string());
        prop_assert_eq!(read(&map), port_map_by_str_splits(&map), "{:?}", map);
        let pad = if spaced { " " } else { "" };
        let real = ports
            .iter()
            .map(|(first, run, to)| alloc::format!("{pad}{first}-{}{pad}:{pad}{to}", first.saturating_add(*run)))
            .collect::<Vec<_>>()
            .join(",");
        prop_assert_eq!(read(&real), port_map_by_str_splits(&real), "{:?}", real);
        let cidr = alloc::format!("10.0.0.0/{prefix}");
        let old = match prefix.parse::<u8>() {
            Ok(p) if p <= 32 => Some(p),
            _ => None,
        };
        let new = cidr.parse::<IpNet>().ok().map(|net| net.to_string());
        prop_assert_eq!(new, old.map(|p| alloc::format!("10.0.0.0/{p}")), "{:?}", cidr);
    }
}
