//! Data connections and the transfer over one, as a task beside its session
//! so that ABOR and STAT still get answers while it runs.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use ftpwire_backend::Storage;
use ftpwire_backend::file_error;
use ftpwire_backend::native::metrics::Metrics;
use ftpwire_backend::native::passive::{
    self as passive_kit, AcceptLoop, DataConnection, DataInbox, PassiveHold, PortWaiters,
};
use ftpwire_backend::native::tls::SessionTls;
use ftpwire_backend::native::transfer::{
    CHUNK_SIZE, Inbound, Outbound, Report, Step, Stream, TransferJob,
};
use ftpwire_backend::served::listing::Listing;
use ftpwire_backend::served::storage::FileWriter;
use ftpwire_core::server::{DataEndpoint, TransferError, TransferId, TransferKind};
use futures_rustls::TlsAcceptor;
use futures_rustls::server::TlsStream;
use smol::channel::{Receiver, Sender};
use smol::future::FutureExt;
use smol::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use smol::net::TcpStream;

/// Bounds an active-mode connect; the core's own data-connection timeout
/// covers passive waits.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// The pipe between a transfer and its file on smol's blocking pool, and
/// the copy buffer. Each refill of the pipe is a hand-over between threads:
/// at 64 KiB a 1 GiB RETR on loopback ran at 1.3-1.5 GiB/s, at 256 KiB at
/// 4.1-4.3 (std, which reads the file itself: 3.8-4.9). 512 KiB per
/// running transfer.
const FILE_PIPE: usize = 4 * CHUNK_SIZE;

/// What a listing formats between two yields to the executor.
const LISTING_CHUNK: usize = 16 * 1024;

/// Pause after a failed passive accept (EMFILE fails again at once).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Where this session's passive port hands it its data connection: a
/// channel of one (a hold is delivered at most one connection).
pub(crate) struct Inbox(pub(crate) Sender<std::net::TcpStream>);

impl DataInbox for Inbox {
    fn deliver(&self, stream: std::net::TcpStream) {
        // Closed: the session gave the port up meanwhile; the connection goes.
        let _ = self.0.try_send(stream);
    }
}

/// How a passive port's accept loop starts on smol: one task per port on
/// `executor`, handing each connection to its session by source address;
/// dropping the task ends it and closes the listener.
pub(crate) fn start_accept(
    executor: &smol::Executor<'static>,
) -> impl Fn(std::net::TcpListener, Arc<PortWaiters>) -> io::Result<AcceptLoop> {
    move |listener, waiters| {
        let listener = smol::Async::new(listener)?;
        let task = executor.spawn(async move {
            loop {
                if listener.readable().await.is_err() {
                    smol::Timer::after(ACCEPT_BACKOFF).await;
                    continue;
                }
                match listener.get_ref().accept() {
                    Ok((stream, from)) => waiters.dispatch(stream, from),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        log::warn!("passive accept on port {} failed: {e}", waiters.port());
                        smol::Timer::after(ACCEPT_BACKOFF).await;
                    }
                }
            }
        });
        Ok(Box::new(task) as AcceptLoop)
    }
}

/// A session's passive port and the data connection a client may open on
/// it before its transfer command. aioftp starts TLS on a protected data
/// connection before it sends the command: that connection is taken when
/// it arrives and its handshake runs while the command is awaited.
pub(crate) struct Passive {
    /// Released when this goes (new PASV, PORT, a transfer done, session end).
    _hold: PassiveHold,
    inbox: Receiver<std::net::TcpStream>,
    /// Dropped with the port: the task ends, and frees the connection it
    /// may hold.
    early: Mutex<Option<Early>>,
}

/// The task that takes a data connection before its command.
struct Early {
    /// Dropped when the transfer command comes.
    claim: Sender<()>,
    task: smol::Task<Option<EarlyData>>,
}

