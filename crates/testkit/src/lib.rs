//! Test support for the AWS side of the pipeline, with real parts only.
//!
//! - [`Moto`]: a real `moto_server` (from the project venv, `make venv`) on a free port of
//!   127.0.0.1, killed when dropped.
//! - [`FaultProxy`]: an HTTP proxy in front of it (`fault_proxy.py`, standard library Python) that
//!   breaks Firehose `PutRecordBatch` calls on purpose: partial failures that really drop the
//!   failed entries, throttling, 5xx, dropped connections before and after forwarding, slow
//!   answers.
//! - [`sdk_config`], [`s3_client`], [`firehose_client`]: SDK clients pointed at either, with
//!   dummy credentials in `us-east-1`.
//! - Helpers to create buckets and delivery streams and to read back what Firehose wrote.
//! - [`corpus::LogLines`]: deterministic access log lines in any quantity.
//!
//! Both child processes also exit when their standard input closes, so a test process that dies
//! without running destructors leaves nothing behind. A missing tool is an error naming
//! `make venv`, never a reason to skip.

use std::env;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_firehose::types::{CompressionFormat, DeliveryStreamType, ExtendedS3DestinationConfiguration};
use aws_sdk_s3::config::{Credentials, Region, RequestChecksumCalculation};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use pipeline::decode::Decoded;

pub mod corpus;

/// Region every client of the tests uses.
pub const REGION: &str = "us-east-1";

/// How long a child process may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs moto's server until its parent's end of stdin closes: the guard against orphans.
const MOTO_LAUNCHER: &str = "\
import os, sys, threading
def watch():
    sys.stdin.buffer.read()
    os._exit(0)
threading.Thread(target=watch, daemon=True).start()
from moto.server import main
main(sys.argv[1:])
";

/// What went wrong while setting up the test environment.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A tool from the project venv is not installed.
    #[error("{tool} not found on PATH nor in {venv}: run `make venv` to install the test tools")]
    MissingTool {
        /// The missing program.
        tool: &'static str,
        /// Where it was looked for besides PATH.
        venv: String,
    },
    /// A child process did not come up.
    #[error("{what} did not start: {detail}")]
    Start {
        /// Which process.
        what: &'static str,
        /// Why, with the tail of its log.
        detail: String,
    },
    /// Local I/O failed.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// An AWS call against moto failed.
    #[error("{0}")]
    Aws(String),
}

fn aws_error(what: &str, error: impl std::error::Error) -> Error {
    Error::Aws(format!(
        "{what}: {}",
        aws_sdk_s3::error::DisplayErrorContext(error)
    ))
}

/// The project venv's `bin` directory holding `moto_server` and its `python`: PATH first (the
/// Makefile puts `.venv/bin` there), then the workspace's `.venv/bin`.
pub fn venv_bin() -> Result<PathBuf, Error> {
    let workspace_venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin");
    let path = env::var_os("PATH").unwrap_or_default();
    env::split_paths(&path)
        .chain([workspace_venv.clone()])
        .find(|dir| dir.join("moto_server").is_file() && dir.join("python").is_file())
        .ok_or_else(|| Error::MissingTool {
            tool: "moto_server",
            venv: workspace_venv.display().to_string(),
        })
}

/// A child process that is killed when dropped, with its log file removed.
struct Process {
    child: Child,
    // Held open: the child exits when it closes.
    _stdin: Option<ChildStdin>,
    log: PathBuf,
}

