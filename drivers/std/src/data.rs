//! Data connections and the transfer that runs over one, on its own thread
//! so that ABOR and STAT on the control connection still get answers.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
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
use ftpwire_backend::served::storage::FileWriter;
use ftpwire_core::server::{DataEndpoint, TransferError, TransferKind};
use polling::{Event, Events, Poller};
use rustls::{ServerConnection, StreamOwned};
use socket2::{Domain, Protocol, Socket, Type};

/// Bounds an active-mode connect; the core's own data-connection timeout
/// covers passive waits.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Pause after a failed passive accept (EMFILE fails again at once).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Lets the session interrupt its transfer (ABOR, data-connection timeout,
/// control connection gone) wherever the transfer thread is blocked.
pub(crate) struct Abort {
    aborted: AtomicBool,
    poller: Poller,
    data: Mutex<Option<TcpStream>>,
    /// The passive inbox a wait is on, woken by an abort.
    waiting: Mutex<Option<Arc<Inbox>>>,
}

impl Abort {
    pub(crate) fn new() -> io::Result<Arc<Abort>> {
        Ok(Arc::new(Abort {
            aborted: AtomicBool::new(false),
            poller: Poller::new()?,
            data: Mutex::new(None),
            waiting: Mutex::new(None),
        }))
    }

    /// Stops the transfer: wakes a passive accept, breaks a running copy.
    pub(crate) fn abort(&self) {
        self.aborted.store(true, Ordering::SeqCst);
        let _ = self.poller.notify();
        if let Some(data) = self.data.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            let _ = data.shutdown(Shutdown::Both);
        }
        if let Some(inbox) = self
            .waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            inbox.wake();
        }
    }

    fn is_aborted(&self) -> bool {
        self.aborted.load(Ordering::SeqCst)
    }

    /// Records the data connection so [`abort`](Self::abort) can break it.
    fn attach(&self, data: &TcpStream) {
        let mut slot = self.data.lock().unwrap_or_else(|e| e.into_inner());
        *slot = data.try_clone().ok();
        if self.is_aborted() {
            let _ = data.shutdown(Shutdown::Both);
        }
    }

    /// The data connection `data` failed with `error` (or was broken by an abort).
    fn lost_with(&self, data: &DataStream, error: &io::Error) -> TransferError {
        let stalled = matches!(
            error.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        );
        if stalled && !self.is_aborted() {
            let peer = data
                .tcp()
                .peer_addr()
                .map(|a| a.to_string())
                .unwrap_or_default();
            log::info!("data connection with {peer} stalled; giving up the transfer");
        }
        self.lost()
    }

    /// A data-connection failure, or the abort that caused it.
    fn lost(&self) -> TransferError {
        if self.is_aborted() {
            TransferError::Aborted
        } else {
            TransferError::ConnectionLost
        }
    }
}

/// Where this session's passive port hands it its data connection (the
/// port's accept thread delivers; the transfer or early acceptor waits).
#[derive(Default)]
pub(crate) struct Inbox {
    slot: Mutex<Option<TcpStream>>,
    changed: Condvar,
}

impl DataInbox for Inbox {
    fn deliver(&self, stream: TcpStream) {
        *self.lock() = Some(stream);
        self.changed.notify_all();
    }
}

impl Inbox {
    fn lock(&self) -> MutexGuard<'_, Option<TcpStream>> {
        self.slot.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wakes a wait to look at its stop flags (set before this is called).
    fn wake(&self) {
        let _slot = self.lock();
        self.changed.notify_all();
    }

