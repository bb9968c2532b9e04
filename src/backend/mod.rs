//! Database backends: layouts, indexes, seeding and verification per database kind. Backends
//! measure no latency; they report facts (counts, sizes, build times) as data.

pub mod mongo;

/// Hides the user name and password of a URI, so it can be printed or stored.
pub fn redact_uri(uri: &str) -> String {
    let Some(scheme_end) = uri.find("://") else {
        return uri.to_string();
    };
    let rest = &uri[scheme_end + 3..];
    let host_end = rest.find(['/', '?']).unwrap_or(rest.len());
    match rest[..host_end].rfind('@') {
        Some(at) => format!("{}://***@{}", &uri[..scheme_end], &rest[at + 1..]),
        None => uri.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_credentials() {
        assert_eq!(
            super::redact_uri("mongodb://u:p@h:1/db?x=1"),
            "mongodb://***@h:1/db?x=1"
        );
        assert_eq!(super::redact_uri("mongodb://h:1"), "mongodb://h:1");
        assert_eq!(
            super::redact_uri("postgres://a@h/db"),
            "postgres://***@h/db"
        );
    }
}
