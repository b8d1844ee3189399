//! An S3-compatible object store as a [`Storage`]: the files of a server
//! live in a bucket (AWS S3, Garage, MinIO, …), so any number of stateless
//! ftpwire instances can serve the same data.
//!
//! Requests are signed by [`rusty_s3`] (which does no I/O) and sent by a
//! blocking [`ureq`] agent, so no async runtime comes with it; every call
//! blocks, as the [`Storage`] trait expects. Addressing is path-style
//! (`http://endpoint/bucket/key`), which Garage and MinIO need.
//!
//! How FTP maps onto objects, and where it cannot:
//! - A file is the object `PREFIX` + its path without the leading `/`;
//!   a directory is a key prefix ending in `/`: it exists when an object
//!   lies beneath it, or its marker object `dir/` (what MKD makes) does.
//! - RETR is a GET, ranged from the REST offset.
//! - STOR streams the file as a multipart upload in parts of
//!   [`PART_SIZE`] bytes (one part in memory per upload), completed only
//!   when the transfer succeeded ([`FileUpload::finish`]) and aborted
//!   otherwise, so a cut upload never leaves a partial object; a file
//!   smaller than one part is one PUT at the end.
//! - APPE and STOR after REST are refused (`502`): objects cannot be
//!   written in place.
//! - RNFR/RNTO copies the object (server side, up to 5 GB) then deletes
//!   the old one: not atomic, a crash between the two leaves both; a
//!   directory is not renamed (`502`).
//! - RMD removes the marker of an empty directory only; DELE removes an
//!   object; SIZE, MDTM and MLST come from HEAD.
//! - Missing keys give `550`, refused access `550`, throttling and server
//!   errors `451` (the client may retry).

use std::borrow::Cow;
use std::fmt;
use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ftpwire_core::listing::{FileKind, Metadata};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use rusty_s3::actions::{CreateMultipartUpload, ListObjectsV2, ListObjectsV2Response};
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};
use url::Url;

use crate::served::storage::{
    DirEntries, DirEntry, FileReader, FileUpload, FileWriter, Storage, WriteMode,
};

/// Bytes held and sent as one part of a multipart upload: above S3's
/// 5 MiB minimum for every part but the last.
pub const PART_SIZE: usize = 8 << 20;

/// How long a signed request stays valid: a part upload or a download
/// starts within this, however long it then runs.
const SIGNED_FOR: Duration = Duration::from_secs(3600);

/// Characters escaped in `x-amz-copy-source` (the key keeps its `/`).
const COPY_SOURCE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Where an [`S3Storage`] keeps its files and how it logs in.
///
/// ```
/// use ftpwire_backend::served::s3::S3Settings;
/// let settings = S3Settings {
///     endpoint: "http://127.0.0.1:3900".into(),
///     bucket: "ftp".into(),
///     region: "garage".into(),
///     prefix: "site-a".into(),
///     access_key_id: "GK…".into(),
///     secret_access_key: "…".into(),
/// };
/// assert_eq!(settings.bucket, "ftp");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct S3Settings {
    /// The service's URL, e.g. `https://s3.eu-west-1.amazonaws.com` or
    /// `http://127.0.0.1:3900` (Garage).
    pub endpoint: String,
    /// The bucket holding the files.
    pub bucket: String,
    /// The region requests are signed for (Garage: its `s3_region`).
    pub region: String,
    /// A key prefix under which the server's `/` lies (may be empty).
    pub prefix: String,
    /// The access key (`AWS_ACCESS_KEY_ID`).
    pub access_key_id: String,
    /// Its secret (`AWS_SECRET_ACCESS_KEY`).
    pub secret_access_key: String,
}

impl fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Settings")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("prefix", &self.prefix)
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// Settings that cannot make a client.
#[derive(Debug, thiserror::Error)]
pub enum S3SettingsError {
    /// The endpoint is not an `http(s)://host[:port]` URL.
    #[error(
        "S3 endpoint {endpoint:?} is not usable: {reason}; give a URL such as http://127.0.0.1:3900"
    )]
    Endpoint {
        /// As given.
        endpoint: String,
        /// Why.
        reason: String,
    },
}

/// A failed S3 request, as its [`io::Error`]'s inner error (the log shows
/// it; its kind picks the reply).
#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    /// The service answered with an error status.
    #[error("S3 {operation} {key:?}: HTTP {status} {code}{message}")]
    Status {
        /// What was asked (`GET`, `HEAD`, `ListObjectsV2`, …).
        operation: &'static str,
        /// The object key or prefix.
        key: String,
        /// The HTTP status.
        status: u16,
        /// S3's error code (`NoSuchKey`, `SlowDown`, …), if it sent one.
        code: String,
        /// S3's message, after `: `.
        message: String,
    },
    /// The request did not get an answer.
    #[error("S3 {operation} {key:?}: {source}; is the endpoint reachable?")]
    Transport {
        /// What was asked.
        operation: &'static str,
        /// The object key or prefix.
        key: String,
        /// Why.
        source: ureq::Error,
    },
    /// The answer could not be understood.
    #[error("S3 {operation} {key:?}: unexpected response: {reason}")]
    Response {
        /// What was asked.
        operation: &'static str,
        /// The object key or prefix.
        key: String,
        /// What was wrong.
        reason: String,
    },
}