    /// The data connection, once delivered; `None` once `abort` is aborted
    /// (or `claimed`, for the early acceptor).
    fn wait(self: &Arc<Self>, abort: &Abort, claimed: Option<&AtomicBool>) -> Option<TcpStream> {
        *abort.waiting.lock().unwrap_or_else(|e| e.into_inner()) = Some(self.clone());
        let mut slot = self.lock();
        loop {
            if abort.is_aborted() || claimed.is_some_and(|c| c.load(Ordering::SeqCst)) {
                return None;
            }
            if let Some(stream) = slot.take() {
                return Some(stream);
            }
            slot = self.changed.wait(slot).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// A shared passive port's accept thread; dropping this stops it (and
/// closes the listener) before it returns.
struct AcceptThread {
    stop: Arc<AtomicBool>,
    poller: Arc<Poller>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Drop for AcceptThread {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.poller.notify();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Starts the thread that accepts on a passive port for every session
/// holding it, handing each connection to its session by source address.
pub(crate) fn start_accept(
    listener: TcpListener,
    waiters: Arc<PortWaiters>,
) -> io::Result<AcceptLoop> {
    listener.set_nonblocking(true)?;
    let poller = Arc::new(Poller::new()?);
    let stop = Arc::new(AtomicBool::new(false));
    let (thread_poller, thread_stop) = (poller.clone(), stop.clone());
    let thread = thread::Builder::new()
        .name(format!("ftpwire-passive-{}", waiters.port()))
        .spawn(move || accept_loop(&listener, &waiters, &thread_poller, &thread_stop))?;
    Ok(Box::new(AcceptThread {
        stop,
        poller,
        thread: Some(thread),
    }))
}

fn accept_loop(listener: &TcpListener, waiters: &PortWaiters, poller: &Poller, stop: &AtomicBool) {
    // SAFETY: the listener outlives its registration: it is deleted from the
    // poller below before this function returns, and only this thread waits.
    if unsafe { poller.add(listener, Event::readable(0)) }.is_err() {
        return;
    }
    let mut events = Events::new();
    while !stop.load(Ordering::SeqCst) {
        let backoff = match listener.accept() {
            Ok((stream, from)) => {
                if stream.set_nonblocking(false).is_ok() {
                    waiters.dispatch(stream, from);
                }
                continue;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => None,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                // Out of descriptors fails again at once: wait a little.
                log::warn!("passive accept on port {} failed: {e}", waiters.port());
                Some(ACCEPT_BACKOFF)
            }
        };
        events.clear();
        if poller.modify(listener, Event::readable(0)).is_err()
            || poller.wait(&mut events, backoff).is_err()
        {
            break;
        }
    }
    let _ = poller.delete(listener);
}

/// A session's passive port and the data connection a client may open on
/// it before its transfer command. aioftp starts TLS on a protected data
/// connection before it sends the command: that connection is taken when
/// it arrives and its handshake runs while the command is awaited.
pub(crate) struct Passive {
    /// Released when this goes (a new PASV, PORT, a transfer done, session end).
    _hold: PassiveHold,
    inbox: Arc<Inbox>,
    early: Mutex<Option<Early>>,
    /// Ends the early wait or handshake: a dropped listener, ABOR.
    early_abort: Option<Arc<Abort>>,
}

/// The thread that takes a data connection before its command.
struct Early {
    claimed: Arc<AtomicBool>,
    thread: thread::JoinHandle<Option<EarlyData>>,
}

impl Passive {
    /// A port whose data connection is taken when the transfer command comes.
    pub(crate) fn new(hold: PassiveHold, inbox: Arc<Inbox>) -> Arc<Passive> {
        Arc::new(Passive {
            _hold: hold,
            inbox,
            early: Mutex::new(None),
            early_abort: None,
        })
    }

    /// A port of a PROT P session: the connection is taken when it
    /// arrives, and its TLS handshake starts once the client's first bytes
    /// are in, so that a client which waits for the 150 before its
    /// handshake (ftplib) still gets it first.
    pub(crate) fn protected(hold: PassiveHold, inbox: Arc<Inbox>, tls: SessionTls) -> Arc<Passive> {
        let (Ok(abort), claimed) = (Abort::new(), Arc::new(AtomicBool::new(false))) else {
            return Passive::new(hold, inbox);
        };
        let spawned = {
            let (inbox, abort, claimed) = (inbox.clone(), abort.clone(), claimed.clone());
            thread::Builder::new()
                .name("ftpwire-early-data".into())
                .spawn(move || take_early(&inbox, &tls, &abort, &claimed))
        };
        match spawned {
            Ok(thread) => Arc::new(Passive {
                _hold: hold,
                inbox,
                early: Mutex::new(Some(Early { claimed, thread })),
                early_abort: Some(abort),
            }),
            Err(_) => Passive::new(hold, inbox),
        }
    }

    /// ABOR: also breaks a handshake that started before the command.
    pub(crate) fn abort_early(&self) {
        if let Some(abort) = &self.early_abort {
            abort.abort();
        }
    }

    /// The transfer command has come: what the early acceptor has taken
    /// (waiting for a handshake in progress), `None` if nothing yet.
    fn claim_early(&self) -> Option<EarlyData> {
        let early = self
            .early
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()?;
        early.claimed.store(true, Ordering::SeqCst);
        self.inbox.wake();
        if let Some(abort) = &self.early_abort {
            let _ = abort.poller.notify();
        }
        early.thread.join().ok().flatten()
    }
}

impl Drop for Passive {
    /// A port given up (new PASV, PORT, a transfer done, session end)
    /// ends its early acceptor, and the connection it may hold.
    fn drop(&mut self) {
        self.abort_early();
    }
}

/// The early acceptor: the peer's data connection, then its handshake if
/// the client speaks first; gives up what it has once `claimed`.
fn take_early(
    inbox: &Arc<Inbox>,
    tls: &SessionTls,
    abort: &Abort,
    claimed: &AtomicBool,
) -> Option<EarlyData> {
    let tcp = inbox.wait(abort, Some(claimed))?;
    let _ = tcp.set_nodelay(true);
    abort.attach(&tcp);
    if !client_spoke(&tcp, abort, claimed)? {
        return Some(EarlyData::Plain(tcp));
    }
    // The command is unknown yet: the upload configuration (no session
    // tickets), which suits a download as well; tickets on an upload's
    // connection can cut off its end (see tls.rs).
    Some(match secure(tcp, tls, TransferKind::Store, abort) {
        Some(stream) => EarlyData::Secured(stream),
        None => EarlyData::Failed,
    })
}

/// Waits until `tcp` has bytes to read (`Some(true)`), the command came
/// first (`Some(false)`), or the acceptor is aborted (`None`).
fn client_spoke(tcp: &TcpStream, abort: &Abort, claimed: &AtomicBool) -> Option<bool> {
    // SAFETY: `tcp` outlives its registration: it is deleted from the poller
    // below before this function returns.
    unsafe { abort.poller.add(tcp, Event::readable(0)) }.ok()?;
    let mut events = Events::new();
    let outcome = loop {
        if abort.is_aborted() {
            break None;
        }
        if claimed.load(Ordering::SeqCst) {
            break Some(false);
        }
        events.clear();
        if abort.poller.wait(&mut events, None).is_err() {
            break None;
        }
        if !events.is_empty() {
            break Some(true);
        }
        if abort.poller.modify(tcp, Event::readable(0)).is_err() {
            break None;
        }
    };
    let _ = abort.poller.delete(tcp);
    outcome
}

/// Runs one transfer's steps as the session asks for them on `steps`,
/// reporting each through `report`. The session gives a transfer up by
/// [`Abort::abort`] (which breaks whatever blocks here) and by dropping its
/// end of `steps`. Nothing here keeps time: the session's deadlines cover
/// connecting, TLS and stalls, fed by `progress`. `zero_copy`: the
/// kernel may move a plain TYPE I transfer of a local file, counted there.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run(
    job: TransferJob,
    passive: Option<Arc<Passive>>,
    tls: Option<SessionTls>,
    storage: Arc<dyn Storage>,
    abort: Arc<Abort>,
    steps: Receiver<Step>,
    progress: Arc<AtomicU64>,
    zero_copy: Option<Arc<Metrics>>,
    report: impl Fn(Report),
) {
    // Storage first: a missing file is 550 without a useless data connection.
    let (opened, stream) = job.open(&*storage, zero_copy.is_some());
    report(opened);
    let Some(stream) = stream else { return };
    let Ok(Step::Connect {
        endpoint,
        protected,
    }) = steps.recv()
    else {
        return;
    };
    let early = match endpoint {
        DataEndpoint::Passive { .. } => passive.as_ref().and_then(|p| p.claim_early()),
        DataEndpoint::Active(_) => None,
    };
    let mut data = match early {
        Some(early) => early.into_data(protected),
        None => match endpoint {
            // The port hands over only a connection from the peer (RFC
            // 2577): the registry matches it by source address.
            DataEndpoint::Passive { .. } => passive
                .as_ref()
                .and_then(|p| p.inbox.wait(&abort, None))
                .map(Data::Tcp),
            DataEndpoint::Active(addr) => connect(addr, &abort).map(Data::Tcp),
        },
    };
    match &data {
        Some(Data::Tcp(tcp)) => {
            let _ = tcp.set_nodelay(true);
            abort.attach(tcp);
        }
        Some(Data::Ready(stream)) => abort.attach(stream.tcp()),
        None => return report(Report::ConnectFailed),
    }
    report(Report::Connected);
    let mut stream = Some(stream);
    // A received upload, waiting for the session's Close to finish it.
    let mut upload: Option<FileWriter> = None;
    while let Ok(step) = steps.recv() {
        match step {
            Step::Connect { .. } => return,
            Step::Secure => {
                let secured = match data.take() {
                    Some(Data::Tcp(tcp)) => tls
                        .as_ref()
                        .and_then(|tls| secure(tcp, tls, job.kind, &abort)),
                    // aioftp secured it before the command.
                    Some(Data::Ready(stream)) => Some(stream),
                    None => None,
                };
                let Some(secured) = secured else {
                    return report(Report::TlsFailed);
                };
                let resumed = match (&secured, &tls) {
                    (DataStream::Tls(stream), Some(tls)) => tls.resumed(&stream.conn),
                    _ => false,
                };
                data = Some(Data::Ready(secured));
                report(Report::Secured { resumed });
            }
            Step::Move => {
                let Some(connection) = data.take() else {
                    return;
                };
                let mut wire = connection.into_ready(DataStream::Plain);
                let Some(stream) = stream.take() else { return };
                let plain = matches!(wire, DataStream::Plain(_));
                let moved = match stream.over(plain) {
                    Stream::Download(mut file) => {
                        send(&mut *file, &mut wire, job.ascii, &abort, &progress)
                    }
                    Stream::Listing(mut listing) => {
                        send(&mut *listing, &mut wire, job.ascii, &abort, &progress)
                    }
                    Stream::Upload(mut file) => {
                        let received = receive(&mut wire, &mut file, job.ascii, &abort, &progress);
                        // Finished at Close, once the session has taken the
                        // transfer as complete; dropped unfinished otherwise.
                        if received.is_ok() {
                            upload = Some(file);
                        }
                        received
                    }
                    #[cfg(target_os = "linux")]
                    Stream::Local(direct) => {
                        if let Some(metrics) = &zero_copy {
                            metrics.zero_copy_transfer(job.kind);
                        }
                        kernel::move_direct(direct, wire.tcp(), &abort, &progress)
                    }
                    // Only Linux opens local streams.
                    #[cfg(not(target_os = "linux"))]
                    Stream::Local(_) => {
                        Err(TransferError::File(ftpwire_core::server::FileError::Local))
                    }
                };
                let failed = moved.is_err();
                data = Some(Data::Ready(wire));
                report(Report::Moved(moved));
                if failed {
                    return;
                }
            }
            Step::Close => {
                // The session saw the whole upload through (not an ABOR
                // that raced the client's end of data): only now may the
                // storage make it complete.
                let finished = match upload.take() {
                    Some(file) => file
                        .finish()
                        .map_err(|e| TransferError::File(file_error(&e))),
                    None => Ok(()),
                };
                if let Some(Data::Ready(mut wire)) = data.take() {
                    // An orderly close tells the client the file is
                    // complete; after an upload it answers the client's
                    // close_notify (ftplib's unwrap() waits for it).
                    wire.finish();
                }
                return report(Report::Closed(finished));
            }
        }
    }
}

/// What an early acceptor hands the transfer.
type EarlyData = passive_kit::EarlyData<TcpStream, DataStream>;

/// The transfer's data connection.
type Data = DataConnection<TcpStream, DataStream>;

/// A data connection, in TLS under PROT P.
enum DataStream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ServerConnection, TcpStream>>),
}

impl DataStream {
    fn tcp(&self) -> &TcpStream {
        match self {
            DataStream::Plain(tcp) => tcp,
            DataStream::Tls(tls) => &tls.sock,
        }
    }

    /// Ends the data connection in order: close_notify under TLS, then the TCP FIN.
    fn finish(&mut self) {
        if let DataStream::Tls(tls) = self {
            tls.conn.send_close_notify();
            while tls.conn.wants_write() {
                if tls.conn.write_tls(&mut tls.sock).is_err() {
                    break;
                }
            }
        }
        let _ = self.tcp().shutdown(Shutdown::Write);
    }
}

impl Read for DataStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            DataStream::Plain(tcp) => tcp.read(buf),
            DataStream::Tls(tls) => match tls.read(buf) {
                // A client that closes without close_notify (many do after
                // an upload) has still sent everything it meant to.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
                other => other,
            },
        }
    }
}

