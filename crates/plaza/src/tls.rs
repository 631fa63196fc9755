//! Drop-in mode's HTTPS listener: the same application as plain HTTP, served over TLS
//! (rustls on aws-lc-rs) with the certificate `plaza ca` made for WeChat's host names.
//!
//! Handshakes run in their own tasks, bounded in number and time
//! ([`TLS_HANDSHAKES_MAX`], [`TLS_HANDSHAKE_TIMEOUT_MS`]), and finished connections queue
//! to [`TlsListener`], which `axum::serve` accepts from like a TCP listener: a slow or
//! silent client delays nobody else's handshake, and graceful shutdown works as it does
//! for plain HTTP.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use plaza_kernel::limits::{TLS_HANDSHAKE_TIMEOUT_MS, TLS_HANDSHAKES_MAX};
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::ca::{self, CA_CERT_FILE, CaError, SERVER_CERT_FILE, SERVER_KEY_FILE};

/// Finished handshakes waiting for the server to take them. The server takes each at
/// once (it only spawns a task), so a short queue is plenty.
const READY_QUEUE_LEN: usize = 64;

/// How long to wait before accepting again after `accept` fails (e.g. out of file
/// descriptors), as axum does for plain HTTP.
const ACCEPT_RETRY_DELAY: Duration = Duration::from_millis(50);

/// Why drop-in mode cannot start.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TlsError {
    /// `plaza ca` has not been run (or not for this directory).
    #[error("drop-in mode needs {}, which does not exist: run `{command}` first", path.display())]
    Missing { path: PathBuf, command: String },
    /// The certificates are there but do not verify (e.g. expired).
    #[error(transparent)]
    Ca(#[from] CaError),
    /// The files do not make a TLS identity.
    #[error("the certificate and key in {} are not usable for TLS: {reason}", dir.display())]
    Identity { dir: PathBuf, reason: String },
}

/// Reads and checks the certificates in `dir` and makes the TLS configuration.
/// `command` is the `plaza ca` invocation that writes them, for the error message.
///
/// # Errors
///
/// When a file is missing, the server certificate does not verify against `ca.pem` at
/// `now_s`, or the key does not fit the certificate.
pub(crate) fn server_config(
    dir: &Path,
    command: &str,
    now_s: i64,
) -> Result<Arc<ServerConfig>, TlsError> {
    for name in [CA_CERT_FILE, SERVER_CERT_FILE, SERVER_KEY_FILE] {
        let path = dir.join(name);
        if !path.exists() {
            return Err(TlsError::Missing {
                path,
                command: command.to_owned(),
            });
        }
    }
    ca::verify(dir, now_s)?;
    let identity = |reason: String| TlsError::Identity {
        dir: dir.to_owned(),
        reason,
    };
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read(&path).map_err(|error| identity(format!("cannot read {name}: {error}")))
    };
    let chain = CertificateDer::pem_slice_iter(&read(SERVER_CERT_FILE)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| identity(format!("{SERVER_CERT_FILE}: {error}")))?;
    let key = PrivateKeyDer::from_pem_slice(&read(SERVER_KEY_FILE)?)
        .map_err(|error| identity(format!("{SERVER_KEY_FILE}: {error}")))?;
    let mut config = ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|error| identity(error.to_string()))?
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .map_err(|error| identity(error.to_string()))?;
    // The server speaks HTTP/1.1 only (Plaza is built without HTTP/2); clients that
    // offer h2 agree on http/1.1.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Connections whose TLS handshake finished, for `axum::serve`.
#[derive(Debug)]
pub(crate) struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local_addr: SocketAddr,
    accepting: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    /// Starts accepting on `listener`, with handshakes in their own tasks.
    ///
    /// # Errors
    ///
    /// When the listener has no local address.
    pub(crate) fn new(listener: TcpListener, config: Arc<ServerConfig>) -> std::io::Result<Self> {
        let local_addr = listener.local_addr()?;
        let (sender, ready) = mpsc::channel(READY_QUEUE_LEN);
        let accepting = tokio::spawn(accept(listener, TlsAcceptor::from(config), sender));
        Ok(Self {
            ready,
            local_addr,
            accepting,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        // The server stopped taking connections: stop accepting them.
        self.accepting.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(connection) => connection,
            // Only the listener itself stops the accepting task, so this is not reached;
            // if it were, serving no more connections is the honest answer.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local_addr)
    }
}

async fn accept(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    ready: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    let handshakes = Arc::new(Semaphore::new(TLS_HANDSHAKES_MAX));
    let timeout = Duration::from_millis(TLS_HANDSHAKE_TIMEOUT_MS);
    loop {
        let Ok(permit) = handshakes.clone().acquire_owned().await else {
            return;
        };
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "accepting a TLS connection failed");
                tokio::time::sleep(ACCEPT_RETRY_DELAY).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let ready = ready.clone();
        tokio::spawn(async move {
            let handshake = tokio::time::timeout(timeout, acceptor.accept(stream)).await;
            drop(permit);
            match handshake {
                Ok(Ok(connection)) => {
                    // Fails only when the server has stopped; the connection just closes.
                    let _sent = ready.send((connection, peer)).await;
                }
                Ok(Err(error)) => tracing::debug!(%peer, %error, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        });
    }
}
