//! The delivery side of [`plaza_pay::outbound`]: the notification client resolves names
//! through [`CheckedResolver`], which checks every address a name resolves to before the
//! client may connect to it, so the address checked is the address connected to (a name
//! that answers a public address first and a private one later gains nothing). Hosts
//! written as addresses skip name resolution and are checked by [`check_target`] before
//! the request is sent. Outside the sandbox, an address of this very machine is refused
//! too, whatever range it is in.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use plaza_pay::outbound::OutboundPolicy;

/// A request Plaza refused to send: the host or an address it resolved to may not be
/// called. Its text goes into the delivery attempt.
#[derive(Debug, thiserror::Error)]
#[error("not sent: {0}")]
pub(crate) struct Refused(pub(crate) String);

/// Whether `ip` is an address of this machine: connecting a UDP socket (which sends
/// nothing) to one of the machine's own addresses picks that same address as the source.
fn is_this_machine(ip: IpAddr) -> bool {
    let any: SocketAddr = match ip {
        IpAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        IpAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    std::net::UdpSocket::bind(any)
        .and_then(|socket| {
            socket.connect((ip, 9))?;
            socket.local_addr()
        })
        .is_ok_and(|local| local.ip() == ip)
}

/// Checks one address `host` names (resolved, or written as an address).
fn check_address(policy: &OutboundPolicy, host: &str, ip: IpAddr) -> Result<(), Refused> {
    policy.check_resolved(host, ip).map_err(Refused)?;
    if !policy.allows_internal() && !policy.is_allowed_host(host) && is_this_machine(ip) {
        return Err(Refused(format!(
            "{host} ({ip}) is an address of the machine Plaza runs on; Plaza does not call itself"
        )));
    }
    Ok(())
}

/// Checks a URL before anything is sent (it may have been stored before a rule
/// changed): a host written as an address by the policy and [`check_address`]; a name
/// only against Plaza's own host names here — what it resolves to is checked by
/// [`CheckedResolver`].
pub(crate) fn check_target(policy: &OutboundPolicy, url: &str) -> Result<(), Refused> {
    let parsed = reqwest::Url::parse(url).map_err(|error| Refused(format!("bad URL: {error}")))?;
    let Some(host) = parsed.host() else {
        return Err(Refused("the URL names no host".to_owned()));
    };
    let ip = match host {
        url::Host::Ipv4(ip) => IpAddr::V4(ip),
        url::Host::Ipv6(ip) => IpAddr::V6(ip),
        url::Host::Domain(name) => return policy.check_own_host(name).map_err(Refused),
    };
    policy.check_host(&host.to_owned()).map_err(Refused)?;
    check_address(policy, &ip.to_string(), ip)
}

/// The notification client's name resolution: the system resolver, then every address
/// checked.
#[derive(Debug)]
pub(crate) struct CheckedResolver {
    pub(crate) policy: Arc<OutboundPolicy>,
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addresses: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if addresses.is_empty() {
                return Err(Box::new(Refused(format!("{host} resolves to no address")))
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            for address in &addresses {
                check_address(&policy, &host, address.ip())?;
            }
            Ok(Box::new(addresses.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The refusal inside a client error, if a check refused the request.
pub(crate) fn refusal_in(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(refused) = error.downcast_ref::<Refused>() {
            return Some(refused.to_string());
        }
        current = error.source();
    }
    None
}

/// An HTTP client for calls a merchant or a developer chose the target of: HTTPS
/// trusting the system's certificate store, names resolved through
/// [`CheckedResolver`], no redirects and no proxy, `timeout` for the whole exchange.
pub(crate) fn checked_client(
    policy: Arc<OutboundPolicy>,
    timeout: std::time::Duration,
    user_agent: &'static str,
) -> anyhow::Result<reqwest::Client> {
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    for error in &found.errors {
        tracing::warn!(%error, "reading the system's certificate store");
    }
    let (added, ignored) = roots.add_parsable_certificates(found.certs);
    tracing::debug!(added, ignored, "trusted certificates for outbound https");
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(Arc::new(CheckedResolver { policy }))
        .user_agent(user_agent)
        .build()?)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error; unwrap and expect are that failure"
)]
mod tests {
    use super::*;

    #[test]
    fn literal_internal_addresses_are_refused_before_sending() {
        let production = OutboundPolicy::production(&["allowed.test".to_owned()], &[]);
        for url in [
            "http://127.0.0.1:9/n",
            "http://[::1]:9/n",
            "http://169.254.169.254/latest",
            "http://2130706433/n",
        ] {
            let refused = check_target(&production, url).unwrap_err();
            assert!(refused.to_string().starts_with("not sent: "), "{refused}");
        }
        // Names are left to the resolver, which sees what they resolve to.
        assert!(check_target(&production, "http://localhost:9/n").is_ok());
        assert!(check_target(&production, "https://merchant.example/n").is_ok());
        let own = OutboundPolicy::production(&[], &["pay.example.com".to_owned()]);
        assert!(check_target(&own, "https://pay.example.com/n").is_err());
        assert!(check_target(&OutboundPolicy::sandbox(), "http://127.0.0.1:9/n").is_ok());
    }

    #[test]
    fn this_machines_own_addresses_are_recognised() {
        assert!(is_this_machine("127.0.0.1".parse().unwrap()));
        // TEST-NET-3 is never assigned to a machine.
        assert!(!is_this_machine("203.0.113.9".parse().unwrap()));
    }

    #[tokio::test]
    async fn names_are_checked_after_they_resolve() {
        use reqwest::dns::Resolve as _;
        let resolver = CheckedResolver {
            policy: Arc::new(OutboundPolicy::production(&[], &[])),
        };
        let name: reqwest::dns::Name = "localhost".parse().unwrap();
        let refused = resolver.resolve(name).await.err().unwrap();
        assert!(refusal_in(&*refused).is_some(), "{refused}");
        let allowing = CheckedResolver {
            policy: Arc::new(OutboundPolicy::production(&["localhost".to_owned()], &[])),
        };
        let name: reqwest::dns::Name = "localhost".parse().unwrap();
        let addresses: Vec<SocketAddr> = allowing.resolve(name).await.unwrap().collect();
        assert!(addresses.iter().all(|address| address.ip().is_loopback()));
    }
}
