"""A fault-injecting HTTP proxy for tests: forwards to moto, breaks Firehose and S3 calls on purpose.

    python fault_proxy.py --upstream http://127.0.0.1:PORT --faults partial,throttle --count 6 [--delay 2]
    python fault_proxy.py --upstream http://127.0.0.1:PORT --s3-faults reset_body,slowdown --s3-count 4 \
        [--s3-key part-of-a-key] [--delay 2]

Every request is forwarded to the upstream unchanged, except the first COUNT Firehose
PutRecordBatch calls, which get the faults named in --faults in turn:

  partial       forward every other entry only, answer HTTP 200 with FailedPutCount and a
                per-entry ErrorCode for the others (so the failed entries really did not land)
  throttle      answer 400 ThrottlingException without forwarding
  unavailable   answer 503 ServiceUnavailableException without forwarding
  error500      answer 500 InternalFailure without forwarding
  reset_before  close the connection without forwarding or answering
  reset_after   forward, then close the connection without answering (the records did land)
  slow          forward, then wait --delay seconds before answering

The first S3-COUNT S3 GetObject calls (whose path contains --s3-key, if given) get the faults
named in --s3-faults in turn; Range requests (a client resuming a broken body) are forwarded
with their Range and If-Match headers, and count as calls:

  reset_body     forward, answer the headers and half the body, then reset the connection
  truncate_body  forward, answer the headers (full Content-Length) and half the body, then close
  slowdown       answer 503 SlowDown without forwarding
  error500       answer 500 InternalError without forwarding
  denied         answer 403 AccessDenied without forwarding
  slow_body      forward, then send the body in ten pieces spread over --delay seconds

It prints "LISTENING <port>" when ready, answers GET /__proxy/stats with its counters as JSON,
and exits as soon as its standard input closes, so it never outlives the test that started it.
Standard library only: it runs with the project venv's python.
"""

import argparse
import http.client
import json
import os
import socket
import struct
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FAULTS = ("partial", "throttle", "unavailable", "error500", "reset_before", "reset_after", "slow")
S3_FAULTS = ("reset_body", "truncate_body", "slowdown", "error500", "denied", "slow_body")
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"}
JSON_TYPE = "application/x-amz-json-1.1"


class State:
    """Which fault comes next, and what was done so far."""

    def __init__(self, faults, count, delay, s3_faults=(), s3_count=0, s3_key=""):
        self.faults = faults
        self.count = count
        self.delay = delay
        self.s3_faults = list(s3_faults)
        self.s3_count = s3_count
        self.s3_key = s3_key
        self.lock = threading.Lock()
        self.stats = {
            "requests": 0,
            "put_record_batch_calls": 0,
            "entries_received": 0,
            "entries_forwarded": 0,
            "entries_failed": 0,
            "injected": {name: 0 for name in FAULTS},
            "get_object_calls": 0,
            "range_requests": 0,
            "injected_s3": {name: 0 for name in S3_FAULTS},
        }

    def next_fault(self, entries):
        with self.lock:
            call = self.stats["put_record_batch_calls"]
            self.stats["put_record_batch_calls"] += 1
            self.stats["entries_received"] += entries
            if call >= self.count or not self.faults:
                return None
            fault = self.faults[call % len(self.faults)]
            self.stats["injected"][fault] += 1
            return fault

    def next_s3_fault(self, ranged):
        with self.lock:
            call = self.stats["get_object_calls"]
            self.stats["get_object_calls"] += 1
            self.stats["range_requests"] += int(ranged)
            if call >= self.s3_count or not self.s3_faults:
                return None
            fault = self.s3_faults[call % len(self.s3_faults)]
            self.stats["injected_s3"][fault] += 1
            return fault

    def add(self, key, value):
        with self.lock:
            self.stats[key] += value

    def snapshot(self):
        with self.lock:
            return json.loads(json.dumps(self.stats))


