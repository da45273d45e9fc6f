//! The web console as an operator meets it: `hookrelay serve` answers the
//! page at `/` beside gRPC, locked down by its headers, and nothing else;
//! `--console=false` (or `console = false`) turns it off; and the committed
//! bundle (`console/dist`) is what `scripts/build-console` builds from the
//! sources. These run the real binary, as a user does.

mod common;

use common::process::{BIN, ServeProcess};
use common::tools;
use std::path::Path;
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

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