impl Process {
    fn spawn(what: &'static str, mut command: Command) -> Result<Process, Error> {
        let log = env::temp_dir().join(format!("testkit-{what}-{}-{}.log", std::process::id(), unique()));
        let log_file = File::create(&log)?;
        let mut child = command
            .stdin(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .map_err(|error| Error::Start {
                what,
                detail: error.to_string(),
            })?;
        let stdin = child.stdin.take();
        Ok(Process {
            child,
            _stdin: stdin,
            log,
        })
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let start = text.len().saturating_sub(2000);
        text.get(start..).unwrap_or_default().to_owned()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A running `moto_server` playing S3, Firehose and friends on 127.0.0.1.
pub struct Moto {
    process: Process,
    endpoint: String,
}

impl Moto {
    /// Starts moto on a free port and waits until it accepts connections.
    pub fn start() -> Result<Moto, Error> {
        let bin = venv_bin()?;
        let mut last = String::new();
        // A free port can be taken between probing and binding; try a few.
        for _ in 0..3 {
            let port = free_port()?;
            let mut command = Command::new(bin.join("python"));
            command
                .arg("-c")
                .arg(MOTO_LAUNCHER)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdout(Stdio::null());
            let mut process = Process::spawn("moto_server", command)?;
            match wait_for_port(&mut process, port) {
                Ok(()) => {
                    return Ok(Moto {
                        process,
                        endpoint: format!("http://127.0.0.1:{port}"),
                    });
                }
                Err(detail) => last = detail,
            }
        }
        Err(Error::Start {
            what: "moto_server",
            detail: last,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Whether the server process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.process.child.try_wait(), Ok(None))
    }
}

fn free_port() -> Result<u16, Error> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn wait_for_port(process: &mut Process, port: u16) -> Result<(), String> {
    let started = Instant::now();
    while started.elapsed() < START_TIMEOUT {
        if let Ok(Some(status)) = process.child.try_wait() {
            return Err(format!("exited with {status}: {}", process.log_tail()));
        }
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!(
        "not listening after {START_TIMEOUT:?}: {}",
        process.log_tail()
    ))
}

/// One way the proxy breaks a `PutRecordBatch` call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// HTTP 200 with `FailedPutCount`: every other entry is not forwarded and gets an
    /// `ErrorCode`, the rest really land.
    Partial,
    /// 400 `ThrottlingException`, nothing forwarded.
    Throttle,
    /// 503 `ServiceUnavailableException`, nothing forwarded.
    Unavailable,
    /// 500 `InternalFailure`, nothing forwarded.
    Error500,
    /// Connection closed without forwarding or answering.
    ResetBefore,
    /// Forwarded (the records land), then the connection is closed without an answer.
    ResetAfter,
    /// Forwarded, then answered after the scenario's delay.
    Slow,
}

impl Fault {
    fn name(self) -> &'static str {
        match self {
            Fault::Partial => "partial",
            Fault::Throttle => "throttle",
            Fault::Unavailable => "unavailable",
            Fault::Error500 => "error500",
            Fault::ResetBefore => "reset_before",
            Fault::ResetAfter => "reset_after",
            Fault::Slow => "slow",
        }
    }

    /// Every fault, in the order [`Scenario::chaos`] cycles through them.
    pub const ALL: [Fault; 7] = [
        Fault::Partial,
        Fault::Throttle,
        Fault::Unavailable,
        Fault::Error500,
        Fault::ResetBefore,
        Fault::ResetAfter,
        Fault::Slow,
    ];
}

/// One way the proxy breaks an S3 `GetObject` call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum S3Fault {
    /// The headers and half the body, then the connection is reset.
    ResetBody,
    /// The headers (with the full `Content-Length`) and half the body, then a clean close.
    TruncateBody,
    /// 503 `SlowDown`, nothing forwarded.
    SlowDown,
    /// 500 `InternalError`, nothing forwarded.
    Error500,
    /// 403 `AccessDenied`, nothing forwarded.
    Denied,
    /// The whole body, in ten pieces spread over the scenario's delay.
    SlowBody,
}

impl S3Fault {
    fn name(self) -> &'static str {
        match self {
            S3Fault::ResetBody => "reset_body",
            S3Fault::TruncateBody => "truncate_body",
            S3Fault::SlowDown => "slowdown",
            S3Fault::Error500 => "error500",
            S3Fault::Denied => "denied",
            S3Fault::SlowBody => "slow_body",
        }
    }
}

/// Which faults the proxy injects: the first `count` `PutRecordBatch` calls get `faults` in
/// turn, the first `s3_count` `GetObject` calls (of keys containing `s3_key`) get `s3_faults`;
/// later calls pass through.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    faults: Vec<Fault>,
    count: u32,
    s3_faults: Vec<S3Fault>,
    s3_count: u32,
    s3_key: String,
    delay: Duration,
}

impl Scenario {
    /// No faults: a plain forwarding proxy.
    pub fn pass() -> Self {
        Scenario::new(&[], 0)
    }

    /// The first `count` calls get `faults`, cycling.
    pub fn new(faults: &[Fault], count: u32) -> Self {
        Scenario {
            faults: faults.to_vec(),
            count,
            s3_faults: Vec::new(),
            s3_count: 0,
            s3_key: String::new(),
            delay: Duration::from_secs(1),
        }
    }

