//! `hookrelay health-check`: one `grpc.health.v1.Health/Check` against a
//! running server, turned into an exit status, so a container image or an
//! exec probe needs no separate `grpc_health_probe` binary.

use http::uri::Authority;
use std::time::Duration;
use tonic::transport::Endpoint;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

/// The flags of `hookrelay health-check`. They have no `HOOKRELAY_*` twins on
/// purpose: the probe runs in the server's own environment, where the
/// server's settings layer refuses `HOOKRELAY_*` variables it does not know.
#[derive(Clone, Debug, clap::Args)]
pub struct HealthCheckArgs {
    /// The server's gRPC address, HOST:PORT (plaintext, as `serve` listens).
    #[arg(long, default_value = "127.0.0.1:50051")]
    pub addr: String,
    /// A fully-qualified service, e.g. hookrelay.v1.EventService; without it
    /// the whole server is checked.
    #[arg(long, default_value = "", hide_default_value = true)]
    pub service: String,
    /// Give up after this many milliseconds, connecting included.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout_ms: u64,
}

/// Why a check did not end in SERVING. Each message is one line, naming the
/// address (and service) so a health log says which probe failed and how.
#[derive(Debug, thiserror::Error)]
pub enum HealthCheckError {
    #[error("--addr {addr:?}: {reason}")]
    InvalidAddress { addr: String, reason: &'static str },
    #[error("cannot connect to {addr}: {reason}")]
    Connect { addr: String, reason: String },
    #[error("{target}: no answer within {timeout_ms} ms")]
    TimedOut { target: String, timeout_ms: u64 },
    #[error("{target}: the server does not know this service")]
    UnknownService { target: String },
    #[error("{target}: health check failed: {code:?}: {message}")]
    Rpc {
        target: String,
        code: tonic::Code,
        message: String,
    },
    #[error("{target}: {status}")]
    NotServing {
        target: String,
        status: &'static str,
    },
}

/// Checks once. `Ok` carries the line to print for SERVING; every other
/// answer, and every failure to get one, is an error.
pub async fn check(args: &HealthCheckArgs) -> Result<String, HealthCheckError> {
    let authority = parse_addr(&args.addr)?;
    let target = if args.service.is_empty() {
        authority.to_string()
    } else {
        format!("{authority} ({})", args.service)
    };
    let timeout = Duration::from_millis(args.timeout_ms);
    let status = tokio::time::timeout(timeout, ask(&authority, &args.service, timeout))
        .await
        .map_err(|_| HealthCheckError::TimedOut {
            target: target.clone(),
            timeout_ms: args.timeout_ms,
        })?
        .map_err(|failure| match failure {
            Failure::Connect(reason) => HealthCheckError::Connect {
                addr: authority.to_string(),
                reason,
            },
            Failure::Rpc(status) if status.code() == tonic::Code::NotFound => {
                HealthCheckError::UnknownService {
                    target: target.clone(),
                }
            }
            Failure::Rpc(status) => HealthCheckError::Rpc {
                target: target.clone(),
                code: status.code(),
                message: status.message().to_owned(),
            },
        })?;
    match status {
        ServingStatus::Serving => Ok(format!("{target}: {}", status.as_str_name())),
        other => Err(HealthCheckError::NotServing {
            target,
            status: other.as_str_name(),
        }),
    }
}

enum Failure {
    Connect(String),
    Rpc(tonic::Status),
}

async fn ask(
    authority: &Authority,
    service: &str,
    timeout: Duration,
) -> Result<ServingStatus, Failure> {
    let endpoint = Endpoint::from_shared(format!("http://{authority}"))
        .map_err(|err| Failure::Connect(err.to_string()))?
        // The caller's deadline covers the whole exchange; this one only
        // keeps a silent address from holding the socket longer than that.
        .connect_timeout(timeout);
    let channel = endpoint
        .connect()
        .await
        .map_err(|err| Failure::Connect(error_chain(&err)))?;
    let response = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await
        .map_err(Failure::Rpc)?;
    // A status this client does not know is, for a probe, not SERVING.
    Ok(ServingStatus::try_from(response.into_inner().status).unwrap_or(ServingStatus::Unknown))
}

/// HOST:PORT and nothing else: no scheme, no path, no user, and a port.
fn parse_addr(addr: &str) -> Result<Authority, HealthCheckError> {
    let invalid = |reason| HealthCheckError::InvalidAddress {
        addr: addr.to_owned(),
        reason,
    };
    let authority: Authority = addr
        .parse()
        .map_err(|_| invalid("expected HOST:PORT, e.g. 127.0.0.1:50051"))?;
    if authority.as_str().contains('@') || authority.host().is_empty() {
        return Err(invalid("expected HOST:PORT, e.g. 127.0.0.1:50051"));
    }
    if authority.port_u16().is_none() {
        return Err(invalid("a port is required, e.g. 127.0.0.1:50051"));
    }
    Ok(authority)
}

/// tonic's transport error says only "transport error"; the cause (connection
/// refused, no such host) is further down the chain.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_host_and_port() {
        assert_eq!(
            parse_addr("127.0.0.1:50051").unwrap().as_str(),
            "127.0.0.1:50051"
        );
        assert!(parse_addr("localhost:1").is_ok());
        assert!(parse_addr("[::1]:50051").is_ok());
        for bad in [
            "",
            "127.0.0.1",
            "http://127.0.0.1:50051",
            "u@h:1",
            ":50051",
            "a b:1",
        ] {
            let err = parse_addr(bad).expect_err(bad).to_string();
            assert!(err.starts_with("--addr"), "{bad}: {err}");
        }
    }
}
