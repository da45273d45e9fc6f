//! The generated v1 API: messages, tonic clients and server traits, and the
//! encoded descriptor set that server reflection serves.

#![allow(clippy::all, missing_docs)]

tonic::include_proto!("hookrelay.v1");

/// Every file of `proto/hookrelay/v1`, for grpc.reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/hookrelay_descriptor.bin"));
