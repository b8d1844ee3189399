//! `ftpwire get/put/ls/mirror`: the client half as a program, on the std
//! driver's blocking client host. Every protocol decision is the core's
//! `ClientSession`; this file maps flags to settings, files to transfers,
//! and errors to one line on stderr.

use std::fs::{self, File, OpenOptions};
use std::io::{self, IsTerminal, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use ftpwire::ftp_url::FtpUrl;
use ftpwire_backend::native::client::Connect;
use ftpwire_backend::native::client_tls::{Trust, client_config};
use ftpwire_core::client::listing::{is_self_or_parent, parse_list_line, parse_mlsd_line};
use ftpwire_core::client::{
    ClientConfig, ClientError, DataMode, ListCommand, PasvAddressPolicy, Request, Security,
    StoreMode,
};
use ftpwire_core::listing::FileKind;
use indicatif::{ProgressBar, ProgressStyle};

/// Flags every client command takes.
#[derive(clap::Args, Debug, Clone)]
pub struct ClientArgs {
    /// Explicit FTPS: AUTH TLS before login, data protected (PROT P).
    #[arg(long)]
    tls: bool,
    /// Accept any server certificate (self-signed test servers), as curl's -k.
    #[arg(short = 'k', long)]
    insecure: bool,
    /// Trust the CA certificates in this PEM file instead of the system's.
    #[arg(long, value_name = "FILE.pem")]
    cacert: Option<PathBuf>,
    /// Active mode (PORT/EPRT): the server dials this machine. Never chosen
    /// on its own.
    #[arg(long)]
    active: bool,
    /// The client host: `std` (blocking) or `smol` (async).
    #[arg(long, value_enum, default_value = "std")]
    driver: ClientDriver,
    /// What to do when a 227 names another address than the server's:
    /// replace it (with a warning), trust it, or refuse.
    #[arg(long, value_enum, default_value = "replace", value_name = "POLICY")]
    pasv_policy: PolicyArg,
}

/// Which driver's client host runs a client command.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientDriver {
    /// Blocking std sockets.
    Std,
    /// smol / async-io.
    Smol,
}

/// How to reach a server: which certificates to trust, on which driver.
#[derive(Debug, Clone)]
pub struct Via {
    /// From `-k` / `--cacert`.
    pub trust: Trust,
    /// From `--driver`.
    pub driver: ClientDriver,
}

/// A connected client on either driver, with one set of blocking calls
/// (the smol one runs each call to its end on the current thread).
pub enum Client {
    /// `ftpwire_std::client`.
    Std(Box<ftpwire_std::client::Client>),
    /// `ftpwire_smol::client`.
    Smol(Box<ftpwire_smol::client::Client>),
}

/// `$call` on the client, whichever driver it is; with `wait`, the smol
/// one's future is run to its end.
macro_rules! on_client {
    (wait $client:expr, $c:ident => $call:expr) => {
        match $client {
            Client::Std($c) => $call,
            Client::Smol($c) => smol::block_on($call),
        }
    };
    ($client:expr, $c:ident => $call:expr) => {
        match $client {
            Client::Std($c) => $call,
            Client::Smol($c) => $call,
        }
    };
}

impl Client {
    /// The session (greeting, features, last passive reply...).
    pub fn session(&self) -> &ftpwire_core::client::ClientSession {
        on_client!(self, c => c.session())
    }

