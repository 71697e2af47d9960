//! TLS for tests: a certificate authority made on the spot ([`TestCa`]) that issues
//! server certificates, and a TLS terminator ([`TlsProxy`]) that puts TLS in front of a
//! plaintext service — how the tests reach Tansu, which has no TLS listener, over TLS.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::TlsAcceptor;

/// A CA of a test's own. Its certificate is written to a file clients can be pointed at.
pub struct TestCa {
    cert: rcgen::Certificate,
    key: KeyPair,
    dir: tempfile::TempDir,
}

/// A certificate and its private key, PEM, also written to files.
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
    pub cert_path: PathBuf,
    pub key_path: PathBuf,
}

impl TestCa {
    pub fn new(name: &str) -> anyhow::Result<Self> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        let dir = tempfile::Builder::new().prefix("leadpipe-ca-").tempdir()?;
        std::fs::write(dir.path().join("ca.pem"), cert.pem())?;
        Ok(Self { cert, key, dir })
    }

    /// The CA certificate (PEM file) that clients trust.
    pub fn cert_path(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// A server certificate for `names` (DNS names or IP addresses), signed by this CA,
    /// with its files in `dir` as `<stem>.crt` and `<stem>.key`.
    pub fn issue(&self, names: &[&str], dir: &Path, stem: &str) -> anyhow::Result<Issued> {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names.clone())?;
        params.distinguished_name.push(
            DnType::CommonName,
            names.first().cloned().unwrap_or_default(),
        );
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.cert, &self.key)?;
        let issued = Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            cert_path: dir.join(format!("{stem}.crt")),
            key_path: dir.join(format!("{stem}.key")),
        };
        std::fs::write(&issued.cert_path, &issued.cert_pem)?;
        std::fs::write(&issued.key_path, &issued.key_pem)?;
        Ok(issued)
    }
}

/// Terminates TLS on a port of its own and forwards every connection, in plaintext, to
/// `127.0.0.1:backend_port`. Runs on a thread of its own until dropped.
pub struct TlsProxy {
    port: u16,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TlsProxy {
    /// Listens on `port` (pick one with [`crate::free_port`]) with the certificate
    /// `issued`.
    pub fn start(port: u16, issued: &Issued, backend_port: u16) -> anyhow::Result<Self> {
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(issued.cert_pem.as_bytes()).collect::<Result<_, _>>()?;
        let key = PrivateKeyDer::from_pem_slice(issued.key_pem.as_bytes())?;
        let config =
            ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()?
                .with_no_client_auth()
                .with_single_cert(certs, key)?;
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
        listener.set_nonblocking(true)?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("tls-proxy-{port}"))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .enable_all()
                    .build()
                    .expect("a runtime for the proxy");
                runtime.block_on(async move {
                    let listener = TcpListener::from_std(listener).expect("listener");
                    tokio::select! {
                        _ = stopped => {}
                        () = serve(listener, acceptor, backend_port) => {}
                    }
                });
            })?;
        crate::wait_for_port(port, std::time::Duration::from_secs(10))?;
        Ok(Self {
            port,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }
}

async fn serve(listener: TcpListener, acceptor: TlsAcceptor, backend_port: u16) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            // A failed handshake (a client that does not trust the CA) just ends here.
            let Ok(mut tls) = acceptor.accept(client).await else {
                return;
            };
            let backend: SocketAddr = ([127, 0, 0, 1], backend_port).into();
            let Ok(mut plain) = TcpStream::connect(backend).await else {
                return;
            };
            let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
        });
    }
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
