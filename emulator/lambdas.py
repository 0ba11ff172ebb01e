"""A local Lambda service: functions run as local processes that speak the real Lambda Runtime
API, served by cargo-lambda's local control plane (`cargo-lambda lambda watch
--only-lambda-apis`, PyPI `cargo-lambda`, pinned in requirements-nodeps.txt).

`POST /_emulator/lambda?region=R` with `{"name", "command", "environment", "timeout",
"concurrency"}` registers a function (see docs/emulator.md). Each of its `concurrency` execution
environments is:

* one cargo-lambda control plane on a free loopback port (its Runtime API under `/.rt`, its
  Invoke API at `/2015-03-31/functions/_/invocations`);
* a Runtime API front in this process on another free port, which the function's
  `AWS_LAMBDA_RUNTIME_API` names as `127.0.0.1:PORT` (as on Lambda: runtimes build
  `http://{api}/2018-06-01/runtime/...`; cargo-lambda's own `http://[::]:PORT/.rt` form works
  only for runtimes that keep a base path and accept a scheme). The front forwards every request
  to the control plane's `/.rt`, and on `invocation/next` it replaces cargo-lambda's constant
  `lambda-runtime-deadline-ms: 600000` by the invocation's real deadline (epoch ms) and its
  `lambda-runtime-invoked-function-arn: function-arn` by the function's ARN;
* the function's process (its stdout and stderr lines go to CloudWatch Logs group
  `/aws/lambda/<name>` and to `lambda-<region>-<name>.log` in the log directory).

One environment runs one invocation at a time; an invocation waits for a free one. What
cargo-lambda does not report is detected here: no answer within `timeout` seconds (`Task timed
out after N.NN seconds`) and a process that exits mid-invocation (`Runtime exited`) are errors,
and that environment (control plane, front and process) is torn down and started afresh, as
Lambda does with an environment after a timeout or a crash. A runtime's POST to
`/invocation/{id}/error` is a function error (`Unhandled`).
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from moto.logs.models import logs_backends

ACCOUNT = "123456789012"
CARGO_LAMBDA = os.environ.get("EMU_CARGO_LAMBDA") or shutil.which(
    "cargo-lambda", path=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
START_TIMEOUT = 15.0   # seconds a control plane has to start listening
INIT_ALLOWANCE = 10.0  # seconds a new environment has to ask for its first event (Lambda's init)
EMULATOR_URL = ""      # set by emulator.main(): the functions' default AWS_ENDPOINT_URL
_LOCK = threading.RLock()
_LOG_LOCK = threading.Lock()
_PROJECT: Path | None = None
_LOG_DIR: Path | None = None
FUNCTIONS: dict[tuple[str, str], "Function"] = {}   # (region, name) -> the function


class LambdaError(Exception):
    """A request to the control endpoint that cannot be served (HTTP 400)."""


def function_arn(region: str, name: str) -> str:
    return f"arn:aws:lambda:{region}:{ACCOUNT}:function:{name}"


def log_dir() -> Path:
    """`$EMU_LOG_DIR`, else a temporary directory made once per emulator."""
    global _LOG_DIR
    with _LOCK:
        if _LOG_DIR is None:
            configured = os.environ.get("EMU_LOG_DIR")
            _LOG_DIR = Path(configured) if configured else Path(tempfile.mkdtemp(prefix="emu-logs-"))
            _LOG_DIR.mkdir(parents=True, exist_ok=True)
        return _LOG_DIR


def _project() -> Path:
    """cargo-lambda runs only inside a Cargo project: a dummy one, made once."""
    global _PROJECT
    with _LOCK:
        if _PROJECT is None:
            d = Path(tempfile.mkdtemp(prefix="emu-cargo-lambda-"))
            (d / "src").mkdir()
            (d / "src" / "main.rs").write_text("fn main() {}\n")
            (d / "Cargo.toml").write_text(
                '[package]\nname = "emulator-functions"\nversion = "0.1.0"\nedition = "2021"\n\n'
                "[dependencies]\n\n[workspace]\n")
            _PROJECT = d
        return _PROJECT


def _control_plane_path() -> str:
    """cargo-lambda runs `cargo metadata`: PATH, plus cargo's own bin directory if cargo is not
    on it."""
    path = os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin")
    if shutil.which("cargo", path=path):
        return path
    home = Path(os.environ.get("CARGO_HOME") or Path.home() / ".cargo") / "bin"
    if not shutil.which("cargo", path=str(home)):
        raise LambdaError("cargo-lambda needs cargo (it reads a Cargo project's metadata): none on "
                          f"PATH or in {home}")
    return path + os.pathsep + str(home)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _kill_group(process: subprocess.Popen[bytes] | None) -> None:
    """SIGKILL to the process's group (its children too), then reaps it."""
    if process is None:
        return
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