    /// The server's certificate on the control connection.
    pub fn peer_certificate(&self) -> Option<rustls::pki_types::CertificateDer<'static>> {
        on_client!(self, c => c.peer_certificate())
    }

    /// How later transfers get their data connections.
    pub fn set_data_mode(&mut self, mode: DataMode) {
        on_client!(self, c => c.set_data_mode(mode))
    }

    /// What later `227` replies are checked with.
    pub fn set_pasv_policy(&mut self, policy: PasvAddressPolicy) {
        on_client!(self, c => c.set_pasv_policy(policy))
    }

    /// A request without data.
    pub fn request(
        &mut self,
        request: Request,
    ) -> Result<ftpwire_core::client::Finished, ClientError> {
        on_client!(wait self, c => c.request(request))
    }

    /// RETR into `sink`.
    pub fn get(
        &mut self,
        path: &[u8],
        offset: u64,
        sink: &mut dyn Write,
        progress: &mut dyn FnMut(u64),
    ) -> Result<ftpwire_core::client::Finished, ClientError> {
        on_client!(wait self, c => c.get(path, offset, sink, progress))
    }

    /// STOR/APPE from `source`.
    pub fn put(
        &mut self,
        path: &[u8],
        mode: StoreMode,
        source: &mut dyn io::Read,
        progress: &mut dyn FnMut(u64),
    ) -> Result<ftpwire_core::client::Finished, ClientError> {
        on_client!(wait self, c => c.put(path, mode, source, progress))
    }

    /// A listing's bytes.
    pub fn list(
        &mut self,
        path: Option<&[u8]>,
        command: ListCommand,
    ) -> Result<Vec<u8>, ClientError> {
        on_client!(wait self, c => c.list(path, command))
    }

    /// QUIT.
    pub fn quit(self) -> Result<ftpwire_core::client::Finished, ClientError> {
        on_client!(wait self, c => c.quit())
    }
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum PolicyArg {
    Replace,
    Trust,
    Refuse,
}

/// `ftpwire get URL [-o FILE]`.
#[derive(clap::Args)]
pub struct GetArgs {
    /// ftp://[user[:password]@]host[:port]/path (ftps:// for implicit FTPS).
    url: String,
    /// Where to write it (`-` for stdout) [default: the remote name].
    #[arg(short = 'o', long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Resume: keep the local file's bytes and fetch the rest (REST).
    #[arg(short = 'c', long = "continue")]
    resume: bool,
    #[command(flatten)]
    common: ClientArgs,
}

/// `ftpwire put FILE URL`.
#[derive(clap::Args)]
pub struct PutArgs {
    /// The local file.
    file: PathBuf,
    /// Where to store it; a URL ending in `/` gets the file's name.
    url: String,
    /// Resume: ask the remote size (SIZE) and send the rest (REST + STOR).
    #[arg(short = 'c', long = "continue")]
    resume: bool,
    #[command(flatten)]
    common: ClientArgs,
}

/// `ftpwire ls URL`.
#[derive(clap::Args)]
pub struct LsArgs {
    /// The directory (or file) to list.
    url: String,
    /// The server's lines as they are (MLSD facts, or LIST's `ls -l`).
    #[arg(short = 'l', long)]
    long: bool,
    #[command(flatten)]
    common: ClientArgs,
}

/// `ftpwire mirror URL DIR` (download) or `ftpwire mirror DIR URL` (upload).
#[derive(clap::Args)]
pub struct MirrorArgs {
    /// What to copy: a URL (download) or a local directory (upload).
    source: String,
    /// Where to: a local directory or a URL.
    target: String,
    #[command(flatten)]
    common: ClientArgs,
}

/// What a client command failed with: one line for the user.
pub type Failure = String;

/// Which certificates to trust: `-k`, `--cacert FILE`, or the system's.
pub fn trust(insecure: bool, cacert: Option<&Path>) -> Trust {
    match (insecure, cacert) {
        (true, _) => Trust::Insecure,
        (false, Some(path)) => Trust::CaFile(path.to_owned()),
        (false, None) => Trust::System,
    }
}

/// Connects and logs in to `url` with `config` (its login taken from the URL).
pub fn open(url: &FtpUrl, config: ClientConfig, via: &Via) -> Result<Client, Failure> {
    open_with(url, config, via, |_| {})
}

