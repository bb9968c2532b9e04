//! Driver errors as one line a person can read: what failed, in words, and what to try — never
//! the driver's debug structure (`Kind: SCRAM failure … labels: {}, source: Some(Error { … })`).

use mongodb::error::{Error, ErrorKind};

/// One line: what failed and what to try. Never contains a password: the driver's messages
/// name hosts, users and mechanisms, not secrets, and nothing of the URI is added here.
pub fn explain(e: &Error) -> String {
    let line = match &*e.kind {
        ErrorKind::Authentication { message, .. } => authentication(message),
        ErrorKind::ServerSelection { message, .. } => server_selection(message),
        ErrorKind::Io(io) => io_line(io),
        ErrorKind::ConnectionPoolCleared { message, .. } => format!(
            "the connection was dropped and the pool cleared ({}); the server restarted or the network failed",
            short(message)
        ),
        ErrorKind::InvalidTlsConfig { message, .. } => format!(
            "TLS setup failed ({}); check tlsCAFile= / tlsCertificateKeyFile=, and tls=true only when the server speaks TLS",
            short(message)
        ),
        ErrorKind::DnsResolve { message, .. } => format!(
            "DNS lookup failed ({}); check the host name (mongodb+srv:// URIs need the `srv` build feature)",
            short(message)
        ),
        ErrorKind::IncompatibleServer { message, .. } => format!(
            "the server's version is not supported by the driver ({}); MongoDB 4.2 or later is needed",
            short(message)
        ),
        ErrorKind::InvalidArgument { message, .. } => {
            format!("invalid argument ({})", short(message))
        }
        ErrorKind::Command(c) => match c.code {
            13 => format!(
                "permission denied ({}); the user needs readWrite on the databases tenantbench \
                 creates (prefix), plus listDatabases and dropDatabase on them",
                short(&c.message)
            ),
            18 => format!(
                "authentication failed ({}); check the user name and password in the URI",
                short(&c.message)
            ),
            _ => format!(
                "the server refused the command: {} ({}, code {})",
                short(&c.message),
                c.code_name,
                c.code
            ),
        },
        // The kind's own message (not the error's Display, which adds labels and sources).
        other => short(&other.to_string()),
    };
    one_line(&line)
}

/// Whether the server answered but refused the credentials (authentication failed, or the
/// user lacks a permission).
pub fn refused(e: &Error) -> bool {
    match &*e.kind {
        ErrorKind::Authentication { .. } => true,
        ErrorKind::Command(c) => matches!(c.code, 13 | 18),
        _ => false,
    }
}

/// Authentication failed: what to check.
fn authentication(message: &str) -> String {
    format!(
        "authentication failed ({}); check the user name and password in the URI, and \
         authSource= when the user is defined in a database other than admin",
        short(message)
    )
}

/// Server selection failed: unreachable, refused or timed out (the driver's message describes
/// its topology; only the reason is kept).
fn server_selection(message: &str) -> String {
    let m = message.to_ascii_lowercase();
    if m.contains("connection refused") {
        "no server answers at that address (connection refused); is it running? \
         scripts/mongo-local.sh start starts a local one"
            .into()
    } else if m.contains("certificate") || m.contains("tls") || m.contains("handshake") {
        "the TLS handshake failed; check tls=, tlsCAFile= and that the server speaks TLS".into()
    } else if m.contains("auth") || m.contains("scram") {
        "authentication failed while connecting; check the user name and password in the URI, \
         and authSource="
            .into()
    } else if m.contains("dns") || m.contains("resolve") || m.contains("lookup") {
        "the host name does not resolve; check it".into()
    } else {
        "no server answered before the server selection timeout; check the host and port, \
         firewalls, and directConnection=true for a single member of a replica set"
            .into()
    }
}

fn io_line(io: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    match io.kind() {
        K::ConnectionRefused => "connection refused; is the server running? \
                                 scripts/mongo-local.sh start starts a local one"
            .into(),
        K::TimedOut => "the connection timed out; check the host, port and firewalls".into(),
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof => {
            "the server closed the connection (restarted, or a proxy dropped it)".into()
        }
        _ => format!("network error ({})", short(&io.to_string())),
    }
}

/// The first line of a driver message, at most 160 characters.
fn short(message: &str) -> String {
    let first = message.lines().next().unwrap_or("").trim();
    if first.chars().count() > 160 {
        let cut: String = first.chars().take(157).collect();
        format!("{cut}…")
    } else {
        first.to_string()
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(k: ErrorKind) -> Error {
        Error::from(k)
    }

    #[test]
    fn authentication_names_what_to_check_in_one_line() {
        let s = one_line(&authentication("SCRAM failure: Authentication failed."));
        assert!(s.starts_with("authentication failed (SCRAM failure"), "{s}");
        assert!(s.contains("authSource="), "{s}");
        assert!(!s.contains('\n') && !s.contains("labels"), "{s}");
    }

    #[test]
    fn refused_servers_say_how_to_start_one() {
        let io = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let s = explain(&kind(ErrorKind::Io(std::sync::Arc::new(io))));
        assert!(s.contains("scripts/mongo-local.sh start"), "{s}");
        let s = server_selection(
            "Server selection timeout: No available servers. Topology: { Type: Unknown, \
             Servers: [ { Address: 127.0.0.1:1, Type: Unknown, Error: Kind: I/O error: \
             Connection refused (os error 111), labels: {} } ] }",
        );
        assert!(s.contains("connection refused"), "{s}");
        assert!(!s.contains("Topology"), "{s}");
    }

    #[test]
    fn long_messages_are_cut_to_one_short_line() {
        let s = short(&format!("{}\nsecond line", "x".repeat(400)));
        assert_eq!(s.chars().count(), 158);
        assert!(!s.contains("second"));
    }
}
