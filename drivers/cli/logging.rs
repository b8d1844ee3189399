//! How `ftpwire` writes its log: env_logger's text lines, or (`--log-format
//! json`) one JSON object per line for log shippers. A JSON object has the
//! text line's fields: `time`, `level`, `message`; `client` when the line
//! is about a client (the real one behind a load balancer), and the
//! structured fields a line carries (a transfer's `command`, `path`,
//! `user`, `bytes`, `ms`, `outcome`).

use std::io::Write;
use std::net::SocketAddr;

use serde::Deserialize;

/// The log's format.
#[derive(clap::ValueEnum, Deserialize, Debug, Clone, Copy, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// `[time LEVEL] message`, for people.
    #[default]
    Text,
    /// One JSON object per line, for machines.
    Json,
}

/// Starts the log (`RUST_LOG` still chooses the levels; info by default).
pub fn init(format: LogFormat) {
    let mut builder = env_logger::Builder::from_env(
        env_logger::Env::default().default_filter_or("info,rustls=error"),
    );
    builder.format_target(false);
    if format == LogFormat::Json {
        builder.format(|buf, record| {
            let object = json_line(&buf.timestamp().to_string(), record);
            writeln!(buf, "{object}")
        });
    }
    // A second init (tests) keeps the first.
    let _ = builder.try_init();
}

/// One record as a JSON object.
fn json_line(time: &str, record: &log::Record<'_>) -> serde_json::Value {
    let text = record.args().to_string();
    let mut object = serde_json::Map::new();
    object.insert("time".into(), time.into());
    object.insert("level".into(), record.level().as_str().into());
    // Lines about a client start with its address: `10.0.0.7:40000: ...`.
    let (client, message) = match text.split_once(": ") {
        Some((head, rest)) if head.parse::<SocketAddr>().is_ok() => (Some(head), rest),
        _ => (None, text.as_str()),
    };
    if let Some(client) = client {
        object.insert("client".into(), client.into());
    }
    object.insert("message".into(), message.into());
    struct Fields<'a>(&'a mut serde_json::Map<String, serde_json::Value>);
    impl<'kvs> log::kv::VisitSource<'kvs> for Fields<'_> {
        fn visit_pair(
            &mut self,
            key: log::kv::Key<'kvs>,
            value: log::kv::Value<'kvs>,
        ) -> Result<(), log::kv::Error> {
            let value = match value.to_u64() {
                Some(n) => n.into(),
                None => value.to_string().into(),
            };
            self.0.insert(key.as_str().to_owned(), value);
            Ok(())
        }
    }
    let _ = record.key_values().visit(&mut Fields(&mut object));
    serde_json::Value::Object(object)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_line_with_fields() {
        let args = format_args!("10.0.0.7:40000: RETR /a: 3 bytes in 1 ms (alice)");
        let record = log::Record::builder()
            .args(args)
            .level(log::Level::Info)
            .key_values(&[("command", "RETR"), ("path", "/a")])
            .build();
        let line = json_line("2026-12-02T00:00:00Z", &record);
        assert_eq!(line["client"], "10.0.0.7:40000");
        assert_eq!(line["message"], "RETR /a: 3 bytes in 1 ms (alice)");
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["command"], "RETR");
        let plain = log::Record::builder()
            .args(format_args!("serving /srv (1 user(s))"))
            .level(log::Level::Warn)
            .build();
        let line = json_line("t", &plain);
        assert!(line.get("client").is_none());
        assert_eq!(line["message"], "serving /srv (1 user(s))");
    }
}