/// [`open`], with the connection's settings changed by `adjust` first.
pub fn open_with(
    url: &FtpUrl,
    config: ClientConfig,
    via: &Via,
    adjust: impl FnOnce(&mut Connect),
) -> Result<Client, Failure> {
    let config = ClientConfig {
        user: url.user.clone(),
        password: url.password.clone(),
        ..config
    };
    let tls = config.security.is_tls();
    let mut connect = Connect::new(&url.address(), config);
    connect.server_name = url.host.clone();
    if tls {
        connect.tls = Some(client_config(&via.trust).map_err(|e| e.to_string())?);
    }
    adjust(&mut connect);
    match via.driver {
        ClientDriver::Std => {
            ftpwire_std::client::Client::connect(&connect).map(|c| Client::Std(Box::new(c)))
        }
        ClientDriver::Smol => smol::block_on(ftpwire_smol::client::Client::connect(&connect))
            .map(|c| Client::Smol(Box::new(c))),
    }
    .map_err(|e| e.to_string())
}

fn connect(url: &FtpUrl, args: &ClientArgs) -> Result<Client, Failure> {
    let security = if url.implicit_tls {
        Security::Implicit
    } else if args.tls {
        Security::Explicit
    } else {
        Security::Plain
    };
    let config = ClientConfig {
        security,
        data_mode: if args.active {
            DataMode::Active
        } else {
            DataMode::Passive
        },
        pasv_policy: match args.pasv_policy {
            PolicyArg::Replace => PasvAddressPolicy::Replace,
            PolicyArg::Trust => PasvAddressPolicy::Trust,
            PolicyArg::Refuse => PasvAddressPolicy::Refuse,
        },
        ..ClientConfig::default()
    };
    let via = Via {
        trust: trust(args.insecure, args.cacert.as_deref()),
        driver: args.driver,
    };
    open(url, config, &via)
}

fn parse(url: &str) -> Result<FtpUrl, Failure> {
    FtpUrl::parse(url).map_err(|e| e.to_string())
}

fn failed(e: ClientError) -> Failure {
    e.to_string()
}

/// A progress bar on stderr when it is a terminal, nothing otherwise.
fn progress_bar(length: Option<u64>, name: &str) -> Option<ProgressBar> {
    if !io::stderr().is_terminal() {
        return None;
    }
    let bar = match length {
        Some(len) => ProgressBar::new(len),
        None => ProgressBar::no_length(),
    };
    let style = ProgressStyle::with_template(
        "{msg} {bar:30} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_message(name.to_string());
    Some(bar)
}

fn remote_size(client: &mut Client, path: &[u8]) -> Option<u64> {
    client
        .request(Request::Size(path.to_vec()))
        .ok()
        .and_then(|f| f.size())
}

pub fn get(args: GetArgs) -> Result<(), Failure> {
    let url = parse(&args.url)?;
    let name = url
        .file_name()
        .ok_or("the URL names a directory; use ftpwire ls, or give a file path")?;
    let output = match &args.output {
        Some(path) => path.clone(),
        None => PathBuf::from(String::from_utf8_lossy(name).into_owned()),
    };
    let mut client = connect(&url, &args.common)?;
    let size = remote_size(&mut client, &url.path);
    let to_stdout = output.as_os_str() == "-";
    let (mut sink, offset): (Box<dyn Write>, u64) = if to_stdout {
        (Box::new(io::stdout().lock()), 0)
    } else if args.resume {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&output)
            .map_err(|e| format!("cannot open {}: {e}", output.display()))?;
        let have = file.metadata().map(|m| m.len()).unwrap_or(0);
        if size == Some(have) {
            let _ = client.quit();
            return Ok(()); // Already complete.
        }
        (Box::new(file), have)
    } else {
        let file = File::create(&output)
            .map_err(|e| format!("cannot create {}: {e}", output.display()))?;
        (Box::new(file), 0)
    };
    let bar = progress_bar(size, &output.display().to_string());
    if let Some(bar) = &bar {
        bar.set_position(offset);
    }
    let result = client.get(&url.path, offset, &mut sink, &mut |n| {
        if let Some(bar) = &bar {
            bar.set_position(offset + n);
        }
    });
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if let Err(e) = result {
        drop(sink);
        // A refused download leaves no empty file; a cut one keeps what came,
        // for `--continue` (as curl and wget do).
        let empty = fs::metadata(&output).is_ok_and(|m| m.len() == 0);
        if !to_stdout && !args.resume && empty {
            let _ = fs::remove_file(&output);
        }
        return Err(failed(e));
    }
    let _ = client.quit();
    Ok(())
}

