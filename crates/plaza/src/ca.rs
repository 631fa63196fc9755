//! `plaza ca`: the local certificate authority of drop-in mode.
//!
//! Drop-in mode lets code whose WeChat host is hard-coded talk to Plaza unchanged: a
//! hosts-file line sends WeChat's host names to this machine, and `plaza serve
//! --tls-listen` answers HTTPS for them with a certificate from this CA, which the
//! developer trusts once. Running the command again keeps the CA, so that trust
//! survives, and issues a new server certificate.
//!
//! The CA carries name constraints: it can vouch only for WeChat's three API hosts,
//! `localhost` and 127.0.0.1, so a machine that trusts it trusts nothing else because of
//! it, even if `ca.key` leaks. Keys are ECDSA P-256: every TLS client accepts them, and
//! they are made in a millisecond.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use plaza_kernel::clock::{Clock, SystemClock};
use rcgen::{
    BasicConstraints, CertificateParams, CidrSubnet, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, GeneralSubtree, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    NameConstraints, PublicKeyData, SerialNumber,
};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

use crate::Outcome;
use crate::config::{self, Key};

/// The CA certificate: what clients trust.
pub(crate) const CA_CERT_FILE: &str = "ca.pem";
/// The CA's private key (owner-only).
pub(crate) const CA_KEY_FILE: &str = "ca.key";
/// The server certificate followed by the CA certificate.
pub(crate) const SERVER_CERT_FILE: &str = "server.pem";
/// The server certificate's private key (owner-only).
pub(crate) const SERVER_KEY_FILE: &str = "server.key";

const DAY_S: i64 = 86_400;
/// The CA's validity: ten years, so the trust set up once lasts.
const CA_VALIDITY_S: i64 = 10 * 365 * DAY_S;
/// The server certificate's validity: 397 days, within the 398 that Apple's platforms
/// and browsers accept for a TLS server certificate even under a locally trusted CA.
const SERVER_VALIDITY_S: i64 = 397 * DAY_S;
/// How far before now validity starts, so a client whose clock lags accepts it too.
const BACKDATE_S: i64 = DAY_S;
/// The loopback address the server certificate names and the CA may vouch for.
const LOOPBACK: [u8; 4] = [127, 0, 0, 1];

/// What the server certificate names: WeChat's API hosts, `localhost` and 127.0.0.1.
pub(crate) fn server_names() -> Vec<String> {
    plaza_http::host::WECHAT_HOSTS
        .iter()
        .map(|name| (*name).to_owned())
        .chain(["localhost".to_owned(), "127.0.0.1".to_owned()])
        .collect()
}

/// Why the certificates could not be made or used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CaError {
    /// A file or directory could not be created, written or read.
    #[error("cannot {action} {}: {error}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },
    /// The CA certificate is there but its key is not.
    #[error(
        "{} exists but its key {} does not: restore the key, or delete {} to make a new CA (and trust the new one instead)",
        cert.display(),
        key.display(),
        cert.display()
    )]
    KeyMissing { cert: PathBuf, key: PathBuf },
    /// A key file holds no usable key.
    #[error("{} is not a usable private key: {reason}", path.display())]
    BadKey { path: PathBuf, reason: String },
    /// The certificate generator failed.
    #[error("cannot make a certificate: {0}")]
    Generate(String),
    /// The server certificate does not chain to the CA for every name, now.
    #[error(
        "the certificates in {} do not work together: {reason}; run `plaza ca` again",
        dir.display()
    )]
    DoesNotVerify { dir: PathBuf, reason: String },
}

