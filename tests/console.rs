//! The web console as an operator meets it: `hookrelay serve` answers the
//! page at `/` beside gRPC, locked down by its headers, and nothing else;
//! `--console=false` (or `console = false`) turns it off; the committed
//! bundle (`console/dist`) is what `scripts/build-console` builds from the
//! sources; and in a real browser (headless Chromium from the system's
//! `chromium` package, driven by playwright-core) each scenario of
//! `console/tests/console.mjs` passes against a fresh `hookrelay serve`.
//! These run the real binary, as a user does. The browser scenarios save
//! a screenshot of each page they visit under
//! `target/console-screenshots/<scenario>/`.

mod common;

use base64::Engine;
use common::process::{BIN, ServeProcess, free_port, run_cli, wait_for_port};
use common::{Backend, TestDatabase, tools};
use hookrelay::domain::SecretCipher;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Where the browser is, unless `HOOKRELAY_CHROMIUM` says otherwise:
/// Debian's `chromium` package, which `scripts/test --setup` installs.
const CHROMIUM: &str = "/usr/bin/chromium";

/// How long one browser scenario may take, server start included.
const SCENARIO_DEADLINE: Duration = Duration::from_secs(90);

/// One browser at a time: CI has two cores, and Chromium wants both.
static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// An HTTP/1.1 client, as a browser loading the page over plain http is.
fn browser() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .http1_only()
        .build()
        .expect("an HTTP client")
}

/// A fresh `hookrelay serve --dev` on a new SQLite file, with `extra` flags.
fn serve(dir: &tempfile::TempDir, extra: &[&str]) -> ServeProcess {
    let database_url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("hookrelay.db").display()
    );
    ServeProcess::start(&database_url, extra, &[])
}

