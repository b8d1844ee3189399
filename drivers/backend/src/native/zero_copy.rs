//! Zero-copy data transfers on Linux: a TYPE I RETR of a local file over a
//! plain (PROT C) data connection is sent by the kernel with sendfile(2),
//! and such a STOR is received with splice(2) through a pipe, so its bytes
//! never cross into user space. TYPE A, PROT P, APPE, STOU, listings and
//! other storages copy ([`Outbound`](super::transfer::Outbound),
//! [`Inbound`](super::transfer::Inbound)). The drivers run the loops
//! (blocking or async) around the calls here.

use std::fs::File;

/// A transfer the kernel can do itself, holding its local file.
#[derive(Debug)]
pub enum Direct {
    /// RETR: send `file` from `offset` (REST) on; the file is positioned
    /// there as well, for the copy path.
    Send {
        /// The file.
        file: File,
        /// Where sending starts.
        offset: u64,
    },
    /// STOR: write what arrives into the file, at its position.
    Receive(File),
}

/// Bytes one sendfile call on a non-blocking socket is asked for (it sends
/// what fits). A blocking call returns only once all are sent: there ask
/// for [`CHUNK_SIZE`](super::transfer::CHUNK_SIZE), so that a slow client
/// shows progress as often as on the copy path (the stall timeout).
#[cfg(target_os = "linux")]
pub const SEND_CHUNK: usize = 1 << 20;

/// The pipe a STOR's bytes go through, asked for (the kernel may give less:
/// /proc/sys/fs/pipe-max-size, 1 MiB by default).
#[cfg(target_os = "linux")]
pub const PIPE_SIZE: usize = 1 << 20;

#[cfg(target_os = "linux")]
pub use linux::{SplicePipe, send_file};

#[cfg(target_os = "linux")]
mod linux {
    use std::fs::File;
    use std::io;
    use std::os::fd::{AsFd, OwnedFd};

    use rustix::pipe::{PipeFlags, SpliceFlags, fcntl_setpipe_size, pipe_with, splice};

    use super::PIPE_SIZE;

    /// One sendfile(2) of up to `count` bytes of `file` from `offset`
    /// (advanced by what was sent) to `socket`; `0` at the end of the
    /// file. `WouldBlock` on a non-blocking socket that is full.
    pub fn send_file(
        socket: impl AsFd,
        file: &File,
        offset: &mut u64,
        count: usize,
    ) -> io::Result<usize> {
        Ok(rustix::fs::sendfile(socket, file, Some(offset), count)?)
    }

    /// A pipe between a data socket and a file: splice(2) moves the
    /// socket's buffers into it and from it into the file's pages.
    #[derive(Debug)]
    pub struct SplicePipe {
        read: OwnedFd,
        write: OwnedFd,
        capacity: usize,
        held: usize,
    }

    impl SplicePipe {
        /// A pipe of [`PIPE_SIZE`] (or the kernel's default if it refuses).
        pub fn new() -> io::Result<SplicePipe> {
            let (read, write) = pipe_with(PipeFlags::CLOEXEC)?;
            let capacity = match fcntl_setpipe_size(&write, PIPE_SIZE) {
                Ok(size) => size,
                // The default is at least one page; 64 KiB on Linux.
                Err(_) => rustix::pipe::fcntl_getpipe_size(&write)?,
            };
            Ok(SplicePipe {
                read,
                write,
                capacity,
                held: 0,
            })
        }

        /// Moves what `socket` has received (up to the pipe's size) into
        /// the empty pipe; `0` at the end of the stream. Blocks as the
        /// socket does (`WouldBlock` on a non-blocking one with nothing).
        pub fn fill(&mut self, socket: impl AsFd) -> io::Result<usize> {
            debug_assert_eq!(self.held, 0, "drain before filling again");
            let n = splice(
                socket,
                None,
                &self.write,
                None,
                self.capacity,
                SpliceFlags::MOVE,
            )?;
            self.held = n;
            Ok(n)
        }

        /// Writes what the pipe holds into `file` at its position.
        pub fn drain(&mut self, file: &File) -> io::Result<()> {
            while self.held > 0 {
                match splice(&self.read, None, file, None, self.held, SpliceFlags::MOVE) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => self.held -= n,
                    Err(rustix::io::Errno::INTR) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            Ok(())
        }
    }

    #[cfg(test)]
    mod tests {
        use std::io::{Read, Seek, SeekFrom, Write};
        use std::net::{TcpListener, TcpStream};

        use super::*;

        #[test]
        fn sendfile_sends_from_the_offset_and_leaves_the_position() {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            let (server, _) = listener.accept().unwrap();
            let mut file = tempfile::tempfile().unwrap();
            file.write_all(b"0123456789").unwrap();
            file.seek(SeekFrom::Start(4)).unwrap();
            let mut offset = 4;
            let mut sent = 0;
            loop {
                match send_file(&server, &file, &mut offset, 3).unwrap() {
                    0 => break,
                    n => sent += n,
                }
            }
            drop(server);
            let mut received = Vec::new();
            client.read_to_end(&mut received).unwrap();
            assert_eq!((sent, offset, &received[..]), (6, 10, &b"456789"[..]));
            assert_eq!(file.stream_position().unwrap(), 4, "for the copy path");
        }

        #[test]
        fn splice_writes_what_arrives_at_the_file_position() {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            let (server, _) = listener.accept().unwrap();
            let mut file = tempfile::tempfile().unwrap();
            file.write_all(b"keep").unwrap();
            client.write_all(b" and this").unwrap();
            drop(client);
            let mut pipe = SplicePipe::new().unwrap();
            while pipe.fill(&server).unwrap() > 0 {
                pipe.drain(&file).unwrap();
            }
            let mut text = String::new();
            file.seek(SeekFrom::Start(0)).unwrap();
            file.read_to_string(&mut text).unwrap();
            assert_eq!(text, "keep and this");
        }
    }
}