@dataclass
class Result:
    """One invocation: `payload` (the function's answer, bytes) or `error` (why it failed)."""
    request_id: str = ""
    payload: bytes | None = None
    error: str | None = None
    started_at: float = field(default_factory=time.time)
    seconds: float = 0.0


class Call:
    """An invocation under way in a thread: `done` is set once `result` is there."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: Result | None = None


# --- the Runtime API front ---------------------------------------------------------------------

class _Front(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, env: "Environment"):
        self.env = env
        super().__init__(("127.0.0.1", 0), _FrontHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a runtime gone (killed with its environment) mid-request


class _FrontHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Front

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        pass

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
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

    def _proxy(self) -> None:
        env = self.server.env
        body = self._body()
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ("host", "content-length", "transfer-encoding", "connection")}
        conn = http.client.HTTPConnection("127.0.0.1", env.control_port)
        env.upstreams.add(conn)
        try:
            conn.request(self.command, "/.rt" + self.path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            self.send_error(502)
            return
        finally:
            conn.close()
            env.upstreams.discard(conn)
        out = [(k, v) for k, v in response.getheaders()
               if k.lower() not in ("content-length", "transfer-encoding", "connection")]
        path = self.path.split("?", 1)[0]
        if path.endswith("/runtime/invocation/next") and response.status == 200:
            request_id = response.getheader("lambda-runtime-aws-request-id", "")
            deadline_ms = int((time.time() + env.function.timeout) * 1000)
            out = [(k, v) for k, v in out if k.lower() not in (
                "lambda-runtime-deadline-ms", "lambda-runtime-invoked-function-arn")]
            out += [("Lambda-Runtime-Deadline-Ms", str(deadline_ms)),
                    ("Lambda-Runtime-Invoked-Function-Arn", env.function.arn)]
            env.picked(request_id)
        elif path.endswith("/runtime/init/error"):
            env.init_error = body.decode(errors="replace") or "{}"
        self.send_response(response.status)
        for k, v in out:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = _proxy


# --- execution environments ------------------------------------------------------------------

class Environment:
    """One execution environment: a control plane, its front and the function's process."""

    def __init__(self, function: "Function", index: int):
        self.function = function
        self.index = index
        self.control: subprocess.Popen[bytes] | None = None
        self.control_port = 0
        self.front: _Front | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.upstreams: set[http.client.HTTPConnection] = set()
        self.busy = False
        self.ready = False
        self.generation = 0
        self.stream = ""
        self.request_id: str | None = None
        self.picked_at: float | None = None
        self.picked_event = threading.Event()
        self.init_error: str | None = None

    # lifecycle

    def start(self) -> None:
        fn = self.function
        if not CARGO_LAMBDA:
            raise LambdaError("cargo-lambda is not installed (scripts/setup-venv installs it)")
        self.control_port = _free_port()
        control_log = open(log_dir() / f"cargo-lambda-{fn.region}-{fn.name}-{self.index}.log", "ab")
        self.control = subprocess.Popen(
            [CARGO_LAMBDA, "lambda", "watch", "--only-lambda-apis", "--ignore-changes",
             "-A", "127.0.0.1", "-P", str(self.control_port)],
            cwd=_project(), stdin=subprocess.DEVNULL, stdout=control_log, stderr=control_log,
            env={**os.environ, "PATH": _control_plane_path(), "CARGO_NET_OFFLINE": "true",
                 "NO_COLOR": "1"},
            start_new_session=True)
        control_log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.control_port), timeout=1).close()
                break
            except OSError:
                if self.control.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise LambdaError(f"cargo-lambda did not start for {fn.name}; see {control_log.name}")
                time.sleep(0.05)
        self.front = _Front(self)
        threading.Thread(target=self.front.serve_forever, daemon=True).start()
        day = datetime.now(timezone.utc).strftime("%Y/%m/%d")
        self.stream = f"{day}/[$LATEST]{uuid.uuid4().hex}"
        env = {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "LANG": "C.UTF-8", "TZ": ":UTC",
            "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_SESSION_TOKEN": "test",
            "AWS_ENDPOINT_URL": EMULATOR_URL,
            **fn.environment,
            "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{self.front.server_address[1]}",
            "AWS_LAMBDA_FUNCTION_NAME": fn.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(int(fn.timeout)),
            "AWS_REGION": fn.region, "AWS_DEFAULT_REGION": fn.region,
            "AWS_LAMBDA_LOG_GROUP_NAME": fn.log_group,
            "AWS_LAMBDA_LOG_STREAM_NAME": self.stream,
            "LAMBDA_TASK_ROOT": fn.cwd,
        }
        if not env["AWS_ENDPOINT_URL"]:
            env.pop("AWS_ENDPOINT_URL")
        self.picked_event.clear()
        self.request_id = self.picked_at = self.init_error = None
        try:
            self.process = subprocess.Popen(
                fn.command, env=env, cwd=fn.cwd, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        except OSError as exc:
            self.stop()
            raise LambdaError(f"cannot run {fn.command[0]}: {exc}") from exc
        self.generation += 1
        for pipe in (self.process.stdout, self.process.stderr):
            threading.Thread(target=self._read, args=(pipe,), daemon=True).start()
        threading.Thread(target=self._monitor, args=(self.process, self.generation), daemon=True).start()
        self.ready = True

    def stop(self) -> None:
        self.ready = False
        _kill_group(self.process)
        _kill_group(self.control)
        front, self.front = self.front, None
        if front is not None:
            def close() -> None:
                front.shutdown()
                front.server_close()
            threading.Thread(target=close, daemon=True).start()
        for conn in list(self.upstreams):
            try:
                conn.close()
            except OSError:
                pass

    def restart(self) -> None:
        with self.function.cond:
            self.stop()
            if self.function.stopped:
                return
            try:
                self.start()
            except LambdaError as exc:
                self.function.log_line(f"emulator: cannot restart the environment: {exc}", self.stream)
            self.function.cond.notify_all()

    def _read(self, pipe: Any) -> None:
        stream = self.stream
        for raw in iter(pipe.readline, b""):
            line = raw.decode(errors="replace").rstrip("\r\n")
            if line:
                self.function.log_line(line, stream)
        pipe.close()

    def _monitor(self, process: subprocess.Popen[bytes], generation: int) -> None:
        """A process that exits while idle is replaced after a second (the next invocation
        would get a new environment on Lambda); one that exits while busy is the invoker's."""
        process.wait()
        time.sleep(1.0)
        fn = self.function
        with fn.cond:
            if fn.stopped or self.busy or self.generation != generation:
                return
        self.restart()

    def picked(self, request_id: str) -> None:
        self.request_id, self.picked_at = request_id, time.monotonic()
        self.function.log_line(f"START RequestId: {request_id} Version: $LATEST", self.stream)
        self.picked_event.set()

    # one invocation

    def run(self, payload: bytes) -> Result:
        fn = self.function
        result = Result()
        box: dict[str, Any] = {}
        finished = threading.Event()
        self.request_id, self.picked_at, self.init_error = None, None, None
        self.picked_event.clear()
        process, control_port = self.process, self.control_port

        def post() -> None:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", control_port)
                conn.request("POST", "/2015-03-31/functions/_/invocations", body=payload,
                             headers={"Content-Type": "application/json"})
                response = conn.getresponse()
                box["status"], box["body"] = response.status, response.read()
                conn.close()
            except OSError as exc:
                box["exc"] = exc
            finished.set()

        threading.Thread(target=post, daemon=True).start()
        dispatched = time.monotonic()
        broken = False
        while not finished.wait(0.05):
            started = self.picked_at or dispatched
            allowance = 0.0 if self.picked_at else INIT_ALLOWANCE
            if process is not None and process.poll() is not None:
                code = process.returncode
                how = f"signal: {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"
                result.error = (f"Runtime.ExitError: RequestId: {self.request_id or '-'} Error: "
                                f"Runtime exited with error: {how}")
                broken = True
                break
            if time.monotonic() - started > fn.timeout + allowance:
                stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"
                message = f"Task timed out after {fn.timeout:.2f} seconds"
                fn.log_line(f"{stamp} {self.request_id or '-'} {message}", self.stream)
                result.error = f"Sandbox.Timedout: {message}"
                broken = True
                break
            if fn.stopped:
                result.error = "ResourceNotFoundException: the function was deleted or replaced"
                broken = True
                break
        result.request_id = self.request_id or ""
        if not broken:
            if "exc" in box:
                result.error = f"ServiceException: {box['exc']}"
                broken = True
            elif self.init_error is not None:
                result.error = f"Runtime.InitError: {self.init_error}"
                broken = True
            elif box["status"] == 200:
                result.payload = box["body"]
            else:
                result.error = "Unhandled: " + _error_text(box["body"])
        result.seconds = time.monotonic() - dispatched
        if self.request_id:
            fn.log_line(f"END RequestId: {self.request_id}", self.stream)
            fn.log_line(f"REPORT RequestId: {self.request_id}\tDuration: {result.seconds * 1000:.2f} ms"
                        f"\tBilled Duration: {int(result.seconds * 1000) + 1} ms\tMemory Size: 128 MB",
                        self.stream)
        if broken and not fn.stopped:
            self.restart()
        return result


def _error_text(body: bytes) -> str:
    """A runtime's error document (`{"errorType", "errorMessage"}`) as one line."""
    try:
        doc = json.loads(body)
        if isinstance(doc, dict) and ("errorType" in doc or "errorMessage" in doc):
            return f"{doc.get('errorType', 'Error')}: {doc.get('errorMessage', '')}"
    except ValueError:
        pass
    return body.decode(errors="replace")


class Function:
    def __init__(self, region: str, name: str, command: list[str], environment: dict[str, str],
                 timeout: float, concurrency: int):
        self.region, self.name, self.command = region, name, command
        self.environment, self.timeout = environment, timeout
        self.arn = function_arn(region, name)
        self.log_group = f"/aws/lambda/{name}"
        self.log_file = log_dir() / f"lambda-{region}-{name}.log"
        self.cwd = str(Path(command[0]).parent) if os.path.isabs(command[0]) else os.getcwd()
        self.cond = threading.Condition(threading.RLock())
        self.stopped = False
        self.envs = [Environment(self, i) for i in range(concurrency)]

    def start(self) -> None:
        try:
            for env in self.envs:
                env.start()
        except LambdaError:
            self.stop()
            raise

    def stop(self) -> None:
        with self.cond, _LOG_LOCK:
            self.stopped = True  # nothing more lands in CloudWatch Logs (the region may be reset)
            self.cond.notify_all()
        for env in self.envs:
            env.stop()

    def log_line(self, line: str, stream: str) -> None:
        now = time.time()
        with _LOG_LOCK:
            with self.log_file.open("a", encoding="utf-8") as f:
                f.write(f"{datetime.fromtimestamp(now, timezone.utc).isoformat()} {stream} {line}\n")
            if self.stopped:
                return
            backend = logs_backends[ACCOUNT][self.region]
            try:
                if self.log_group not in backend.groups:
                    backend.create_log_group(self.log_group, {})
                if stream not in backend.groups[self.log_group].streams:
                    backend.create_log_stream(self.log_group, stream)
                backend.put_log_events(self.log_group, stream,
                                       [{"timestamp": int(now * 1000), "message": line}])
            except Exception:  # noqa: BLE001 - a log line must never break an invocation
                pass

    def invoke(self, payload: bytes) -> Result:
        """Runs one invocation in a free environment (waiting for one) and returns its result."""
        with self.cond:
            while True:
                if self.stopped:
                    return Result(error="ResourceNotFoundException: the function was deleted or replaced")
                env = next((e for e in self.envs if e.ready and not e.busy), None)
                if env is not None:
                    env.busy = True
                    break
                self.cond.wait(0.5)
        try:
            return env.run(payload)
        finally:
            with self.cond:
                env.busy = False
                self.cond.notify_all()


# --- the service -----------------------------------------------------------------------------

def register(region: str, request: dict[str, Any]) -> dict[str, Any]:
    name = request.get("name")
    command = request.get("command")
    if not isinstance(name, str) or not name or len(name) > 64 or not all(
            c.isalnum() or c in "-_" for c in name):
        raise LambdaError("name: 1 to 64 letters, digits, hyphens or underscores")
    if not isinstance(command, list) or not command or not all(isinstance(c, str) for c in command):
        raise LambdaError("command: a non-empty list of strings (argv)")
    environment = request.get("environment") or {}
    if not isinstance(environment, dict) or not all(isinstance(v, str) for v in environment.values()):
        raise LambdaError("environment: an object of strings")
    try:
        timeout = float(request.get("timeout", 3))
        concurrency = int(request.get("concurrency", 1))
    except (TypeError, ValueError) as exc:
        raise LambdaError(f"timeout/concurrency: {exc}") from exc
    if not 0 < timeout <= 900:
        raise LambdaError("timeout: 1 to 900 seconds")
    if not 1 <= concurrency <= 16:
        raise LambdaError("concurrency: 1 to 16")
    fn = Function(region, name, command, environment, timeout, concurrency)
    with _LOCK:
        old = FUNCTIONS.pop((region, name), None)
    if old:
        old.stop()
    fn.start()
    with _LOCK:
        FUNCTIONS[(region, name)] = fn
    return {"functionArn": fn.arn}


def listing(region: str) -> dict[str, Any]:
    with _LOCK:
        fns = [f for (r, _), f in FUNCTIONS.items() if r == region]
    return {"functions": [{"functionArn": f.arn, "name": f.name, "command": f.command,
                           "timeout": f.timeout, "concurrency": len(f.envs),
                           "logFile": str(f.log_file),
                           "processes": [{"controlPlane": e.control.pid if e.control else None,
                                          "function": e.process.pid if e.process else None}
                                         for e in f.envs]} for f in fns]}


def lookup(arn: str) -> Function | None:
    """The function an ARN names (`…:function:NAME`, optionally `:$LATEST`)."""
    parts = arn.split(":")
    if len(parts) < 7 or parts[:3] != ["arn", "aws", "lambda"] or parts[5] != "function":
        return None
    if len(parts) > 7 and parts[7] != "$LATEST":
        return None
    with _LOCK:
        return FUNCTIONS.get((parts[3], parts[6]))


def invoke_async(region: str, arn: str, payload: bytes) -> Call:
    """Starts an invocation of the function `arn` names (in `region`) in a thread."""
    call = Call()
    fn = lookup(arn)

    def run() -> None:
        if fn is None or fn.region != region:
            call.result = Result(error=f"ResourceNotFoundException: Function not found: {arn}")
        else:
            call.result = fn.invoke(payload)
        call.done.set()

    threading.Thread(target=run, daemon=True).start()
    return call


def log_files(region: str) -> dict[str, str]:
    with _LOCK:
        return {f.name: str(f.log_file) for (r, _), f in FUNCTIONS.items() if r == region}


def forget(region: str) -> None:
    """A region is reset: its functions stop (every process of theirs is killed)."""
    with _LOCK:
        fns = [FUNCTIONS.pop(k) for k in [k for k in FUNCTIONS if k[0] == region]]
    for fn in fns:
        fn.stop()


def kill_all() -> None:
    with _LOCK:
        fns = list(FUNCTIONS.values())
        FUNCTIONS.clear()
    for fn in fns:
        fn.stop()
