//! Command lines (RFC 959 §4.1, §5.3): one line without its CRLF into a
//! [`Command`] that borrows its argument from the line. Nothing is allocated;
//! a malformed line is a [`ParseError`] that names the reply it deserves.
//!
//! ```
//! use ftpwire_core::command::{Command, Verb};
//! assert_eq!(Command::parse(b"retr docs/a b.txt"), Ok(Command::Retr(b"docs/a b.txt")));
//! assert_eq!(Command::parse(b"TYPE X").unwrap_err().verb(), Some(Verb::Type));
//! ```

use core::net::{SocketAddr, SocketAddrV4};

use crate::address::{self, AddressError};

/// Every verb the server recognises, X-variants (RFC 775) folded into their modern names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)] // the variants are the RFC verbs themselves
pub enum Verb {
    // In three runs by what their argument may be (`Verb::argument`), so
    // that telling which is one comparison. Needed:
    User,
    Acct,
    Opts,
    Cwd,
    Mkd,
    Rmd,
    Dele,
    Rnfr,
    Rnto,
    Size,
    Mdtm,
    /// MFMT (draft-somers-ftp-mfxx): set a file's modification time.
    Mfmt,
    Type,
    Mode,
    Stru,
    Rest,
    Port,
    Eprt,
    Retr,
    Stor,
    Appe,
    Site,
    Host,
    Auth,
    Pbsz,
    Prot,
    // None:
    Quit,
    Rein,
    Noop,
    Syst,
    Feat,
    Pwd,
    Cdup,
    Pasv,
    Abor,
    Ccc,
    // Any:
    Pass,
    Stat,
    Help,
    Epsv,
    Stou,
    List,
    Nlst,
    Mlsd,
    Mlst,
    Allo,
    /// Recognised verbs the server does not implement (SMNT, LPRT, ADAT, ...): `502`.
    Unimplemented,
}

impl Verb {
    /// The verb of a command line's first word, case-insensitively; `None` if unknown (`500`).
    pub fn from_bytes(word: &[u8]) -> Option<Verb> {
        match *word {
            // A trailing space is the padding of a three-letter key anyway.
            [a, b, c] | [a, b, c, b' '] => Verb::from_key(key3([a, b, c, b' '])),
            [a, b, c, d] => Verb::from_key(key4([a, b, c, d])),
            _ => None,
        }
    }

    /// The verb of an uppercased key (see [`key3`], [`key4`]): one multiply
    /// and one table probe instead of a chain of comparisons.
    fn from_key(key: u32) -> Option<Verb> {
        let slot = verb_slot(key);
        (VERB_TABLE.keys[slot] == key).then_some(VERB_TABLE.verbs[slot])
    }

    /// Whether the verb may be used before login (RFC 959 leaves this to the
    /// server; these are the ones a client needs to log in or learn about us).
    pub fn allowed_before_login(self) -> bool {
        matches!(
            self,
            Verb::User
                | Verb::Pass
                | Verb::Quit
                | Verb::Feat
                | Verb::Syst
                | Verb::Noop
                | Verb::Help
                | Verb::Host
                | Verb::Auth
                | Verb::Opts
                | Verb::Pbsz
                | Verb::Prot
        )
    }
}

/// Every verb's key: its four bytes, a three-letter verb padded with a space.
const VERB_KEYS: [(&[u8; 4], Verb); 72] = [
    (b"USER", Verb::User),
    (b"PASS", Verb::Pass),
    (b"ACCT", Verb::Acct),
    (b"QUIT", Verb::Quit),
    (b"REIN", Verb::Rein),
    (b"NOOP", Verb::Noop),
    (b"SYST", Verb::Syst),
    (b"STAT", Verb::Stat),
    (b"HELP", Verb::Help),
    (b"FEAT", Verb::Feat),
    (b"OPTS", Verb::Opts),
    (b"PWD ", Verb::Pwd),
    (b"XPWD", Verb::Pwd),
    (b"CWD ", Verb::Cwd),
    (b"XCWD", Verb::Cwd),
    (b"CDUP", Verb::Cdup),
    (b"XCUP", Verb::Cdup),
    (b"MKD ", Verb::Mkd),
    (b"XMKD", Verb::Mkd),
    (b"RMD ", Verb::Rmd),
    (b"XRMD", Verb::Rmd),
    (b"DELE", Verb::Dele),
    (b"RNFR", Verb::Rnfr),
    (b"RNTO", Verb::Rnto),
    (b"SIZE", Verb::Size),
    (b"MDTM", Verb::Mdtm),
    (b"MFMT", Verb::Mfmt),
    (b"TYPE", Verb::Type),
    (b"MODE", Verb::Mode),
    (b"STRU", Verb::Stru),
    (b"REST", Verb::Rest),
    (b"PASV", Verb::Pasv),
    (b"EPSV", Verb::Epsv),
    (b"PORT", Verb::Port),
    (b"EPRT", Verb::Eprt),
    (b"RETR", Verb::Retr),
    (b"STOR", Verb::Stor),
    (b"STOU", Verb::Stou),
    (b"APPE", Verb::Appe),
    (b"LIST", Verb::List),
    (b"NLST", Verb::Nlst),
    (b"MLSD", Verb::Mlsd),
    (b"MLST", Verb::Mlst),
    (b"ABOR", Verb::Abor),
    (b"ALLO", Verb::Allo),
    (b"SITE", Verb::Site),
    (b"HOST", Verb::Host),
    (b"AUTH", Verb::Auth),
    (b"PBSZ", Verb::Pbsz),
    (b"PROT", Verb::Prot),
    (b"CCC ", Verb::Ccc),
    (b"SMNT", Verb::Unimplemented),
    (b"LPRT", Verb::Unimplemented),
    (b"LPSV", Verb::Unimplemented),
    (b"ADAT", Verb::Unimplemented),
    (b"MIC ", Verb::Unimplemented),
    (b"CONF", Verb::Unimplemented),
    (b"ENC ", Verb::Unimplemented),
    (b"MFCT", Verb::Unimplemented),
    (b"MFF ", Verb::Unimplemented),
    (b"LANG", Verb::Unimplemented),
    (b"XRCP", Verb::Unimplemented),
    (b"XSEN", Verb::Unimplemented),
    (b"XSEM", Verb::Unimplemented),
    (b"XMAS", Verb::Unimplemented),
    (b"MLFL", Verb::Unimplemented),
    (b"MAIL", Verb::Unimplemented),
    (b"MSND", Verb::Unimplemented),
    (b"MSOM", Verb::Unimplemented),
    (b"MSAM", Verb::Unimplemented),
    (b"MRSQ", Verb::Unimplemented),
    (b"MRCP", Verb::Unimplemented),
];