class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state = None
    upstream = None

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.handle_request()

    do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_GET

    def handle_request(self):
        self.state.add("requests", 1)
        if self.command == "GET" and self.path == "/__proxy/stats":
            body = json.dumps(self.state.snapshot()).encode()
            self.reply(200, [("Content-Type", "application/json")], body)
            return
        body = self.read_body()
        if self.headers.get("X-Amz-Target", "").endswith(".PutRecordBatch"):
            self.put_record_batch(body)
            return
        if self.is_get_object():
            self.get_object(body)
            return
        self.reply(*self.forward(body))

    def is_get_object(self):
        """A GetObject call (path-style, as the tests' clients address moto) of a matching key."""
        if self.command != "GET" or self.headers.get("X-Amz-Target"):
            return False
        path, _, query = self.path.partition("?")
        if "x-id=GetObject" not in query and (query or path.count("/") < 2):
            return False
        return self.state.s3_key in urllib.parse.unquote(path)

    def get_object(self, body):
        fault = self.state.next_s3_fault("Range" in self.headers)
        if fault == "slowdown":
            self.s3_error(503, "SlowDown", "Please reduce your request rate. (injected)")
        elif fault == "error500":
            self.s3_error(500, "InternalError", "We encountered an internal error. (injected)")
        elif fault == "denied":
            self.s3_error(403, "AccessDenied", "Access Denied (injected)")
        elif fault in ("reset_body", "truncate_body", "slow_body"):
            status, headers, data = self.forward(body)
            if status not in (200, 206) or not data:
                self.reply(status, headers, data)
            elif fault == "slow_body":
                self.reply_slowly(status, headers, data)
            else:
                self.reply_half(status, headers, data, reset=fault == "reset_body")
        else:
            self.reply(*self.forward(body))

    def s3_error(self, status, code, message):
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f"<Error><Code>{code}</Code><Message>{message}</Message><RequestId>INJECTED</RequestId></Error>"
        ).encode()
        self.reply(status, [("Content-Type", "application/xml")], body)

    def send_head(self, status, headers, length):
        self.send_response(status)
        for name, value in headers:
            if name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(length))
        self.end_headers()

    def reply_half(self, status, headers, data, reset):
        """Announces the whole body, sends half of it, then resets or closes the connection."""
        try:
            self.send_head(status, headers, len(data))
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass
        if reset:
            self.reset()
        else:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def reply_slowly(self, status, headers, data):
        """Sends the whole body in ten pieces spread over the scenario's delay."""
        try:
            self.send_head(status, headers, len(data))
            piece = max(1, -(-len(data) // 10))
            for at in range(0, len(data), piece):
                self.wfile.write(data[at : at + piece])
                self.wfile.flush()
                time.sleep(self.state.delay / 10)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def put_record_batch(self, body):
        try:
            request = json.loads(body)
            records = request.get("Records", [])
        except ValueError:
            request, records = None, []
        fault = self.state.next_fault(len(records))
        if fault == "partial" and request is not None:
            self.partial(request, records)
        elif fault == "throttle":
            self.error(400, "ThrottlingException", "Rate exceeded (injected)")
        elif fault == "unavailable":
            self.error(503, "ServiceUnavailableException", "Slow down (injected)")
        elif fault == "error500":
            self.error(500, "InternalFailure", "Internal failure (injected)")
        elif fault == "reset_before":
            self.reset()
        elif fault == "reset_after":
            self.forward(body, entries=len(records))
            self.reset()
        elif fault == "slow":
            answer = self.forward(body, entries=len(records))
            time.sleep(self.state.delay)
            self.reply(*answer)
        else:
            self.reply(*self.forward(body, entries=len(records)))

    def partial(self, request, records):
        """Forwards odd entries only; even ones fail with a per-entry error, as Firehose does."""
        failed = set(range(0, len(records), 2))
        kept = [record for index, record in enumerate(records) if index not in failed]
        upstream = []
        if kept:
            status, headers, data = self.forward(json.dumps(dict(request, Records=kept)).encode(), entries=len(kept))
            if status != 200:
                self.reply(status, headers, data)
                return
            upstream = json.loads(data).get("RequestResponses", [])
        self.state.add("entries_failed", len(failed))
        answers = iter(upstream)
        responses = []
        for index in range(len(records)):
            if index in failed:
                responses.append({"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "Slow down (injected)"})
            else:
                responses.append(next(answers, {"RecordId": "missing"}))
        body = json.dumps({"FailedPutCount": len(failed), "Encrypted": False, "RequestResponses": responses})
        self.reply(200, [("Content-Type", JSON_TYPE)], body.encode())

    def error(self, status, code, message):
        body = json.dumps({"__type": code, "message": message}).encode()
        self.reply(status, [("Content-Type", JSON_TYPE), ("x-amzn-ErrorType", code)], body)

    def reset(self):
        """Closes the connection with a TCP reset and no response at all."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def forward(self, body, entries=0):
        host, port = self.upstream
        headers = {name: value for name, value in self.headers.items() if name.lower() not in HOP_BY_HOP}
        headers["Content-Length"] = str(len(body))
        connection = http.client.HTTPConnection(host, port, timeout=300)
        try:
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
            answer_headers = [(n, v) for n, v in response.getheaders() if n.lower() not in HOP_BY_HOP]
            if response.status == 200:
                self.state.add("entries_forwarded", entries)
            return response.status, answer_headers, data
        finally:
            connection.close()

    def reply(self, status, headers, data):
        try:
            self.send_response(status)
            has_length = False
            for name, value in headers:
                if name.lower() == "content-length":
                    # A HEAD answer keeps the upstream length; anything else gets the body's.
                    if self.command != "HEAD":
                        continue
                    has_length = True
                self.send_header(name, value)
            if not has_length:
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (a timeout in the slow scenario): nothing to answer to.
            self.close_connection = True


def watch_stdin():
    """Exits when the parent test process goes away and its end of our stdin closes."""
    sys.stdin.buffer.read()
    os._exit(0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--faults", default="")
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--delay", type=float, default=1.0)
    parser.add_argument("--s3-faults", default="")
    parser.add_argument("--s3-count", type=int, default=0)
    parser.add_argument("--s3-key", default="")
    args = parser.parse_args()
    faults = [name for name in args.faults.split(",") if name]
    unknown = [name for name in faults if name not in FAULTS]
    if unknown:
        parser.error(f"unknown faults {unknown}; known: {', '.join(FAULTS)}")
    s3_faults = [name for name in args.s3_faults.split(",") if name]
    unknown = [name for name in s3_faults if name not in S3_FAULTS]
    if unknown:
        parser.error(f"unknown S3 faults {unknown}; known: {', '.join(S3_FAULTS)}")
    upstream = urllib.parse.urlsplit(args.upstream)
    Proxy.state = State(faults, args.count, args.delay, s3_faults, args.s3_count, args.s3_key)
    Proxy.upstream = (upstream.hostname, upstream.port or 80)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    server.daemon_threads = True
    threading.Thread(target=watch_stdin, daemon=True).start()
    print(f"LISTENING {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