impl Write for DataStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            DataStream::Plain(tcp) => tcp.write(buf),
            DataStream::Tls(tls) => tls.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            DataStream::Plain(tcp) => tcp.flush(),
            DataStream::Tls(tls) => tls.flush(),
        }
    }
}

/// The TLS handshake of a protected data connection (the server is the TLS
/// server in either direction, RFC 4217), then the session-reuse check.
fn secure(
    mut tcp: TcpStream,
    tls: &SessionTls,
    kind: TransferKind,
    abort: &Abort,
) -> Option<DataStream> {
    let peer = tcp.peer_addr().map(|a| a.to_string()).unwrap_or_default();
    let mut conn = tls
        .data_connection(kind)
        .inspect_err(|error| {
            log::warn!("cannot start TLS on the data connection with {peer}: {error}");
        })
        .ok()?;
    while conn.is_handshaking() {
        if let Err(error) = conn.complete_io(&mut tcp) {
            if !abort.is_aborted() {
                log::info!("TLS handshake on the data connection with {peer} failed: {error}");
                // The alert, if rustls has one to send.
                let _ = conn.write_tls(&mut tcp);
            }
            return None;
        }
    }
    Some(DataStream::Tls(Box::new(StreamOwned::new(conn, tcp))))
}

/// Active mode (PORT/EPRT): the core has already checked the address. The
/// connect waits on the abort poller, so ABOR does not have to wait for an
/// unanswered connect to time out.
fn connect(addr: SocketAddr, abort: &Abort) -> Option<TcpStream> {
    let failed = |error: io::Error| log::info!("active data connection to {addr} failed: {error}");
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
        .and_then(|socket| socket.set_nonblocking(true).map(|()| socket))
        .map_err(failed)
        .ok()?;
    match socket.connect(&addr.into()) {
        Ok(()) => {}
        Err(e) if in_progress(&e) => {}
        Err(e) => {
            failed(e);
            return None;
        }
    }
    // SAFETY: the socket outlives its registration: it is deleted from the
    // poller below before this function returns.
    unsafe { abort.poller.add(&socket, Event::writable(0)) }
        .map_err(failed)
        .ok()?;
    let deadline = std::time::Instant::now() + CONNECT_TIMEOUT;
    let mut events = Events::new();
    let outcome = loop {
        if abort.is_aborted() {
            break None;
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            break Some(Err(io::ErrorKind::TimedOut.into()));
        }
        events.clear();
        if let Err(error) = abort.poller.wait(&mut events, Some(left)) {
            break Some(Err(error));
        }
        if !events.is_empty() {
            // Writable: the connect finished, one way or the other.
            break Some(match socket.take_error() {
                Ok(None) => Ok(()),
                Ok(Some(error)) | Err(error) => Err(error),
            });
        }
        // Woken by an abort (checked above) or a spurious wake-up: re-arm.
        if let Err(error) = abort.poller.modify(&socket, Event::writable(0)) {
            break Some(Err(error));
        }
    };
    let _ = abort.poller.delete(&socket);
    match outcome? {
        Ok(()) => {
            socket.set_nonblocking(false).map_err(failed).ok()?;
            Some(socket.into())
        }
        Err(error) => {
            failed(error);
            None
        }
    }
}

