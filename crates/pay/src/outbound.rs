//! Where Plaza may send requests on a merchant's say-so: notify URLs of orders and
//! refunds, and coupon callback URLs.
//!
//! A production Plaza must not become a way into its own network (SSRF): a merchant who
//! could make it POST to `127.0.0.1:8080`, to the cloud metadata service at
//! `169.254.169.254` or to a database on `10.0.0.5` would read the answers in its
//! notification attempts. So outside the sandbox a URL whose host is internal — a
//! loopback, link-local, private, shared (CGNAT), unique-local, unspecified, multicast or
//! reserved address, a `localhost` name, or Plaza's own host — is refused when it is
//! given, and the delivery code checks every address a name resolves to again before it
//! connects (a name may resolve to a private address, or change its answer later). The
//! sandbox allows all of them: developers receive notifications on their own machine.
//! An operator can allow named internal hosts (`notify_allowed_internal_hosts`).
//!
//! This module is pure: it classifies addresses and host names; resolving names and
//! connecting is the delivery code's.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

use crate::error::PayError;

/// The longest URL Plaza keeps (WeChat's limit on `notify_url`).
pub const URL_CHARS_MAX: usize = 256;

/// Why an IPv4 address is internal, or `None` for a public one.
fn internal_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_unspecified() || a == 0 {
        Some("an unspecified address (0.0.0.0/8)")
    } else if ip.is_link_local() {
        Some("a link-local address (169.254.0.0/16, where cloud metadata services live)")
    } else if ip.is_private() {
        Some("a private address (10/8, 172.16/12, 192.168/16)")
    } else if a == 100 && (64..128).contains(&b) {
        Some("a shared (CGNAT) address (100.64.0.0/10)")
    } else if a == 192 && b == 0 && ip.octets()[2] == 0 {
        Some("an IETF protocol address (192.0.0.0/24)")
    } else if a == 198 && (18..20).contains(&b) {
        Some("a benchmarking address (198.18.0.0/15)")
    } else if ip.is_multicast() {
        Some("a multicast address")
    } else if ip.is_broadcast() || a >= 240 {
        Some("a reserved address (240.0.0.0/4)")
    } else {
        None
    }
}

/// The IPv4 address an IPv6 address carries, where reaching the one reaches the other:
/// IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`), NAT64 (`64:ff9b::/96`)
/// and 6to4 (`2002:AABB:CCDD::/48`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let segments = ip.segments();
    let octets = ip.octets();
    let last_four = Ipv4Addr::new(octets[12], octets[13], octets[14], octets[15]);
    if let Some(mapped) = ip.to_ipv4_mapped() {
        Some(mapped)
    } else if (segments[..6] == [0; 6] && !ip.is_loopback() && !ip.is_unspecified())
        || segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0]
    {
        Some(last_four)
    } else if segments[0] == 0x2002 {
        Some(Ipv4Addr::new(octets[2], octets[3], octets[4], octets[5]))
    } else {
        None
    }
}

/// Why an address is internal (in words, for the error), or `None` for a public one.
pub fn internal_kind(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(ip) => internal_v4(ip),
        IpAddr::V6(ip) => {
            if let Some(inner) = embedded_v4(ip) {
                return internal_v4(inner);
            }
            let first = ip.segments()[0];
            if ip.is_loopback() {
                Some("a loopback address")
            } else if ip.is_unspecified() {
                Some("an unspecified address")
            } else if first & 0xffc0 == 0xfe80 {
                Some("a link-local address (fe80::/10)")
            } else if first & 0xffc0 == 0xfec0 {
                Some("a site-local address (fec0::/10)")
            } else if first & 0xfe00 == 0xfc00 {
                Some("a unique-local address (fc00::/7)")
            } else if ip.is_multicast() {
                Some("a multicast address")
            } else {
                None
            }
        }
    }
}

/// A host as compared with the allow-list and Plaza's own hosts: a name in lower case
/// without a trailing dot, or an address in its canonical spelling.
pub fn normalise_host(host: &str) -> String {
    let host = host.trim().trim_end_matches('.');
    let bare = host
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .unwrap_or(host);
    match bare.parse::<IpAddr>() {
        Ok(ip) => ip.to_string(),
        Err(_) => bare.to_ascii_lowercase(),
    }
}

/// Who may be called: everything (the sandbox), or public hosts plus the names an
/// operator allowed, never Plaza's own host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboundPolicy {
    allow_internal: bool,
    allowed_hosts: Vec<String>,
    own_hosts: Vec<String>,
}

impl OutboundPolicy {
    /// The sandbox's: any host, internal ones included.
    pub fn sandbox() -> Self {
        Self {
            allow_internal: true,
            ..Self::default()
        }
    }

