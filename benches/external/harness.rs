//! The external benchmark: `hookrelay serve` and a receiver as processes of
//! their own, driven over gRPC from this one, as users run them. Shared by
//! `cargo bench --bench external` (release, the figures) and
//! `tests/external_bench.rs` (debug, a short run that proves every event
//! arrives exactly once and the report is printed).

use hookrelay::domain::SecretCipher;
use hookrelay::proto::event::Payload;
use hookrelay::proto::event_service_client::EventServiceClient;
use hookrelay::proto::event_type_service_client::EventTypeServiceClient;
use hookrelay::proto::subscription_service_client::SubscriptionServiceClient;
use hookrelay::proto::{
    CreateEventTypeRequest, CreateSubscriptionRequest, Event, EventType, PublishEventRequest,
    Subscription,
};
use sea_orm::ConnectionTrait;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tonic::transport::Channel;

/// Linux reports process CPU time in clock ticks of 1/100 s (USER_HZ).
const TICKS_PER_SECOND: f64 = 100.0;

#[derive(Clone, Debug)]
pub enum Database {
    Sqlite,
    /// A fresh database is created through `admin_url` and dropped after.
    Postgres {
        admin_url: String,
    },
}

#[derive(Clone, Debug)]
pub struct Workload {
    pub database: Database,
    pub subscriptions: usize,
    pub events: usize,
    /// Concurrent publishers, each one call at a time.
    pub clients: usize,
    /// HTTP/2 connections the publishers share.
    pub connections: usize,
    /// Events per second overall; `None` publishes as fast as the clients can.
    pub rate: Option<f64>,
    pub timeout: Duration,
    /// A config file for the server (e.g. `[dispatch]` bounds to try).
    pub server_config: Option<PathBuf>,
    /// Give each event an id of its own (`bench-N`), as a publisher using
    /// idempotency keys does: every publish then also looks its id up.
    pub caller_ids: bool,
}

/// Where the two programs are: Cargo's `CARGO_BIN_EXE_*` for both.
pub struct Binaries {
    pub server: PathBuf,
    pub receiver: PathBuf,
}

#[derive(Debug)]
pub struct Report {
    pub workload: Workload,
    pub published: usize,
    pub expected: usize,
    pub delivered: usize,
    pub duplicates: usize,
    pub seconds: f64,
    pub call: Percentiles,
    pub delivery: Percentiles,
    pub server_cpu: f64,
    pub postgres_cpu: f64,
    pub idle_rss_mib: f64,
    pub peak_rss_mib: f64,
}

impl Report {
    /// Every expected delivery arrived, and none twice.
    pub fn exactly_once(&self) -> bool {
        self.delivered == self.expected && self.duplicates == 0
    }
}

#[derive(Debug, Default, Clone, Copy)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
}

impl Percentiles {
    /// From durations in milliseconds.
    fn of(mut values: Vec<f64>) -> Self {
        if values.is_empty() {
            return Self::default();
        }
        values.sort_by(f64::total_cmp);
        let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
        Self {
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
        }
    }
}

impl fmt::Display for Percentiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.2}/{:.2}/{:.2} ms", self.p50, self.p90, self.p99)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let w = &self.workload;
        let database = match w.database {
            Database::Sqlite => "sqlite",
            Database::Postgres { .. } => "postgres",
        };
        let rate = w.rate.map_or("max".to_owned(), |r| format!("{r}/s"));
        let ids = if w.caller_ids { " ids" } else { "" };
        let per_event = |cpu: f64| cpu * 1000.0 / self.published.max(1) as f64;
        write!(
            f,
            "external {database} subs={} clients={} conns={} rate={rate}{ids}: {} events in {:.2} s = {:.0} events/s, \
             {:.0} deliveries/s; call p50/p90/p99 {}; publish->delivery {}; cpu server {:.2} s ({:.3} ms/event), \
             postgres {:.2} s ({:.3} ms/event); rss idle {:.1} MiB, peak {:.1} MiB; {}",
            w.subscriptions,
            w.clients,
            w.connections,
            self.published,
            self.seconds,
            self.published as f64 / self.seconds,
            self.delivered as f64 / self.seconds,
            self.call,
            self.delivery,
            self.server_cpu,
            per_event(self.server_cpu),
            self.postgres_cpu,
            per_event(self.postgres_cpu),
            self.idle_rss_mib,
            self.peak_rss_mib,
            if self.exactly_once() {
                "every delivery exactly once".to_owned()
            } else {
                format!(
                    "{} of {} delivered, {} duplicates",
                    self.delivered, self.expected, self.duplicates
                )
            }
        )
    }
}

/// A child process killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub async fn run(binaries: &Binaries, workload: Workload) -> Result<Report, String> {
    // reqwest is built without a TLS provider of its own (see Cargo.toml);
    // it talks plain HTTP to the receiver here, but still wants one named.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (database_url, cleanup) = fresh_database(&workload.database, dir.path()).await?;
    let result = run_on(binaries, &workload, &database_url, dir.path()).await;
    if let Some((admin, name)) = cleanup {
        drop_database(&admin, &name).await;
    }
    result
}

