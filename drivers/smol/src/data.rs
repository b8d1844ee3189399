//! Data connections and the transfer over one, as a task beside its session
//! so that ABOR and STAT still get answers while it runs.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use ftpwire_backend::Storage;
use ftpwire_backend::file_error;
use ftpwire_backend::native::tls::SessionTls;
use ftpwire_backend::native::transfer::{CHUNK_SIZE, Inbound, Outbound, Stream, TransferJob};
use ftpwire_core::address::canonical_ip;
use ftpwire_core::server::{DataEndpoint, TransferError, TransferKind};
use futures_rustls::TlsAcceptor;
use futures_rustls::server::TlsStream;
use smol::channel::{Receiver, Sender};
use smol::future::FutureExt;
use smol::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use smol::net::{TcpListener, TcpStream};

/// Bounds an active-mode connect; the core's own data-connection timeout
/// covers passive waits.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// The pipe between a transfer and its file on smol's blocking pool, and
/// the copy buffer. Each refill of the pipe is a hand-over between threads:
/// at 64 KiB a 1 GiB RETR on loopback ran at 1.3-1.5 GiB/s, at 256 KiB at
/// 4.1-4.3 (std, which reads the file itself: 3.8-4.9). 512 KiB per
/// running transfer.
const FILE_PIPE: usize = 4 * CHUNK_SIZE;

/// What the transfer task tells its session.
#[derive(Debug)]
pub(crate) enum Report {
    /// The data connection is up (STOU: with the name the storage chose;
    /// RETR: with the file's size when it was opened).
    Started {
        unique_name: Option<Vec<u8>>,
        size: Option<u64>,
    },
    /// The transfer ended; `Ok` holds the bytes moved.
    Finished(Result<u64, TransferError>),
}

/// A passive listener and the data connection a client may open on it
/// before its transfer command. aioftp starts TLS on a protected data
/// connection before it sends the command: that connection is accepted when
/// it arrives and its handshake runs while the command is awaited.
pub(crate) struct Passive {
    listener: TcpListener,
    /// Dropped with the listener (new PASV, PORT, a transfer done, session
    /// end): the task ends, and frees the connection it may hold.
    early: Mutex<Option<Early>>,
}

/// The task that takes a data connection before its command.
struct Early {
    /// Dropped when the transfer command comes.
    claim: Sender<()>,
    task: smol::Task<Option<EarlyData>>,
}

/// A data connection taken before its transfer command.
enum EarlyData {
    /// The client sent nothing before the command (ftplib, curl): TLS, if
    /// any, starts after the 150 as usual.
    Plain(TcpStream),
    /// Secured before the command (aioftp).
    Secured(DataStream),
    /// Its handshake failed or was refused.
    Failed(TransferError),
}