    /// Production's: public hosts, and internal ones only when named in
    /// `allowed_hosts` (names or addresses, as they appear in URLs); never one of
    /// `own_hosts` (Plaza's public host and listen address) unless allowed by name.
    pub fn production(allowed_hosts: &[String], own_hosts: &[String]) -> Self {
        let normalised = |hosts: &[String]| {
            hosts
                .iter()
                .map(|host| normalise_host(host))
                .filter(|host| !host.is_empty())
                .collect()
        };
        Self {
            allow_internal: false,
            allowed_hosts: normalised(allowed_hosts),
            own_hosts: normalised(own_hosts),
        }
    }

    /// Whether every host may be called (the sandbox).
    pub fn allows_internal(&self) -> bool {
        self.allow_internal
    }

    /// Whether `host` is on the operator's allow-list: it may be called whatever it
    /// resolves to.
    pub fn is_allowed_host(&self, host: &str) -> bool {
        let host = normalise_host(host);
        self.allowed_hosts.contains(&host)
    }

    /// Checks a URL Plaza is asked to call: an absolute `http://` or `https://` URL of at
    /// most [`URL_CHARS_MAX`] characters, with a host, without a query string or
    /// credentials, and (outside the sandbox) not naming an internal host.
    ///
    /// # Errors
    ///
    /// [`PayError::Invalid`] naming `field`.
    pub fn check_url(&self, field: &str, url: &str) -> Result<(), PayError> {
        let host = url_host(field, url)?;
        self.check_host(&host)
            .map_err(|issue| PayError::invalid(field, issue))
    }

    /// Checks a parsed URL's host against the policy; the refusal in words.
    ///
    /// # Errors
    ///
    /// Why the host may not be called.
    pub fn check_host(&self, host: &Host<String>) -> Result<(), String> {
        let text = match host {
            Host::Domain(name) => name.clone(),
            Host::Ipv4(ip) => ip.to_string(),
            Host::Ipv6(ip) => ip.to_string(),
        };
        if self.allow_internal || self.is_allowed_host(&text) {
            return Ok(());
        }
        self.check_own_host(&text)?;
        let normalised = normalise_host(&text);
        let kind = match host {
            Host::Domain(_) => (normalised == "localhost" || normalised.ends_with(".localhost"))
                .then_some("a loopback name"),
            Host::Ipv4(ip) => internal_kind(IpAddr::V4(*ip)),
            Host::Ipv6(ip) => internal_kind(IpAddr::V6(*ip)),
        };
        match kind {
            Some(kind) => Err(refusal(&normalised, kind)),
            None => Ok(()),
        }
    }

    /// Checks that `host` is not one of Plaza's own (unless allowed by name, or in the
    /// sandbox).
    ///
    /// # Errors
    ///
    /// Why the host may not be called.
    pub fn check_own_host(&self, host: &str) -> Result<(), String> {
        if self.allow_internal || self.is_allowed_host(host) {
            return Ok(());
        }
        let normalised = normalise_host(host);
        if self.own_hosts.contains(&normalised) {
            return Err(format!(
                "{normalised} is Plaza's own host; Plaza does not call itself"
            ));
        }
        Ok(())
    }

    /// Checks an address `host` resolved to, at delivery.
    ///
    /// # Errors
    ///
    /// Why the address may not be called.
    pub fn check_resolved(&self, host: &str, ip: IpAddr) -> Result<(), String> {
        if self.allow_internal || self.is_allowed_host(host) {
            return Ok(());
        }
        match internal_kind(ip) {
            Some(kind) => Err(refusal(&format!("{host} (resolved to {ip})"), kind)),
            None => Ok(()),
        }
    }
}

fn refusal(host: &str, kind: &str) -> String {
    format!(
        "{host} is {kind}; outside the sandbox Plaza calls only public hosts (an operator may allow internal ones by name in notify_allowed_internal_hosts)"
    )
}

