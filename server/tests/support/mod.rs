//! What the integration tests share: a real `redis-server` per test on a
//! free port (plain or TLS), a throwaway certificate authority, and
//! waiting on conditions with a deadline.
#![allow(dead_code)] // each test binary uses its own subset

use std::future::Future;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Polls `check` until it yields `Some`, or panics with `what` after `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A throwaway certificate authority and one server certificate it signed
/// for `127.0.0.1` and `localhost`, made with the `openssl` CLI in a temp
/// directory that is removed on drop. The server certificate is a proper
/// leaf (not self-signed) because rustls refuses a CA as an end entity.
pub struct TestCerts {
    /// The directory holding every file below.
    pub dir: PathBuf,
    /// The authority's certificate (PEM): what a client must trust.
    pub ca: PathBuf,
    /// The server's certificate (PEM).
    pub cert: PathBuf,
    /// The server's private key (PEM).
    pub key: PathBuf,
}

impl TestCerts {
    /// Generates a fresh authority and server certificate (P-256, one day).
    pub fn generate() -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "signalscope-certs-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("a temp dir for certificates");
        let file = |name: &str| dir.join(name);
        let (ca, ca_key, cert, key) = (
            file("ca.pem"),
            file("ca.key"),
            file("cert.pem"),
            file("key.pem"),
        );
        let (csr, ext) = (file("cert.csr"), file("ext.cnf"));
        std::fs::write(
            &ext,
            "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n",
        )
        .expect("the extensions file");
        let new_key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
        openssl(
            &dir,
            &format!("req -x509 {new_key} -days 1 -subj /CN=signalscope-test-CA"),
            &[("-keyout", &ca_key), ("-out", &ca)],
        );
        openssl(
            &dir,
            &format!("req {new_key} -subj /CN=localhost"),
            &[("-keyout", &key), ("-out", &csr)],
        );
        openssl(
            &dir,
            "x509 -req -days 1 -CAcreateserial",
            &[
                ("-in", &csr),
                ("-CA", &ca),
                ("-CAkey", &ca_key),
                ("-extfile", &ext),
                ("-out", &cert),
            ],
        );
        Self { dir, ca, cert, key }
    }
}

/// Runs `openssl <args> <flag path>…` in `dir`, panicking on failure.
fn openssl(dir: &Path, args: &str, files: &[(&str, &PathBuf)]) {
    let mut cmd = Command::new("openssl");
    cmd.args(args.split(' ')).current_dir(dir);
    for (flag, path) in files {
        cmd.arg(flag).arg(path);
    }
    let out = cmd.output().expect("openssl on PATH");
    assert!(
        out.status.success(),
        "openssl {args} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Drop for TestCerts {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A throwaway `redis-server`, killed on drop. It can be stopped and
/// started again on the same port for outage tests.
pub struct RedisServer {
    /// The port it listens on, kept across restarts.
    pub port: u16,
    /// Extra arguments (e.g. `--requirepass`), reused on restart.
    args: Vec<String>,
    /// Its certificates when it speaks only TLS, `None` for plain TCP.
    pub tls: Option<TestCerts>,
    /// The running process, `None` while stopped.
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server with no persistence on a free port.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts a server with extra arguments.
    pub fn start_with(args: &[&str]) -> Self {
        Self::launch(args, None)
    }

    /// Starts a server that speaks only TLS (`--port 0`), with a fresh
    /// certificate from a throwaway authority; clients need not present one.
    pub fn start_tls() -> Self {
        Self::launch(&[], Some(TestCerts::generate()))
    }

    fn launch(args: &[&str], tls: Option<TestCerts>) -> Self {
        let mut s = Self {
            port: free_port(),
            args: args.iter().map(|a| a.to_string()).collect(),
            tls,
            child: None,
        };
        s.restart();
        s
    }

    /// `redis://127.0.0.1:<port>`, or for a TLS server
    /// `rediss://127.0.0.1:<port>/#insecure`, since no client trusts its
    /// throwaway authority.
    pub fn url(&self) -> String {
        match self.tls {
            Some(_) => format!("rediss://127.0.0.1:{}/#insecure", self.port),
            None => format!("redis://127.0.0.1:{}", self.port),
        }
    }

    /// `CLIENT LIST`: who is connected, with names, ids and flags.
    pub async fn client_list(&self) -> String {
        let client = redis::Client::open(self.url()).expect("a redis URL");
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .expect("redis answers");
        redis::cmd("CLIENT")
            .arg("LIST")
            .query_async(&mut conn)
            .await
            .expect("CLIENT LIST")
    }

    /// Kills the server (SIGKILL: an outage, not a shutdown).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts (again) on the same port and waits until it is up.
    pub fn restart(&mut self) {
        self.kill();
        let port = self.port.to_string();
        let mut cmd = Command::new("redis-server");
        match &self.tls {
            Some(certs) => {
                cmd.args(["--port", "0", "--tls-port", &port])
                    .args(["--tls-auth-clients", "no", "--tls-cert-file"])
                    .arg(&certs.cert)
                    .arg("--tls-key-file")
                    .arg(&certs.key)
                    .arg("--tls-ca-cert-file")
                    .arg(&certs.ca);
            }
            None => {
                cmd.args(["--port", &port]);
            }
        }
        let child = cmd
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server on PATH (scripts/setup.sh installs it)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.is_up() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not start on {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// A plain server must answer PING; for a TLS server an accepted
    /// connection is enough (its listener is up; the rest is a handshake
    /// this std-only probe cannot do).
    fn is_up(&self) -> bool {
        use std::io::{Read, Write};
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        if self.tls.is_some() {
            return true;
        }
        let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
        let mut buf = [0u8; 64];
        s.write_all(b"PING\r\n").is_ok()
            && s.read(&mut buf)
                .is_ok_and(|n| n > 0 && (buf.starts_with(b"+PONG") || buf.starts_with(b"-NOAUTH")))
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