impl S3Error {
    /// The [`io::ErrorKind`] that picks the FTP reply.
    fn kind(&self) -> io::ErrorKind {
        match self {
            S3Error::Status { status, code, .. } => match (*status, code.as_str()) {
                (_, "NoSuchKey" | "NoSuchBucket" | "NoSuchUpload") | (404, _) => {
                    io::ErrorKind::NotFound
                }
                (_, "AccessDenied" | "InvalidAccessKeyId" | "SignatureDoesNotMatch")
                | (401 | 403, _) => io::ErrorKind::PermissionDenied,
                (_, "EntityTooLarge") => io::ErrorKind::FileTooLarge,
                // Throttling, 5xx and anything else: 451, worth a retry.
                _ => io::ErrorKind::Other,
            },
            _ => io::ErrorKind::Other,
        }
    }
}

/// Logged here: the reply says only `550` or `451`, and the drivers keep
/// the reply-picking kind, not the text.
impl From<S3Error> for io::Error {
    fn from(error: S3Error) -> io::Error {
        let kind = error.kind();
        match kind {
            io::ErrorKind::NotFound => log::debug!("{error}"),
            _ => log::warn!("{error}"),
        }
        io::Error::new(kind, error)
    }
}

/// One S3 bucket (under an optional key prefix) served as files.
///
/// ```no_run
/// use std::sync::Arc;
/// use ftpwire_backend::served::s3::{S3Settings, S3Storage};
/// use ftpwire_backend::Storage;
///
/// let storage = S3Storage::new(&S3Settings {
///     endpoint: "http://127.0.0.1:3900".into(),
///     bucket: "ftp".into(),
///     region: "garage".into(),
///     prefix: String::new(),
///     access_key_id: std::env::var("AWS_ACCESS_KEY_ID").unwrap(),
///     secret_access_key: std::env::var("AWS_SECRET_ACCESS_KEY").unwrap(),
/// })
/// .unwrap();
/// let storage: Arc<dyn Storage> = Arc::new(storage);
/// println!("{} bytes", storage.stat(b"/report.csv").unwrap().size);
/// ```
#[derive(Clone)]
pub struct S3Storage {
    client: Arc<Client>,
}

impl fmt::Debug for S3Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Storage")
            .field("bucket", &self.client.bucket.name())
            .field("prefix", &self.client.prefix)
            .finish_non_exhaustive()
    }
}

/// What every request needs: the bucket, the keys, the HTTP agent.
struct Client {
    bucket: Bucket,
    credentials: Credentials,
    agent: ureq::Agent,
    /// Empty, or ending in `/`.
    prefix: String,
    /// STOU names: unique within this process, checked against the bucket.
    unique: AtomicU64,
}

impl S3Storage {
    /// A client for `settings`; makes no request yet.
    pub fn new(settings: &S3Settings) -> Result<S3Storage, S3SettingsError> {
        let endpoint_error = |reason: String| S3SettingsError::Endpoint {
            endpoint: settings.endpoint.clone(),
            reason,
        };
        let endpoint: Url = settings
            .endpoint
            .parse()
            .map_err(|e: url::ParseError| endpoint_error(e.to_string()))?;
        let bucket = Bucket::new(
            endpoint,
            UrlStyle::Path,
            settings.bucket.clone(),
            settings.region.clone(),
        )
        .map_err(|e| endpoint_error(e.to_string()))?;
        let agent = ureq::Agent::config_builder()
            // Error statuses are answers to read (NoSuchKey, SlowDown).
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_recv_response(Some(Duration::from_secs(60)))
            .build()
            .new_agent();
        let prefix = settings.prefix.trim_matches('/');
        Ok(S3Storage {
            client: Arc::new(Client {
                bucket,
                credentials: Credentials::new(
                    settings.access_key_id.clone(),
                    settings.secret_access_key.clone(),
                ),
                agent,
                prefix: match prefix {
                    "" => String::new(),
                    prefix => format!("{prefix}/"),
                },
                unique: AtomicU64::new(0),
            }),
        })
    }

    /// The bucket's name.
    pub fn bucket(&self) -> &str {
        self.client.bucket.name()
    }

    /// The key prefix (empty, or ending in `/`).
    pub fn prefix(&self) -> &str {
        &self.client.prefix
    }
}

/// A response's status, headers and (for errors) S3's code and message.
type Response = ureq::http::Response<ureq::Body>;