    /// No Firehose faults; the first `count` `GetObject` calls get `faults`, cycling.
    pub fn s3(faults: &[S3Fault], count: u32) -> Self {
        Scenario {
            s3_faults: faults.to_vec(),
            s3_count: count,
            ..Scenario::pass()
        }
    }

    /// Faults only `GetObject` calls of keys containing `key`.
    pub fn for_key(mut self, key: &str) -> Self {
        self.s3_key = key.to_owned();
        self
    }

    /// Every fault in turn for the first `count` calls.
    pub fn chaos(count: u32) -> Self {
        Scenario::new(&Fault::ALL, count)
    }

    /// How long [`Fault::Slow`] holds the answer and [`S3Fault::SlowBody`] spreads the body.
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// A running fault-injecting proxy in front of an endpoint.
pub struct FaultProxy {
    _process: Process,
    endpoint: String,
}

impl FaultProxy {
    /// Starts `fault_proxy.py` forwarding to `upstream` with `scenario`.
    pub fn start(upstream: &str, scenario: &Scenario) -> Result<FaultProxy, Error> {
        let bin = venv_bin()?;
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("fault_proxy.py");
        let faults: Vec<&str> = scenario.faults.iter().map(|fault| fault.name()).collect();
        let s3_faults: Vec<&str> = scenario.s3_faults.iter().map(|fault| fault.name()).collect();
        let mut command = Command::new(bin.join("python"));
        command
            .arg(script)
            .args(["--upstream", upstream])
            .args(["--faults", &faults.join(",")])
            .args(["--count", &scenario.count.to_string()])
            .args(["--s3-faults", &s3_faults.join(",")])
            .args(["--s3-count", &scenario.s3_count.to_string()])
            .args(["--s3-key", &scenario.s3_key])
            .args(["--delay", &scenario.delay.as_secs_f64().to_string()])
            .stdout(Stdio::piped());
        let mut process = Process::spawn("fault_proxy", command)?;
        let stdout = process.child.stdout.take().ok_or_else(|| Error::Start {
            what: "fault_proxy",
            detail: "no stdout".to_owned(),
        })?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let port = line
            .strip_prefix("LISTENING ")
            .and_then(|port| port.trim().parse::<u16>().ok())
            .ok_or_else(|| Error::Start {
                what: "fault_proxy",
                detail: format!("said {line:?}: {}", process.log_tail()),
            })?;
        Ok(FaultProxy {
            _process: process,
            endpoint: format!("http://127.0.0.1:{port}"),
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The proxy's counters: `put_record_batch_calls`, `entries_received`, `entries_forwarded`,
    /// `entries_failed`, `injected` (per fault), `get_object_calls`, `range_requests` and
    /// `injected_s3` (per S3 fault).
    pub fn stats(&self) -> Result<serde_json::Value, Error> {
        let address = self.endpoint.trim_start_matches("http://");
        let mut stream = TcpStream::connect(address)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        write!(
            stream,
            "GET /__proxy/stats HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
        )?;
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, body)| body)
            .unwrap_or_default();
        serde_json::from_str(body).map_err(|error| Error::Aws(format!("proxy stats: {error}")))
    }
}

/// SDK configuration for `endpoint` with dummy credentials in [`REGION`].
pub async fn sdk_config(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "testkit"))
        .endpoint_url(endpoint)
        .load()
        .await
}

/// An S3 client for moto: path-style addressing, checksums only where required.
pub fn s3_client(sdk: &SdkConfig) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(true)
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// A Firehose client.
pub fn firehose_client(sdk: &SdkConfig) -> aws_sdk_firehose::Client {
    aws_sdk_firehose::Client::new(sdk)
}

/// Creates a bucket.
pub async fn create_bucket(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<(), Error> {
    s3.create_bucket()
        .bucket(bucket)
        .send()
        .await
        .map_err(|error| aws_error("CreateBucket", error))?;
    Ok(())
}

/// Puts a small object.
pub async fn put_object(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    body: Vec<u8>,
) -> Result<(), Error> {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body))
        .send()
        .await
        .map_err(|error| aws_error("PutObject", error))?;
    Ok(())
}

