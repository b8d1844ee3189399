//! A transfer's data connection on the slot's data socket: waiting for it
//! (accepted on the passive listener, or dialled for PORT/EPRT), moving the
//! bytes between the socket's buffers and the storage as room and data come,
//! and its orderly close. Each step ends with the core's answer for it.

use alloc::vec::Vec;
use core::net::IpAddr;
use core::{fmt, mem};

use ftpwire_core::address::canonical_ip;
use ftpwire_core::representation::{AsciiDecoder, AsciiEncoder};
use ftpwire_core::server::{
    CloseToken, ConnectData, ConnectToken, DataEndpoint, MoveToken, TransferError, TransferId,
};
use ftpwire_core::{Instant, ServerSession};
use smoltcp::iface::Context;
use smoltcp::socket::tcp::{self, State};
use smoltcp::wire::IpListenEndpoint;

use crate::{Storage, endpoint};

/// TYPE A reads the file this much at a time, to convert it.
const ASCII_CHUNK: usize = 512;

/// What a transfer moves.
#[derive(Debug)]
pub(crate) enum Source {
    /// RETR: the file, from `at`.
    File { path: Vec<u8>, at: u64 },
    /// LIST, NLST, MLSD: the formatted listing, from `at`.
    Listing { bytes: Vec<u8>, at: usize },
    /// STOR, APPE, STOU: into the file, at `at`.
    Upload { path: Vec<u8>, at: u64 },
}

/// Where the transfer is, with the token its step is answered with.
enum Step {
    /// The storage is open; no data connection asked for yet.
    Opened,
    /// Waiting for the data connection: from `peer` only on the passive
    /// listener `listen` (`None`: dialled, active mode); `refused`: another
    /// host's connection is being reset, then the listener reopens.
    Connecting {
        token: ConnectToken,
        peer: Option<IpAddr>,
        listen: IpListenEndpoint,
        refused: bool,
    },
    /// Connected; the core sends its `150`, then asks to move.
    Connected,
    Moving(MoveToken),
    /// Everything moved; waiting for the core's close.
    Moved,
    Closing(CloseToken),
}

/// One transfer of a session.
pub(crate) struct Transfer {
    id: TransferId,
    source: Source,
    /// TYPE A: line ends converted (files only).
    ascii: bool,
    encoder: AsciiEncoder,
    decoder: AsciiDecoder,
    /// Converted bytes not yet in the socket (TYPE A downloads), or not yet
    /// written (TYPE A uploads).
    pending: Vec<u8>,
    /// Bytes read from the file or the listing, or written to the file.
    moved: u64,
    step: Step,
}

impl fmt::Debug for Transfer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Transfer({:?}, {} bytes)", self.id, self.moved)
    }
}

/// How a pump round went.
pub(crate) struct Pumped {
    /// Something moved or was answered (the interface has work again).
    pub progress: bool,
    /// The transfer is over for this host (answered to its end).
    pub over: bool,
}

impl Pumped {
    const IDLE: Pumped = Pumped {
        progress: false,
        over: false,
    };
    const OVER: Pumped = Pumped {
        progress: true,
        over: true,
    };
    const MOVED: Pumped = Pumped {
        progress: true,
        over: false,
    };
}

impl Transfer {
    pub(crate) fn new(id: TransferId, source: Source, ascii: bool) -> Self {
        Transfer {
            id,
            source,
            ascii,
            encoder: AsciiEncoder::default(),
            decoder: AsciiDecoder::default(),
            pending: Vec::new(),
            moved: 0,
            step: Step::Opened,
        }
    }

    pub(crate) fn id(&self) -> TransferId {
        self.id
    }

    /// Whether its data connection is made (so the socket is not a bare listener).
    pub(crate) fn connected(&self) -> bool {
        !matches!(self.step, Step::Opened | Step::Connecting { .. })
    }

    /// Prepares the data connection: the passive listener is already
    /// there; active mode dials from `local`. The token back if it cannot be made.
    pub(crate) fn connect(
        &mut self,
        connect: ConnectData,
        socket: &mut tcp::Socket<'_>,
        cx: &mut Context,
        local: u16,
    ) -> Result<(), ConnectToken> {
        let peer = match connect.endpoint {
            DataEndpoint::Passive { peer } => Some(peer),
            DataEndpoint::Active(addr) => {
                socket.abort();
                let dialled = endpoint(addr).map(|remote| socket.connect(cx, remote, local));
                if !matches!(dialled, Some(Ok(()))) {
                    return Err(connect.token);
                }
                None
            }
        };
        self.step = Step::Connecting {
            token: connect.token,
            peer,
            listen: socket.listen_endpoint(),
            refused: false,
        };
        Ok(())
    }

    pub(crate) fn start_moving(&mut self, token: MoveToken) {
        self.step = Step::Moving(token);
    }

    pub(crate) fn start_closing(&mut self, token: CloseToken) {
        self.step = Step::Closing(token);
    }
}