impl Client {
    /// The object key of the virtual path `path`.
    fn key(&self, path: &[u8]) -> io::Result<String> {
        let relative = path.strip_prefix(b"/").unwrap_or(path);
        let relative = std::str::from_utf8(relative).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidFilename,
                "S3 keys are UTF-8: this name is not",
            )
        })?;
        Ok(format!("{}{relative}", self.prefix))
    }

    /// The key prefix of the directory `path` (ends in `/`, or is the
    /// storage's own prefix for `/`).
    fn dir_prefix(&self, path: &[u8]) -> io::Result<String> {
        let key = self.key(path)?;
        Ok(if key.len() == self.prefix.len() {
            key
        } else {
            key + "/"
        })
    }

    /// Sends a signed request; `Ok` for any answer, error statuses included.
    fn send(
        &self,
        operation: &'static str,
        key: &str,
        action: &dyn Signed,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Result<Response, S3Error> {
        let url = action.signed();
        let mut request = ureq::http::Request::builder()
            .method(action.method())
            .uri(url.as_str());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let sent = match body {
            Some(body) => request.body(body).map(|r| self.agent.run(r)),
            None => request.body(()).map(|r| self.agent.run(r)),
        };
        let response = sent.map_err(|e| S3Error::Response {
            operation,
            key: key.to_owned(),
            reason: e.to_string(),
        })?;
        response.map_err(|source| S3Error::Transport {
            operation,
            key: key.to_owned(),
            source,
        })
    }

    /// [`send`](Self::send), with a non-2xx answer turned into an error.
    fn call(
        &self,
        operation: &'static str,
        key: &str,
        action: &dyn Signed,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Result<Response, S3Error> {
        let response = self.send(operation, key, action, headers, body)?;
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(status_error(operation, key, response))
        }
    }

    /// HEAD: the object's size and time, `None` when there is no such key.
    fn head(&self, key: &str) -> io::Result<Option<Metadata>> {
        let action = self.bucket.head_object(Some(&self.credentials), key);
        let response = self.send("HEAD", key, &action, &[], None)?;
        if response.status() == 404 {
            return Ok(None);
        }
        if !response.status().is_success() {
            return Err(status_error("HEAD", key, response).into());
        }
        let size = header(&response, "content-length")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| S3Error::Response {
                operation: "HEAD",
                key: key.to_owned(),
                reason: "no Content-Length".into(),
            })?;
        let modified = header(&response, "last-modified").and_then(http_date);
        Ok(Some(file_metadata(size, modified)))
    }

    /// One page of ListObjectsV2 under `prefix`, with `/` as delimiter.
    fn list_page(
        &self,
        prefix: &str,
        token: Option<&str>,
        max_keys: Option<usize>,
    ) -> io::Result<ListObjectsV2Response> {
        let mut action = self.bucket.list_objects_v2(Some(&self.credentials));
        action.with_prefix(prefix);
        action.with_delimiter("/");
        if let Some(token) = token {
            action.with_continuation_token(token);
        }
        if let Some(max) = max_keys {
            action.with_max_keys(max);
        }
        let response = self.call("ListObjectsV2", prefix, &action, &[], None)?;
        let text = read_text(response, "ListObjectsV2", prefix)?;
        ListObjectsV2::parse_response(&text).map_err(|e| {
            S3Error::Response {
                operation: "ListObjectsV2",
                key: prefix.to_owned(),
                reason: e.to_string(),
            }
            .into()
        })
    }

    /// Whether anything lies under the directory prefix `prefix` (its
    /// marker included), and whether anything but the marker does.
    fn dir_contents(&self, prefix: &str) -> io::Result<(bool, bool)> {
        let page = self.list_page(prefix, None, Some(2))?;
        let others =
            page.contents.iter().any(|o| o.key != prefix) || !page.common_prefixes.is_empty();
        let marker = page.contents.iter().any(|o| o.key == prefix);
        Ok((marker || others, others))
    }

    fn delete(&self, key: &str) -> io::Result<()> {
        let action = self.bucket.delete_object(Some(&self.credentials), key);
        self.call("DELETE", key, &action, &[], None)?;
        Ok(())
    }

    fn put(&self, key: &str, body: &[u8]) -> io::Result<()> {
        let action = self.bucket.put_object(Some(&self.credentials), key);
        self.call("PUT", key, &action, &[], Some(body))?;
        Ok(())
    }
}

/// A request rusty-s3 has built, ready to sign (object-safe).
trait Signed {
    fn method(&self) -> &'static str;
    fn signed(&self) -> Url;
}

impl<'a, A: S3Action<'a>> Signed for A {
    fn method(&self) -> &'static str {
        match A::METHOD {
            rusty_s3::Method::Head => "HEAD",
            rusty_s3::Method::Get => "GET",
            rusty_s3::Method::Post => "POST",
            rusty_s3::Method::Put => "PUT",
            rusty_s3::Method::Delete => "DELETE",
        }
    }
    fn signed(&self) -> Url {
        self.sign(SIGNED_FOR)
    }
}

fn header<'r>(response: &'r Response, name: &str) -> Option<&'r str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

/// An error answer: its status with S3's `<Code>` and `<Message>`.
fn status_error(operation: &'static str, key: &str, response: Response) -> S3Error {
    let status = response.status().as_u16();
    let body = read_text(response, operation, key).unwrap_or_default();
    let element = |name: &str| {
        let open = format!("<{name}>");
        let start = body.find(&open)? + open.len();
        let end = body[start..].find(&format!("</{name}>"))? + start;
        Some(body[start..end].to_owned())
    };
    S3Error::Status {
        operation,
        key: key.to_owned(),
        status,
        code: element("Code").unwrap_or_default(),
        message: element("Message").map_or_else(String::new, |m| format!(": {m}")),
    }
}

/// A response body as text (error documents, listings: bounded at 16 MiB).
fn read_text(response: Response, operation: &'static str, key: &str) -> Result<String, S3Error> {
    response
        .into_body()
        .into_with_config()
        .limit(16 << 20)
        .read_to_string()
        .map_err(|source| S3Error::Transport {
            operation,
            key: key.to_owned(),
            source,
        })
}