/// Parses a URL Plaza is asked to call and answers its host (see
/// [`OutboundPolicy::check_url`] for the rules of form).
///
/// # Errors
///
/// [`PayError::Invalid`] naming `field`.
pub fn url_host(field: &str, url: &str) -> Result<Host<String>, PayError> {
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(PayError::invalid(
            field,
            "must be an absolute http:// or https:// URL",
        ));
    }
    if url.chars().count() > URL_CHARS_MAX || url.contains(char::is_whitespace) {
        return Err(PayError::invalid(
            field,
            format!("must name a host and be at most {URL_CHARS_MAX} characters"),
        ));
    }
    if url.contains('?') {
        return Err(PayError::invalid(field, "must not carry a query string"));
    }
    let authority = url
        .split_once("://")
        .map_or("", |(_, rest)| rest)
        .split(['/', '\\', '#'])
        .next()
        .unwrap_or_default();
    if authority.is_empty() {
        return Err(PayError::invalid(
            field,
            format!("must name a host and be at most {URL_CHARS_MAX} characters"),
        ));
    }
    let parsed = Url::parse(url)
        .map_err(|error| PayError::invalid(field, format!("is not a valid URL: {error}")))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(PayError::invalid(
            field,
            "must not carry a user name or password",
        ));
    }
    match parsed.host() {
        Some(host) if !matches!(&host, Host::Domain(name) if name.is_empty()) => {
            Ok(host.to_owned())
        }
        _ => Err(PayError::invalid(
            field,
            format!("must name a host and be at most {URL_CHARS_MAX} characters"),
        )),
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error; unwrap and expect are that failure"
)]
mod tests {
    use super::*;

    fn production() -> OutboundPolicy {
        OutboundPolicy::production(
            &["Hooks.Internal.".to_owned(), "10.1.2.3".to_owned()],
            &["pay.example.com".to_owned(), "203.0.113.7".to_owned()],
        )
    }

    #[test]
    fn internal_addresses_are_named() {
        for (ip, internal) in [
            ("127.0.0.1", true),
            ("127.255.0.9", true),
            ("0.0.0.0", true),
            ("0.1.2.3", true),
            ("169.254.169.254", true),
            ("10.0.0.5", true),
            ("172.16.0.1", true),
            ("172.31.255.255", true),
            ("172.32.0.1", false),
            ("192.168.1.1", true),
            ("100.64.0.1", true),
            ("100.127.255.255", true),
            ("100.128.0.1", false),
            ("224.0.0.1", true),
            ("255.255.255.255", true),
            ("8.8.8.8", false),
            ("::1", true),
            ("::", true),
            ("fe80::1", true),
            ("fc00::1", true),
            ("fd12:3456::1", true),
            ("::ffff:127.0.0.1", true),
            ("::ffff:8.8.8.8", false),
            ("::127.0.0.1", true),
            ("64:ff9b::a9fe:a9fe", true),
            ("2002:c0a8:0101::1", true),
            ("2001:4860:4860::8888", false),
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(internal_kind(ip).is_some(), internal, "{ip}");
        }
    }

    #[test]
    fn production_refuses_internal_hosts_at_the_door() {
        let policy = production();
        for url in [
            "http://127.0.0.1:9000/n",
            "http://localhost/n",
            "http://LOCALHOST./n",
            "http://a.b.localhost/n",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]:8080/n",
            "http://[::ffff:7f00:1]/n",
            "http://2130706433/n",
            "http://0x7f.1/n",
            "http://10.0.0.5/n",
            "http://100.64.1.1/n",
            "http://[fd00::1]/n",
            "http://0.0.0.0:8080/n",
            "https://pay.example.com/notify",
            "http://203.0.113.7:8080/n",
        ] {
            let refused = policy.check_url("/notify_url", url).unwrap_err();
            assert!(
                matches!(&refused, PayError::Invalid { field, .. } if field == "/notify_url"),
                "{url}: {refused:?}"
            );
        }
        for url in [
            "https://merchant.example/notify",
            "http://8.8.8.8/n",
            "https://hooks.internal/n",
            "http://10.1.2.3:9000/n",
        ] {
            assert!(policy.check_url("/notify_url", url).is_ok(), "{url}");
        }
    }

    #[test]
    fn the_sandbox_allows_internal_hosts_but_not_bad_forms() {
        let policy = OutboundPolicy::sandbox();
        assert!(policy.check_url("u", "http://127.0.0.1:9000/n").is_ok());
        assert!(policy.check_url("u", "http://localhost/n").is_ok());
        for url in [
            "ftp://example.com/n",
            "https://example.com/n?x=1",
            "https:///n",
            "/relative",
            "http://user:secret@example.com/n",
            "http://exa mple.com/n",
        ] {
            assert!(policy.check_url("u", url).is_err(), "{url}");
        }
    }

    #[test]
    fn resolved_addresses_are_checked_unless_the_name_is_allowed() {
        let policy = production();
        let loopback: IpAddr = "127.0.0.1".parse().unwrap();
        let public: IpAddr = "93.184.216.34".parse().unwrap();
        assert!(policy.check_resolved("evil.example", loopback).is_err());
        assert!(policy.check_resolved("evil.example", public).is_ok());
        assert!(policy.check_resolved("hooks.internal", loopback).is_ok());
        assert!(
            OutboundPolicy::sandbox()
                .check_resolved("evil.example", loopback)
                .is_ok()
        );
    }
}