impl From<rcgen::Error> for CaError {
    fn from(error: rcgen::Error) -> Self {
        Self::Generate(error.to_string())
    }
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> CaError {
    let path = path.to_owned();
    move |error| CaError::Io {
        action,
        path,
        error,
    }
}

fn instant(unix_s: i64) -> Result<time::OffsetDateTime, CaError> {
    time::OffsetDateTime::from_unix_timestamp(unix_s)
        .map_err(|error| CaError::Generate(format!("validity instant {unix_s}: {error}")))
}

fn serial() -> SerialNumber {
    SerialNumber::from_slice(&plaza_wx::cert::random_serial(&mut rand::rng()))
}

/// The CA's parameters. Its name is derived from its key, so the same key always gives
/// the same name: that is what lets a kept CA issue again without reading its
/// certificate back, and two Plaza CAs on one machine never share a name.
fn ca_params(key: &KeyPair, now_s: i64) -> Result<CertificateParams, CaError> {
    let fingerprint = plaza_wx::digest::sha256_hex(&key.subject_public_key_info());
    let mut name = DistinguishedName::new();
    name.push(DnType::OrganizationName, "Plaza sandbox (not WeChat)");
    name.push(
        DnType::CommonName,
        format!(
            "Plaza drop-in CA {}",
            fingerprint.get(..16).unwrap_or(&fingerprint)
        ),
    );
    let mut params = CertificateParams::default();
    params.distinguished_name = name;
    params.serial_number = Some(serial());
    params.not_before = instant(now_s - BACKDATE_S)?;
    params.not_after = instant(now_s + CA_VALIDITY_S)?;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let mut permitted: Vec<GeneralSubtree> = server_names()
        .into_iter()
        .filter(|name| name.parse::<std::net::IpAddr>().is_err())
        .map(GeneralSubtree::DnsName)
        .collect();
    permitted.push(GeneralSubtree::IpAddress(CidrSubnet::from_v4_prefix(
        LOOPBACK, 32,
    )));
    params.name_constraints = Some(NameConstraints {
        permitted_subtrees: permitted,
        excluded_subtrees: Vec::new(),
    });
    Ok(params)
}

/// A new CA key.
fn new_key() -> Result<KeyPair, CaError> {
    Ok(KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?)
}

/// The CA's self-signed certificate, as PEM.
fn ca_certificate(key: &KeyPair, now_s: i64) -> Result<String, CaError> {
    Ok(ca_params(key, now_s)?.self_signed(key)?.pem())
}

/// A server certificate for [`server_names`] signed by the CA, as PEM, with its new key.
fn server_certificate(ca_key: &KeyPair, now_s: i64) -> Result<(String, KeyPair), CaError> {
    let issuer = Issuer::new(ca_params(ca_key, now_s)?, ca_key);
    let key = new_key()?;
    let mut params = CertificateParams::new(server_names())?;
    let mut name = DistinguishedName::new();
    name.push(DnType::OrganizationName, "Plaza sandbox (not WeChat)");
    // Clients read the subject alternative names; the common name is only for people.
    name.push(DnType::CommonName, plaza_http::host::WECHAT_HOSTS[0]);
    params.distinguished_name = name;
    params.serial_number = Some(serial());
    params.not_before = instant(now_s - BACKDATE_S)?;
    params.not_after = instant(now_s + SERVER_VALIDITY_S)?;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    let certificate = params.signed_by(&key, &issuer)?;
    Ok((certificate.pem(), key))
}

/// What [`write`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Written {
    /// Whether the CA is new (else the one found was kept).
    pub(crate) ca_made: bool,
    /// When the server certificate expires, Unix seconds.
    pub(crate) server_not_after_s: i64,
}

/// Makes the CA unless `dir` has one, issues a new server certificate from it, and
/// checks that the result verifies.
///
/// # Errors
///
/// When a file cannot be written or read (naming it), when `ca.pem` is there without
/// `ca.key`, or when the files do not verify together.
pub(crate) fn write(dir: &Path, now_s: i64) -> Result<Written, CaError> {
    std::fs::create_dir_all(dir).map_err(io("create the directory", dir))?;
    let ca_key_path = dir.join(CA_KEY_FILE);
    let ca_cert_path = dir.join(CA_CERT_FILE);
    let (ca_key, ca_made) = match read_optional(&ca_key_path)? {
        Some(pem) => {
            let key = KeyPair::from_pem(&pem).map_err(|error| CaError::BadKey {
                path: ca_key_path.clone(),
                reason: error.to_string(),
            })?;
            (key, false)
        }
        None if ca_cert_path.exists() => {
            return Err(CaError::KeyMissing {
                cert: ca_cert_path,
                key: ca_key_path,
            });
        }
        None => {
            let key = new_key()?;
            // The key first: its presence says a CA exists.
            write_file(&ca_key_path, key.serialize_pem().as_bytes(), Mode::Private)?;
            (key, true)
        }
    };
    if ca_made || !ca_cert_path.exists() {
        // A certificate made again from a kept key has the same name and key, so a
        // client that trusted the lost one still accepts what the CA signs.
        write_file(
            &ca_cert_path,
            ca_certificate(&ca_key, now_s)?.as_bytes(),
            Mode::Public,
        )?;
    }
    let ca_pem = std::fs::read_to_string(&ca_cert_path).map_err(io("read", &ca_cert_path))?;
    let (mut chain, server_key) = server_certificate(&ca_key, now_s)?;
    if !chain.ends_with('\n') {
        chain.push('\n');
    }
    chain.push_str(&ca_pem);
    write_file(
        &dir.join(SERVER_KEY_FILE),
        server_key.serialize_pem().as_bytes(),
        Mode::Private,
    )?;
    write_file(&dir.join(SERVER_CERT_FILE), chain.as_bytes(), Mode::Public)?;
    verify(dir, now_s)?;
    Ok(Written {
        ca_made,
        server_not_after_s: now_s + SERVER_VALIDITY_S,
    })
}