/// An HTTP date (`Last-Modified`) as Unix seconds.
fn http_date(text: &str) -> Option<i64> {
    jiff::fmt::rfc2822::DateTimeParser::new()
        .parse_timestamp(text)
        .ok()
        .map(|t| t.as_second())
}

/// A ListObjectsV2 time (`2026-12-03T08:16:30.000Z`) as Unix seconds.
fn iso_date(text: &str) -> Option<i64> {
    text.parse::<jiff::Timestamp>().ok().map(|t| t.as_second())
}

fn file_metadata(size: u64, modified: Option<i64>) -> Metadata {
    Metadata {
        kind: FileKind::File,
        size,
        modified,
        mode: 0o644,
    }
}

fn dir_metadata(modified: Option<i64>) -> Metadata {
    Metadata {
        kind: FileKind::Directory,
        size: 0,
        modified,
        mode: 0o755,
    }
}

impl Storage for S3Storage {
    fn stat(&self, path: &[u8]) -> io::Result<Metadata> {
        let client = &self.client;
        if path == b"/" {
            return Ok(dir_metadata(None));
        }
        let key = client.key(path)?;
        if let Some(metadata) = client.head(&key)? {
            return Ok(metadata);
        }
        let (exists, _) = client.dir_contents(&client.dir_prefix(path)?)?;
        if exists {
            Ok(dir_metadata(None))
        } else {
            Err(io::ErrorKind::NotFound.into())
        }
    }

    /// Pages come in key order, which `NameOrder` (below) turns into name order
    /// as they stream.
    fn lists_in_name_order(&self) -> bool {
        true
    }

    fn list(&self, path: &[u8]) -> io::Result<DirEntries> {
        let client = Arc::clone(&self.client);
        let prefix = client.dir_prefix(path)?;
        let first = client.list_page(&prefix, None, None)?;
        if path != b"/" && first.contents.is_empty() && first.common_prefixes.is_empty() {
            // Nothing beneath: a file, or nothing at all.
            let key = client.key(path)?;
            return Err(match client.head(&key)? {
                Some(_) => io::ErrorKind::NotADirectory.into(),
                None => io::ErrorKind::NotFound.into(),
            });
        }
        Ok(Box::new(Listing {
            client,
            prefix,
            page: Some(first),
            order: NameOrder::default(),
            pending: None,
        }))
    }

    fn open_read(&self, path: &[u8], offset: u64) -> io::Result<FileReader> {
        let client = &self.client;
        let key = client.key(path)?;
        let action = client.bucket.get_object(Some(&client.credentials), &key);
        let range = format!("bytes={offset}-");
        let headers: &[(&str, &str)] = if offset > 0 {
            &[("range", &range)]
        } else {
            &[]
        };
        let response = client.send("GET", &key, &action, headers, None)?;
        match response.status().as_u16() {
            200 | 206 => Ok(Box::new(response.into_body().into_reader())),
            // REST at or past the end: nothing left to send.
            416 => Ok(Box::new(io::empty())),
            _ => {
                let error = status_error("GET", &key, response);
                // A directory has no object of its own.
                if error.kind() == io::ErrorKind::NotFound
                    && client.dir_contents(&client.dir_prefix(path)?)?.0
                {
                    return Err(io::ErrorKind::IsADirectory.into());
                }
                Err(error.into())
            }
        }
    }

