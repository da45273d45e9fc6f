//! The one HTTP client every delivery shares: pooled keep-alive connections
//! per host, HTTP/2 when offered, no redirects, and an SSRF guard whose
//! resolver drops forbidden addresses, so the address checked is the address
//! connected to.

use crate::domain::{EndpointUrl, TargetPolicy};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::HeaderMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// At most this much of a response body is kept with the attempt.
pub const MAX_RECORDED_BODY: usize = 4096;

/// What one POST produced.
#[derive(Debug)]
pub struct HttpOutcome {
    pub status: Option<u16>,
    pub body: String,
    pub error: Option<String>,
    /// From `Retry-After` on 429 and 503.
    pub retry_after: Option<Duration>,
    pub duration: Duration,
}

#[derive(Clone)]
pub struct WebhookClient {
    client: reqwest::Client,
    /// Which targets may be contacted (`--dev`, allowed networks).
    policy: Arc<TargetPolicy>,
}

impl WebhookClient {
    /// `max_in_flight` is the dispatcher's bound on requests in flight: up
    /// to that many connections per host stay open for reuse, so a burst
    /// of deliveries to one receiver does not open and close connections
    /// (with a pool of 64, a fan-out bench left 6,500 sockets in TIME_WAIT
    /// and ran 9% slower).
    pub fn new(policy: TargetPolicy, max_in_flight: usize) -> Result<Self, reqwest::Error> {
        let policy = Arc::new(policy);
        // Our rustls has exactly one provider compiled in (ring, shared with
        // sqlx); installing it twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(max_in_flight)
            .tcp_nodelay(true)
            .user_agent(concat!("hookrelay/", env!("CARGO_PKG_VERSION")));
        if !policy.dev {
            builder = builder.dns_resolver(Arc::new(CheckedResolver {
                policy: Arc::clone(&policy),
            }));
        }
        Ok(Self {
            client: builder.build()?,
            policy,
        })
    }

    pub async fn post(
        &self,
        url: &EndpointUrl,
        headers: HeaderMap,
        body: Vec<u8>,
        timeout: Duration,
    ) -> HttpOutcome {
        let started = Instant::now();
        if let Err(refusal) = self.check_target(url) {
            return HttpOutcome {
                status: None,
                body: String::new(),
                error: Some(refusal),
                retry_after: None,
                duration: started.elapsed(),
            };
        }
        let sent = self
            .client
            .post(url.url().clone())
            .headers(headers)
            .body(body)
            .timeout(timeout)
            .send()
            .await;
        let mut response = match sent {
            Ok(response) => response,
            Err(err) => {
                return HttpOutcome {
                    status: None,
                    body: String::new(),
                    error: Some(describe(&err)),
                    retry_after: None,
                    duration: started.elapsed(),
                };
            }
        };
        let status = response.status().as_u16();
        let retry_after = matches!(status, 429 | 503)
            .then(|| retry_after(response.headers()))
            .flatten();
        let mut body = Vec::new();
        // Read only what we keep; a huge or endless body must not stall us.
        while body.len() < MAX_RECORDED_BODY {
            match response.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                Ok(None) | Err(_) => break,
            }
        }
        body.truncate(MAX_RECORDED_BODY);
        HttpOutcome {
            status: Some(status),
            body: String::from_utf8_lossy(&body).into_owned(),
            error: None,
            retry_after,
            duration: started.elapsed(),
        }
    }

    /// Refuses plain http and private IP literals outside dev mode (unless
    /// in an allowed network). Host names are checked by the resolver when
    /// they are looked up.
    fn check_target(&self, url: &EndpointUrl) -> Result<(), String> {
        if self.policy.dev {
            return Ok(());
        }
        if url.url().scheme() != "https" {
            return Err("refused: endpoint is not https (allowed only with --dev)".to_owned());
        }
        let host = url.url().host_str().unwrap_or_default();
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = literal.parse::<IpAddr>()
            && !self.policy.permits(ip)
        {
            return Err(format!("refused: {ip} is a private or reserved address"));
        }
        Ok(())
    }
}

