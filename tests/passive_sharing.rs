//! Passive ports at scale: a port of `--passive-ports` is shared by
//! sessions whose clients have different IPs (each data connection matched
//! to its session by source address), never by two sessions of one IP; and
//! `--passive-port-map` advertises another port than the bound one (a
//! port-mapping NAT, NodePorts): 500 concurrent passive transfers from 500
//! addresses over 5 ports. Clients pose as hosts of the loopback network
//! (127.0.0.x, 127.1.x.y), their data connections from the same address.

#[macro_use]
mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::sync::{Arc, Barrier};
use std::thread;

use common::control::{Control, connect_from, parse_227, parse_229, read_data};
use common::payload::assert_same_bytes;
use common::server::{PASSWORD, Server, USER};

driver_matrix!(
    five_hundred_clients_of_distinct_ips_transfer_over_five_ports,
    sessions_of_one_ip_never_share_a_port,
    pasv_and_epsv_advertise_the_mapped_port,
);

/// `n` consecutive ports free on loopback right now.
fn free_range(n: u16) -> (u16, u16) {
    for _ in 0..100 {
        let first = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let Some(last) = first.checked_add(n - 1) else {
            continue;
        };
        if (first..=last).all(|p| TcpListener::bind(("127.0.0.1", p)).is_ok()) {
            return (first, last);
        }
    }
    panic!("no run of {n} free ports on loopback");
}

/// The loopback host number `n` (127.0.0.n).
fn host(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, n))
}

/// Logs in from `ip`, in binary mode.
fn login_from(ip: IpAddr, server: SocketAddr) -> Control {
    let stream = connect_from(ip, server).unwrap_or_else(|e| panic!("connect from {ip}: {e}"));
    let mut control = Control::from_stream(stream);
    assert_eq!(control.reply().code, 220, "greeting for {ip}");
    control.log_in_as(USER, PASSWORD);
    control.binary();
    control
}

/// RETR `name` over a data connection from `ip` to `port` on the server.
fn retrieve_from(control: &mut Control, ip: IpAddr, port: u16, name: &str) -> Vec<u8> {
    let to = SocketAddr::new(host(1), port);
    let mut data = connect_from(ip, to).unwrap_or_else(|e| panic!("{ip}: data to {to}: {e}"));
    let reply = control.command(&format!("RETR {name}"));
    assert!(matches!(reply.code, 125 | 150), "{ip}: RETR: {reply:?}");
    let bytes = read_data(&mut data);
    let reply = control.reply();
    assert_eq!(reply.code, 226, "{ip}: after RETR: {reply:?}");
    bytes
}

/// Client `n`'s own address, 127.1.x.y (apart from the other tests' 127.0.0.x).
fn client_ip(n: u16) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 1, (n / 200) as u8, (n % 200 + 1) as u8))
}

/// A different 32 KiB for each client.
fn file_for(client: u16) -> Vec<u8> {
    let mut bytes = vec![0u8; 32 * 1024];
    fastrand::Rng::with_seed(u64::from(client)).fill(&mut bytes);
    bytes
}

/// As the issue asks: 500 concurrent passive transfers over 5 ports.
const CLIENTS: u16 = 500;

fn five_hundred_clients_of_distinct_ips_transfer_over_five_ports(driver: &'static str) {
    // A socket each for control and data here, more in the server.
    let limit = rlimit::increase_nofile_limit(8192).expect("raise the descriptor limit");
    assert!(
        limit >= 2 * u64::from(CLIENTS) + 100,
        "descriptor limit {limit}"
    );
    let (first, last) = free_range(5);
    let range = format!("{first}-{last}");
    let server = Server::start(driver, &["--passive-ports", &range]);
    for client in 0..CLIENTS {
        std::fs::write(
            server.root().join(format!("f{client}.bin")),
            file_for(client),
        )
        .unwrap();
    }
    let addr = server.addr;
    // All 500 sessions hold a passive port at the same moment before any
    // data connection is opened: only sharing lets 5 ports do that.
    let all_held = Arc::new(Barrier::new(usize::from(CLIENTS)));
    // The sessions log in one after another (what is tested is 500 passive
    // transfers at once, not 500 connects at once), then run in parallel.
    let controls: Vec<Control> = (0..CLIENTS)
        .map(|client| login_from(client_ip(client), addr))
        .collect();
    let clients: Vec<_> = controls
        .into_iter()
        .zip(0..CLIENTS)
        .map(|(control, client)| {
            let all_held = all_held.clone();
            thread::spawn(move || {
                let ip = client_ip(client);
                // Every thread reaches the barrier, whatever its replies,
                // so one failure fails the test instead of hanging it.
                let asked = std::panic::catch_unwind(move || {
                    let mut control = control;
                    // Half the clients ask with PASV, half with EPSV.
                    let reply = control.command(if client % 2 == 0 { "PASV" } else { "EPSV" });
                    (control, reply)
                });
                all_held.wait();
                let (mut control, reply) = asked.unwrap_or_else(|_| panic!("{ip}: login"));
                let port = match reply.code {
                    227 => {
                        let advertised = parse_227(&reply.text).expect("a 227 address");
                        assert_eq!(advertised.ip(), host(1), "{ip}: 227 address");
                        advertised.port()
                    }
                    229 => parse_229(&reply.text).expect("a 229 port"),
                    _ => panic!("{ip}: passive port refused: {reply:?}"),
                };
                let bytes = retrieve_from(&mut control, ip, port, &format!("f{client}.bin"));
                (client, port, bytes)
            })
        })
        .collect();
    let mut ports = Vec::new();
    for client in clients {
        let (n, port, bytes) = client.join().expect("a client thread panicked");
        assert_same_bytes(&bytes, &file_for(n), &format!("RETR of client {n}"));
        assert!(
            (first..=last).contains(&port),
            "port {port} outside {range}"
        );
        ports.push(port);
    }
    ports.sort();
    ports.dedup();
    assert!(ports.len() <= 5, "ports used: {ports:?}");
}

