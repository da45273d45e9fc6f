//! The attempt's request in the HTTP client's terms: the domain's
//! [`OutgoingRequest`] as a reqwest header map.

use crate::domain::OutgoingRequest;
use reqwest::header::HeaderMap;

pub fn header_map(request: &OutgoingRequest) -> HeaderMap {
    let mut headers = HeaderMap::with_capacity(request.headers.len());
    for (name, value) in &request.headers {
        headers.insert(name.clone(), value.clone());
    }
    headers
}