/// A non-blocking connect that has started and will finish later.
fn in_progress(error: &io::Error) -> bool {
    #[cfg(unix)]
    if error.raw_os_error() == Some(libc::EINPROGRESS) {
        return true;
    }
    // Windows says WSAEWOULDBLOCK.
    error.kind() == io::ErrorKind::WouldBlock
}

fn send(
    file: &mut dyn Read,
    data: &mut DataStream,
    ascii: bool,
    abort: &Abort,
    progress: &AtomicU64,
) -> Result<u64, TransferError> {
    let mut buf = vec![0; CHUNK_SIZE];
    let mut outbound = Outbound::new(ascii);
    let mut sent = 0u64;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => return Ok(sent),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(TransferError::File(file_error(&e))),
        };
        let wire = outbound.convert(&buf[..n]);
        data.write_all(wire)
            .map_err(|e| abort.lost_with(data, &e))?;
        // Stored bytes, the figure the core checks against the file's size.
        sent += n as u64;
        progress.store(sent, Ordering::Relaxed);
        if abort.is_aborted() {
            return Err(TransferError::Aborted);
        }
    }
}

fn receive(
    data: &mut DataStream,
    file: &mut dyn Write,
    ascii: bool,
    abort: &Abort,
    progress: &AtomicU64,
) -> Result<u64, TransferError> {
    let mut buf = vec![0; CHUNK_SIZE];
    let mut inbound = Inbound::new(ascii);
    let mut received = 0u64;
    loop {
        let n = match data.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(abort.lost_with(data, &e)),
        };
        if abort.is_aborted() {
            return Err(TransferError::Aborted);
        }
        received += n as u64;
        progress.store(received, Ordering::Relaxed);
        file.write_all(inbound.convert(&buf[..n]))
            .map_err(|e| TransferError::File(file_error(&e)))?;
    }
    if abort.is_aborted() {
        return Err(TransferError::Aborted);
    }
    file.write_all(inbound.finish())
        .and_then(|()| file.flush())
        .map_err(|e| TransferError::File(file_error(&e)))?;
    Ok(received)
}

