//! Compiles `proto/` with protox (pure Rust, no system `protoc`) into tonic
//! clients and servers, and writes the descriptor set that server reflection
//! serves so `grpcurl list` works without proto files. It also turns on the
//! `hookrelay_postgres_tests` cfg when `HOOKRELAY_TEST_DATABASE_URL` is set,
//! so the integration tests' Postgres variants run then and are listed as
//! ignored otherwise. Last, it embeds the web console's built bundle
//! (`console/dist`, committed) as a table the server serves from memory.

use prost::Message;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const PROTO_ROOT: &str = "proto";

/// The variable `scripts/test` sets to run the tests on Postgres too.
const TEST_DATABASE_ENV: &str = "HOOKRELAY_TEST_DATABASE_URL";

/// The console's bundle, built by `scripts/build-console`.
const CONSOLE_DIST: &str = "console/dist";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    enable_postgres_tests();
    let protos: Vec<PathBuf> = std::fs::read_dir("proto/hookrelay/v1")?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "proto"))
        .collect();
    println!("cargo:rerun-if-changed={PROTO_ROOT}");

    let descriptors = protox::compile(&protos, [PROTO_ROOT])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("hookrelay_descriptor.bin"),
        descriptors.encode_to_vec(),
    )?;

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .btree_map(".")
        // RPCs of later milestones answer UNIMPLEMENTED until they are written.
        .generate_default_stubs(true)
        .compile_fds(descriptors)?;
    embed_console(&out_dir)?;
    Ok(())
}

/// Writes `console_assets.rs`: one `Asset` per file of the console's
/// bundle, its bytes `include_bytes!`d, its content type decided here, so
/// the server does no lookups and reads no files. A file of a type not
/// listed fails the build rather than being served as something guessed.
fn embed_console(out_dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed={CONSOLE_DIST}");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(CONSOLE_DIST);
    if !root.join("index.html").is_file() {
        return Err(
            format!("{CONSOLE_DIST}/index.html is missing: run scripts/build-console").into(),
        );
    }
    let mut files = Vec::new();
    collect_files(&root, &mut files)?;
    files.sort();
    let mut table = String::from("pub static ASSETS: &[Asset] = &[\n");
    for file in &files {
        let relative = file
            .strip_prefix(&root)?
            .to_str()
            .ok_or("a non-UTF-8 file name")?;
        let path = format!("/{}", relative.replace(std::path::MAIN_SEPARATOR, "/"));
        let extension = file.extension().and_then(|e| e.to_str()).unwrap_or("");
        let content_type = match extension {
            "html" => "text/html; charset=utf-8",
            "js" => "text/javascript; charset=utf-8",
            "css" => "text/css; charset=utf-8",
            "svg" => "image/svg+xml",
            "png" => "image/png",
            "ico" => "image/x-icon",
            "woff2" => "font/woff2",
            "json" => "application/json",
            "txt" => "text/plain; charset=utf-8",
            _ => return Err(format!("{CONSOLE_DIST}: no content type for {path}").into()),
        };
        writeln!(
            table,
            "    Asset {{ path: {path:?}, content_type: {content_type:?}, bytes: include_bytes!({:?}) }},",
            file.display().to_string()
        )?;
    }
    table.push_str("];\n");
    std::fs::write(out_dir.join("console_assets.rs"), table)?;
    Ok(())
}

fn collect_files(dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_files(&path, files)?;
        } else {
            files.push(path);
        }
    }
    Ok(())
}

/// Postgres test variants are `#[ignore]`d unless the database variable is set
/// (and non-empty) when the tests are built: `cargo test` then counts them as
/// ignored instead of passing them silently. The cfg reaches every target of
/// the package, the integration tests included.
fn enable_postgres_tests() {
    println!("cargo::rerun-if-env-changed={TEST_DATABASE_ENV}");
    println!("cargo::rustc-check-cfg=cfg(hookrelay_postgres_tests)");
    if std::env::var_os(TEST_DATABASE_ENV).is_some_and(|url| !url.is_empty()) {
        println!("cargo::rustc-cfg=hookrelay_postgres_tests");
    }
}