pub fn put(args: PutArgs) -> Result<(), Failure> {
    let mut url = parse(&args.url)?;
    if url.path.is_empty() || url.path.ends_with(b"/") {
        let name = args
            .file
            .file_name()
            .ok_or("the local path names no file")?;
        url.path
            .extend_from_slice(name.to_string_lossy().as_bytes());
    }
    let mut file =
        File::open(&args.file).map_err(|e| format!("cannot open {}: {e}", args.file.display()))?;
    let length = file.metadata().map(|m| m.len()).ok();
    let mut client = connect(&url, &args.common)?;
    let mut mode = StoreMode::Replace;
    let mut offset = 0;
    if args.resume
        && let Some(have) = remote_size(&mut client, &url.path)
    {
        if Some(have) == length {
            let _ = client.quit();
            return Ok(());
        }
        offset = have;
        mode = StoreMode::At(have);
        file.seek(SeekFrom::Start(have))
            .map_err(|e| format!("cannot seek {}: {e}", args.file.display()))?;
    }
    let bar = progress_bar(length, &args.file.display().to_string());
    let result = client.put(&url.path, mode, &mut file, &mut |n| {
        if let Some(bar) = &bar {
            bar.set_position(offset + n);
        }
    });
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    result.map_err(failed)?;
    let _ = client.quit();
    Ok(())
}

/// One entry of a remote directory.
struct Entry {
    name: Vec<u8>,
    kind: Option<FileKind>,
    size: Option<u64>,
}

/// A directory's entries: MLSD when the server has it, LIST otherwise.
fn entries(client: &mut Client, path: &[u8]) -> Result<(Vec<Entry>, Vec<u8>), Failure> {
    let mlsd = client.session().features().mlst;
    let command = if mlsd {
        ListCommand::MachineList
    } else {
        ListCommand::List
    };
    let path = (!path.is_empty()).then_some(path);
    let raw = client.list(path, command).map_err(failed)?;
    let mut out = Vec::new();
    for line in raw.split_inclusive(|&b| b == b'\n') {
        let entry = if mlsd {
            if is_self_or_parent(line) {
                continue;
            }
            parse_mlsd_line(line)
        } else {
            parse_list_line(line)
        };
        if let Some(e) = entry
            && e.name != b"."
            && e.name != b".."
        {
            out.push(Entry {
                name: e.name.to_vec(),
                kind: e.kind,
                size: e.size,
            });
        }
    }
    Ok((out, raw))
}

pub fn ls(args: LsArgs) -> Result<(), Failure> {
    let url = parse(&args.url)?;
    let mut client = connect(&url, &args.common)?;
    let (entries, raw) = entries(&mut client, &url.path)?;
    let mut out = io::stdout().lock();
    let written = if args.long {
        out.write_all(&raw)
    } else {
        entries.iter().try_for_each(|e| {
            let slash = if e.kind == Some(FileKind::Directory) {
                "/"
            } else {
                ""
            };
            writeln!(out, "{}{slash}", String::from_utf8_lossy(&e.name))
        })
    };
    written.map_err(|e| format!("cannot write the listing: {e}"))?;
    let _ = client.quit();
    Ok(())
}

fn join(dir: &[u8], name: &[u8]) -> Vec<u8> {
    if dir.is_empty() {
        name.to_vec()
    } else if dir.ends_with(b"/") {
        [dir, name].concat()
    } else {
        [dir, b"/", name].concat()
    }
}

/// Files and directories copied by a mirror.
#[derive(Default)]
struct Tally {
    files: u64,
    skipped: u64,
    bytes: u64,
}

pub fn mirror(args: MirrorArgs) -> Result<(), Failure> {
    let mut tally = Tally::default();
    if args.source.contains("://") {
        let url = parse(&args.source)?;
        let mut client = connect(&url, &args.common)?;
        let target = PathBuf::from(&args.target);
        mirror_down(&mut client, &url.path, &target, &mut tally, 0)?;
        let _ = client.quit();
    } else {
        let url = parse(&args.target)?;
        let mut client = connect(&url, &args.common)?;
        mirror_up(
            &mut client,
            Path::new(&args.source),
            &url.path,
            &mut tally,
            0,
        )?;
        let _ = client.quit();
    }
    eprintln!(
        "ftpwire: mirrored {} files ({} bytes), {} already up to date",
        tally.files, tally.bytes, tally.skipped
    );
    Ok(())
}

