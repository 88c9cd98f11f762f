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
        let dir =
            std::env::temp_dir().join(format!("lark-oapi-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temporary directory");
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("redis-server could not be started ({e}): install it (Debian: apt-get install redis-server); .ci/run does")
            });
        let server = RedisServer { child, port, dir };
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

    /// `redis://127.0.0.1:<port>/0`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Commands the server has processed so far (`INFO stats`), over a raw connection.
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
