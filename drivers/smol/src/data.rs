//! Data connections and the transfer over one, as a task beside its session
//! so that ABOR and STAT still get answers while it runs.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ftpwire_backend::Storage;
use ftpwire_backend::file_error;
use ftpwire_backend::transfer::{CHUNK_SIZE, Inbound, Outbound, Stream, TransferJob};
use ftpwire_core::address::canonical_ip;
use ftpwire_core::server::{DataEndpoint, TransferError};
use smol::channel::{Receiver, Sender};
use smol::future::FutureExt;
use smol::io::{AsyncReadExt, AsyncWriteExt};
use smol::net::{TcpListener, TcpStream};

/// Bounds an active-mode connect; the core's own data-connection timeout
/// covers passive waits.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// What the transfer task tells its session.
#[derive(Debug)]
pub(crate) enum Report {
    /// The data connection is up (STOU: with the name the storage chose).
    Started { unique_name: Option<Vec<u8>> },
    /// The transfer ended; `Ok` holds the bytes moved.
    Finished(Result<u64, TransferError>),
}

/// Runs one transfer to its end and reports on `report`. A message on (or
/// the closing of) `abort` interrupts it wherever it waits; dropping the
/// data connection and the file frees both.
pub(crate) async fn run(
    job: TransferJob,
    listener: Option<TcpListener>,
    storage: Arc<dyn Storage>,
    abort: Receiver<()>,
    report: Sender<Report>,
    stall: Duration,
) {
    let work = transfer(job, listener, storage, &report, stall);
    let aborted = async {
        let _ = abort.recv().await;
        Err(TransferError::Aborted)
    };
    let result = work.or(aborted).await;
    let _ = report.send(Report::Finished(result)).await;
}

async fn transfer(
    job: TransferJob,
    listener: Option<TcpListener>,
    storage: Arc<dyn Storage>,
    report: &Sender<Report>,
    stall: Duration,
) -> Result<u64, TransferError> {
    // Storage first: a missing file is 550 without a useless data connection.
    let opened = {
        let job = job.clone();
        smol::unblock(move || job.open(&*storage)).await
    };
    let stream = opened.map_err(|e| TransferError::File(file_error(&e)))?;
    let data = match job.data {
        DataEndpoint::Passive { peer } => {
            let listener = listener.ok_or(TransferError::NoDataConnection)?;
            accept_from(&listener, peer).await
        }
        DataEndpoint::Active(addr) => connect(addr).await,
    };
    let mut data = data.ok_or(TransferError::NoDataConnection)?;
    let _ = data.set_nodelay(true);
    match stream {
        Stream::Download(file) => {
            let _ = report.send(Report::Started { unique_name: None }).await;
            let sent = send(file, &mut data, job.ascii, stall).await?;
            // An orderly close tells the client the file is complete.
            let _ = data.close().await;
            Ok(sent)
        }
        Stream::Upload { file, unique_name } => {
            let _ = report.send(Report::Started { unique_name }).await;
            receive(&mut data, file, job.ascii, stall).await
        }
    }
}

/// Waits for the data connection from the control connection's peer; any
/// other source is closed (RFC 2577 data theft) and the wait goes on.
async fn accept_from(listener: &TcpListener, peer: IpAddr) -> Option<TcpStream> {
    let want = canonical_ip(peer);
    loop {
        match listener.accept().await {
            Ok((stream, from)) if canonical_ip(from.ip()) == want => return Some(stream),
            Ok((_, from)) => log::warn!(
                "refused a data connection from {from}: the control connection is from {want} (RFC 2577)"
            ),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                log::warn!("passive accept failed: {e}");
                return None;
            }
        }
    }
}

/// Active mode (PORT/EPRT): the core has already checked the address.
async fn connect(addr: SocketAddr) -> Option<TcpStream> {
    let attempt = async { TcpStream::connect(addr).await.ok() };
    let timeout = async {
        smol::Timer::after(CONNECT_TIMEOUT).await;
        None
    };
    let stream = attempt.or(timeout).await;
    if stream.is_none() {
        log::info!("active data connection to {addr} failed");
    }
    stream
}

async fn send(
    file: ftpwire_backend::storage::FileReader,
    data: &mut TcpStream,
    ascii: bool,
    stall: Duration,
) -> Result<u64, TransferError> {
    // Blocking reads on smol's pool, through a bounded pipe.
    let mut file = smol::Unblock::with_capacity(CHUNK_SIZE, file);
    let mut buf = vec![0; CHUNK_SIZE];
    let mut outbound = Outbound::new(ascii);
    let mut sent = 0u64;
    loop {
        let n = file
            .read(&mut buf)
            .await
            .map_err(|e| TransferError::File(file_error(&e)))?;
        if n == 0 {
            return Ok(sent);
        }
        let wire = outbound.convert(&buf[..n]);
        within(stall, data.write_all(wire))
            .await
            .map_err(|_| TransferError::ConnectionLost)?;
        sent += wire.len() as u64;
    }
}

async fn receive(
    data: &mut TcpStream,
    file: ftpwire_backend::storage::FileWriter,
    ascii: bool,
    stall: Duration,
) -> Result<u64, TransferError> {
    let mut file = smol::Unblock::with_capacity(CHUNK_SIZE, file);
    let mut buf = vec![0; CHUNK_SIZE];
    let mut inbound = Inbound::new(ascii);
    let mut received = 0u64;
    let stored = |e: io::Error| TransferError::File(file_error(&e));
    loop {
        let n = within(stall, data.read(&mut buf))
            .await
            .map_err(|_| TransferError::ConnectionLost)?;
        if n == 0 {
            break;
        }
        received += n as u64;
        file.write_all(inbound.convert(&buf[..n]))
            .await
            .map_err(stored)?;
    }
    file.write_all(inbound.finish()).await.map_err(stored)?;
    file.flush().await.map_err(stored)?;
    Ok(received)
}

/// `io` unless it makes no progress for `stall`: a client that vanished
/// without closing must not hold its transfer (and session) forever.
async fn within<T>(stall: Duration, io: impl Future<Output = io::Result<T>>) -> io::Result<T> {
    let give_up = async {
        smol::Timer::after(stall).await;
        Err(io::ErrorKind::TimedOut.into())
    };
    io.or(give_up).await
}