#[tokio::test]
async fn a_fresh_serve_answers_the_console_page_with_strict_headers() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(&dir, &[]);
    let page = browser()
        .get(format!("{}/", server.url()))
        .send()
        .await
        .expect("the server answers");
    assert_eq!(page.status(), 200);
    let header = |name: &str| {
        page.headers()
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header"))
            .to_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(header("content-type"), "text/html; charset=utf-8");
    assert_eq!(header("cache-control"), "no-cache");
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(header("referrer-policy"), "no-referrer");
    let csp = header("content-security-policy");
    for directive in [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
        "require-trusted-types-for 'script'",
    ] {
        assert!(csp.contains(directive), "{directive:?} missing in {csp}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
    let html = page.text().await.unwrap();
    assert!(html.contains("<title>hookrelay console</title>"), "{html}");
    assert!(!html.contains("<script>"), "no inline script: {html}");

    // The page's script is a hashed file, cached for good.
    let script = html
        .split("src=\"./")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no script in {html}"));
    assert!(script.starts_with("assets/") && script.ends_with(".js"));
    let asset = browser()
        .get(format!("{}/{script}", server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(asset.status(), 200);
    assert_eq!(
        asset.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(
        asset.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
}

#[tokio::test]
async fn what_is_neither_the_api_nor_the_console_is_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(&dir, &[]);
    let client = browser();
    for path in [
        "/nope",
        "/index.htm",
        "/assets/missing.js",
        "/hookrelay.db",
        "/hookrelay.v1.EventService/ListEvents",
    ] {
        let answer = client
            .get(format!("{}{path}", server.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 404, "{path}");
        assert!(answer.headers().contains_key("content-security-policy"));
    }
    // A JSON POST is no gRPC call: it never reaches the services.
    let post = client
        .post(format!(
            "{}/hookrelay.v1.EventService/ListEvents",
            server.url()
        ))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 404);
}

#[tokio::test]
async fn console_false_turns_the_console_off() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(&dir, &["--console=false"]);
    let answer = browser()
        .get(format!("{}/", server.url()))
        .send()
        .await
        .unwrap();
    assert_ne!(answer.status(), 200);
    assert!(!answer.headers().contains_key("content-security-policy"));
    let body = answer.text().await.unwrap();
    assert!(!body.contains("hookrelay console"), "{body}");
}

#[test]
fn the_console_setting_comes_from_the_flag_the_environment_or_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let print = |args: &[&str], env: &[(&str, &str)]| {
        let output = Command::new(BIN)
            .args(["config", "print"])
            .args(args)
            .env_remove("HOOKRELAY_CONSOLE")
            .envs(env.iter().copied())
            .current_dir(dir.path())
            .output()
            .expect("run hookrelay config print");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    assert!(print(&[], &[]).contains("console = true"));
    assert!(print(&["--console=false"], &[]).contains("console = false"));
    assert!(print(&["--console"], &[]).contains("console = true"));
    assert!(print(&[], &[("HOOKRELAY_CONSOLE", "false")]).contains("console = false"));
    let file = dir.path().join("hookrelay.toml");
    std::fs::write(&file, "console = false\n").unwrap();
    let from_file = print(&["--config", file.to_str().unwrap()], &[]);
    assert!(from_file.contains("console = false"), "{from_file}");
}

#[test]
fn committed_console_bundle_is_fresh() {
    tools::require_node_modules("console");
    let output = Command::new(Path::new(ROOT).join("scripts/build-console"))
        .arg("--check")
        .current_dir(ROOT)
        .env("PATH", tools::search_path())
        .output()
        .expect("run scripts/build-console (it needs bash)");
    assert!(
        output.status.success(),
        "scripts/build-console --check failed ({}):\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

// ---------------------------------------------------------------------------
// In a browser: one test per scenario of console/tests/console.mjs.

#[tokio::test]
async fn signing_in_with_a_bad_key_says_so_and_a_good_key_stays_in_the_tab() {
    browse("sign-in", Backend::Sqlite).await;
}

#[tokio::test]
async fn a_subscription_made_in_the_console_shows_its_delivery_live_and_in_the_log() {
    browse("publish-and-watch", Backend::Sqlite).await;
}

/// The same pages on Postgres: the console is the same app, so one
/// scenario (the one that touches every page) is enough to prove it.
#[tokio::test]
#[cfg_attr(
    not(hookrelay_postgres_tests),
    ignore = "set HOOKRELAY_TEST_DATABASE_URL (scripts/test does) to run the Postgres variant"
)]
async fn a_subscription_made_in_the_console_shows_its_delivery_live_and_in_the_log_on_postgres() {
    browse("publish-and-watch", Backend::Postgres).await;
}

#[tokio::test]
async fn a_failing_endpoint_shows_as_failing_with_the_receivers_answer() {
    browse("failing-endpoint", Backend::Sqlite).await;
}

#[tokio::test]
async fn a_dead_lettered_delivery_retried_from_the_console_succeeds() {
    browse("retry-dead-letter", Backend::Sqlite).await;
}

#[tokio::test]
async fn a_read_only_key_sees_no_edit_buttons_and_a_forced_call_is_refused() {
    browse("read-only", Backend::Sqlite).await;
}

#[tokio::test]
async fn a_scoped_key_sees_only_its_scope() {
    browse("scoped", Backend::Sqlite).await;
}

#[tokio::test]
async fn an_expunged_event_says_so_instead_of_showing_a_payload() {
    browse("expunged", Backend::Sqlite).await;
}

#[tokio::test]
async fn markup_in_a_payload_renders_as_text() {
    browse("html-payload", Backend::Sqlite).await;
}

/// `hookrelay serve --dev` on a fresh database with tenant `acme` and
/// three keys, its output kept for a failure's report.
struct ConsoleServer {
    child: std::process::Child,
    port: u16,
    admin: String,
    read: String,
    scoped: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
    _database: TestDatabase,
}

impl ConsoleServer {
    async fn start(backend: Backend) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let database = TestDatabase::create(backend).await;
        let database_url = match backend {
            Backend::Sqlite => format!("{}?mode=rwc", database.url),
            Backend::Postgres => database.url.clone(),
        };
        run_cli(&["tenants", "create", "acme"], &database_url);
        let key = |capabilities: &str, scope: Option<&str>| {
            let mut args = vec!["keys", "create", "--tenant", "acme"];
            args.extend(["--capabilities", capabilities]);
            if let Some(scope) = scope {
                args.extend(["--scope", scope]);
            }
            let out = run_cli(&args, &database_url);
            out.lines().last().unwrap_or_default().trim().to_owned()
        };
        let (admin, read) = (key("manage,publish,read", None), key("read", None));
        let scoped = key("manage,read", Some("team-a"));
        let port = free_port();
        let log = dir.path().join("server.log");
        let out = std::fs::File::create(&log).unwrap();
        let secret_key =
            base64::engine::general_purpose::STANDARD.encode(SecretCipher::generate_key());
        let child = Command::new(BIN)
            .args(["serve", "--dev", "--listen", &format!("127.0.0.1:{port}")])
            .env("HOOKRELAY_DATABASE_URL", &database_url)
            .env("HOOKRELAY_SECRET_KEY", secret_key)
            .env_remove("HOOKRELAY_TEST_DATABASE_URL")
            .env_remove("HOOKRELAY_CONSOLE")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("spawn hookrelay serve");
        wait_for_port(port);
        Self {
            child,
            port,
            admin,
            read,
            scoped,
            log,
            _dir: dir,
            _database: database,
        }
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ConsoleServer {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// Runs one scenario of console/tests/console.mjs in headless Chromium
/// against a fresh server, and fails with the scenario's own report.
async fn browse(scenario: &str, backend: Backend) {
    let chromium = std::env::var("HOOKRELAY_CHROMIUM").unwrap_or_else(|_| CHROMIUM.to_owned());
    assert!(
        Path::new(&chromium).is_file(),
        "the console's browser tests need Chromium at {chromium} (Debian's `chromium` package); \
         run `{}` to install it, or point HOOKRELAY_CHROMIUM at another Chromium",
        tools::SETUP
    );
    let dir = tools::require_node_modules("console");
    tools::require(
        "grpcurl",
        &["-version"],
        "grpcurl, to publish as a service would",
    );
    let screenshots = screenshot_dir().join(match backend {
        Backend::Sqlite => scenario.to_owned(),
        Backend::Postgres => format!("{scenario}-postgres"),
    });
    let _ = std::fs::remove_dir_all(&screenshots);

    let _one_browser = ONE_BROWSER.lock().await;
    let server = ConsoleServer::start(backend).await;
    let started = Instant::now();
    let mut node = tools::async_command("node");
    node.arg("tests/console.mjs")
        .current_dir(&dir)
        .env("SCENARIO", scenario)
        .env("HOOKRELAY_URL", format!("http://127.0.0.1:{}", server.port))
        .env("ADMIN_TOKEN", &server.admin)
        .env("READ_TOKEN", &server.read)
        .env("SCOPED_TOKEN", &server.scoped)
        .env("SCREENSHOTS", &screenshots)
        .env("CHROMIUM", &chromium)
        .env("GRPCURL", tools::program("grpcurl"))
        .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(SCENARIO_DEADLINE, node.output())
        .await
        .unwrap_or_else(|_| {
            panic!(
                "the {scenario} scenario did not finish within {SCENARIO_DEADLINE:?}\nserver log:\n{}",
                server.logs()
            )
        })
        .expect("run node (Node.js 20.19 or newer)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the console's {scenario} scenario failed ({}, {:.1} s):\n{stdout}{stderr}\n\
         screenshots: {}\nserver log:\n{}",
        output.status,
        started.elapsed().as_secs_f64(),
        screenshots.display(),
        server.logs()
    );
    let shots = std::fs::read_dir(&screenshots).map_or(0, Iterator::count);
    assert!(shots > 0, "the {scenario} scenario saved no screenshot");
}

/// `target/console-screenshots` (beside the tests' own scratch folder,
/// wherever the target directory is).
fn screenshot_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target directory")
        .join("console-screenshots")
}