impl Passive {
    /// A listener whose data connection is taken when the transfer command
    /// comes; under PROT P (`early` holds the control connection's TLS and
    /// the executor) also one that arrives before: its TLS handshake starts
    /// once the client's first bytes are in, so that a client which waits
    /// for the 150 before its handshake (ftplib) still gets it first.
    pub(crate) fn new(
        listener: TcpListener,
        peer: IpAddr,
        early: Option<(SessionTls, &smol::Executor<'static>)>,
        stall: Duration,
    ) -> Arc<Passive> {
        let early = early.map(|(tls, executor)| {
            let (claim, claimed) = smol::channel::bounded(1);
            let task = executor.spawn(take_early(listener.clone(), peer, tls, stall, claimed));
            Early { claim, task }
        });
        Arc::new(Passive {
            listener,
            early: Mutex::new(early),
        })
    }

    /// The transfer command has come: what the early task has taken
    /// (waiting for a handshake in progress), `None` if nothing yet.
    async fn claim_early(&self) -> Option<EarlyData> {
        let early = self
            .early
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()?;
        drop(early.claim);
        early.task.await
    }
}

/// The early task: the peer's data connection, then its handshake if the
/// client speaks first; gives up what it has once claimed.
async fn take_early(
    listener: TcpListener,
    peer: IpAddr,
    tls: SessionTls,
    stall: Duration,
    claimed: Receiver<()>,
) -> Option<EarlyData> {
    let claim = async {
        let _ = claimed.recv().await;
        None
    };
    let tcp = async { accept_from(&listener, peer).await }
        .or(claim)
        .await?;
    let _ = tcp.set_nodelay(true);
    let spoke = async {
        let mut first = [0; 1];
        let _ = tcp.peek(&mut first).await;
        true
    };
    let command_came = async {
        let _ = claimed.recv().await;
        false
    };
    if !spoke.or(command_came).await {
        return Some(EarlyData::Plain(tcp));
    }
    // The command is unknown yet: the upload configuration (no session
    // tickets), which suits a download as well; tickets on an upload's
    // connection can cut off its end (see tls.rs).
    Some(match secure(tcp, &tls, TransferKind::Store, stall).await {
        Ok(stream) => EarlyData::Secured(stream),
        Err(error) => EarlyData::Failed(error),
    })
}

/// Runs one transfer to its end and reports on `report`. A message on (or
/// the closing of) `abort` interrupts it wherever it waits; dropping the
/// data connection and the file frees both. `tls` is the control
/// connection's TLS when the data connection is protected (PROT P).
pub(crate) async fn run(
    job: TransferJob,
    passive: Option<Arc<Passive>>,
    tls: Option<SessionTls>,
    storage: Arc<dyn Storage>,
    abort: Receiver<()>,
    report: Sender<Report>,
    stall: Duration,
) {
    let work = transfer(job, passive, tls, storage, &report, stall);
    let aborted = async {
        let _ = abort.recv().await;
        Err(TransferError::Aborted)
    };
    let result = work.or(aborted).await;
    let _ = report.send(Report::Finished(result)).await;
}

async fn transfer(
    job: TransferJob,
    passive: Option<Arc<Passive>>,
    tls: Option<SessionTls>,
    storage: Arc<dyn Storage>,
    report: &Sender<Report>,
    stall: Duration,
) -> Result<u64, TransferError> {
    if job.protected && tls.is_none() {
        // The core allows PROT P only on a secured control channel.
        return Err(TransferError::TlsFailed);
    }
    // Storage first: a missing file is 550 without a useless data connection.
    let opened = {
        let job = job.clone();
        smol::unblock(move || (job.size_at_open(&*storage), job.open(&*storage))).await
    };
    let (size, opened) = opened;
    let mut stream = opened.map_err(|e| TransferError::File(file_error(&e)))?;
    let early = match (&job.data, &passive) {
        (DataEndpoint::Passive { .. }, Some(passive)) => passive.claim_early().await,
        _ => None,
    };
    let data = match early {
        Some(EarlyData::Plain(tcp)) => Some(tcp),
        Some(EarlyData::Secured(secured)) => {
            if !job.protected {
                log::info!("a data connection secured under PROT P is not used after PROT C");
                return Err(TransferError::NoDataConnection);
            }
            let unique_name = unique_name(&mut stream);
            let _ = report.send(Report::Started { unique_name, size }).await;
            return move_data(stream, secured, job.ascii, stall).await;
        }
        Some(EarlyData::Failed(error)) => return Err(error),
        None => match job.data {
            DataEndpoint::Passive { peer } => {
                let passive = passive.ok_or(TransferError::NoDataConnection)?;
                accept_from(&passive.listener, peer).await
            }
            DataEndpoint::Active(addr) => connect(addr).await,
        },
    };
    let data = data.ok_or(TransferError::NoDataConnection)?;
    let _ = data.set_nodelay(true);
    let unique_name = unique_name(&mut stream);
    // The 150 goes out before the TLS handshake: clients such as ftplib
    // read it before they start TLS on the data connection.
    let _ = report.send(Report::Started { unique_name, size }).await;
    let data = match tls {
        Some(tls) if job.protected => secure(data, &tls, job.kind, stall).await?,
        _ => DataStream::Plain(data),
    };
    move_data(stream, data, job.ascii, stall).await
}

/// STOU's name for the 150.
fn unique_name(stream: &mut Stream) -> Option<Vec<u8>> {
    match stream {
        Stream::Upload { unique_name, .. } => unique_name.take(),
        Stream::Download(_) => None,
    }
}

/// Copies between the file and the data connection, then closes it in order.
async fn move_data(
    stream: Stream,
    mut data: DataStream,
    ascii: bool,
    stall: Duration,
) -> Result<u64, TransferError> {
    match stream {
        Stream::Download(file) => {
            let sent = send(file, &mut data, ascii, stall).await?;
            // An orderly close (close_notify under TLS, then FIN) tells the
            // client the file is complete.
            let _ = within(stall, data.close()).await;
            Ok(sent)
        }
        Stream::Upload { file, .. } => {
            let received = receive(&mut data, file, ascii, stall).await?;
            // Answer the client's close_notify: ftplib's unwrap() waits for it.
            let _ = within(stall, data.close()).await;
            Ok(received)
        }
    }
}

/// The TLS handshake of a protected data connection (the server is the TLS
/// server in either direction, RFC 4217), then the session-reuse check.
async fn secure(
    tcp: TcpStream,
    tls: &SessionTls,
    kind: TransferKind,
    stall: Duration,
) -> Result<DataStream, TransferError> {
    let peer = tcp.peer_addr().map(|a| a.to_string()).unwrap_or_default();
    let accepted = within(stall, TlsAcceptor::from(tls.data_config(kind)).accept(tcp)).await;
    let stream = accepted.map_err(|error| {
        log::info!("TLS handshake on the data connection with {peer} failed: {error}");
        TransferError::TlsFailed
    })?;
    if let Err(refused) = tls.check_data(stream.get_ref().1) {
        log::warn!(
            "refused a protected data connection from {peer}: it did not resume the control connection's TLS session (--require-tls-session-reuse)"
        );
        return Err(refused);
    }
    Ok(DataStream::Tls(Box::new(stream)))
}

/// A data connection, in TLS under PROT P.
enum DataStream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for DataStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            DataStream::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            DataStream::Tls(tls) => match Pin::new(&mut **tls).poll_read(cx, buf) {
                // A client that closes without close_notify (many do after
                // an upload) has still sent everything it meant to.
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    Poll::Ready(Ok(0))
                }
                other => other,
            },
        }
    }
}

