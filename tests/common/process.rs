//! The `hookrelay` binary as a separate process: a free port to give it,
//! tenant-and-key bootstrap through its CLI, and a `serve` process that is
//! killed when the test lets go of it (for process-wide state such as the
//! metrics recorder and the tracing exporter).

use base64::Engine;
use hookrelay::domain::SecretCipher;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_hookrelay");

/// A local port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// Runs the CLI against `database_url`, asserts success and returns stdout.
pub fn run_cli(args: &[&str], database_url: &str) -> String {
    let output = Command::new(BIN)
        .args(args)
        .env("HOOKRELAY_DATABASE_URL", database_url)
        .env_remove("HOOKRELAY_TEST_DATABASE_URL")
        .output()
        .expect("run hookrelay");
    assert!(
        output.status.success(),
        "hookrelay {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Creates tenant `acme` and a key with every capability; returns the token.
pub fn bootstrap_tenant(database_url: &str) -> String {
    run_cli(&["tenants", "create", "acme"], database_url);
    let keys = run_cli(
        &[
            "keys",
            "create",
            "--tenant",
            "acme",
            "--capabilities",
            "manage,publish,read",
        ],
        database_url,
    );
    keys.lines().last().expect("a token line").trim().to_owned()
}

/// `hookrelay serve --dev` on a free port, killed when dropped.
pub struct ServeProcess {
    pub child: Child,
    pub port: u16,
}

impl ServeProcess {
    /// Starts serving `database_url` with `extra` flags and `env`, and waits
    /// until the gRPC port accepts connections.
    pub fn start(database_url: &str, extra: &[&str], env: &[(&str, String)]) -> Self {
        Self::start_with(database_url, extra, env, |_| {})
    }

    /// As [`ServeProcess::start`], with `adjust` applied to the command
    /// before it is spawned.
    pub fn start_with(
        database_url: &str,
        extra: &[&str],
        env: &[(&str, String)],
        adjust: impl FnOnce(&mut Command),
    ) -> Self {
        let port = free_port();
        let key = base64::engine::general_purpose::STANDARD.encode(SecretCipher::generate_key());
        let mut command = Command::new(BIN);
        adjust(&mut command);
        let child = command
            .args(["serve", "--dev", "--listen", &format!("127.0.0.1:{port}")])
            .args(extra)
            .env("HOOKRELAY_DATABASE_URL", database_url)
            .env("HOOKRELAY_SECRET_KEY", key)
            .envs(env.iter().map(|(name, value)| (name, value)))
            .env_remove("HOOKRELAY_TEST_DATABASE_URL")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn hookrelay serve");
        let server = Self { child, port };
        wait_for_port(port);
        server
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Sends SIGTERM, as a container runtime would, and waits for the exit.
    pub fn terminate(&mut self) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(sent.is_ok_and(|status| status.success()), "kill -TERM");
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.child.try_wait().expect("wait").is_none() {
            assert!(Instant::now() < deadline, "the server did not stop");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// Waits until something accepts connections on `port`.
pub fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