/// Uploads an object in parts (each but the last at least 5 MiB), so a large object never has
/// to be in memory whole.
pub async fn put_object_in_parts(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    parts: impl Iterator<Item = Vec<u8>>,
) -> Result<(), Error> {
    let upload = s3
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|error| aws_error("CreateMultipartUpload", error))?;
    let upload_id = upload.upload_id().unwrap_or_default();
    let mut completed = Vec::new();
    for (index, part) in parts.enumerate() {
        let number = index as i32 + 1;
        let uploaded = s3
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(number)
            .body(ByteStream::from(part))
            .send()
            .await
            .map_err(|error| aws_error("UploadPart", error))?;
        completed.push(
            CompletedPart::builder()
                .part_number(number)
                .set_e_tag(uploaded.e_tag().map(str::to_owned))
                .build(),
        );
    }
    let completion = s3
        .complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(completed))
                .build(),
        )
        .send()
        .await;
    match completion {
        Ok(_) => Ok(()),
        // moto 5.2 answers with a `CompleteMultipartUploadResponse` root element, which the SDK
        // does not parse; the upload did complete (HTTP 200) if the object is there.
        Err(error)
            if error
                .raw_response()
                .is_some_and(|raw| raw.status().as_u16() == 200) =>
        {
            s3.head_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .map_err(|error| aws_error("HeadObject after CompleteMultipartUpload", error))?;
            Ok(())
        }
        Err(error) => Err(aws_error("CompleteMultipartUpload", error)),
    }
}

/// Creates a Direct PUT delivery stream writing gzip to `bucket` under `prefix` (moto writes one
/// uncompressed object per `PutRecordBatch` call, immediately).
pub async fn create_s3_delivery_stream(
    firehose: &aws_sdk_firehose::Client,
    name: &str,
    bucket: &str,
    prefix: &str,
) -> Result<(), Error> {
    let destination = ExtendedS3DestinationConfiguration::builder()
        .role_arn("arn:aws:iam::123456789012:role/firehose-delivery")
        .bucket_arn(format!("arn:aws:s3:::{bucket}"))
        .prefix(prefix)
        .compression_format(CompressionFormat::Gzip)
        .build()
        .map_err(|error| aws_error("ExtendedS3DestinationConfiguration", error))?;
    firehose
        .create_delivery_stream()
        .delivery_stream_name(name)
        .delivery_stream_type(DeliveryStreamType::DirectPut)
        .extended_s3_destination_configuration(destination)
        .send()
        .await
        .map_err(|error| aws_error("CreateDeliveryStream", error))?;
    Ok(())
}

/// Keys under `prefix`, in order.
pub async fn list_keys(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Result<Vec<String>, Error> {
    let mut keys = Vec::new();
    let mut token = None;
    loop {
        let page = s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_continuation_token(token)
            .send()
            .await
            .map_err(|error| aws_error("ListObjectsV2", error))?;
        keys.extend(
            page.contents()
                .iter()
                .filter_map(|object| object.key().map(str::to_owned)),
        );
        token = page.next_continuation_token().map(str::to_owned);
        if token.is_none() {
            return Ok(keys);
        }
    }
}

/// An object's bytes, gunzipped if they are gzip (told by magic bytes: real Firehose
/// compresses, moto does not).
pub async fn read_object(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<Vec<u8>, Error> {
    let object = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|error| aws_error("GetObject", error))?;
    let bytes = object
        .body
        .collect()
        .await
        .map_err(|error| aws_error("GetObject body", error))?
        .into_bytes();
    let mut decoded = Decoded::new(&bytes[..], u64::MAX).map_err(|error| Error::Aws(error.to_string()))?;
    let mut out = Vec::new();
    decoded.read_to_end(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn moto_and_the_proxy_answer_and_the_proxy_counts() {
        let moto = Moto::start().unwrap();
        let proxy = FaultProxy::start(moto.endpoint(), &Scenario::new(&[Fault::Throttle], 1)).unwrap();
        let sdk = sdk_config(proxy.endpoint()).await;
        let s3 = s3_client(&sdk);
        create_bucket(&s3, "testkit").await.unwrap();
        put_object(&s3, "testkit", "a/b.txt", b"hello\n".to_vec())
            .await
            .unwrap();
        assert_eq!(list_keys(&s3, "testkit", "a/").await.unwrap(), ["a/b.txt"]);
        assert_eq!(read_object(&s3, "testkit", "a/b.txt").await.unwrap(), b"hello\n");
        let stats = proxy.stats().unwrap();
        assert!(stats["requests"].as_u64().unwrap() >= 4, "{stats}");
        assert_eq!(stats["put_record_batch_calls"], 0);
    }

    #[test]
    fn a_missing_venv_names_make_venv() {
        let error = Error::MissingTool {
            tool: "moto_server",
            venv: ".venv/bin".into(),
        };
        assert!(error.to_string().contains("make venv"));
    }
}
