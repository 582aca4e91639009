//! Lambda entry point: logging, configuration and clients once, then the runtime loop.

// The runtime, the handler and the SDK nest deep futures; computing their layout needs more
// than the default depth.
#![recursion_limit = "256"]

use lambda_runtime::{run, service_fn};
use preprocessor::{Config, Handler, aws};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_adapter::init_tracing();
    let config = Config::from_env()?;
    let clients = aws::clients(&config).await;
    let handler = Handler::new(config, clients.source, clients.sink).with_marks(clients.marks);
    run(service_fn(|event| handler.handle(event))).await
}