fn describe(err: &reqwest::Error) -> String {
    use std::error::Error;
    let mut text = if err.is_timeout() {
        "timed out".to_owned()
    } else if err.is_connect() {
        "connection failed".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// `Retry-After` as delta-seconds or an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or_default(),
    )
}

/// Resolves names and keeps only the addresses the policy permits (public
/// ones, and those in allowed networks), so the address checked is the
/// address connected to.
struct CheckedResolver {
    policy: Arc<TargetPolicy>,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = Arc::clone(&self.policy);
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = resolved
                .iter()
                .copied()
                .filter(|addr| policy.permits(addr.ip()))
                .collect();
            if allowed.is_empty() {
                let refused: Box<dyn std::error::Error + Send + Sync> =
                    format!("refused: {host} resolves only to private or reserved addresses")
                        .into();
                return Err(refused);
            }
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "7".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert(
            "retry-after",
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers), Some(Duration::ZERO));
        headers.insert("retry-after", "soon".parse().unwrap());
        assert_eq!(retry_after(&headers), None);
    }

    #[tokio::test]
    async fn private_targets_are_refused_outside_dev() {
        let client = WebhookClient::new(TargetPolicy::PUBLIC, 8).unwrap();
        for url in [
            "https://127.0.0.1/x",
            "https://[::1]/x",
            "https://localhost/x",
        ] {
            let url = EndpointUrl::parse(url, true).unwrap();
            let outcome = client
                .post(&url, HeaderMap::new(), Vec::new(), Duration::from_secs(2))
                .await;
            assert!(outcome.status.is_none(), "{url:?} was contacted");
            let error = outcome.error.unwrap_or_default();
            assert!(error.contains("refused"), "{url:?}: {error}");
        }
        let http = EndpointUrl::parse("http://example.com/x", true).unwrap();
        let outcome = client
            .post(&http, HeaderMap::new(), Vec::new(), Duration::from_secs(2))
            .await;
        assert!(outcome.error.unwrap_or_default().contains("not https"));
    }

    #[tokio::test]
    async fn allowed_networks_are_contacted_at_the_checked_address() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        // A plain TCP listener: a connection proves the target was not
        // refused (the TLS handshake then fails, which is fine here).
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        tokio::spawn({
            let accepted = Arc::clone(&accepted);
            async move {
                while let Ok((socket, _)) = listener.accept().await {
                    accepted.fetch_add(1, Ordering::SeqCst);
                    drop(socket);
                }
            }
        });
        let urls = [
            format!("https://127.0.0.1:{port}/x"),
            format!("https://localhost:{port}/x"),
        ];
        let post = |client: WebhookClient, url: String| async move {
            let url = EndpointUrl::parse(&url, true).unwrap();
            let outcome = client
                .post(&url, HeaderMap::new(), Vec::new(), Duration::from_secs(2))
                .await;
            assert!(outcome.status.is_none());
            outcome.error.unwrap_or_default()
        };

        let loopback_allowed = WebhookClient::new(
            TargetPolicy {
                dev: false,
                allowed_networks: vec!["127.0.0.0/8".parse().unwrap()],
            },
            8,
        )
        .unwrap();
        for url in &urls {
            let error = post(loopback_allowed.clone(), url.clone()).await;
            assert!(!error.contains("private or reserved"), "{url}: {error}");
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 2, "both were contacted");

        let other_network = WebhookClient::new(
            TargetPolicy {
                dev: false,
                allowed_networks: vec!["10.0.0.0/8".parse().unwrap()],
            },
            8,
        )
        .unwrap();
        for url in &urls {
            let error = post(other_network.clone(), url.clone()).await;
            assert!(error.contains("private or reserved"), "{url}: {error}");
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 2, "neither was contacted");
    }
}