/// Clearing bit 5 of every byte uppercases ASCII letters. No other byte
/// becomes a letter (only `x` and `x | 0x20` map to a letter `x`), and no byte
/// becomes a space (bit 5 is always clear), so a masked four-letter word can
/// never equal a three-letter key and its padding space.
const UPPERCASE: u32 = 0xDFDF_DFDF;

/// The key of a four-byte word.
fn key4(word: [u8; 4]) -> u32 {
    u32::from_le_bytes(word) & UPPERCASE
}

/// The key of a three-byte word followed by a space (`word[3]`), which is kept.
fn key3(word: [u8; 4]) -> u32 {
    u32::from_le_bytes(word) & (UPPERCASE | 0xFF00_0000)
}

/// Multiplier of the verb hash: the top byte of `key * VERB_HASH` differs for
/// every key in [`VERB_KEYS`] (found by trying odd multipliers; `VERB_TABLE`
/// fails to compile if a change to the keys makes two collide).
const VERB_HASH: u32 = 0x7E3D_2569;

const fn verb_slot(key: u32) -> usize {
    (key.wrapping_mul(VERB_HASH) >> 24) as usize
}

/// A perfect hash table of [`VERB_KEYS`]. An empty slot's key is
/// [`NO_KEY`], which no word's key equals, so its verb is never read.
struct VerbTable {
    keys: [u32; 256],
    verbs: [Verb; 256],
}

/// Bit 5 is set in every byte: [`key4`] clears it in all four and [`key3`]
/// in three.
const NO_KEY: u32 = u32::MAX;

static VERB_TABLE: VerbTable = {
    let mut table = VerbTable {
        keys: [NO_KEY; 256],
        verbs: [Verb::Unimplemented; 256],
    };
    let mut i = 0;
    while i < VERB_KEYS.len() {
        let (word, verb) = VERB_KEYS[i];
        let key = u32::from_le_bytes(*word);
        let slot = verb_slot(key);
        assert!(table.keys[slot] == NO_KEY, "VERB_HASH: two verbs collide");
        table.keys[slot] = key;
        table.verbs[slot] = verb;
        i += 1;
    }
    table
};

/// TYPE's argument (RFC 959 §3.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferType {
    /// `A` / `A N`: text with CRLF line ends on the wire.
    Ascii,
    /// `I` / `L 8`: bytes as they are.
    Image,
}

/// EPSV's argument (RFC 2428 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpsvArgument {
    /// No argument: the control connection's protocol.
    None,
    /// `EPSV ALL`: from now on only EPSV may set up data connections.
    All,
    /// `EPSV 1` (IPv4) or `EPSV 2` (IPv6).
    Protocol(u8),
}