impl AsyncWrite for DataStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            DataStream::Plain(tcp) => Pin::new(tcp).poll_write(cx, buf),
            DataStream::Tls(tls) => Pin::new(&mut **tls).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            DataStream::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            DataStream::Tls(tls) => Pin::new(&mut **tls).poll_flush(cx),
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            DataStream::Plain(tcp) => Pin::new(tcp).poll_close(cx),
            DataStream::Tls(tls) => Pin::new(&mut **tls).poll_close(cx),
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
    file: ftpwire_backend::served::storage::FileReader,
    data: &mut DataStream,
    ascii: bool,
    stall: Duration,
) -> Result<u64, TransferError> {
    // Blocking reads on smol's pool, through a bounded pipe.
    let mut file = smol::Unblock::with_capacity(FILE_PIPE, file);
    let mut buf = vec![0; FILE_PIPE];
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
        // Stored bytes, the figure the core checks against the file's size.
        sent += n as u64;
    }
}

async fn receive(
    data: &mut DataStream,
    file: ftpwire_backend::served::storage::FileWriter,
    ascii: bool,
    stall: Duration,
) -> Result<u64, TransferError> {
    let mut file = smol::Unblock::with_capacity(FILE_PIPE, file);
    let mut buf = vec![0; FILE_PIPE];
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
