//! Compiles `proto/` with protox (pure Rust, no system `protoc`) into tonic
//! clients and servers, and writes the descriptor set that server reflection
//! serves so `grpcurl list` works without proto files.

use prost::Message;
use std::path::PathBuf;

const PROTO_ROOT: &str = "proto";

fn main() -> Result<(), Box<dyn std::error::Error>> {
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
