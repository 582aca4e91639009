//! Structured logs for both functions: JSON, one event per line, level from `RUST_LOG`.
//!
//! Logs go to stderr so that stdout carries only what the functions print on purpose (EMF metric
//! lines, the postprocessor's findings); Lambda sends both streams to the function's log group.

use tracing_subscriber::EnvFilter;

/// Installs the JSON subscriber (default level `info`). A second call (tests) is harmless.
pub fn init_tracing() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_current_span(false)
        .with_target(false)
        .try_init();
}
