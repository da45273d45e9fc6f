//! Compiles `proto/` with protox (pure Rust, no system `protoc`) into tonic
//! clients and servers, and writes the descriptor set that server reflection
//! serves so `grpcurl list` works without proto files. It also turns on the
//! `hookrelay_postgres_tests` cfg when `HOOKRELAY_TEST_DATABASE_URL` is set,
//! so the integration tests' Postgres variants run then and are listed as
//! ignored otherwise.

use prost::Message;
use std::path::PathBuf;

const PROTO_ROOT: &str = "proto";

/// The variable `scripts/test` sets to run the tests on Postgres too.
const TEST_DATABASE_ENV: &str = "HOOKRELAY_TEST_DATABASE_URL";

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
