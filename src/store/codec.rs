//! JSON shapes of the structured subscription columns. Kept apart from the
//! domain types so the stored format is explicit and can evolve with a
//! migration rather than by accident.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StoredRetryPolicy {
    pub max_attempts: u32,
    pub initial_delay_ms: u64,
    pub max_delay_ms: u64,
    /// `exponential`, `linear` or `fixed`.
    pub backoff: String,
    /// Absent in rows written before jitter could be turned off.
    #[serde(default = "jitter_default")]
    pub jitter: bool,
}

fn jitter_default() -> bool {
    true
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StoredSignature {
    pub header: String,
    /// `sha256` or `sha512`.
    pub algorithm: String,
    pub prefix: String,
    pub algorithm_header: Option<String>,
}