    fn open_write(&self, path: &[u8], mode: WriteMode) -> io::Result<FileWriter> {
        match mode {
            WriteMode::Truncate | WriteMode::At(0) => {}
            WriteMode::At(_) | WriteMode::Append => {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "objects cannot be appended to or written from an offset",
                ));
            }
        }
        let client = &self.client;
        let key = client.key(path)?;
        self.check_writable(path, &key)?;
        Ok(Box::new(Upload::new(Arc::clone(client), key)))
    }

    fn create_unique(&self, directory: &[u8]) -> io::Result<(Vec<u8>, FileWriter)> {
        let client = &self.client;
        if self.stat(directory)?.kind != FileKind::Directory {
            return Err(io::ErrorKind::NotADirectory.into());
        }
        let prefix = client.dir_prefix(directory)?;
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        for _ in 0..16 {
            let n = client.unique.fetch_add(1, Ordering::Relaxed);
            let name = format!("stou-{stamp:x}-{}-{n}", std::process::id());
            let key = format!("{prefix}{name}");
            if client.head(&key)?.is_none() {
                let upload: FileWriter = Box::new(Upload::new(Arc::clone(client), key));
                return Ok((name.into_bytes(), upload));
            }
        }
        Err(io::ErrorKind::AlreadyExists.into())
    }

    fn make_directory(&self, path: &[u8]) -> io::Result<()> {
        let client = &self.client;
        if path == b"/" || self.exists(path)? {
            return Err(io::ErrorKind::AlreadyExists.into());
        }
        self.check_parent(path)?;
        client.put(&client.dir_prefix(path)?, b"")
    }

    fn remove_directory(&self, path: &[u8]) -> io::Result<()> {
        let client = &self.client;
        if path == b"/" {
            return Err(io::ErrorKind::PermissionDenied.into());
        }
        let prefix = client.dir_prefix(path)?;
        match client.dir_contents(&prefix)? {
            (_, true) => Err(io::ErrorKind::DirectoryNotEmpty.into()),
            (true, false) => client.delete(&prefix),
            (false, _) => match client.head(&client.key(path)?)? {
                Some(_) => Err(io::ErrorKind::NotADirectory.into()),
                None => Err(io::ErrorKind::NotFound.into()),
            },
        }
    }

    fn delete(&self, path: &[u8]) -> io::Result<()> {
        let client = &self.client;
        let key = client.key(path)?;
        // S3 deletes a missing key without complaint; FTP says 550.
        match client.head(&key)? {
            Some(_) => client.delete(&key),
            None if path != b"/" && client.dir_contents(&client.dir_prefix(path)?)?.0 => {
                Err(io::ErrorKind::IsADirectory.into())
            }
            None => Err(io::ErrorKind::NotFound.into()),
        }
    }

    fn rename(&self, from: &[u8], to: &[u8]) -> io::Result<()> {
        let client = &self.client;
        let from_key = client.key(from)?;
        let to_key = client.key(to)?;
        if client.head(&from_key)?.is_none() {
            return Err(if self.exists(from)? {
                io::Error::new(
                    io::ErrorKind::Unsupported,
                    "directories in an object store cannot be renamed",
                )
            } else {
                io::ErrorKind::NotFound.into()
            });
        }
        self.check_writable(to, &to_key)?;
        // CopyObject, then DeleteObject: two requests, not one atomic step.
        let source = format!(
            "/{}/{}",
            client.bucket.name(),
            utf8_percent_encode(&from_key, COPY_SOURCE)
        );
        let mut action = client.bucket.put_object(Some(&client.credentials), &to_key);
        action
            .headers_mut()
            .insert("x-amz-copy-source", Cow::Borrowed(source.as_str()));
        let response = client.call(
            "CopyObject",
            &to_key,
            &action,
            &[("x-amz-copy-source", &source)],
            Some(b""),
        )?;
        // CopyObject may report a failure inside a 200 answer.
        let text = read_text(response, "CopyObject", &to_key)?;
        if text.contains("<Error>") {
            return Err(S3Error::Response {
                operation: "CopyObject",
                key: to_key,
                reason: text,
            }
            .into());
        }
        client.delete(&from_key)
    }
}

impl S3Storage {
    /// Whether `path` is a file or a directory.
    fn exists(&self, path: &[u8]) -> io::Result<bool> {
        match self.stat(path) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The directory holding `path` exists, as a local file system needs.
    fn check_parent(&self, path: &[u8]) -> io::Result<()> {
        let parent = match path.iter().rposition(|&b| b == b'/') {
            Some(0) | None => return Ok(()),
            Some(slash) => &path[..slash],
        };
        match self.stat(parent)?.kind {
            FileKind::Directory => Ok(()),
            _ => Err(io::ErrorKind::NotADirectory.into()),
        }
    }

    /// A file may be stored at `path`: it is not a directory, and its
    /// directory exists.
    fn check_writable(&self, path: &[u8], key: &str) -> io::Result<()> {
        if path == b"/" || key.ends_with('/') {
            return Err(io::ErrorKind::IsADirectory.into());
        }
        let client = &self.client;
        if client.head(key)?.is_none() && client.dir_contents(&client.dir_prefix(path)?)?.0 {
            return Err(io::ErrorKind::IsADirectory.into());
        }
        self.check_parent(path)
    }
}

/// A directory's entries, a ListObjectsV2 page at a time.
struct Listing {
    client: Arc<Client>,
    prefix: String,
    /// The page to turn into entries next.
    page: Option<ListObjectsV2Response>,
    /// Entries of the pages so far, given in name order.
    order: NameOrder,
    /// The error of the page after the ones in `order`.
    pending: Option<io::Error>,
}

impl Listing {
    /// Puts a page's objects (as files) and common prefixes (as
    /// directories; the directory's own marker left out) into `order`.
    fn take(&mut self, page: ListObjectsV2Response) {
        let prefix = self.prefix.as_str();
        // The last key or common prefix of the page, relative: S3 has given
        // every key up to it.
        let last_object = page.contents.last().map(|o| o.key.as_str());
        let last_prefix = page.common_prefixes.last().map(|c| c.prefix.as_str());
        let cursor = last_object
            .max(last_prefix)
            .and_then(|k| k.strip_prefix(prefix))
            .map(|k| k.as_bytes().to_vec());
        for object in page.contents {
            let Some(name) = object.key.strip_prefix(prefix) else {
                continue;
            };
            if !name.is_empty() && !name.contains('/') {
                let modified = object.last_modified.as_deref().and_then(iso_date);
                self.order.add(DirEntry {
                    name: name.as_bytes().to_vec(),
                    metadata: file_metadata(object.size.unwrap_or(0), modified),
                    link_target: None,
                });
            }
        }
        for common in page.common_prefixes {
            let name = common
                .prefix
                .strip_prefix(prefix)
                .and_then(|n| n.strip_suffix('/'));
            if let Some(name) = name.filter(|n| !n.is_empty() && !n.contains('/')) {
                self.order.add(DirEntry {
                    name: name.as_bytes().to_vec(),
                    metadata: dir_metadata(None),
                    link_target: None,
                });
            }
        }
        if let Some(cursor) = cursor {
            self.order.seen_up_to(&cursor);
        }
    }
}

impl Iterator for Listing {
    type Item = io::Result<DirEntry>;