/// How deep a mirror follows directories (a loop of links ends here).
const MAX_DEPTH: usize = 64;

fn mirror_down(
    client: &mut Client,
    remote: &[u8],
    local: &Path,
    tally: &mut Tally,
    depth: usize,
) -> Result<(), Failure> {
    if depth > MAX_DEPTH {
        return Err(format!(
            "more than {MAX_DEPTH} directory levels under the source"
        ));
    }
    fs::create_dir_all(local).map_err(|e| format!("cannot create {}: {e}", local.display()))?;
    let (entries, _) = entries(client, remote)?;
    for entry in entries {
        // A name that could climb out of the target is not written.
        if entry.name.contains(&b'/')
            || entry.name.contains(&b'\\')
            || entry.name.starts_with(b".") && entry.name.iter().all(|&b| b == b'.')
        {
            log::warn!(
                "skipped a remote entry named {:?}",
                ftpwire_core::client::escape(&entry.name, 200)
            );
            continue;
        }
        let name = String::from_utf8_lossy(&entry.name).into_owned();
        let path = join(remote, &entry.name);
        let target = local.join(&name);
        match entry.kind {
            Some(FileKind::Directory) => mirror_down(client, &path, &target, tally, depth + 1)?,
            Some(FileKind::File) | None => {
                let have = fs::metadata(&target).map(|m| m.len()).ok();
                if have.is_some() && have == entry.size {
                    tally.skipped += 1;
                    continue;
                }
                let mut file = File::create(&target)
                    .map_err(|e| format!("cannot create {}: {e}", target.display()))?;
                let done = client
                    .get(&path, 0, &mut file, &mut |_| {})
                    .map_err(failed)?;
                tally.files += 1;
                tally.bytes += done.bytes.unwrap_or(0);
            }
            Some(_) => tally.skipped += 1,
        }
    }
    Ok(())
}

fn mirror_up(
    client: &mut Client,
    local: &Path,
    remote: &[u8],
    tally: &mut Tally,
    depth: usize,
) -> Result<(), Failure> {
    if depth > MAX_DEPTH {
        return Err(format!(
            "more than {MAX_DEPTH} directory levels under the source"
        ));
    }
    if !remote.is_empty() {
        // An existing directory answers 550; the listing below tells.
        let _ = client.request(Request::MakeDirectory(remote.to_vec()));
    }
    let (existing, _) = entries(client, remote)?;
    let mut names: Vec<_> = fs::read_dir(local)
        .map_err(|e| format!("cannot read {}: {e}", local.display()))?
        .filter_map(Result::ok)
        .collect();
    names.sort_by_key(|e| e.file_name());
    for dirent in names {
        let name = dirent.file_name().to_string_lossy().into_owned();
        let path = join(remote, name.as_bytes());
        let kind = dirent
            .file_type()
            .map_err(|e| format!("cannot read {}: {e}", dirent.path().display()))?;
        if kind.is_dir() {
            mirror_up(client, &dirent.path(), &path, tally, depth + 1)?;
        } else if kind.is_file() {
            let len = dirent.metadata().map(|m| m.len()).ok();
            let there = existing.iter().find(|e| e.name == name.as_bytes());
            if there.is_some_and(|e| e.size.is_some() && e.size == len) {
                tally.skipped += 1;
                continue;
            }
            let mut file = File::open(dirent.path())
                .map_err(|e| format!("cannot open {}: {e}", dirent.path().display()))?;
            let done = client
                .put(&path, StoreMode::Replace, &mut file, &mut |_| {})
                .map_err(failed)?;
            tally.files += 1;
            tally.bytes += done.bytes.unwrap_or(0);
        }
    }
    Ok(())
}
