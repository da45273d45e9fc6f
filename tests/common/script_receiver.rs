//! A webhook receiver written in another language (a Python or Node
//! script under tests/receivers), run as its own process. It prints
//! "LISTENING <port>" when ready, then one line per request; this keeps
//! those lines for the test to read.

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

/// A child process's stdout, line by line, and its stderr, as they come.
#[derive(Clone, Default)]
pub struct CapturedOutput {
    lines: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<String>>,
}

impl CapturedOutput {
    /// Starts reading `child`'s piped stdout and stderr in the background.
    pub fn of(child: &mut tokio::process::Child) -> Self {
        let output = Self::default();
        let stdout = child.stdout.take().expect("piped stdout");
        tokio::spawn({
            let lines = Arc::clone(&output.lines);
            async move {
                let mut reader = BufReader::new(stdout).lines();
                while let Ok(Some(line)) = reader.next_line().await {
                    lines.lock().unwrap().push(line);
                }
            }
        });
        let mut err_pipe = child.stderr.take().expect("piped stderr");
        tokio::spawn({
            let stderr = Arc::clone(&output.stderr);
            async move {
                let mut buf = [0u8; 4096];
                while let Ok(n) = err_pipe.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    stderr
                        .lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }
        });
        output
    }

    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

pub struct ScriptReceiver {
    child: tokio::process::Child,
    output: CapturedOutput,
}

impl ScriptReceiver {
    /// Runs `program script port` (program: "python3" or "node") with
    /// `WEBHOOK_SECRET` set to `secret` when given, and waits until it listens.
    pub async fn start(program: &str, script: &Path, port: u16, secret: Option<&str>) -> Self {
        let mut command = super::tools::async_command(program);
        command
            .arg(script)
            .arg(port.to_string())
            .env("PYTHONUNBUFFERED", "1")
            .env_remove("WEBHOOK_SECRET")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(secret) = secret {
            command.env("WEBHOOK_SECRET", secret);
        }
        let mut child = command.spawn().unwrap_or_else(|err| {
            panic!(
                "starting {program} {} failed ({err}); run `{}`",
                script.display(),
                super::tools::SETUP
            )
        });
        let output = CapturedOutput::of(&mut child);
        let mut receiver = Self { child, output };
        let started = Instant::now();
        loop {
            if receiver.lines().iter().any(|l| l.starts_with("LISTENING")) {
                return receiver;
            }
            if let Some(status) = receiver.child.try_wait().unwrap() {
                // Let the stderr reader catch up before reporting.
                tokio::time::sleep(Duration::from_millis(100)).await;
                panic!(
                    "the receiver {} exited ({status}) before listening (its packages come \
                     from `{}`). stderr:\n{}",
                    script.display(),
                    super::tools::SETUP,
                    receiver.output.stderr()
                );
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "the receiver {} did not listen within 15 s; stderr:\n{}",
                script.display(),
                receiver.output.stderr()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn lines(&self) -> Vec<String> {
        self.output.lines()
    }

    pub fn stderr(&self) -> String {
        self.output.stderr()
    }

    pub fn with_prefix(&self, prefix: &str) -> Vec<String> {
        self.lines()
            .into_iter()
            .filter_map(|l| l.strip_prefix(prefix).map(str::to_owned))
            .collect()
    }

    /// The "VERIFIED <json>" lines, parsed.
    pub fn verified(&self) -> Vec<serde_json::Value> {
        self.with_prefix("VERIFIED ")
            .iter()
            .map(|json| serde_json::from_str(json).expect("a receiver prints JSON"))
            .collect()
    }

    /// Waits until `count` requests verified; fails with what it printed.
    pub async fn wait_verified(&self, count: usize) -> Vec<serde_json::Value> {
        let ok = super::wait_until(Duration::from_secs(20), || async {
            self.verified().len() >= count
        })
        .await;
        assert!(
            ok,
            "expected {count} verified requests; the receiver printed {:?}; stderr: {}",
            self.lines(),
            self.stderr()
        );
        self.verified()
    }
}