/// A parsed command; arguments borrow the line they came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)] // variants are the RFC commands; arguments are documented where not obvious
pub enum Command<'a> {
    User(&'a [u8]),
    Pass(&'a [u8]),
    Acct(&'a [u8]),
    Quit,
    Rein,
    Noop,
    Syst,
    /// STAT with an optional path.
    Stat(Option<&'a [u8]>),
    Help(Option<&'a [u8]>),
    Feat,
    /// OPTS with its whole argument (`UTF8 ON`).
    Opts(&'a [u8]),
    Pwd,
    Cwd(&'a [u8]),
    Cdup,
    Mkd(&'a [u8]),
    Rmd(&'a [u8]),
    Dele(&'a [u8]),
    Rnfr(&'a [u8]),
    Rnto(&'a [u8]),
    Size(&'a [u8]),
    Mdtm(&'a [u8]),
    /// MFMT: set `path`'s modification time to `modified` (Unix seconds, UTC).
    Mfmt {
        modified: i64,
        path: &'a [u8],
    },
    Type(TransferType),
    /// MODE S (the only mode supported).
    ModeStream,
    /// STRU F (the only structure supported).
    StruFile,
    Rest(u64),
    Pasv,
    Epsv(EpsvArgument),
    Port(SocketAddrV4),
    Eprt(SocketAddr),
    Retr(&'a [u8]),
    Stor(&'a [u8]),
    /// STOU with an optional name hint (ignored: the host picks the name).
    Stou,
    Appe(&'a [u8]),
    /// LIST with its `ls`-style options (`-la`) taken apart from the path.
    List(ListArgument<'a>),
    Nlst(ListArgument<'a>),
    Mlsd(Option<&'a [u8]>),
    Mlst(Option<&'a [u8]>),
    Abor,
    Allo,
    /// SITE CHMOD: set `path`'s permission bits to `mode` (octal on the wire).
    SiteChmod {
        mode: u32,
        path: &'a [u8],
    },
    /// Any other SITE command, with its whole argument.
    Site(&'a [u8]),
    Host(&'a [u8]),
    /// AUTH with its mechanism (`TLS`, `SSL`).
    Auth(&'a [u8]),
    Pbsz(&'a [u8]),
    Prot(&'a [u8]),
    Ccc,
}

/// Why a line is not a command; each kind maps to one reply code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// `500`: not a verb we know.
    #[error("unknown command")]
    UnknownVerb,
    /// `502`: a verb we know but do not implement.
    #[error("command not implemented")]
    NotImplemented,
    /// `501`: the verb needs an argument and got none, or got one it cannot use.
    #[error("syntax error in parameters or arguments")]
    BadArgument(Verb),
    /// `504`: a well-formed parameter the server does not support (TYPE E, MODE B).
    #[error("command not implemented for that parameter")]
    UnsupportedParameter(Verb),
    /// `522`: EPRT/EPSV named a network protocol other than IPv4 or IPv6.
    #[error("network protocol not supported, use (1,2)")]
    UnsupportedProtocol(Verb),
}

impl ParseError {
    /// The verb of the line, if it was a known one.
    pub fn verb(&self) -> Option<Verb> {
        match *self {
            ParseError::UnknownVerb | ParseError::NotImplemented => None,
            ParseError::BadArgument(v)
            | ParseError::UnsupportedParameter(v)
            | ParseError::UnsupportedProtocol(v) => Some(v),
        }
    }
}

impl<'a> Command<'a> {
    /// The verb this command was parsed from.
    pub fn verb(&self) -> Verb {
        match self {
            Command::User(_) => Verb::User,
            Command::Pass(_) => Verb::Pass,
            Command::Acct(_) => Verb::Acct,
            Command::Quit => Verb::Quit,
            Command::Rein => Verb::Rein,
            Command::Noop => Verb::Noop,
            Command::Syst => Verb::Syst,
            Command::Stat(_) => Verb::Stat,
            Command::Help(_) => Verb::Help,
            Command::Feat => Verb::Feat,
            Command::Opts(_) => Verb::Opts,
            Command::Pwd => Verb::Pwd,
            Command::Cwd(_) => Verb::Cwd,
            Command::Cdup => Verb::Cdup,
            Command::Mkd(_) => Verb::Mkd,
            Command::Rmd(_) => Verb::Rmd,
            Command::Dele(_) => Verb::Dele,
            Command::Rnfr(_) => Verb::Rnfr,
            Command::Rnto(_) => Verb::Rnto,
            Command::Size(_) => Verb::Size,
            Command::Mdtm(_) => Verb::Mdtm,
            Command::Mfmt { .. } => Verb::Mfmt,
            Command::Type(_) => Verb::Type,
            Command::ModeStream => Verb::Mode,
            Command::StruFile => Verb::Stru,
            Command::Rest(_) => Verb::Rest,
            Command::Pasv => Verb::Pasv,
            Command::Epsv(_) => Verb::Epsv,
            Command::Port(_) => Verb::Port,
            Command::Eprt(_) => Verb::Eprt,
            Command::Retr(_) => Verb::Retr,
            Command::Stor(_) => Verb::Stor,
            Command::Stou => Verb::Stou,
            Command::Appe(_) => Verb::Appe,
            Command::List(_) => Verb::List,
            Command::Nlst(_) => Verb::Nlst,
            Command::Mlsd(_) => Verb::Mlsd,
            Command::Mlst(_) => Verb::Mlst,
            Command::Abor => Verb::Abor,
            Command::Allo => Verb::Allo,
            Command::Site(_) | Command::SiteChmod { .. } => Verb::Site,
            Command::Host(_) => Verb::Host,
            Command::Auth(_) => Verb::Auth,
            Command::Pbsz(_) => Verb::Pbsz,
            Command::Prot(_) => Verb::Prot,
            Command::Ccc => Verb::Ccc,
        }
    }

    /// Parses one command line without its line end. The verb is
    /// case-insensitive and separated from the argument by one space; the
    /// argument is everything after it, spaces included (file names may
    /// contain and even start with spaces).
    pub fn parse(line: &'a [u8]) -> Result<Command<'a>, ParseError> {
        Self::parse_inline(line)
    }

    /// [`parse`](Self::parse), inlined into the control reader's one pass.
    #[inline(always)]
    pub(crate) fn parse_inline(line: &'a [u8]) -> Result<Command<'a>, ParseError> {
        // Verbs are 3 or 4 bytes, so the space can only be at index 3 or 4:
        // look there instead of searching the line for it.
        let (key, arg) = match line.split_first_chunk::<4>() {
            Some((&head, arg)) if head[3] == b' ' => (key3(head), arg),
            Some((&head, arg @ [])) => (key4(head), arg),
            Some((&head, [b' ', arg @ ..])) => (key4(head), arg),
            Some(_) => return Err(ParseError::UnknownVerb),
            None => match *line {
                [a, b, c] => (key3([a, b, c, b' ']), &line[3..]),
                _ => return Err(ParseError::UnknownVerb),
            },
        };
        let verb = Verb::from_key(key).ok_or(ParseError::UnknownVerb)?;
        Self::with_argument(verb, arg)
    }

    #[inline(always)]
    fn with_argument(verb: Verb, arg: &'a [u8]) -> Result<Command<'a>, ParseError> {
        let bad = ParseError::BadArgument(verb);
        // Commands without arguments tolerate trailing blanks some clients
        // send. Most arguments are empty or start with a letter: scan only
        // the rest.
        let blank = match arg.first() {
            None => true,
            Some(b' ') => arg.iter().all(|&b| b == b' '),
            Some(_) => false,
        };
        // One test for every verb, rather than one per arm: the arms below
        // take `arg` as it is.
        match verb.argument() {
            Argument::Required if blank => return Err(bad),
            Argument::None if !blank => return Err(bad),
            _ => {}
        }
        let optional = if blank { None } else { Some(arg) };
        Ok(match verb {
            Verb::User => Command::User(arg),
            // An empty password is legitimate (anonymous clients send one).
            Verb::Pass => Command::Pass(arg),
            Verb::Acct => Command::Acct(arg),
            Verb::Quit => Command::Quit,
            Verb::Rein => Command::Rein,
            Verb::Noop => Command::Noop,
            Verb::Syst => Command::Syst,
            Verb::Stat => Command::Stat(optional),
            Verb::Help => Command::Help(optional),
            Verb::Feat => Command::Feat,
            Verb::Opts => Command::Opts(arg),
            Verb::Pwd => Command::Pwd,
            Verb::Cwd => Command::Cwd(arg),
            Verb::Cdup => Command::Cdup,
            Verb::Mkd => Command::Mkd(arg),
            Verb::Rmd => Command::Rmd(arg),
            Verb::Dele => Command::Dele(arg),
            Verb::Rnfr => Command::Rnfr(arg),
            Verb::Rnto => Command::Rnto(arg),
            Verb::Size => Command::Size(arg),
            Verb::Mdtm => Command::Mdtm(arg),
            Verb::Mfmt => {
                let (time, path) = split_word(arg).ok_or(bad)?;
                let modified = crate::listing::parse_timestamp(time).ok_or(bad)?;
                Command::Mfmt { modified, path }
            }
            Verb::Type => Command::Type(parse_type(trim(arg))?),
            Verb::Mode => match trim(arg) {
                b"S" | b"s" => Command::ModeStream,
                b"B" | b"b" | b"C" | b"c" => return Err(ParseError::UnsupportedParameter(verb)),
                _ => return Err(bad),
            },
            Verb::Stru => match trim(arg) {
                b"F" | b"f" => Command::StruFile,
                b"R" | b"r" | b"P" | b"p" => return Err(ParseError::UnsupportedParameter(verb)),
                _ => return Err(bad),
            },
            Verb::Rest => Command::Rest(parse_decimal(trim(arg)).ok_or(bad)?),
            Verb::Pasv => Command::Pasv,
            Verb::Epsv => Command::Epsv(match optional.map(trim) {
                None => EpsvArgument::None,
                Some(a) if a.eq_ignore_ascii_case(b"ALL") => EpsvArgument::All,
                Some(b"1") => EpsvArgument::Protocol(1),
                Some(b"2") => EpsvArgument::Protocol(2),
                Some(a) if parse_decimal(a).is_some() => {
                    return Err(ParseError::UnsupportedProtocol(verb));
                }
                Some(_) => return Err(bad),
            }),
            Verb::Port => Command::Port(address::parse_host_port(arg).map_err(|_| bad)?),
            Verb::Eprt => {
                Command::Eprt(address::parse_eprt_argument(arg).map_err(|e| match e {
                    AddressError::UnsupportedProtocol => ParseError::UnsupportedProtocol(verb),
                    AddressError::Malformed(_) => bad,
                })?)
            }
            Verb::Retr => Command::Retr(arg),
            Verb::Stor => Command::Stor(arg),
            Verb::Stou => Command::Stou,
            Verb::Appe => Command::Appe(arg),
            Verb::List => Command::List(ListArgument::parse(optional)),
            Verb::Nlst => Command::Nlst(ListArgument::parse(optional)),
            Verb::Mlsd => Command::Mlsd(optional),
            Verb::Mlst => Command::Mlst(optional),
            Verb::Abor => Command::Abor,
            // ALLO's argument is advisory; any form is accepted and ignored.
            Verb::Allo => Command::Allo,
            Verb::Site => parse_site(arg)?,
            Verb::Host => Command::Host(trim(arg)),
            Verb::Auth => Command::Auth(trim(arg)),
            Verb::Pbsz => Command::Pbsz(trim(arg)),
            Verb::Prot => Command::Prot(trim(arg)),
            Verb::Ccc => Command::Ccc,
            Verb::Unimplemented => return Err(ParseError::NotImplemented),
        })
    }
}

/// What a verb's argument may be; checked once, before the verb's own parsing.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Argument {
    /// Needed: a missing or blank one is `501`.
    Required,
    /// None: anything but blanks is `501`.
    None,
    /// Optional, or any (PASS, ALLO, STOU), or never looked at (502).
    Any,
}

impl Verb {
    fn argument(self) -> Argument {
        // The arms follow the variants' order: two comparisons.
        match self {
            Verb::User
            | Verb::Acct
            | Verb::Opts
            | Verb::Cwd
            | Verb::Mkd
            | Verb::Rmd
            | Verb::Dele
            | Verb::Rnfr
            | Verb::Rnto
            | Verb::Size
            | Verb::Mdtm
            | Verb::Mfmt
            | Verb::Type
            | Verb::Mode
            | Verb::Stru
            | Verb::Rest
            | Verb::Port
            | Verb::Eprt
            | Verb::Retr
            | Verb::Stor
            | Verb::Appe
            | Verb::Site
            | Verb::Host
            | Verb::Auth
            | Verb::Pbsz
            | Verb::Prot => Argument::Required,
            Verb::Quit
            | Verb::Rein
            | Verb::Noop
            | Verb::Syst
            | Verb::Feat
            | Verb::Pwd
            | Verb::Cdup
            | Verb::Pasv
            | Verb::Abor
            | Verb::Ccc => Argument::None,
            Verb::Pass
            | Verb::Stat
            | Verb::Help
            | Verb::Epsv
            | Verb::Stou
            | Verb::List
            | Verb::Nlst
            | Verb::Mlsd
            | Verb::Mlst
            | Verb::Allo
            | Verb::Unimplemented => Argument::Any,
        }
    }
}

fn parse_type(arg: &[u8]) -> Result<TransferType, ParseError> {
    let unsupported = ParseError::UnsupportedParameter(Verb::Type);
    let mut words = arg.split(|&b| b == b' ').filter(|w| !w.is_empty());
    let kind = words.next().ok_or(ParseError::BadArgument(Verb::Type))?;
    let format = words.next();
    if words.next().is_some() || kind.len() != 1 {
        return Err(ParseError::BadArgument(Verb::Type));
    }
    match (kind[0].to_ascii_uppercase(), format) {
        (b'A', None) => Ok(TransferType::Ascii),
        (b'A', Some(f)) if f.eq_ignore_ascii_case(b"N") => Ok(TransferType::Ascii),
        (b'I', None) => Ok(TransferType::Image),
        (b'L', Some(b"8")) => Ok(TransferType::Image),
        (b'A' | b'E' | b'L', _) => Err(unsupported),
        _ => Err(ParseError::BadArgument(Verb::Type)),
    }
}

/// LIST and NLST's argument: `ls` options (RFC 959 has none, clients send
/// them anyway) and the path after them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ListArgument<'a> {
    /// The path; `None` lists the working directory.
    pub path: Option<&'a [u8]>,
    /// `-a` or `-A` was among the options (`-la`, `-al`, `-a -l`): show
    /// dot files, as `ls` does.
    pub all: bool,
}

impl<'a> ListArgument<'a> {
    /// `-la dir` → `dir` with `all`; `-l` → no path. Every leading word
    /// that starts with `-` is an option word.
    /// Out of line: inlined, its loop made every `parse` save 3 more registers.
    #[inline(never)]
    fn parse(arg: Option<&'a [u8]>) -> ListArgument<'a> {
        let Some(mut rest) = arg else {
            return ListArgument::default();
        };
        let mut all = false;
        while rest.first() == Some(&b'-') {
            let end = memchr::memchr(b' ', rest).unwrap_or(rest.len());
            all |= rest[1..end].iter().any(|&b| b == b'a' || b == b'A');
            rest = &rest[end..];
            while rest.first() == Some(&b' ') {
                rest = &rest[1..];
            }
        }
        let path = if rest.is_empty() { None } else { Some(rest) };
        ListArgument { path, all }
    }
}

/// `first rest` → (`first`, `rest`): a word, one or more spaces, and a
/// non-empty rest kept as it is (a path may contain spaces).
fn split_word(arg: &[u8]) -> Option<(&[u8], &[u8])> {
    let space = memchr::memchr(b' ', arg)?;
    let (word, mut rest) = (&arg[..space], &arg[space..]);
    while rest.first() == Some(&b' ') {
        rest = &rest[1..];
    }
    (!word.is_empty() && !rest.is_empty()).then_some((word, rest))
}

/// SITE's argument: `CHMOD mode path` is parsed (mode in octal, at most
/// four digits); any other SITE command is kept whole for the session.
fn parse_site(arg: &[u8]) -> Result<Command<'_>, ParseError> {
    let bad = ParseError::BadArgument(Verb::Site);
    let (word, rest) = match split_word(arg) {
        Some(split) => split,
        None => (trim(arg), &b""[..]),
    };
    if !word.eq_ignore_ascii_case(b"CHMOD") {
        return Ok(Command::Site(arg));
    }
    let (digits, path) = split_word(rest).ok_or(bad)?;
    if digits.len() > 4 {
        return Err(bad);
    }
    let mode = digits.iter().try_fold(0u32, |mode, &d| match d {
        b'0'..=b'7' => Ok(mode << 3 | u32::from(d - b'0')),
        _ => Err(bad),
    })?;
    Ok(Command::SiteChmod { mode, path })
}

fn trim(arg: &[u8]) -> &[u8] {
    let start = arg.iter().position(|&b| b != b' ').unwrap_or(arg.len());
    let end = arg
        .iter()
        .rposition(|&b| b != b' ')
        .map_or(start, |e| e + 1);
    &arg[start..end]
}

/// A non-negative decimal that fits in u64.
fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |acc, &d| {
        if d.is_ascii_digit() {
            acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn verbs_are_case_insensitive_and_x_variants_fold() {
        assert_eq!(Command::parse(b"noop"), Ok(Command::Noop));
        assert_eq!(Command::parse(b"NoOp"), Ok(Command::Noop));
        assert_eq!(Command::parse(b"XPWD"), Ok(Command::Pwd));
        assert_eq!(Command::parse(b"xcwd /a"), Ok(Command::Cwd(b"/a")));
        assert_eq!(Command::parse(b"XCUP"), Ok(Command::Cdup));
        assert_eq!(Command::parse(b"XMKD d"), Ok(Command::Mkd(b"d")));
        assert_eq!(Command::parse(b"XRMD d"), Ok(Command::Rmd(b"d")));
    }

    #[test]
    fn arguments_keep_their_spaces_and_bytes() {
        assert_eq!(
            Command::parse(b"RETR  lead.txt"),
            Ok(Command::Retr(b" lead.txt"))
        );
        assert_eq!(
            Command::parse(b"STOR a b\xff"),
            Ok(Command::Stor(b"a b\xff"))
        );
        assert_eq!(Command::parse(b"PASS "), Ok(Command::Pass(b"")));
        assert_eq!(Command::parse(b"PASS"), Ok(Command::Pass(b"")));
    }

    #[test]
    fn unknown_and_unimplemented_verbs() {
        assert_eq!(Command::parse(b"FOO"), Err(ParseError::UnknownVerb));
        assert_eq!(Command::parse(b""), Err(ParseError::UnknownVerb));
        assert_eq!(Command::parse(b"RETRX a"), Err(ParseError::UnknownVerb));
        assert_eq!(Command::parse(b"SMNT x"), Err(ParseError::NotImplemented));
        assert_eq!(Command::parse(b"LPRT x"), Err(ParseError::NotImplemented));
    }

    #[test]
    fn missing_or_extra_arguments_are_501() {
        assert_eq!(
            Command::parse(b"RETR"),
            Err(ParseError::BadArgument(Verb::Retr))
        );
        assert_eq!(
            Command::parse(b"USER"),
            Err(ParseError::BadArgument(Verb::User))
        );
        assert_eq!(
            Command::parse(b"PWD x"),
            Err(ParseError::BadArgument(Verb::Pwd))
        );
        assert_eq!(Command::parse(b"PWD "), Ok(Command::Pwd));
        assert_eq!(
            Command::parse(b"REST x"),
            Err(ParseError::BadArgument(Verb::Rest))
        );
        assert_eq!(
            Command::parse(b"REST 99999999999999999999"),
            Err(ParseError::BadArgument(Verb::Rest))
        );
        assert_eq!(Command::parse(b"REST 100"), Ok(Command::Rest(100)));
    }

    #[test]
    fn type_mode_stru() {
        assert_eq!(
            Command::parse(b"TYPE I"),
            Ok(Command::Type(TransferType::Image))
        );
        assert_eq!(
            Command::parse(b"type a"),
            Ok(Command::Type(TransferType::Ascii))
        );
        assert_eq!(
            Command::parse(b"TYPE A N"),
            Ok(Command::Type(TransferType::Ascii))
        );
        assert_eq!(
            Command::parse(b"TYPE L 8"),
            Ok(Command::Type(TransferType::Image))
        );
        assert_eq!(
            Command::parse(b"TYPE E"),
            Err(ParseError::UnsupportedParameter(Verb::Type))
        );
        assert_eq!(
            Command::parse(b"TYPE A T"),
            Err(ParseError::UnsupportedParameter(Verb::Type))
        );
        assert_eq!(
            Command::parse(b"TYPE Z"),
            Err(ParseError::BadArgument(Verb::Type))
        );
        assert_eq!(Command::parse(b"MODE S"), Ok(Command::ModeStream));
        assert_eq!(
            Command::parse(b"MODE B"),
            Err(ParseError::UnsupportedParameter(Verb::Mode))
        );
        assert_eq!(Command::parse(b"STRU F"), Ok(Command::StruFile));
        assert_eq!(
            Command::parse(b"STRU R"),
            Err(ParseError::UnsupportedParameter(Verb::Stru))
        );
    }

    #[test]
    fn epsv_arguments() {
        assert_eq!(
            Command::parse(b"EPSV"),
            Ok(Command::Epsv(EpsvArgument::None))
        );
        assert_eq!(
            Command::parse(b"EPSV ALL"),
            Ok(Command::Epsv(EpsvArgument::All))
        );
        assert_eq!(
            Command::parse(b"EPSV 2"),
            Ok(Command::Epsv(EpsvArgument::Protocol(2)))
        );
        assert_eq!(
            Command::parse(b"EPSV 3"),
            Err(ParseError::UnsupportedProtocol(Verb::Epsv))
        );
        assert_eq!(
            Command::parse(b"EPSV x"),
            Err(ParseError::BadArgument(Verb::Epsv))
        );
    }

    #[test]
    fn list_options_are_taken_apart_from_the_path() {
        let list = |path: Option<&'static [u8]>, all| ListArgument { path, all };
        assert_eq!(
            Command::parse(b"LIST"),
            Ok(Command::List(list(None, false)))
        );
        assert_eq!(
            Command::parse(b"LIST -l"),
            Ok(Command::List(list(None, false)))
        );
        assert_eq!(
            Command::parse(b"LIST -la"),
            Ok(Command::List(list(None, true)))
        );
        assert_eq!(
            Command::parse(b"LIST -al"),
            Ok(Command::List(list(None, true)))
        );
        assert_eq!(
            Command::parse(b"LIST -lA"),
            Ok(Command::List(list(None, true)))
        );
        assert_eq!(
            Command::parse(b"LIST -l -a dir"),
            Ok(Command::List(list(Some(b"dir"), true)))
        );
        assert_eq!(
            Command::parse(b"LIST -l dir"),
            Ok(Command::List(list(Some(b"dir"), false)))
        );
        // Only option words count: an `a` in the path is a name.
        assert_eq!(
            Command::parse(b"LIST -l a.txt"),
            Ok(Command::List(list(Some(b"a.txt"), false)))
        );
        assert_eq!(
            Command::parse(b"NLST -a  x y"),
            Ok(Command::Nlst(list(Some(b"x y"), true)))
        );
        assert_eq!(
            Command::parse(b"NLST .git"),
            Ok(Command::Nlst(list(Some(b".git"), false)))
        );
        assert_eq!(Command::parse(b"MLSD"), Ok(Command::Mlsd(None)));
    }

    #[test]
    fn mfmt_takes_a_timestamp_and_a_path() {
        assert_eq!(
            Command::parse(b"MFMT 20240314092653 a b.txt"),
            Ok(Command::Mfmt {
                modified: 1_710_408_413,
                path: b"a b.txt"
            })
        );
        // RFC 3659 time-val may carry fractions of a second; they are dropped.
        assert_eq!(
            Command::parse(b"mfmt 20240314092653.123 /x"),
            Ok(Command::Mfmt {
                modified: 1_710_408_413,
                path: b"/x"
            })
        );
        for bad in [
            &b"MFMT"[..],
            b"MFMT 20240314092653",
            b"MFMT 20240314092653 ",
            b"MFMT 2024031409265 x",
            b"MFMT 20241314092653 x",
            b"MFMT 20240230092653 x",
            b"MFMT 20240314242653 x",
            b"MFMT 2024031409265x x",
            b"MFMT 20240314092653. x",
            b"MFMT x 20240314092653",
        ] {
            assert_eq!(
                Command::parse(bad),
                Err(ParseError::BadArgument(Verb::Mfmt)),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn site_chmod_takes_an_octal_mode_and_a_path() {
        assert_eq!(
            Command::parse(b"SITE CHMOD 644 a b.txt"),
            Ok(Command::SiteChmod {
                mode: 0o644,
                path: b"a b.txt"
            })
        );
        assert_eq!(
            Command::parse(b"site chmod 0755 dir"),
            Ok(Command::SiteChmod {
                mode: 0o755,
                path: b"dir"
            })
        );
        assert_eq!(
            Command::parse(b"SITE CHMOD 4755 x"),
            Ok(Command::SiteChmod {
                mode: 0o4755,
                path: b"x"
            })
        );
        for bad in [
            &b"SITE CHMOD"[..],
            b"SITE CHMOD 644",
            b"SITE CHMOD 648 x",
            b"SITE CHMOD 07777 x",
            b"SITE CHMOD u+x x",
        ] {
            assert_eq!(
                Command::parse(bad),
                Err(ParseError::BadArgument(Verb::Site)),
                "{bad:?}"
            );
        }
        assert_eq!(Command::parse(b"SITE HELP"), Ok(Command::Site(b"HELP")));
        assert_eq!(
            Command::parse(b"SITE IDLE 60"),
            Ok(Command::Site(b"IDLE 60"))
        );
    }

    /// The verb lookup before the hash table: uppercase into a buffer, compare.
    fn reference_verb(word: &[u8]) -> Option<Verb> {
        if word.len() > 4 || word.len() < 3 {
            return None;
        }
        let mut up = [b' '; 4];
        for (dst, src) in up.iter_mut().zip(word) {
            *dst = src.to_ascii_uppercase();
        }
        VERB_KEYS
            .iter()
            .find(|(key, _)| **key == up)
            .map(|&(_, verb)| verb)
    }

    /// The parser before the fixed-position split: search the line for the space.
    fn reference_parse(line: &[u8]) -> Result<Command<'_>, ParseError> {
        let (word, arg) = match line.iter().position(|&b| b == b' ') {
            Some(space) => (&line[..space], &line[space + 1..]),
            None => (line, &line[line.len()..]),
        };
        let verb = reference_verb(word).ok_or(ParseError::UnknownVerb)?;
        Command::with_argument(verb, arg)
    }

    #[test]
    fn every_verb_in_every_case_and_ending() {
        for &(key, verb) in &VERB_KEYS {
            let word = key.strip_suffix(b" ").unwrap_or(key);
            let lower = word.to_ascii_lowercase();
            let mut mixed = word.to_vec();
            mixed[0] = mixed[0].to_ascii_lowercase();
            mixed[2] = mixed[2].to_ascii_lowercase();
            for w in [word, &lower[..], &mixed[..]] {
                assert_eq!(Verb::from_bytes(w), Some(verb), "{w:?}");
                for ending in [&b""[..], b" ", b"  ", b" x", b" a b"] {
                    let mut line = w.to_vec();
                    line.extend_from_slice(ending);
                    let parsed = Command::parse(&line);
                    assert_eq!(parsed, reference_parse(&line), "{line:?}");
                    let known = match parsed {
                        Ok(command) => command.verb() == verb,
                        Err(e) => e.verb() == Some(verb) || verb == Verb::Unimplemented,
                    };
                    assert!(known, "{line:?} gave {parsed:?}");
                }
            }
        }
    }

    #[test]
    fn near_verbs_are_unknown() {
        for line in [
            &b"PWDX"[..],
            b"PWD\0",
            b"PWD\0 x",
            b"PW D",
            b"P D",
            b" PWD",
            b"RETRX a",
            b"RET",
            b"CC",
            b"CCCC",
            b"C@C",
            b"\xd0\xd7\xc4",
            b"\xf0\xf7\xe4 x",
            b"\xd2\xc5\xd4\xd2 a",
            b"R\xc5TR a",
            b"{WD",
            b"PWD\t",
            // Keys of all-zero bits, and all-ones bytes: an empty slot of
            // the verb table must not answer for them.
            b"    ",
            b"\0\0\0\0",
            b" \0 \0",
            b"\xff\xff\xff\xff",
            b"\xff\xff\xff ",
        ] {
            assert_eq!(Verb::from_bytes(line), None, "{line:?}");
            assert_eq!(
                Command::parse(line),
                Err(ParseError::UnknownVerb),
                "{line:?}"
            );
        }
        // As before, a three-letter verb and its padding space are the same word.
        assert_eq!(Verb::from_bytes(b"PWD "), Some(Verb::Pwd));
        assert_eq!(Verb::from_bytes(b"pwd"), Some(Verb::Pwd));
        assert_eq!(Command::parse(b"CWD  /a"), Ok(Command::Cwd(b" /a")));
        assert_eq!(Command::parse(b"CWD /a"), Ok(Command::Cwd(b"/a")));
    }

    /// Bytes that stress the verb position: letters of both cases, spaces, and
    /// the bytes that differ from a letter or a space only in bit 5 or bit 7.
    fn verb_byte() -> impl Strategy<Value = u8> {
        prop_oneof![
            b'A'..=b'Z',
            b'a'..=b'z',
            Just(b' '),
            Just(0u8),
            Just(b'@'),
            Just(b'`'),
            Just(b'['),
            Just(b'{'),
            0x80u8..=0xFF,
            any::<u8>(),
        ]
    }

    proptest! {
        #[test]
        fn verb_lookup_matches_the_reference(word in proptest::collection::vec(verb_byte(), 0..6)) {
            prop_assert_eq!(Verb::from_bytes(&word), reference_verb(&word));
        }

        #[test]
        fn parse_matches_the_reference(
            head in proptest::collection::vec(verb_byte(), 0..7),
            tail in proptest::collection::vec(any::<u8>(), 0..12),
        ) {
            let mut line = head;
            line.extend_from_slice(&tail);
            prop_assert_eq!(Command::parse(&line), reference_parse(&line));
        }

        #[test]
        fn known_verbs_in_any_case_match_the_reference(
            index in 0..VERB_KEYS.len(),
            case in any::<u8>(),
            sep in prop_oneof![Just(&b""[..]), Just(&b" "[..]), Just(&b"  "[..])],
            tail in proptest::collection::vec(any::<u8>(), 0..12),
        ) {
            let key = VERB_KEYS[index].0;
            let mut line = key.strip_suffix(b" ").unwrap_or(key).to_vec();
            for (i, b) in line.iter_mut().enumerate() {
                if case & (1 << i) != 0 {
                    *b = b.to_ascii_lowercase();
                }
            }
            line.extend_from_slice(sep);
            if !sep.is_empty() {
                line.extend_from_slice(&tail);
            }
            prop_assert_eq!(Command::parse(&line), reference_parse(&line));
            prop_assert!(Command::parse(&line) != Err(ParseError::UnknownVerb));
        }

        #[test]
        fn parse_never_panics(line in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = Command::parse(&line);
        }

        #[test]
        fn path_arguments_borrow_the_line(path in proptest::collection::vec(any::<u8>(), 1..100)) {
            let mut line = b"DELE ".to_vec();
            line.extend_from_slice(&path);
            let parsed = Command::parse(&line);
            if path.iter().all(|&b| b == b' ') {
                prop_assert_eq!(parsed, Err(ParseError::BadArgument(Verb::Dele)));
            } else {
                prop_assert_eq!(parsed, Ok(Command::Dele(&path)));
            }
        }
    }
}