impl Transfer {
    /// Moves the transfer on as far as the socket lets it now, answering
    /// the core at the end of each step.
    pub(crate) fn pump<S: Storage>(
        &mut self,
        socket: &mut tcp::Socket<'_>,
        storage: &mut S,
        session: &mut ServerSession,
        now: Instant,
    ) -> Pumped {
        match mem::replace(&mut self.step, Step::Opened) {
            Step::Connecting {
                token,
                peer,
                listen,
                refused,
            } => match socket.state() {
                State::Listen | State::SynSent | State::SynReceived => {
                    self.step = Step::Connecting {
                        token,
                        peer,
                        listen,
                        refused,
                    };
                    Pumped::IDLE
                }
                State::Closed if refused => {
                    // The interface has sent the stranger its reset.
                    let _ = socket.listen(listen);
                    self.step = Step::Connecting {
                        token,
                        peer,
                        listen,
                        refused: false,
                    };
                    Pumped::MOVED
                }
                State::Established | State::CloseWait => {
                    let from = socket
                        .remote_endpoint()
                        .map(|e| canonical_ip(e.addr.into()));
                    let refused = peer.is_some_and(|peer| from != Some(peer));
                    if refused {
                        // Not the session's client (RFC 2577 port stealing):
                        // reset, and listen again once the reset is out.
                        socket.abort();
                        self.step = Step::Connecting {
                            token,
                            peer,
                            listen,
                            refused,
                        };
                        return Pumped::MOVED;
                    }
                    self.step = Step::Connected;
                    session.data_connected(token, now);
                    Pumped::MOVED
                }
                // Refused, reset, or the listener was closed.
                _ => {
                    socket.abort();
                    session.data_connect_failed(token, now);
                    Pumped::OVER
                }
            },
            Step::Moving(token) => {
                let before = self.moved;
                let result = match self.source {
                    Source::Upload { .. } => self.receive(socket, storage),
                    _ => self.send(socket, storage),
                };
                let progress = self.moved != before;
                match result {
                    Ok(false) => {
                        if progress {
                            session.data_progress(&token, self.moved, now);
                        }
                        self.step = Step::Moving(token);
                        Pumped {
                            progress,
                            over: false,
                        }
                    }
                    Ok(true) => {
                        self.step = Step::Moved;
                        session.data_moved(token, Ok(self.moved), now);
                        Pumped::MOVED
                    }
                    Err(error) => {
                        socket.abort();
                        session.data_moved(token, Err(error), now);
                        Pumped::OVER
                    }
                }
            }
            Step::Closing(token) => {
                // A download's close waits for the client's FIN (TIME-WAIT);
                // an upload's for the ACK of ours (CLOSED).
                if matches!(socket.state(), State::TimeWait | State::Closed) {
                    // Out of TIME-WAIT at once: the socket serves the next transfer.
                    socket.abort();
                    session.data_closed(token, Ok(()), now);
                    return Pumped::OVER;
                }
                self.step = Step::Closing(token);
                Pumped::IDLE
            }
            step => {
                self.step = step;
                Pumped::IDLE
            }
        }
    }

    /// A download's bytes into the socket while it has room; `Ok(true)` once
    /// all are in.
    fn send<S: Storage>(
        &mut self,
        socket: &mut tcp::Socket<'_>,
        storage: &mut S,
    ) -> Result<bool, TransferError> {
        loop {
            if !socket.may_send() {
                return Err(TransferError::ConnectionLost);
            }
            if !self.pending.is_empty() {
                let sent = socket.send_slice(&self.pending).unwrap_or(0);
                self.pending.drain(..sent);
                if !self.pending.is_empty() {
                    return Ok(false);
                }
            }
            if !socket.can_send() {
                return Ok(false);
            }
            let read = match &mut self.source {
                Source::Listing { bytes, at } => {
                    let sent = socket.send_slice(&bytes[*at..]).unwrap_or(0);
                    *at += sent;
                    sent
                }
                Source::File { path, at } if !self.ascii => {
                    let read = socket.send(|room| match storage.read(path, *at, room) {
                        Ok(n) => (n, Ok(n)),
                        Err(error) => (0, Err(error)),
                    });
                    let read = read.unwrap_or(Ok(0))?;
                    *at += read as u64;
                    read
                }
                Source::File { path, at } => {
                    let mut chunk = [0; ASCII_CHUNK];
                    let read = storage.read(path, *at, &mut chunk)?;
                    self.encoder.encode(&chunk[..read], &mut self.pending);
                    *at += read as u64;
                    read
                }
                Source::Upload { .. } => 0,
            };
            if read == 0 {
                return Ok(true);
            }
            self.moved += read as u64;
        }
    }

    /// An upload's bytes from the socket into the file; `Ok(true)` once the
    /// client has closed the connection and every byte is written.
    fn receive<S: Storage>(
        &mut self,
        socket: &mut tcp::Socket<'_>,
        storage: &mut S,
    ) -> Result<bool, TransferError> {
        let Source::Upload { path, at } = &mut self.source else {
            return Ok(true);
        };
        while socket.can_recv() {
            let (ascii, decoder, pending) = (self.ascii, &mut self.decoder, &mut self.pending);
            let written = socket.recv(|bytes| {
                let taken = bytes.len();
                let data = if ascii {
                    pending.clear();
                    decoder.decode(bytes, pending);
                    &pending[..]
                } else {
                    bytes
                };
                let written = storage.write(path, *at, data).map(|()| data.len());
                (taken, written)
            });
            let written = written.unwrap_or(Ok(0))?;
            *at += written as u64;
            self.moved += written as u64;
        }
        if socket.may_recv() {
            return Ok(false);
        }
        // A FIN after the last byte ends the upload; a reset breaks it.
        if socket.state() == State::Closed {
            return Err(TransferError::ConnectionLost);
        }
        if self.ascii {
            self.pending.clear();
            self.decoder.finish(&mut self.pending);
            storage.write(path, *at, &self.pending)?;
            self.moved += self.pending.len() as u64;
        }
        Ok(true)
    }
}
