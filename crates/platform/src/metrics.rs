//! Prometheus text exposition, shared by both binaries' `/metrics`.

use prometheus::{Encoder, Registry, TextEncoder};

/// The Prometheus text exposition of every metric in `registry`.
pub fn render_metrics(registry: &Registry) -> String {
    let mut buffer = Vec::new();
    TextEncoder::new()
        .encode(&registry.gather(), &mut buffer)
        .expect("text encoding cannot fail");
    String::from_utf8(buffer).expect("the text format is UTF-8")
}