async fn run_on(
    binaries: &Binaries,
    workload: &Workload,
    database_url: &str,
    dir: &Path,
) -> Result<Report, String> {
    use base64::Engine as _;
    let secret_key = base64::engine::general_purpose::STANDARD.encode(SecretCipher::generate_key());
    let cli = |args: &[&str]| -> Result<String, String> {
        let output = hookrelay(&binaries.server)
            .args(args)
            .args(["--database-url", database_url])
            .env("HOOKRELAY_SECRET_KEY", &secret_key)
            .output()
            .map_err(|e| format!("running hookrelay {args:?}: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "hookrelay {args:?} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    };
    cli(&["tenants", "create", "bench"])?;
    let keys = cli(&[
        "keys",
        "create",
        "--tenant",
        "bench",
        "--capabilities",
        "manage,publish,read",
    ])?;
    let token = keys.lines().last().unwrap_or_default().trim().to_owned();

    let (receiver, receiver_addr) = start_receiver(&binaries.receiver)?;
    let port = free_port()?;
    let config: Vec<String> = workload
        .server_config
        .iter()
        .flat_map(|path| ["--config".to_owned(), path.display().to_string()])
        .collect();
    let log = std::fs::File::create(dir.join("server.log")).map_err(|e| e.to_string())?;
    let server = Process(
        hookrelay(&binaries.server)
            .args(["serve", "--dev", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--database-url", database_url])
            .args(&config)
            .env("HOOKRELAY_SECRET_KEY", &secret_key)
            .env("RUST_LOG", "warn")
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("starting hookrelay serve: {e}"))?,
    );
    let server_pid = server.0.id();
    let url = format!("http://127.0.0.1:{port}");
    let setup = connect(&url).await?;
    EventTypeServiceClient::new(setup.clone())
        .create_event_type(authed(
            &token,
            CreateEventTypeRequest {
                event_type: Some(EventType {
                    name: "bench.ping".to_owned(),
                    ..Default::default()
                }),
            },
        ))
        .await
        .map_err(|s| format!("create the event type: {s:?}"))?;
    for index in 0..workload.subscriptions {
        SubscriptionServiceClient::new(setup.clone())
            .create_subscription(authed(
                &token,
                CreateSubscriptionRequest {
                    subscription: Some(Subscription {
                        name: format!("bench-{index}"),
                        url: format!("http://{receiver_addr}/s{index}"),
                        event_types: vec!["bench.ping".to_owned()],
                        ..Default::default()
                    }),
                    secret: String::new(),
                },
            ))
            .await
            .map_err(|s| format!("create subscription {index}: {s:?}"))?;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let idle_rss_mib = status_kib(server_pid, "VmRSS:") / 1024.0;
    let server_cpu_before = cpu_seconds(server_pid);
    let postgres_cpu_before = postgres_cpu();

    let mut channels = Vec::new();
    for _ in 0..workload.connections.max(1) {
        channels.push(connect(&url).await?);
    }
    let start = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for client in 0..workload.clients.max(1) {
        let channel = channels[client % channels.len()].clone();
        let next = Arc::clone(&next);
        let token = token.clone();
        let (events, rate, caller_ids) = (workload.events, workload.rate, workload.caller_ids);
        clients.push(tokio::spawn(async move {
            let mut publisher = EventServiceClient::new(channel);
            let mut sent: Vec<(String, i64)> = Vec::new();
            let mut calls: Vec<f64> = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= events {
                    break;
                }
                if let Some(rate) = rate {
                    tokio::time::sleep_until(
                        (start + Duration::from_secs_f64(n as f64 / rate)).into(),
                    )
                    .await;
                }
                let request = authed(
                    &token,
                    PublishEventRequest {
                        event: Some(Event {
                            id: if caller_ids {
                                format!("bench-{n}")
                            } else {
                                String::new()
                            },
                            r#type: "bench.ping".to_owned(),
                            payload: Some(Payload::DataJson(format!(r#"{{"n":{n}}}"#))),
                            ..Default::default()
                        }),
                    },
                );
                let at = unix_micros();
                let began = Instant::now();
                let response = publisher.publish_event(request).await;
                calls.push(began.elapsed().as_secs_f64() * 1000.0);
                match response {
                    Ok(response) => {
                        let id = response
                            .into_inner()
                            .event
                            .map(|e| e.id)
                            .unwrap_or_default();
                        sent.push((id, at));
                    }
                    Err(status) => return Err(format!("publish {n}: {status:?}")),
                }
            }
            Ok((sent, calls))
        }));
    }
    let mut published: HashMap<String, i64> = HashMap::new();
    let mut calls = Vec::new();
    for client in clients {
        let (sent, client_calls) = client.await.map_err(|e| e.to_string())??;
        published.extend(sent);
        calls.extend(client_calls);
    }

    let expected = published.len() * workload.subscriptions;
    let http = reqwest::Client::new();
    let deadline = Instant::now() + workload.timeout;
    loop {
        let count: usize = http
            .get(format!("http://{receiver_addr}/count"))
            .send()
            .await
            .map_err(|e| e.to_string())?
            .text()
            .await
            .map_err(|e| e.to_string())?
            .parse()
            .unwrap_or(0);
        if count >= expected || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let seconds = start.elapsed().as_secs_f64();
    let server_cpu = cpu_seconds(server_pid) - server_cpu_before;
    let postgres_cpu = match workload.database {
        Database::Sqlite => 0.0,
        Database::Postgres { .. } => postgres_cpu_since(&postgres_cpu_before),
    };
    let peak_rss_mib = status_kib(server_pid, "VmHWM:") / 1024.0;
    // A moment for any duplicate to show itself.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let arrivals = http
        .get(format!("http://{receiver_addr}/arrivals"))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .text()
        .await
        .map_err(|e| e.to_string())?;
    drop(server);
    drop(receiver);

    let mut seen = HashSet::new();
    let mut duplicates = 0;
    let mut latencies = Vec::new();
    for line in arrivals.lines() {
        let mut parts = line.split(' ');
        let (Some(id), Some(path), Some(at)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        if !seen.insert((id.to_owned(), path.to_owned())) {
            duplicates += 1;
            continue;
        }
        if let (Some(sent), Ok(at)) = (published.get(id), at.parse::<i64>()) {
            latencies.push((at - sent) as f64 / 1000.0);
        }
    }
    Ok(Report {
        workload: workload.clone(),
        published: published.len(),
        expected,
        delivered: seen.len(),
        duplicates,
        seconds,
        call: Percentiles::of(calls),
        delivery: Percentiles::of(latencies),
        server_cpu,
        postgres_cpu,
        idle_rss_mib,
        peak_rss_mib,
    })
}

/// The server binary with none of this process's `HOOKRELAY_*` settings:
/// the run is configured by its flags alone.
fn hookrelay(program: &Path) -> Command {
    let mut command = Command::new(program);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("HOOKRELAY_") {
            command.env_remove(key);
        }
    }
    command
}

fn authed<T>(token: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("tokens are ASCII"),
    );
    request
}

fn start_receiver(program: &Path) -> Result<(Process, String), String> {
    let mut child = Command::new(program)
        .arg("127.0.0.1:0")
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting {}: {e}", program.display()))?;
    let stdout = child.stdout.take().ok_or("no receiver stdout")?;
    let process = Process(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    let addr = line
        .trim()
        .strip_prefix("LISTENING ")
        .ok_or_else(|| format!("the receiver said {line:?}"))?
        .to_owned();
    Ok((process, addr))
}

/// Connects, retrying while the server starts (up to 20 s).
async fn connect(url: &str) -> Result<Channel, String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match Channel::from_shared(url.to_owned())
            .map_err(|e| e.to_string())?
            .connect()
            .await
        {
            Ok(channel) => return Ok(channel),
            Err(err) if Instant::now() > deadline => return Err(format!("connect {url}: {err}")),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(listener.local_addr().map_err(|e| e.to_string())?.port())
}

fn unix_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// User plus system CPU seconds of a process, from /proc/<pid>/stat.
fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // The command name may hold spaces; the fields after it do not.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after ')'.
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / TICKS_PER_SECOND
}

/// CPU seconds of each running `postgres` process, by pid.
fn postgres_cpu() -> HashMap<u32, f64> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return HashMap::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|comm| comm.trim() == "postgres")
        })
        .map(|pid| (pid, cpu_seconds(pid)))
        .collect()
}

/// Postgres CPU spent since `before`: per process, so a backend that
/// started meanwhile counts whole and one that ended does not go negative.
fn postgres_cpu_since(before: &HashMap<u32, f64>) -> f64 {
    postgres_cpu()
        .into_iter()
        .map(|(pid, now)| (now - before.get(&pid).copied().unwrap_or(0.0)).max(0.0))
        .sum()
}

/// A `Vm*:` line of /proc/<pid>/status, in KiB.
fn status_kib(pid: u32, key: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse().ok())
        })
        .unwrap_or(0.0)
}

async fn fresh_database(
    database: &Database,
    dir: &Path,
) -> Result<(String, Option<(String, String)>), String> {
    match database {
        Database::Sqlite => Ok((format!("sqlite://{}", dir.join("bench.db").display()), None)),
        Database::Postgres { admin_url } => {
            let name = format!("hookrelay_external_{}", std::process::id());
            let db = sea_orm::Database::connect(admin_url)
                .await
                .map_err(|e| format!("connect {admin_url}: {e}"))?;
            db.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name}"))
                .await
                .ok();
            db.execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .map_err(|e| format!("create database {name}: {e}"))?;
            // The server gets the admin URL's connection options (e.g.
            // `?sslmode=disable`) with the fresh database's name.
            let (prefix, last) = admin_url.rsplit_once('/').unwrap_or((admin_url, ""));
            let options = last.find('?').map_or("", |at| &last[at..]);
            Ok((
                format!("{prefix}/{name}{options}"),
                Some((admin_url.clone(), name)),
            ))
        }
    }
}

async fn drop_database(admin_url: &str, name: &str) {
    if let Ok(db) = sea_orm::Database::connect(admin_url).await {
        db.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await
            .ok();
    }
}