/// Checks that `server.pem` chains to `ca.pem` for every name in [`server_names`] at
/// `now_s`: what a client that trusts the CA will check.
///
/// # Errors
///
/// When a file cannot be read, or the chain does not verify (expired, another CA's).
pub(crate) fn verify(dir: &Path, now_s: i64) -> Result<(), CaError> {
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read(&path).map_err(io("read", &path))
    };
    check_chain(&read(CA_CERT_FILE)?, &read(SERVER_CERT_FILE)?, now_s).map_err(|reason| {
        CaError::DoesNotVerify {
            dir: dir.to_owned(),
            reason,
        }
    })
}

fn certificates(pem: &[u8], file: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certificates = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| format!("{file} is not PEM: {error}"))?;
    if certificates.is_empty() {
        return Err(format!("{file} holds no certificate"));
    }
    Ok(certificates)
}

/// Verifies a PEM chain (server certificate first) against a PEM CA certificate for
/// every server name, the way rustls clients do.
fn check_chain(ca_pem: &[u8], chain_pem: &[u8], now_s: i64) -> Result<(), String> {
    let mut roots = rustls::RootCertStore::empty();
    for certificate in certificates(ca_pem, CA_CERT_FILE)? {
        roots
            .add(certificate)
            .map_err(|error| format!("{CA_CERT_FILE} is not a CA certificate: {error}"))?;
    }
    let chain = certificates(chain_pem, SERVER_CERT_FILE)?;
    let (server, intermediates) = chain
        .split_first()
        .ok_or_else(|| format!("{SERVER_CERT_FILE} holds no certificate"))?;
    let verifier = WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots),
        Arc::new(rustls::crypto::aws_lc_rs::default_provider()),
    )
    .build()
    .map_err(|error| error.to_string())?;
    let now = UnixTime::since_unix_epoch(Duration::from_secs(
        u64::try_from(now_s).unwrap_or_default(),
    ));
    for name in server_names() {
        let server_name =
            ServerName::try_from(name.as_str()).map_err(|error| format!("{name}: {error}"))?;
        verifier
            .verify_server_cert(server, intermediates, &server_name, &[], now)
            .map_err(|error| {
                format!("{SERVER_CERT_FILE} is not valid for {name} under {CA_CERT_FILE}: {error}")
            })?;
    }
    Ok(())
}

fn read_optional(path: &Path) -> Result<Option<String>, CaError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(io("read", path)(error)),
    }
}

/// Who may read a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Everyone (certificates).
    Public,
    /// The owner only (keys).
    Private,
}

/// Writes a file whole or not at all: into a temporary file beside it, synced, then
/// renamed over the old one, so a running reader never sees half a key.
fn write_file(path: &Path, bytes: &[u8], mode: Mode) -> Result<(), CaError> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(match mode {
            Mode::Public => 0o644,
            Mode::Private => 0o600,
        });
    }
    #[cfg(not(unix))]
    let _ = mode;
    let written = options.open(&temporary).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    let result = written.and_then(|()| std::fs::rename(&temporary, path));
    if result.is_err() {
        let _removed = std::fs::remove_file(&temporary);
    }
    result.map_err(io("write", path))
}

