//! A client that vanishes mid-transfer frees everything it held: its
//! session's place, its passive port and the server's handle on the file.

#[macro_use]
mod common;

use std::io::Read;
use std::net::{Shutdown, TcpListener, TcpStream};

use common::control::Control;
use common::payload::payload;
use common::server::Server;

driver_matrix!(a_client_gone_mid_transfer_frees_its_session_port_and_file);

/// How many of the server's descriptors point at `name` (Linux /proc).
fn open_handles_on(pid: u32, name: &str) -> usize {
    let Ok(entries) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return 0;
    };
    entries
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| target.file_name().is_some_and(|f| f == name))
        .count()
}

fn a_client_gone_mid_transfer_frees_its_session_port_and_file(driver: &'static str) {
    // One passive port and one session: reuse proves both were freed.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let range = format!("{port}-{port}");
    let mut server = Server::start(
        driver,
        &["--passive-ports", &range, "--max-sessions-per-ip", "1"],
    );
    std::fs::write(server.root().join("big.bin"), payload()).unwrap();
    let mut control = Control::login(server.addr);
    control.binary();
    let (data_addr, _) = control.pasv();
    assert_eq!(data_addr.port(), port);
    let mut data = TcpStream::connect(data_addr).unwrap();
    control.send(b"RETR big.bin\r\n");
    assert_eq!(control.reply().code, 150);
    let mut some = [0u8; 4096];
    data.read_exact(&mut some).unwrap();
    assert_eq!(
        open_handles_on(server.pid(), "big.bin"),
        1,
        "the file is open while sending"
    );
    // Gone, without QUIT or ABOR.
    control.socket().shutdown(Shutdown::Both).unwrap();
    drop(control);
    drop(data);

    // The session's place comes back and the file is closed (the server
    // notices on its own schedule: retry, bounded, no sleeping).
    let mut control = (0..500)
        .find_map(|_| std::panic::catch_unwind(|| Control::login(server.addr)).ok())
        .expect("the vanished client's session was never freed");
    let give_up = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let closed = std::iter::repeat_with(|| open_handles_on(server.pid(), "big.bin") == 0)
        .take_while(|_| std::time::Instant::now() < give_up)
        .any(|closed| closed);
    assert!(closed, "the file is still open");
    // The single passive port binds again for the new client.
    let (again, reply) = control.pasv();
    assert_eq!(
        again.port(),
        port,
        "the passive port was not freed: {reply:?}"
    );
    server.assert_running();
}
