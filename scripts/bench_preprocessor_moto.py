"""One raw log object through the real preprocessor binary, against moto, under a Lambda Runtime API.

Called by scripts/bench-preprocessor-moto.sh, which starts moto_server and builds the binaries.
This script deploys the template's buckets and delivery stream into moto (with the template's
default parameters, as tests/e2e does), uploads FILE under the raw log prefix, then runs the
function the way Lambda does: the binary starts with the template's environment and pulls one S3
event from a local Runtime API (the HTTP interface Lambda gives every custom runtime:
GET .../invocation/next, POST .../invocation/ID/response or /error). When the response arrives,
the function's own peak RSS (VmHWM of its process, start-up included, which is what Lambda reports
as "Max Memory Used") is read, and the process is stopped.

Prints object size, seconds from event to response, MB/s, the function's CPU seconds (start-up
included), peak RSS, the response, and the lines
of the object against the LinesRead and Records of the function's metrics line (EMF on stdout).
Exits non-zero if the function answered with an error or did not answer in time.

Usage: python scripts/bench_preprocessor_moto.py --endpoint URL --binary PATH FILE
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The end-to-end test's reading of template.yaml: function environments, bucket and stream names.
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

import boto3  # noqa: E402
from boto3.s3.transfer import TransferConfig  # noqa: E402

import events  # noqa: E402
from deploy import DUMMY_CREDENTIALS, Deployment  # noqa: E402
from stack import REGION  # noqa: E402

API = "/2018-06-01/runtime"
# The template's PreprocessorMemorySize default; the runtime reads it from the environment.
MEMORY_MB = 512
# Lambda's longest timeout: the bench measures speed, so the deadline must not cut it short.
TIMEOUT_SECONDS = 900


class QuietServer(ThreadingHTTPServer):
    """Stopping the function drops its idle poll for the next event; that is not an error."""

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class RuntimeApi:
    """A Lambda Runtime API that hands out one event and records the function's answer."""

    def __init__(self, event: dict):
        self.event = json.dumps(event).encode()
        self.request_id = str(uuid.uuid4())
        self.handed_out_at: float | None = None
        self.answered_at: float | None = None
        self.outcome: str | None = None
        self.body: bytes = b""
        self.answered = threading.Event()
        self.server = QuietServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def address(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{host}:{port}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_: object) -> None:
                pass

            def _reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                if self.path != f"{API}/invocation/next":
                    self._reply(404)
                    return
                if api.handed_out_at is not None:
                    # One event per run: the next poll waits, as it would on an idle function.
                    api.answered.wait()
                    time.sleep(3600)
                    return
                api.handed_out_at = time.monotonic()
                deadline_ms = int((time.time() + TIMEOUT_SECONDS) * 1000)
                self._reply(200, api.event, {
                    "Content-Type": "application/json",
                    "Lambda-Runtime-Aws-Request-Id": api.request_id,
                    "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
                    "Lambda-Runtime-Invoked-Function-Arn":
                        f"arn:aws:lambda:{REGION}:123456789012:function:bench-preprocessor",
                    "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000;Sampled=0",
                })

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                for outcome in ("response", "error"):
                    if self.path == f"{API}/invocation/{api.request_id}/{outcome}":
                        api.answered_at, api.outcome, api.body = time.monotonic(), outcome, body
                        self._reply(202)
                        api.answered.set()
                        return
                if self.path == f"{API}/init/error":
                    api.outcome, api.body = "init error", body
                    self._reply(202)
                    api.answered.set()
                    return
                self._reply(404)

        return Handler


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmHWM for process {pid}")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of process `pid` so far: unlike wall time, not inflated by
    other work on a shared machine."""
    # The fields after the command name, which is in parentheses and may hold spaces.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    user, system = int(fields[11]), int(fields[12])
    return (user + system) / os.sysconf("SC_CLK_TCK")


def metrics(stdout: Path) -> dict:
    """The function's EMF metrics line (the JSON line with an `_aws` key), or {} if none."""
    for line in stdout.read_text(errors="replace").splitlines():
        try:
            document = json.loads(line)
        except ValueError:
            continue
        if isinstance(document, dict) and "_aws" in document:
            return document
    return {}


def count_lines(path: Path) -> int:
    with path.open("rb") as file:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: file.read(1 << 24), b""))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint", required=True, help="moto_server URL")
    parser.add_argument("--binary", required=True, type=Path, help="the release preprocessor")
    parser.add_argument("file", type=Path, help="the raw log object to upload and process")
    args = parser.parse_args(argv)

    deployment = Deployment(overrides={})
    session = boto3.session.Session(
        aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=REGION,
    )
    s3 = session.client("s3", endpoint_url=args.endpoint)
    firehose = session.client("firehose", endpoint_url=args.endpoint)
    if deployment.stream_name not in firehose.list_delivery_streams()["DeliveryStreamNames"]:
        deployment.create(s3, firehose)

    bucket, prefix = deployment.source("preprocessor")
    key = f"{prefix}{args.file.name}"
    s3.upload_file(str(args.file), bucket, key, Config=TransferConfig(multipart_chunksize=64 << 20))
    head = s3.head_object(Bucket=bucket, Key=key)
    api = RuntimeApi(events.s3_notification([(bucket, key, head["ContentLength"], head["ETag"])]))

    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        **deployment.function_environment("preprocessor", args.endpoint),
        "AWS_LAMBDA_RUNTIME_API": api.address,
        "AWS_LAMBDA_FUNCTION_NAME": "bench-preprocessor",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(MEMORY_MB),
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/bench-preprocessor",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        # Errors only: the bench measures the work, not log printing.
        "RUST_LOG": "error",
    }
    with tempfile.TemporaryDirectory() as work:
        stdout = Path(work) / "stdout"
        with stdout.open("wb") as out, subprocess.Popen([str(args.binary)], env=environment, stdout=out) as function:
            try:
                answered = api.answered.wait(TIMEOUT_SECONDS + 60)
                running = function.poll() is None
                rss_kib = peak_rss_kib(function.pid) if running else None
                cpu = cpu_seconds(function.pid) if running else None
            finally:
                function.kill()
        emf = metrics(stdout)
    api.server.shutdown()

    if not answered:
        print(f"{args.file.name}: no answer in {TIMEOUT_SECONDS} s", file=sys.stderr)
        return 1
    response = api.body.decode(errors="replace")
    if api.outcome != "response" or rss_kib is None:
        print(f"{args.file.name}: {api.outcome}: {response}", file=sys.stderr)
        return 1
    size = head["ContentLength"]
    seconds = max(api.answered_at - api.handed_out_at, 0.001)
    print(f"{size / 1e6:9.1f} MB  {seconds:7.2f} s  {size / seconds / 1e6:7.1f} MB/s  "
          f"CPU {cpu:6.2f} s  peak RSS {rss_kib / 1024:6.1f} MiB   response {response}")
    lines_read, records = (f"{emf[name]:.0f}" if name in emf else "?" for name in ("LinesRead", "Records"))
    print(f"{'':12}lines in the object {count_lines(args.file)}, LinesRead {lines_read}, Records {records}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