/// The zero-copy path: the kernel moves the bytes between the file and a
/// plain data connection. The socket blocks, as in the copy path; an
/// [`Abort`] breaks it the same way (shutdown), so a blocked sendfile or
/// splice returns at once.
#[cfg(target_os = "linux")]
mod kernel {
    use std::fs::File;
    use std::io;
    use std::net::TcpStream;
    use std::sync::atomic::{AtomicU64, Ordering};

    use ftpwire_backend::file_error;
    use ftpwire_backend::native::transfer::CHUNK_SIZE;
    use ftpwire_backend::native::zero_copy::{Direct, SplicePipe, send_file};
    use ftpwire_core::server::TransferError;

    use super::Abort;

    pub(super) fn move_direct(
        direct: Direct,
        tcp: &TcpStream,
        abort: &Abort,
        progress: &AtomicU64,
    ) -> Result<u64, TransferError> {
        match direct {
            Direct::Send { file, offset } => send(&file, offset, tcp, abort, progress),
            Direct::Receive(file) => receive(tcp, &file, abort, progress),
        }
    }

    /// RETR with sendfile(2), from the REST offset.
    fn send(
        file: &File,
        mut offset: u64,
        tcp: &TcpStream,
        abort: &Abort,
        progress: &AtomicU64,
    ) -> Result<u64, TransferError> {
        let mut sent = 0u64;
        loop {
            // Blocking: a chunk at a time, for the progress counter.
            match send_file(tcp, file, &mut offset, CHUNK_SIZE) {
                Ok(0) => return Ok(sent),
                Ok(n) => {
                    sent += n as u64;
                    progress.store(sent, Ordering::Relaxed);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(failed(&e, abort)),
            }
            if abort.is_aborted() {
                return Err(TransferError::Aborted);
            }
        }
    }

    /// STOR with splice(2): socket to pipe, pipe to file.
    fn receive(
        tcp: &TcpStream,
        file: &File,
        abort: &Abort,
        progress: &AtomicU64,
    ) -> Result<u64, TransferError> {
        let stored = |e: io::Error| TransferError::File(file_error(&e));
        let mut pipe = SplicePipe::new().map_err(stored)?;
        let mut received = 0u64;
        loop {
            let n = match pipe.fill(tcp) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return Err(abort.lost()),
            };
            if abort.is_aborted() {
                return Err(TransferError::Aborted);
            }
            received += n as u64;
            progress.store(received, Ordering::Relaxed);
            pipe.drain(file).map_err(stored)?;
        }
        // An abort shuts the socket down: its end of stream is no end of file.
        if abort.is_aborted() {
            return Err(TransferError::Aborted);
        }
        Ok(received)
    }

    /// A sendfile error: the data connection's (lost, or broken by an
    /// abort) or the file's.
    fn failed(error: &io::Error, abort: &Abort) -> TransferError {
        use io::ErrorKind as K;
        let connection = matches!(
            error.kind(),
            K::BrokenPipe
                | K::ConnectionReset
                | K::ConnectionAborted
                | K::NotConnected
                | K::WouldBlock
                | K::TimedOut
        );
        if connection || abort.is_aborted() {
            abort.lost()
        } else {
            TransferError::File(file_error(error))
        }
    }
}