fn sessions_of_one_ip_never_share_a_port(driver: &'static str) {
    let (first, last) = free_range(2);
    let range = format!("{first}-{last}");
    let server = Server::start(driver, &["--passive-ports", &range]);
    std::fs::write(server.root().join("f.bin"), file_for(1)).unwrap();
    let same = host(7);
    let mut one = login_from(same, server.addr);
    let mut two = login_from(same, server.addr);
    let (a, _) = one.pasv();
    let b = two.epsv();
    assert_ne!(a.port(), b, "two sessions of {same} got one port");
    // A new PASV gives the session's port back before it takes one.
    let (again, _) = one.pasv();
    assert_eq!(
        again, a,
        "the second PASV of a session whose IP holds both ports"
    );
    // A third session of that IP: it holds both ports already.
    let mut three = login_from(same, server.addr);
    let reply = three.command("PASV");
    assert_eq!(
        reply.code, 425,
        "PASV with every port held by {same}: {reply:?}"
    );
    // Another IP shares a port held by the first two.
    let mut other = login_from(host(8), server.addr);
    let shared = other.epsv();
    assert!([a.port(), b].contains(&shared), "port {shared}");
    let bytes = retrieve_from(&mut other, host(8), shared, "f.bin");
    assert_same_bytes(&bytes, &file_for(1), "RETR on a shared port");
    // The first session's data connection ends its hold: the third gets its port.
    let bytes = retrieve_from(&mut one, same, a.port(), "f.bin");
    assert_same_bytes(&bytes, &file_for(1), "RETR of the first session");
    let again = three.epsv();
    assert_eq!(
        again,
        a.port(),
        "the port the first session's transfer freed"
    );
    let bytes = retrieve_from(&mut three, same, again, "f.bin");
    assert_same_bytes(&bytes, &file_for(1), "RETR of the third session");
    // The second session still has its port, and transfers on it.
    let bytes = retrieve_from(&mut two, same, b, "f.bin");
    assert_same_bytes(&bytes, &file_for(1), "RETR of the second session");
}

fn pasv_and_epsv_advertise_the_mapped_port(driver: &'static str) {
    let (bound, _) = free_range(1);
    // Nobody dials the advertised port: the test plays the NAT.
    let advertised = if bound > 40000 {
        bound - 10000
    } else {
        bound + 10000
    };
    let map = format!("{bound}:{advertised}");
    let range = format!("{bound}-{bound}");
    let server = Server::start(
        driver,
        &["--passive-ports", &range, "--passive-port-map", &map],
    );
    std::fs::write(server.root().join("f.bin"), file_for(2)).unwrap();
    let mut control = login_from(host(1), server.addr);
    let (told, _) = control.pasv();
    assert_eq!(told, SocketAddr::new(host(1), advertised), "227 of {map}");
    let bytes = retrieve_from(&mut control, host(1), bound, "f.bin");
    assert_same_bytes(&bytes, &file_for(2), "RETR on the bound port");
    assert_eq!(control.epsv(), advertised, "229 of {map}");
    let bytes = retrieve_from(&mut control, host(1), bound, "f.bin");
    assert_same_bytes(&bytes, &file_for(2), "RETR after EPSV");
}