    fn next(&mut self) -> Option<io::Result<DirEntry>> {
        loop {
            if let Some(entry) = self.order.next_safe() {
                return Some(Ok(entry));
            }
            // A page that failed: after the entries before it that are
            // known to be in order.
            if let Some(error) = self.pending.take() {
                return Some(Err(error));
            }
            let Some(page) = self.page.take() else {
                // Every page is in: the rest is in order.
                return self.order.next_any().map(Ok);
            };
            let token = page.next_continuation_token.clone();
            self.take(page);
            if let Some(token) = token {
                match self.client.list_page(&self.prefix, Some(&token), None) {
                    Ok(next) => self.page = Some(next),
                    Err(error) => self.pending = Some(error),
                }
            } else {
                self.order.seen_all();
            }
        }
    }
}

/// Turns a directory's entries, coming in S3's key order, into name order
/// (bytewise, the order every listing has) while they stream.
///
/// The two differ for directories only: the directory `a` is the common
/// prefix `a/`, which S3 gives after `a.txt` and `a-b` (`.` and `-` are
/// below `/`) although its name comes before theirs. So an entry is given
/// only once no key still to come can be a name before it: held entries
/// are those sharing a start with the last key seen (a few, unless a
/// directory has many names like `a.1`, `a.2`, … beside a directory `a`).
#[derive(Default)]
struct NameOrder {
    /// By name; a file and a directory of the same name (an object `a` and
    /// objects under `a/`) are both kept, the file first.
    held: std::collections::BTreeMap<(Vec<u8>, bool), DirEntry>,
    /// Names below this are safe to give (`None` with `all`: every name).
    bound: Option<Vec<u8>>,
    /// `bound` includes the name equal to it.
    bound_inclusive: bool,
    /// Every key has been seen.
    all: bool,
}

impl NameOrder {
    fn add(&mut self, entry: DirEntry) {
        let is_dir = entry.metadata.kind == FileKind::Directory;
        self.held.insert((entry.name.clone(), is_dir), entry);
    }

    /// S3 has given every key up to `key` (relative to the directory; a
    /// common prefix with its `/`). A key still to come is above `key`:
    /// a file's name is its key, so above `key`; a directory's key is its
    /// name and `/`, so its name is above `key` too, or is a start of
    /// `key` followed by a byte below `/`. The shortest such start is the
    /// least name still possible.
    fn seen_up_to(&mut self, key: &[u8]) {
        let start = (1..key.len()).find(|&i| key[i] < b'/');
        match start {
            Some(end) => {
                self.bound = Some(key[..end].to_vec());
                self.bound_inclusive = false;
            }
            None => {
                self.bound = Some(key.to_vec());
                self.bound_inclusive = true;
            }
        }
    }

    fn seen_all(&mut self) {
        self.all = true;
    }

    /// The least held entry, if no entry still to come can be before it.
    fn next_safe(&mut self) -> Option<DirEntry> {
        let ((name, _), _) = self.held.first_key_value()?;
        let safe = self.all
            || match &self.bound {
                Some(bound) if self.bound_inclusive => name.as_slice() <= bound.as_slice(),
                Some(bound) => name.as_slice() < bound.as_slice(),
                None => false,
            };
        if safe { self.next_any() } else { None }
    }

    /// The least held entry, safe or not.
    fn next_any(&mut self) -> Option<DirEntry> {
        self.held.pop_first().map(|(_, entry)| entry)
    }
}

/// An object being uploaded: parts of [`PART_SIZE`] sent as they fill,
/// the object completed by [`finish`](FileUpload::finish) only.
struct Upload {
    client: Arc<Client>,
    key: String,
    /// The part being filled (at most `PART_SIZE` bytes).
    part: Vec<u8>,
    /// The multipart upload, once the first part is sent.
    upload_id: Option<String>,
    /// The ETag of each part sent, in order.
    etags: Vec<String>,
}

impl Upload {
    fn new(client: Arc<Client>, key: String) -> Upload {
        Upload {
            client,
            key,
            part: Vec::new(),
            upload_id: None,
            etags: Vec::new(),
        }
    }

