//! A real `redis-server` for tests and benchmarks: started on a free loopback port in a
//! temporary directory, stopped by its pid when dropped.

use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `redis-server` (the Debian package `redis-server`; `.ci/run` installs it),
/// persistence off, for tests that need a real Redis.
///
/// ```no_run
/// let redis = lark_oapi_mock::RedisServer::start();
/// println!("{}", redis.url()); // redis://127.0.0.1:<port>/0
/// drop(redis); // killed by pid, its directory removed
/// ```
#[derive(Debug)]
pub struct RedisServer {
    child: Child,
    port: u16,
    dir: PathBuf,
    /// TLS only, and the password, for [`RedisServer::start_tls`].
    tls: Option<Option<String>>,
}

/// `der` as PEM with `label`.
fn pem(der: &[u8], label: &str) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl RedisServer {
    /// Starts one (persistence off) and waits until it accepts connections.
    pub fn start() -> RedisServer {
        Self::start_on(free_port())
    }

    /// Starts one on `port` (to bring a stopped one back where clients expect it).
    pub fn start_on(port: u16) -> RedisServer {
        Self::spawn(port, None)
    }

    /// Starts one that speaks TLS only (the mock's `localhost` certificate, signed by
    /// [`TEST_CA_DER`](crate::TEST_CA_DER): see [`RedisServer::ca_pem`]), requiring
    /// `password` if given; [`url`](Self::url) is then `rediss://[:password@]localhost:<port>/0`.
    pub fn start_tls(password: Option<&str>) -> RedisServer {
        Self::spawn(free_port(), Some(password.map(str::to_owned)))
    }

    /// The test CA as PEM, for a client to trust a server from [`RedisServer::start_tls`].
    pub fn ca_pem() -> String {
        pem(crate::TEST_CA_DER, "CERTIFICATE")
    }

    fn spawn(port: u16, tls: Option<Option<String>>) -> RedisServer {
        let dir =
            std::env::temp_dir().join(format!("lark-oapi-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temporary directory");
        let mut cmd = Command::new("redis-server");
        match &tls {
            None => {
                cmd.args(["--port", &port.to_string()]);
            }
            Some(password) => {
                let write = |name: &str, text: String| {
                    let path = dir.join(name);
                    std::fs::write(&path, text).expect("certificate file");
                    path
                };
                let cert = write(
                    "cert.pem",
                    pem(include_bytes!("../certs/localhost.der"), "CERTIFICATE"),
                );
                let key = write(
                    "key.pem",
                    pem(include_bytes!("../certs/localhost.key.der"), "PRIVATE KEY"),
                );
                let ca = write("ca.pem", Self::ca_pem());
                cmd.args(["--port", "0", "--tls-port", &port.to_string()])
                    .arg("--tls-cert-file")
                    .arg(cert)
                    .arg("--tls-key-file")
                    .arg(key)
                    .arg("--tls-ca-cert-file")
                    .arg(ca)
                    .args(["--tls-auth-clients", "no"]);
                if let Some(pw) = password {
                    cmd.args(["--requirepass", pw]);
                }
            }
        }
        let child = cmd
            .args(["--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("redis-server could not be started ({e}): install it (Debian: apt-get install redis-server); .ci/run does")
            });
        let server = RedisServer {
            child,
            port,
            dir,
            tls,
        };
        server.wait_ready();
        server
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "redis-server did not listen on port {} within 10 s",
            self.port
        );
    }

    /// `redis://127.0.0.1:<port>/0`, or for [`RedisServer::start_tls`]
    /// `rediss://[:password@]localhost:<port>/0`.
    pub fn url(&self) -> String {
        match &self.tls {
            None => format!("redis://127.0.0.1:{}/0", self.port),
            Some(None) => format!("rediss://localhost:{}/0", self.port),
            Some(Some(pw)) => format!("rediss://:{pw}@localhost:{}/0", self.port),
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Commands the server has processed so far (`INFO stats`), over a raw connection
    /// (not for a TLS server).
    pub fn commands_processed(&self) -> u64 {
        use std::io::{Read, Write};
        let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)).unwrap();
        s.write_all(b"INFO stats\r\n").unwrap();
        let mut buf = vec![0u8; 16 * 1024];
        let mut text = String::new();
        while !text.contains("total_commands_processed:") || !text.ends_with("\r\n") {
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0, "INFO answered");
            text.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        let line = text
            .lines()
            .find(|l| l.starts_with("total_commands_processed:"))
            .unwrap();
        line["total_commands_processed:".len()..]
            .trim()
            .parse()
            .unwrap()
    }

    /// The server's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