/// `plaza ca`'s arguments.
#[derive(Debug, Args)]
pub(crate) struct CaArgs {
    /// TOML config file [env: PLAZA_CONFIG] [default: ./plaza.toml if present].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The data directory of the `plaza serve` that will use the certificates
    /// [env: PLAZA_DATA_DIR] [default: ./plaza-data].
    #[arg(long, value_name = "DIR")]
    data_dir: Option<String>,
    /// Where to write the files [env: PLAZA_TLS_CERT_DIR] [default: <data-dir>/ca].
    #[arg(long, value_name = "DIR")]
    out: Option<String>,
}

/// Runs `plaza ca`: writes the files and prints them with the next steps.
///
/// # Errors
///
/// When the configuration is invalid or the files cannot be written.
pub(crate) fn run(args: &CaArgs) -> anyhow::Result<Outcome> {
    let flags = [
        (Key::DataDir, args.data_dir.clone()),
        (Key::TlsCertDir, args.out.clone()),
    ];
    let config = config::load(args.config.as_deref(), &flags, &config::process_env)?;
    let now_s = SystemClock.now().unix_ms().div_euclid(1_000);
    let written = write(&config.tls_cert_dir, now_s)?;
    // Absolute paths, so the printed commands work from any directory.
    let dir =
        std::fs::canonicalize(&config.tls_cert_dir).unwrap_or_else(|_| config.tls_cert_dir.clone());
    let mut serve = "plaza serve --sandbox --tls-listen 127.0.0.1:443".to_owned();
    if config.data_dir != Path::new(config::DATA_DIR_DEFAULT) {
        serve.push_str(&format!(" --data-dir {}", config.data_dir.display()));
    }
    if config.tls_cert_dir != config.data_dir.join(config::CA_DIR) {
        serve.push_str(&format!(" --tls-cert-dir {}", dir.display()));
    }
    let text = report(&dir, &written, &serve)?;
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .map_err(|error| anyhow::anyhow!("cannot write to stdout: {error}"))?;
    Ok(Outcome::Success)
}

/// What `plaza ca` prints: the files, then how to use them.
fn report(dir: &Path, written: &Written, serve: &str) -> Result<String, CaError> {
    let ca = dir.join(CA_CERT_FILE);
    let ca = ca.display();
    let until = instant(written.server_not_after_s)?.date();
    let hosts: Vec<&str> = plaza_http::host::WECHAT_HOSTS.to_vec();
    let hosts = hosts.join(" ");
    let names = server_names().join(", ");
    let (headline, ca_note) = if written.ca_made {
        ("made a new CA", "the CA certificate to trust (new)")
    } else {
        (
            "kept the CA",
            "the CA certificate to trust (kept: trust given before still holds)",
        )
    };
    Ok(format!(
        "plaza ca: {headline} in {dir}
  {CA_CERT_FILE}      {ca_note}
  {CA_KEY_FILE}      its private key (owner-only); it can vouch only for the names below
  {SERVER_CERT_FILE}  the server certificate and the CA: {names}; valid until {until}
  {SERVER_KEY_FILE}  its private key (owner-only)

Next steps (sandbox only: this machine then cannot reach the real WeChat):
  1. Send WeChat's hosts to this machine with a line in /etc/hosts:
       127.0.0.1 {hosts}
  2. Trust the CA, for the whole system (Debian, Ubuntu):
       sudo cp {ca} /usr/local/share/ca-certificates/plaza-ca.crt && sudo update-ca-certificates
     or for one runtime:
       Go, OpenSSL, curl:  SSL_CERT_FILE={ca}  (replaces the system's CAs for that process)
       Python requests:    REQUESTS_CA_BUNDLE={ca}
       Node.js:            NODE_EXTRA_CA_CERTS={ca}
       Java:               keytool -importcert -cacerts -alias plaza-ca -file {ca}
  3. Serve HTTPS for those hosts beside HTTP (port 443 needs root or CAP_NET_BIND_SERVICE):
       {serve}
",
        dir = dir.display(),
    ))
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error; unwrap and expect are that failure"
)]
mod tests {
    use super::*;

    const NOW_S: i64 = 1_780_000_000;

    fn new_ca() -> (KeyPair, String) {
        let key = new_key().unwrap();
        let pem = ca_certificate(&key, NOW_S).unwrap();
        (key, pem)
    }