    /// Sends the filled part (starting the multipart upload first).
    fn send_part(&mut self) -> io::Result<()> {
        let client = Arc::clone(&self.client);
        let upload_id = match &self.upload_id {
            Some(id) => id.clone(),
            None => {
                let action = client
                    .bucket
                    .create_multipart_upload(Some(&client.credentials), &self.key);
                let response =
                    client.call("CreateMultipartUpload", &self.key, &action, &[], Some(b""))?;
                let text = read_text(response, "CreateMultipartUpload", &self.key)?;
                let created = CreateMultipartUpload::parse_response(&text).map_err(|e| {
                    S3Error::Response {
                        operation: "CreateMultipartUpload",
                        key: self.key.clone(),
                        reason: e.to_string(),
                    }
                })?;
                let id = created.upload_id().to_owned();
                self.upload_id = Some(id.clone());
                id
            }
        };
        let number = u16::try_from(self.etags.len() + 1).map_err(|_| {
            io::Error::new(
                io::ErrorKind::FileTooLarge,
                "an object has at most 10,000 parts",
            )
        })?;
        let action =
            client
                .bucket
                .upload_part(Some(&client.credentials), &self.key, number, &upload_id);
        let response = client.call("UploadPart", &self.key, &action, &[], Some(&self.part))?;
        let etag = header(&response, "etag")
            .ok_or_else(|| S3Error::Response {
                operation: "UploadPart",
                key: self.key.clone(),
                reason: "no ETag".into(),
            })?
            .to_owned();
        self.etags.push(etag);
        self.part.clear();
        Ok(())
    }
}

impl Write for Upload {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.part.len() == PART_SIZE {
            self.send_part()?;
        }
        if self.part.capacity() == 0 {
            self.part.reserve_exact(PART_SIZE);
        }
        let n = buf.len().min(PART_SIZE - self.part.len());
        self.part.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    /// Nothing to do: parts go when full, the rest at `finish`.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl FileUpload for Upload {
    fn finish(mut self: Box<Self>) -> io::Result<()> {
        let client = Arc::clone(&self.client);
        let Some(upload_id) = self.upload_id.clone() else {
            // Smaller than a part: one PUT.
            let part = std::mem::take(&mut self.part);
            client.put(&self.key, &part)?;
            return Ok(());
        };
        if !self.part.is_empty() {
            self.send_part()?;
        }
        let etags = std::mem::take(&mut self.etags);
        let action = client.bucket.complete_multipart_upload(
            Some(&client.credentials),
            &self.key,
            &upload_id,
            etags.iter().map(String::as_str),
        );
        let body = action.body();
        let action = client.bucket.complete_multipart_upload(
            Some(&client.credentials),
            &self.key,
            &upload_id,
            std::iter::empty(),
        );
        let response = client.call(
            "CompleteMultipartUpload",
            &self.key,
            &action,
            &[],
            Some(body.as_bytes()),
        )?;
        // A failure may come inside a 200 answer.
        let text = read_text(response, "CompleteMultipartUpload", &self.key)?;
        if text.contains("<Error>") {
            return Err(S3Error::Response {
                operation: "CompleteMultipartUpload",
                key: self.key.clone(),
                reason: text,
            }
            .into());
        }
        // Completed: nothing for drop to abort.
        self.upload_id = None;
        Ok(())
    }
}

impl Drop for Upload {
    /// Not finished: the transfer failed, so the parts sent are discarded
    /// (AbortMultipartUpload) and no object appears. On a thread of its
    /// own, since an async driver may drop this on its executor.
    fn drop(&mut self) {
        let Some(upload_id) = self.upload_id.take() else {
            return;
        };
        let client = Arc::clone(&self.client);
        let key = std::mem::take(&mut self.key);
        let abort = move || {
            let action =
                client
                    .bucket
                    .abort_multipart_upload(Some(&client.credentials), &key, &upload_id);
            match client.call("AbortMultipartUpload", &key, &action, &[], None) {
                Ok(_) => log::debug!("aborted the upload of {key:?}: the transfer failed"),
                Err(e) => log::warn!(
                    "{e}: the parts of a failed upload stay until the bucket's lifecycle removes them"
                ),
            }
        };
        if std::thread::Builder::new()
            .name("s3-abort".into())
            .spawn(abort)
            .is_err()
        {
            log::warn!("cannot start a thread to abort the upload of a failed transfer");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `entries` (name, is a directory) to a [`NameOrder`] the way
    /// S3 pages them: in key order (a directory's key ends in `/`), cut
    /// into pages of `page` keys; returns the names given, and the most
    /// entries held at once.
    fn stream(entries: &[(Vec<u8>, bool)], page: usize) -> (Vec<(Vec<u8>, bool)>, usize) {
        let key = |(name, dir): &(Vec<u8>, bool)| {
            let mut key = name.clone();
            if *dir {
                key.push(b'/');
            }
            key
        };
        let mut by_key: Vec<_> = entries.to_vec();
        by_key.sort_by_key(key);
        let mut order = NameOrder::default();
        let (mut given, mut most) = (Vec::new(), 0);
        let pages: Vec<_> = by_key.chunks(page.max(1)).collect();
        for (i, chunk) in pages.iter().enumerate() {
            for (name, dir) in chunk.iter() {
                let kind = if *dir {
                    FileKind::Directory
                } else {
                    FileKind::File
                };
                order.add(DirEntry {
                    name: name.clone(),
                    metadata: Metadata {
                        kind,
                        size: 0,
                        modified: None,
                        mode: 0,
                    },
                    link_target: None,
                });
            }
            order.seen_up_to(&key(chunk.last().unwrap()));
            if i + 1 == pages.len() {
                order.seen_all();
            }
            most = most.max(order.held.len());
            while let Some(entry) = order.next_safe() {
                given.push((entry.name, entry.metadata.kind == FileKind::Directory));
            }
        }
        while let Some(entry) = order.next_any() {
            given.push((entry.name, entry.metadata.kind == FileKind::Directory));
        }
        (given, most)
    }

    #[test]
    fn key_order_pages_come_out_in_name_order() {
        // A directory `a` (key `a/`) comes after `a.txt` and `a-b` from S3.
        let names = |list: &[(&str, bool)]| -> Vec<(Vec<u8>, bool)> {
            list.iter()
                .map(|(n, d)| (n.as_bytes().to_vec(), *d))
                .collect()
        };
        let entries = names(&[
            ("a", true),
            ("a.txt", false),
            ("a-b", false),
            ("ab", false),
            ("b", true),
        ]);
        for page in 1..=5 {
            let (given, _) = stream(&entries, page);
            let mut expected = entries.clone();
            expected.sort();
            assert_eq!(given, expected, "pages of {page}");
        }
        // Random directories over bytes below, at and above `/`'s
        // neighbours, every page size: always the sorted names.
        let alphabet = b"a.-~ b";
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut random = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        for _ in 0..300 {
            let mut entries = std::collections::BTreeSet::new();
            for _ in 0..random(40) {
                let name: Vec<u8> = (0..1 + random(4))
                    .map(|_| alphabet[random(alphabet.len())])
                    .collect();
                entries.insert((name, random(3) == 0));
            }
            let entries: Vec<_> = entries.into_iter().collect();
            let page = 1 + random(8);
            let (given, most) = stream(&entries, page);
            assert_eq!(given, entries, "pages of {page}");
            assert!(most <= entries.len());
        }
    }

    #[test]
    fn only_names_sharing_a_start_with_the_last_key_are_held() {
        // 1,000 plain names in pages of 100: nothing is held past its page.
        let entries: Vec<_> = (0..1000)
            .map(|i| (format!("f{i:04}").into_bytes(), false))
            .collect();
        let (given, most) = stream(&entries, 100);
        assert_eq!(given, entries);
        assert!(most <= 100, "held {most}");
    }

    fn storage(prefix: &str) -> S3Storage {
        S3Storage::new(&S3Settings {
            endpoint: "http://127.0.0.1:9".into(),
            bucket: "ftp".into(),
            region: "garage".into(),
            prefix: prefix.into(),
            access_key_id: "GK1".into(),
            secret_access_key: "secret".into(),
        })
        .unwrap()
    }

    #[test]
    fn paths_map_to_keys_under_the_prefix() {
        let plain = storage("");
        assert_eq!(plain.client.key(b"/a/b.txt").unwrap(), "a/b.txt");
        assert_eq!(plain.client.dir_prefix(b"/").unwrap(), "");
        assert_eq!(plain.client.dir_prefix(b"/a").unwrap(), "a/");
        let nested = storage("/site-a/");
        assert_eq!(nested.prefix(), "site-a/");
        assert_eq!(nested.client.key(b"/a").unwrap(), "site-a/a");
        assert_eq!(nested.client.dir_prefix(b"/").unwrap(), "site-a/");
        let error = plain.client.key(b"/\xff").unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidFilename);
    }

    #[test]
    fn s3_errors_pick_the_reply_kind() {
        let status = |status, code: &str| S3Error::Status {
            operation: "GET",
            key: "k".into(),
            status,
            code: code.into(),
            message: String::new(),
        };
        let cases = [
            (404, "NoSuchKey", io::ErrorKind::NotFound),
            (404, "", io::ErrorKind::NotFound),
            (403, "AccessDenied", io::ErrorKind::PermissionDenied),
            (
                403,
                "SignatureDoesNotMatch",
                io::ErrorKind::PermissionDenied,
            ),
            (503, "SlowDown", io::ErrorKind::Other),
            (500, "InternalError", io::ErrorKind::Other),
            (400, "EntityTooLarge", io::ErrorKind::FileTooLarge),
        ];
        for (code, name, kind) in cases {
            assert_eq!(
                io::Error::from(status(code, name)).kind(),
                kind,
                "{code} {name}"
            );
        }
        // NotFound → 550, Other → 451 (FileError::Local).
        let throttled = io::Error::from(status(503, "SlowDown"));
        assert_eq!(
            crate::file_error(&throttled),
            ftpwire_core::server::FileError::Local
        );
    }

    #[test]
    fn times_parse_from_headers_and_listings() {
        assert_eq!(http_date("Thu, 01 Jan 1970 00:01:00 GMT"), Some(60));
        assert_eq!(iso_date("1970-01-01T00:02:00.000Z"), Some(120));
        assert_eq!(http_date("yesterday"), None);
    }

    #[test]
    fn uploads_are_refused_where_objects_cannot_be_written_in_place() {
        let s3 = storage("");
        for mode in [WriteMode::Append, WriteMode::At(5)] {
            let error = s3.open_write(b"/a", mode).err().unwrap();
            assert_eq!(error.kind(), io::ErrorKind::Unsupported, "{mode:?}");
        }
    }

    #[test]
    fn an_unreachable_endpoint_is_a_451_error() {
        // Port 9 (discard) on loopback: nothing listens there.
        let error = storage("").stat(b"/a").unwrap_err();
        assert_eq!(
            crate::file_error(&error),
            ftpwire_core::server::FileError::Local
        );
        assert!(error.to_string().contains("reachable"), "{error}");
    }
}
