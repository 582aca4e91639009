//! Lambda entry point: logging, configuration and clients once, then the runtime loop.

// The runtime, the handler and the SDK nest deep futures; computing their layout needs more
// than the default depth.
#![recursion_limit = "256"]

use lambda_runtime::{run, service_fn};
use preprocessor::{Config, Handler, aws};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_current_span(false)
        .with_target(false)
        .init();
    let config = Config::from_env()?;
    let (source, sink) = aws::clients(&config).await;
    let handler = Handler::new(config, source, sink);
    run(service_fn(|event| handler.handle(event))).await
}