impl Passive {
    /// A port whose data connection (delivered to `inbox`) is taken when
    /// the transfer command comes; under PROT P (`early` holds the control
    /// connection's TLS and the executor) also one that arrives before: its
    /// TLS handshake starts once the client's first bytes are in, so that a
    /// client which waits for the 150 before its handshake (ftplib) still
    /// gets it first.
    pub(crate) fn new(
        hold: PassiveHold,
        inbox: Receiver<std::net::TcpStream>,
        early: Option<(SessionTls, &smol::Executor<'static>)>,
    ) -> Arc<Passive> {
        let early = early.map(|(tls, executor)| {
            let (claim, claimed) = smol::channel::bounded(1);
            let task = executor.spawn(take_early(inbox.clone(), tls, claimed));
            Early { claim, task }
        });
        Arc::new(Passive {
            _hold: hold,
            inbox,
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

/// The data connection the port delivers (only one from the peer: the
/// registry matches it by source address, RFC 2577).
async fn take_delivered(inbox: &Receiver<std::net::TcpStream>) -> Option<TcpStream> {
    let stream = inbox.recv().await.ok()?;
    TcpStream::try_from(stream)
        .inspect_err(|e| log::warn!("cannot use a passive data connection: {e}"))
        .ok()
}

/// The early task: the peer's data connection, then its handshake if the
/// client speaks first; gives up what it has once claimed.
async fn take_early(
    inbox: Receiver<std::net::TcpStream>,
    tls: SessionTls,
    claimed: Receiver<()>,
) -> Option<EarlyData> {
    let claim = async {
        let _ = claimed.recv().await;
        None
    };
    let tcp = async { take_delivered(&inbox).await }.or(claim).await?;
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
    // A handshake under way when the command comes is finished, not
    // dropped: the claim waits for it. One that never ends is bounded by
    // the session's deadline for the transfer, whose end drops the
    // transfer and with it this task; a new port or the session's end
    // drops it too.
    Some(match secure(tcp, &tls, TransferKind::Store).await {
        Ok(stream) => EarlyData::Secured(stream),
        Err(_) => EarlyData::Failed,
    })
}

/// Runs one transfer's steps as the session asks for them on `steps`,
/// reporting each on `report` (tagged with `id`, so a late report is never
/// taken for another transfer's). The session ends a transfer it gives up
/// by dropping this task: the file and the data connection go with it.
/// Nothing here keeps time: the session's deadlines cover connecting, TLS
/// and stalls, fed by `progress`. `zero_copy`: the kernel may move a plain
/// TYPE I transfer of a local file, counted there.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn run(
    id: TransferId,
    job: TransferJob,
    passive: Option<Arc<Passive>>,
    tls: Option<SessionTls>,
    storage: Arc<dyn Storage>,
    steps: Receiver<Step>,
    report: Sender<(TransferId, Report)>,
    progress: Arc<AtomicU64>,
    zero_copy: Option<Arc<Metrics>>,
) {
    let said = |r: Report| {
        let report = report.clone();
        async move {
            let _ = report.send((id, r)).await;
        }
    };
    // Storage first: a missing file is 550 without a useless data connection.
    let (opened, stream) = {
        let (job, zero_copy) = (job.clone(), zero_copy.is_some());
        smol::unblock(move || job.open(&*storage, zero_copy)).await
    };
    said(opened).await;
    let Some(stream) = stream else { return };
    let Ok(Step::Connect {
        endpoint,
        protected,
    }) = steps.recv().await
    else {
        return;
    };
    let early = match (&endpoint, &passive) {
        (DataEndpoint::Passive { .. }, Some(passive)) => passive.claim_early().await,
        _ => None,
    };
    let mut data = match early {
        Some(early) => early.into_data(protected),
        None => match endpoint {
            DataEndpoint::Passive { .. } => match &passive {
                Some(passive) => take_delivered(&passive.inbox).await.map(Data::Tcp),
                None => None,
            },
            DataEndpoint::Active(addr) => connect(addr).await.map(Data::Tcp),
        },
    };
    if let Some(Data::Tcp(tcp)) = &data {
        let _ = tcp.set_nodelay(true);
    }
    if data.is_none() {
        return said(Report::ConnectFailed).await;
    }
    said(Report::Connected).await;
    let mut stream = Some(stream);
    // A received upload, waiting for the session's Close to finish it.
    let mut upload: Option<FileWriter> = None;
    while let Ok(step) = steps.recv().await {
        match step {
            Step::Connect { .. } => return,
            Step::Secure => {
                let secured = match data.take() {
                    Some(Data::Tcp(tcp)) => match &tls {
                        Some(tls) => secure(tcp, tls, job.kind).await.ok(),
                        None => None,
                    },
                    // aioftp secured it before the command.
                    Some(Data::Ready(stream)) => Some(stream),
                    _ => None,
                };
                let Some(secured) = secured else {
                    return said(Report::TlsFailed).await;
                };
                let resumed = match (&secured, &tls) {
                    (DataStream::Tls(stream), Some(tls)) => tls.resumed(stream.get_ref().1),
                    _ => false,
                };
                data = Some(Data::Ready(secured));
                said(Report::Secured { resumed }).await;
            }
            Step::Move => {
                let Some(connection) = data.take() else {
                    return;
                };
                let mut wire = connection.into_ready(DataStream::Plain);
                let Some(stream) = stream.take() else { return };
                let plain = matches!(wire, DataStream::Plain(_));
                let moved = match stream.over(plain) {
                    #[cfg(target_os = "linux")]
                    Stream::Local(direct) => {
                        if let Some(metrics) = &zero_copy {
                            metrics.zero_copy_transfer(job.kind);
                        }
                        kernel::move_direct(direct, wire.tcp(), &progress).await
                    }
                    stream => match move_data(stream, &mut wire, job.ascii, &progress).await {
                        // A received upload is finished at Close, once the
                        // session has taken the transfer as complete.
                        Ok((moved, received)) => {
                            upload = received;
                            Ok(moved)
                        }
                        Err(error) => Err(error),
                    },
                };
                let failed = moved.is_err();
                data = Some(Data::Ready(wire));
                said(Report::Moved(moved)).await;
                if failed {
                    return;
                }
            }
            Step::Close => {
                // The session saw the whole upload through (not an ABOR
                // that raced the client's end of data): only now may the
                // storage make it complete. It may block (an object
                // store's last request): on the blocking pool.
                let finished = match upload.take() {
                    Some(file) => smol::unblock(move || file.finish())
                        .await
                        .map_err(|e| TransferError::File(file_error(&e))),
                    None => Ok(()),
                };
                if let Some(Data::Ready(mut wire)) = data.take() {
                    // An orderly close (close_notify under TLS, then FIN)
                    // tells the client the file is complete; after an
                    // upload it answers the client's close_notify (ftplib's
                    // unwrap() waits for it).
                    let _ = wire.close().await;
                }
                return said(Report::Closed(finished)).await;
            }
        }
    }
}

/// What an early acceptor hands the transfer.
type EarlyData = passive_kit::EarlyData<TcpStream, DataStream>;

/// The transfer's data connection.
type Data = DataConnection<TcpStream, DataStream>;

/// Copies between the file and the data connection; an upload's file
/// comes back, received but not finished.
async fn move_data(
    stream: Stream,
    data: &mut DataStream,
    ascii: bool,
    progress: &AtomicU64,
) -> Result<(u64, Option<FileWriter>), TransferError> {
    match stream {
        Stream::Download(file) => {
            let file = smol::Unblock::with_capacity(FILE_PIPE, file);
            send(Source::File(file), data, ascii, progress)
                .await
                .map(|n| (n, None))
        }
        // A listing streamed from its storage (an object store's pages)
        // may block: on the pool, like a file.
        Stream::Listing(listing) if listing.may_block() => {
            let listing: ftpwire_backend::served::storage::FileReader = listing;
            let listing = smol::Unblock::with_capacity(FILE_PIPE, listing);
            send(Source::File(listing), data, ascii, progress)
                .await
                .map(|n| (n, None))
        }
        Stream::Listing(listing) => send(Source::Listing(listing), data, ascii, progress)
            .await
            .map(|n| (n, None)),
        Stream::Upload(file) => receive(data, file, ascii, progress)
            .await
            .map(|(n, file)| (n, Some(file))),
        // Moved by the kernel ([`kernel`]), never here.
        Stream::Local(_) => Err(TransferError::File(ftpwire_core::server::FileError::Local)),
    }
}

/// The TLS handshake of a protected data connection (the server is the TLS
/// server in either direction, RFC 4217), then the session-reuse check.
async fn secure(tcp: TcpStream, tls: &SessionTls, kind: TransferKind) -> io::Result<DataStream> {
    let peer = tcp.peer_addr().map(|a| a.to_string()).unwrap_or_default();
    let accepted = TlsAcceptor::from(tls.data_config(kind)).accept(tcp).await;
    let stream = accepted.inspect_err(|error| {
        log::info!("TLS handshake on the data connection with {peer} failed: {error}");
    })?;
    Ok(DataStream::Tls(Box::new(stream)))
}

/// A data connection, in TLS under PROT P.
enum DataStream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl DataStream {
    /// The TCP connection (beneath TLS under PROT P).
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    fn tcp(&self) -> &TcpStream {
        match self {
            DataStream::Plain(tcp) => tcp,
            DataStream::Tls(tls) => tls.get_ref().0,
        }
    }
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

/// What a download sends: a file (or a listing streamed from its
/// storage), read on smol's pool through a bounded pipe, or a listing in
/// memory, formatted here on the executor (through `smol::Unblock` every
/// chunk would cross to a pool thread and back).
enum Source {
    File(smol::Unblock<ftpwire_backend::served::storage::FileReader>),
    Listing(Box<Listing>),
}

impl Source {
    /// The most one read gives.
    fn chunk(&self) -> usize {
        match self {
            Source::File(_) => FILE_PIPE,
            Source::Listing(_) => LISTING_CHUNK,
        }
    }

    async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Source::File(file) => file.read(buf).await,
            Source::Listing(listing) => {
                let n = std::io::Read::read(&mut **listing, buf);
                // A chunk is a few hundred lines: yield after each, so a
                // huge directory does not hold the executor.
                smol::future::yield_now().await;
                n
            }
        }
    }
}

/// Sends `source`, converted for TYPE A.
async fn send(
    mut source: Source,
    data: &mut DataStream,
    ascii: bool,
    progress: &AtomicU64,
) -> Result<u64, TransferError> {
    let mut buf = vec![0; source.chunk()];
    let mut outbound = Outbound::new(ascii);
    let mut sent = 0u64;
    loop {
        let n = source
            .read(&mut buf)
            .await
            .map_err(|e| TransferError::File(file_error(&e)))?;
        if n == 0 {
            return Ok(sent);
        }
        data.write_all(outbound.convert(&buf[..n]))
            .await
            .map_err(|_| TransferError::ConnectionLost)?;
        // Stored bytes, the figure the core checks against the file's size.
        sent += n as u64;
        progress.store(sent, Ordering::Relaxed);
    }
}

async fn receive(
    data: &mut DataStream,
    file: FileWriter,
    ascii: bool,
    progress: &AtomicU64,
) -> Result<(u64, FileWriter), TransferError> {
    let mut file = smol::Unblock::with_capacity(FILE_PIPE, file);
    let mut buf = vec![0; FILE_PIPE];
    let mut inbound = Inbound::new(ascii);
    let mut received = 0u64;
    let stored = |e: io::Error| TransferError::File(file_error(&e));
    loop {
        let n = data
            .read(&mut buf)
            .await
            .map_err(|_| TransferError::ConnectionLost)?;
        if n == 0 {
            break;
        }
        received += n as u64;
        progress.store(received, Ordering::Relaxed);
        file.write_all(inbound.convert(&buf[..n]))
            .await
            .map_err(stored)?;
    }
    file.write_all(inbound.finish()).await.map_err(stored)?;
    file.flush().await.map_err(stored)?;
    // Not finished here: an error above, or the session dropping this
    // task, drops it unfinished; Close finishes it.
    Ok((received, file.into_inner().await))
}

/// The zero-copy path: the kernel moves the bytes between the file and a
/// plain data connection. The socket is non-blocking: a call that would
/// block waits for the socket with async-io, never spinning. The file side
/// runs on this thread (the page cache, as vsftpd does), not on the
/// blocking pool: a hand-over per chunk is what the copy path pays for.
/// The session ends a transfer by dropping its task, as for a copy.
#[cfg(target_os = "linux")]
mod kernel {
    use std::fs::File;
    use std::io;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use ftpwire_backend::file_error;
    use ftpwire_backend::native::zero_copy::{Direct, SEND_CHUNK, SplicePipe, send_file};
    use ftpwire_core::server::TransferError;
    use smol::Async;
    use smol::net::TcpStream;

    /// Bytes moved before the task lets the others on its thread run: a
    /// client that keeps up would otherwise never make it wait.
    const FAIR_SHARE: u64 = 16 << 20;

    pub(super) async fn move_direct(
        direct: Direct,
        tcp: &TcpStream,
        progress: &AtomicU64,
    ) -> Result<u64, TransferError> {
        let socket: Arc<Async<std::net::TcpStream>> = tcp.clone().into();
        match direct {
            Direct::Send { file, offset } => send(&file, offset, &socket, progress).await,
            Direct::Receive(file) => receive(&socket, &file, progress).await,
        }
    }

    /// RETR with sendfile(2), from the REST offset.
    async fn send(
        file: &File,
        mut offset: u64,
        socket: &Async<std::net::TcpStream>,
        progress: &AtomicU64,
    ) -> Result<u64, TransferError> {
        let (mut sent, mut share) = (0u64, 0u64);
        loop {
            let n = match socket
                .write_with(|tcp| send_file(tcp, file, &mut offset, SEND_CHUNK))
                .await
            {
                Ok(0) => return Ok(sent),
                Ok(n) => n as u64,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(failed(&e)),
            };
            sent += n;
            progress.store(sent, Ordering::Relaxed);
            share += n;
            if share >= FAIR_SHARE {
                share = 0;
                smol::future::yield_now().await;
            }
        }
    }

    /// STOR with splice(2): socket to pipe, pipe to file.
    async fn receive(
        socket: &Async<std::net::TcpStream>,
        file: &File,
        progress: &AtomicU64,
    ) -> Result<u64, TransferError> {
        let stored = |e: io::Error| TransferError::File(file_error(&e));
        let mut pipe = SplicePipe::new().map_err(stored)?;
        let (mut received, mut share) = (0u64, 0u64);
        loop {
            let n = match socket.read_with(|tcp| pipe.fill(tcp)).await {
                Ok(0) => return Ok(received),
                Ok(n) => n as u64,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return Err(TransferError::ConnectionLost),
            };
            received += n;
            progress.store(received, Ordering::Relaxed);
            pipe.drain(file).map_err(stored)?;
            share += n;
            if share >= FAIR_SHARE {
                share = 0;
                smol::future::yield_now().await;
            }
        }
    }

    /// A sendfile error: the data connection's or the file's.
    fn failed(error: &io::Error) -> TransferError {
        use io::ErrorKind as K;
        match error.kind() {
            K::BrokenPipe
            | K::ConnectionReset
            | K::ConnectionAborted
            | K::NotConnected
            | K::TimedOut => TransferError::ConnectionLost,
            _ => TransferError::File(file_error(error)),
        }
    }
}
