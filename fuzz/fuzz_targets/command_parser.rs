//! The control channel's parsers on arbitrary bytes: Telnet filtering and
//! CRLF framing (`control::ControlReader`), then `Command::parse` on every
//! line it finds and on the raw input as one line.
//!
//! Checks, beyond "never panics": framing does not depend on how the input
//! was split into reads; a framed line holds no LF and respects the limit;
//! parsed arguments borrow the line (zero-copy); the parsed verb agrees with
//! `Verb::from_bytes`; PORT/EPRT addresses survive a format → parse round trip.
#![no_main]

use ftpwire_core::address;
use ftpwire_core::command::{Command, ParseError, Verb};
use ftpwire_core::control::{ControlReader, Frame};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // First byte: line limit; second: where to split the input into reads.
    let [limit, cut, input @ ..] = data else {
        return;
    };
    let limit = 3 + usize::from(*limit);
    check_parse(input);
    let whole = frames(limit, &[input]);
    let cut = usize::from(*cut) % (input.len() + 1);
    let (a, b) = input.split_at(cut);
    let split = frames(limit, &[a, b]);
    assert_eq!(whole, split, "framing depends on where reads end");
    // Bytes one at a time exercise every partial-line state.
    if input.len() <= 512 {
        let singles: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(
            whole,
            frames(limit, &singles),
            "byte-at-a-time framing differs"
        );
    }
});

/// Every line (parsed on the way) or `None` for a too-long line.
fn frames(limit: usize, chunks: &[&[u8]]) -> Vec<Option<Vec<u8>>> {
    let mut reader = ControlReader::new(limit);
    let mut found = Vec::new();
    for chunk in chunks {
        let mut rest = *chunk;
        while !rest.is_empty() {
            let (used, frame) = reader.next_line(rest);
            assert!(used > 0 && used <= rest.len(), "no progress or overrun");
            match frame {
                Frame::Line(line) => {
                    assert!(!line.contains(&b'\n'), "a framed line holds LF");
                    assert!(
                        line.len() < limit,
                        "line of {} bytes past limit {limit}",
                        line.len()
                    );
                    check_parse(line);
                    found.push(Some(line.to_vec()));
                }
                Frame::TooLong => found.push(None),
                Frame::NeedMore => assert_eq!(used, rest.len(), "NeedMore left input unread"),
            }
            rest = &rest[used..];
        }
    }
    found
}

fn check_parse(line: &[u8]) {
    let word = line.split(|&b| b == b' ').next().unwrap_or_default();
    let verb = Verb::from_bytes(word);
    match Command::parse(line) {
        Ok(command) => {
            assert_eq!(Some(command.verb()), verb, "verb disagrees with from_bytes");
            if let Some(arg) = argument(&command) {
                let range = line.as_ptr_range();
                assert!(
                    arg.is_empty() || range.contains(&arg.as_ptr()),
                    "argument is not a slice of the line"
                );
            }
            match command {
                Command::Port(addr) => {
                    let mut text = Vec::new();
                    address::write_host_port(&mut text, addr);
                    assert_eq!(address::parse_host_port(&text), Ok(addr));
                }
                Command::Eprt(addr) => {
                    let mut text = Vec::new();
                    address::write_eprt_argument(&mut text, addr);
                    assert_eq!(address::parse_eprt_argument(&text), Ok(addr));
                }
                _ => {}
            }
        }
        Err(ParseError::UnknownVerb) => assert_eq!(verb, None),
        Err(ParseError::NotImplemented) => assert_eq!(verb, Some(Verb::Unimplemented)),
        Err(error) => assert_eq!(error.verb(), verb, "error names another verb"),
    }
}

/// The borrowed argument of a command, if it has one.
fn argument<'a>(command: &Command<'a>) -> Option<&'a [u8]> {
    match *command {
        Command::User(a)
        | Command::Pass(a)
        | Command::Acct(a)
        | Command::Opts(a)
        | Command::Cwd(a)
        | Command::Mkd(a)
        | Command::Rmd(a)
        | Command::Dele(a)
        | Command::Rnfr(a)
        | Command::Rnto(a)
        | Command::Size(a)
        | Command::Mdtm(a)
        | Command::Retr(a)
        | Command::Stor(a)
        | Command::Appe(a)
        | Command::Site(a)
        | Command::Host(a)
        | Command::Auth(a)
        | Command::Pbsz(a)
        | Command::Prot(a)
        | Command::Mfmt { path: a, .. }
        | Command::SiteChmod { path: a, .. } => Some(a),
        Command::List(a) | Command::Nlst(a) => a.path,
        Command::Stat(a) | Command::Help(a) | Command::Mlsd(a) | Command::Mlst(a) => a,
        _ => None,
    }
}
