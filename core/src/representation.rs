//! TYPE A (ASCII) transfers: the network form of a text file ends lines with
//! CRLF (RFC 959 §3.1.1.1); local files here end them with LF. Stateful so a
//! CR at the end of one buffer and LF at the start of the next stay one line end.

use alloc::vec::Vec;

/// Local (LF) to network (CRLF) for RETR/LIST under TYPE A.
#[derive(Debug, Default, Clone)]
pub struct AsciiEncoder {
    last_was_cr: bool,
}

impl AsciiEncoder {
    /// Appends `input` to `out`, turning every bare LF into CRLF (an existing CRLF is kept).
    pub fn encode(&mut self, input: &[u8], out: &mut Vec<u8>) {
        todo!("H1: {input:?} {out:?} {}", self.last_was_cr)
    }
}

/// Network (CRLF) to local (LF) for STOR/APPE under TYPE A.
#[derive(Debug, Default, Clone)]
pub struct AsciiDecoder {
    pending_cr: bool,
}

impl AsciiDecoder {
    /// Appends `input` to `out`, turning CRLF into LF; a lone CR is kept.
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) {
        todo!("H1: {input:?} {out:?} {}", self.pending_cr)
    }

    /// Flushes a CR held back at the end of the stream.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        todo!("H1: {out:?} {}", self.pending_cr)
    }
}