    fn chain(ca_key: &KeyPair, ca_pem: &str, now_s: i64) -> String {
        let (server, _key) = server_certificate(ca_key, now_s).unwrap();
        format!("{server}{ca_pem}")
    }

    #[test]
    fn the_server_certificate_verifies_for_every_name_under_its_ca() {
        let (key, ca_pem) = new_ca();
        let chain = chain(&key, &ca_pem, NOW_S);
        check_chain(ca_pem.as_bytes(), chain.as_bytes(), NOW_S).unwrap();
        // A day before it was made (clocks lag) and until it expires.
        check_chain(ca_pem.as_bytes(), chain.as_bytes(), NOW_S - DAY_S + 60).unwrap();
        check_chain(
            ca_pem.as_bytes(),
            chain.as_bytes(),
            NOW_S + SERVER_VALIDITY_S - 60,
        )
        .unwrap();
        let expired = check_chain(
            ca_pem.as_bytes(),
            chain.as_bytes(),
            NOW_S + SERVER_VALIDITY_S + 60,
        )
        .unwrap_err();
        assert!(expired.contains("expired"), "{expired}");
    }

    /// A rustls verifier that trusts `ca_pem` alone.
    fn verifier_trusting(ca_pem: &str) -> Arc<WebPkiServerVerifier> {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(
                certificates(ca_pem.as_bytes(), CA_CERT_FILE)
                    .unwrap()
                    .remove(0),
            )
            .unwrap();
        WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            Arc::new(rustls::crypto::aws_lc_rs::default_provider()),
        )
        .build()
        .unwrap()
    }

    #[test]
    fn the_server_certificate_does_not_verify_for_other_names_or_under_another_ca() {
        let (key, ca_pem) = new_ca();
        let chain = chain(&key, &ca_pem, NOW_S);
        let verifier = verifier_trusting(&ca_pem);
        let certs = certificates(chain.as_bytes(), SERVER_CERT_FILE).unwrap();
        let now = UnixTime::since_unix_epoch(Duration::from_secs(NOW_S as u64));
        for other in ["mch.weixin.qq.com", "example.com", "127.0.0.2"] {
            let name = ServerName::try_from(other).unwrap();
            assert!(
                verifier
                    .verify_server_cert(&certs[0], &certs[1..], &name, &[], now)
                    .is_err(),
                "{other}"
            );
        }
        let (_other_key, other_ca) = new_ca();
        let error = check_chain(other_ca.as_bytes(), chain.as_bytes(), NOW_S).unwrap_err();
        assert!(error.contains("UnknownIssuer"), "{error}");
    }

    #[test]
    fn the_ca_cannot_vouch_for_names_outside_its_constraints() {
        let (ca_key, ca_pem) = new_ca();
        let issuer = Issuer::new(ca_params(&ca_key, NOW_S).unwrap(), &ca_key);
        let key = new_key().unwrap();
        let mut params = CertificateParams::new(vec!["www.example.com".to_owned()]).unwrap();
        params.not_before = instant(NOW_S - DAY_S).unwrap();
        params.not_after = instant(NOW_S + DAY_S).unwrap();
        let rogue = params.signed_by(&key, &issuer).unwrap().pem();
        let verifier = verifier_trusting(&ca_pem);
        let rogue = certificates(rogue.as_bytes(), "rogue").unwrap();
        let now = UnixTime::since_unix_epoch(Duration::from_secs(NOW_S as u64));
        let error = verifier
            .verify_server_cert(
                &rogue[0],
                &[],
                &ServerName::try_from("www.example.com").unwrap(),
                &[],
                now,
            )
            .unwrap_err();
        assert!(format!("{error:?}").contains("NameConstraint"), "{error:?}");
    }

    #[test]
    fn a_kept_key_makes_the_same_ca_name() {
        let key = new_key().unwrap();
        let first = ca_params(&key, NOW_S).unwrap();
        let second = ca_params(&key, NOW_S + 1_000).unwrap();
        assert_eq!(first.distinguished_name, second.distinguished_name);
        let other = ca_params(&new_key().unwrap(), NOW_S).unwrap();
        assert_ne!(first.distinguished_name, other.distinguished_name);
    }

    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn writing_again_keeps_the_ca_and_issues_a_new_server_certificate() {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().join("ca");
        let first = write(&dir, NOW_S).unwrap();
        assert!(first.ca_made);
        assert_eq!(mode(&dir.join(CA_KEY_FILE)), 0o600);
        assert_eq!(mode(&dir.join(SERVER_KEY_FILE)), 0o600);
        assert_eq!(mode(&dir.join(CA_CERT_FILE)), 0o644);
        let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
        let (ca, ca_key, server) = (
            read(CA_CERT_FILE),
            read(CA_KEY_FILE),
            read(SERVER_CERT_FILE),
        );
        assert_eq!(server.matches("BEGIN CERTIFICATE").count(), 2);
        assert!(server.ends_with(&ca), "the chain ends with the CA");

        let second = write(&dir, NOW_S + DAY_S).unwrap();
        assert!(!second.ca_made);
        assert_eq!(read(CA_CERT_FILE), ca);
        assert_eq!(read(CA_KEY_FILE), ca_key);
        assert_ne!(read(SERVER_CERT_FILE), server);
        assert_eq!(mode(&dir.join(SERVER_KEY_FILE)), 0o600);
        verify(&dir, NOW_S + DAY_S).unwrap();
        // The first server certificate still verifies under the kept CA.
        check_chain(ca.as_bytes(), server.as_bytes(), NOW_S + DAY_S).unwrap();
        // No temporary files are left behind.
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["ca.key", "ca.pem", "server.key", "server.pem"]);
    }

    #[test]
    fn a_lost_ca_certificate_is_made_again_and_still_trusted() {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path();
        write(dir, NOW_S).unwrap();
        let trusted = std::fs::read_to_string(dir.join(CA_CERT_FILE)).unwrap();
        std::fs::remove_file(dir.join(CA_CERT_FILE)).unwrap();
        assert!(!write(dir, NOW_S).unwrap().ca_made);
        let chain = std::fs::read(dir.join(SERVER_CERT_FILE)).unwrap();
        check_chain(trusted.as_bytes(), &chain, NOW_S).unwrap();
    }

    #[test]
    fn a_ca_certificate_without_its_key_is_refused() {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path();
        write(dir, NOW_S).unwrap();
        std::fs::remove_file(dir.join(CA_KEY_FILE)).unwrap();
        let error = write(dir, NOW_S).unwrap_err().to_string();
        assert!(error.contains("ca.key does not"), "{error}");
        assert!(error.contains("delete"), "{error}");
    }

    #[test]
    fn a_ca_key_that_does_not_match_its_certificate_is_refused() {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path();
        write(dir, NOW_S).unwrap();
        let (_key, other_ca) = new_ca();
        std::fs::write(dir.join(CA_CERT_FILE), other_ca).unwrap();
        let error = write(dir, NOW_S).unwrap_err().to_string();
        assert!(error.contains("do not work together"), "{error}");
    }

    #[test]
    fn an_unwritable_directory_is_named_in_the_error() {
        let temp = tempfile::tempdir().unwrap();
        let file = temp.path().join("afile");
        std::fs::write(&file, "not a directory").unwrap();
        let dir = file.join("ca");
        let error = write(&dir, NOW_S).unwrap_err().to_string();
        assert!(error.contains("cannot create the directory"), "{error}");
        assert!(error.contains(&dir.display().to_string()), "{error}");
    }

    #[test]
    fn the_report_says_what_to_do_next() {
        let written = Written {
            ca_made: true,
            server_not_after_s: NOW_S + SERVER_VALIDITY_S,
        };
        let text = report(
            Path::new("/data/ca"),
            &written,
            "plaza serve --sandbox --tls-listen 127.0.0.1:443",
        )
        .unwrap();
        for needle in [
            "127.0.0.1 api.mch.weixin.qq.com api.weixin.qq.com qyapi.weixin.qq.com",
            "sudo cp /data/ca/ca.pem /usr/local/share/ca-certificates/plaza-ca.crt && sudo update-ca-certificates",
            "SSL_CERT_FILE=/data/ca/ca.pem",
            "REQUESTS_CA_BUNDLE=/data/ca/ca.pem",
            "NODE_EXTRA_CA_CERTS=/data/ca/ca.pem",
            "keytool -importcert",
            "plaza serve --sandbox --tls-listen 127.0.0.1:443",
            "localhost, 127.0.0.1",
        ] {
            assert!(text.contains(needle), "{needle}\n{text}");
        }
    }
}
