//! curl-style FTP URLs: `ftp://user:pass@host:port/path` (plain, or
//! explicit FTPS with `--tls`), `ftps://` for implicit FTPS (port 990).
//! As curl does, the path is relative to the login directory
//! (`ftp://host/dir/f`), and absolute with a second slash (`ftp://host//etc`).

use percent_encoding::percent_decode_str;

/// A parsed FTP URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FtpUrl {
    /// `ftps://`: implicit FTPS.
    pub implicit_tls: bool,
    /// The host as written (an IPv6 address without brackets).
    pub host: String,
    /// The port (21, or 990 for `ftps://`, unless given).
    pub port: u16,
    /// The user (`anonymous` if none).
    pub user: String,
    /// The password (`ftpwire@` for anonymous if none).
    pub password: String,
    /// The remote path, percent-decoded, as the server is sent it (may be empty).
    pub path: Vec<u8>,
}

/// Why a URL cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UrlError {
    /// Not a URL.
    #[error("{url:?} is not a URL ({reason}); write ftp://[user[:password]@]host[:port]/path")]
    Syntax {
        /// What was given.
        url: String,
        /// The parser's reason.
        reason: String,
    },
    /// Another scheme.
    #[error("{0:?}: only ftp:// and ftps:// URLs are understood")]
    Scheme(String),
    /// No host.
    #[error("{0:?} names no host")]
    NoHost(String),
}

impl FtpUrl {
    /// Parses `text`.
    ///
    /// ```
    /// use ftpwire::ftp_url::FtpUrl;
    /// let url = FtpUrl::parse("ftp://ann:p%40ss@127.0.0.1:2121/dir/a%20b.txt").unwrap();
    /// assert_eq!((url.user.as_str(), url.password.as_str(), url.port), ("ann", "p@ss", 2121));
    /// assert_eq!(url.path, b"dir/a b.txt");
    /// assert_eq!(FtpUrl::parse("ftps://h//etc/motd").unwrap().path, b"/etc/motd");
    /// ```
    pub fn parse(text: &str) -> Result<FtpUrl, UrlError> {
        let url = url::Url::parse(text).map_err(|e| UrlError::Syntax {
            url: text.into(),
            reason: e.to_string(),
        })?;
        let implicit_tls = match url.scheme() {
            "ftp" => false,
            "ftps" => true,
            other => return Err(UrlError::Scheme(other.into())),
        };
        let host = match url.host() {
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            Some(host) => host.to_string(),
            None => return Err(UrlError::NoHost(text.into())),
        };
        let port = url.port().unwrap_or(if implicit_tls { 990 } else { 21 });
        let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
        let user = match url.username() {
            "" => "anonymous".to_string(),
            user => decode(user),
        };
        let password = url.password().map(decode).unwrap_or_else(|| {
            if user == "anonymous" {
                "ftpwire@".into()
            } else {
                String::new()
            }
        });
        let raw_path = url.path();
        let raw_path = raw_path.strip_prefix('/').unwrap_or(raw_path);
        let path = percent_decode_str(raw_path).collect();
        Ok(FtpUrl {
            implicit_tls,
            host,
            port,
            user,
            password,
            path,
        })
    }

    /// `host:port`, bracketed for IPv6.
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The path's last component (for a download's local name).
    pub fn file_name(&self) -> Option<&[u8]> {
        self.path
            .rsplit(|&b| b == b'/')
            .next()
            .filter(|name| !name.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_as_curl_reads_them() {
        let url = FtpUrl::parse("ftp://example.com/pub/").unwrap();
        assert_eq!(
            (
                url.user.as_str(),
                url.password.as_str(),
                url.port,
                &url.path[..]
            ),
            ("anonymous", "ftpwire@", 21, &b"pub/"[..])
        );
        assert_eq!(url.file_name(), None);
        let url = FtpUrl::parse("ftp://[::1]:2121/x").unwrap();
        assert_eq!(url.address(), "[::1]:2121");
        assert_eq!(url.file_name(), Some(&b"x"[..]));
        assert!(FtpUrl::parse("ftps://h/").unwrap().implicit_tls);
        assert_eq!(FtpUrl::parse("ftps://h/").unwrap().port, 990);
        assert!(matches!(
            FtpUrl::parse("http://h/"),
            Err(UrlError::Scheme(_))
        ));
        assert!(matches!(
            FtpUrl::parse("not a url"),
            Err(UrlError::Syntax { .. })
        ));
        // A percent-encoded CR LF decodes to bytes the session then refuses to send.
        assert_eq!(
            FtpUrl::parse("ftp://h/a%0d%0aDELE%20b").unwrap().path,
            b"a\r\nDELE b"
        );
    }
}
