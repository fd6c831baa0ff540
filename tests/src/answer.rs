//! What the edge answered, read the same way from curl and from a raw connection.

use crate::curl::CurlOutput;
use crate::raw::RawResponse;

/// An answer from the edge: its status and headers.
pub trait Answer: std::fmt::Debug {
    fn status_code(&self) -> u16;
    fn header_value(&self, name: &str) -> Option<&str>;
    fn text(&self) -> String;
}

impl Answer for CurlOutput {
    fn status_code(&self) -> u16 {
        self.status()
    }
    fn header_value(&self, name: &str) -> Option<&str> {
        self.header(name)
    }
    fn text(&self) -> String {
        self.body_text()
    }
}

impl Answer for RawResponse {
    fn status_code(&self) -> u16 {
        self.status
    }
    fn header_value(&self, name: &str) -> Option<&str> {
        self.header(name)
    }
    fn text(&self) -> String {
        self.body_text()
    }
}

/// Asserts that `resp` is the edge's refusal with `status` and the RFC 9209 error type
/// `proxy_status`; returns the `Proxy-Status` details for further checks.
#[track_caller]
pub fn assert_refused(resp: &impl Answer, status: u16, proxy_status: &str) -> String {
    assert_eq!(resp.status_code(), status, "{resp:#?}");
    let header = resp.header_value("proxy-status").unwrap_or_default();
    let error = crate::raw::proxy_status_error(header);
    assert_eq!(error.as_deref(), Some(proxy_status), "{resp:#?}");
    header
        .split_once("details=\"")
        .and_then(|(_, d)| d.strip_suffix('"'))
        .unwrap_or_default()
        .to_string()
}
