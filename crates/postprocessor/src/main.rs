//! The postprocessor Lambda's entry point: configuration and clients once, then the runtime loop.

use lambda_adapter::{S3Objects, init_tracing};
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use postprocessor::{Config, Handler, Output};

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_tracing();
    let config = Config::from_env()?;
    let handler = Handler::new(config, S3Objects::from_environment().await, Output::stdout());
    run(service_fn(|event: LambdaEvent<_>| handler.handle(event))).await
}
