"""The ecs-migrate local AWS emulator: moto + a fake Fargate agent on one loopback port.

Usage: python emulator.py [--port N]   (0 = pick a free port)
Prints `http://127.0.0.1:PORT` as its first stdout line, then serves until killed.
ECS, EC2, SSM, Secrets Manager, ECR, CloudWatch Logs and STS are served by moto (all on the
same port: requests are dispatched by their X-Amz-Target / Action); the native blue/green
deployment APIs moto lacks by deployments.py; CloudWatch Logs writes AWS would refuse are refused
(cwlogs.py). The control endpoint `/_emulator/faults` sets the fault knobs of faults.py;
`/_emulator/lambda` registers local Lambda functions (lambdas.py) for AWS_LAMBDA lifecycle hooks.
"""

from __future__ import annotations

import argparse
import atexit
import io
import json
import os
import signal
import threading
import sys
import time
from typing import Any, Callable, Iterable

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

import agent
import cwlogs
import deployments
import idempotency
import lambdas
import stats
from faults import FAULTS

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
ACCOUNT = "123456789012"  # moto's default account, the one every request here acts in


def _json(start_response: StartResponse, status: str, body: Any, headers: Iterable = ()) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(
        status,
        [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(data))), *headers],
    )
    return [data]


def _error(start_response: StartResponse, status: int, code: str, message: str) -> list[bytes]:
    reason = {400: "Bad Request", 500: "Internal Server Error", 503: "Service Unavailable"}
    return _json(
        start_response,
        f"{status} {reason.get(status, 'Error')}",
        {"__type": code, "message": message},
        [("x-amzn-ErrorType", code)],
    )


class FaultMiddleware:
    """Injects the API faults in front of moto and serves the control endpoint."""

    def __init__(self, app: Callable[..., Iterable[bytes]]):
        self.app = app

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_emulator/"):
            return self.control(environ, start_response, path)
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        api = target.rsplit(".", 1)[-1] if target else ""
        if api:
            user_agent = environ.get("HTTP_USER_AGENT", "") + " " + environ.get("HTTP_X_AMZ_USER_AGENT", "")
            region = stats.region_of(environ)
            stats.count(region, api, target, user_agent)
            delay = float((FAULTS.get("latency", region=region) or {}).get(api, 0.0))
            if delay > 0:
                time.sleep(delay)
            fault = FAULTS.api_fault(api, region)
            if fault:
                stats.fault_served(region, api)
                status, code, message = fault
                return _error(start_response, status, code, message)
            if api in ("CreateLogStream", "PutLogEvents"):
                refused = self.refuse_log_write(environ, start_response, api, region)
                if refused is not None:
                    return refused
            failure = FAULTS.get("run_task_failures", region=region)
            if api == "RunTask" and failure:
                return _json(start_response, "200 OK", {"tasks": [], "failures": [{"reason": failure}]})
            if api == "RunTask":
                return self.run_task(environ, start_response)
            if api in deployments.HANDLERS:
                return self.deployment_api(environ, start_response, api)
            if api in ("CreateService", "UpdateService", "DescribeServices"):
                return self.service_api(environ, start_response, api)
        return self.app(environ, start_response)

    def refuse_log_write(self, environ: Environ, start_response: StartResponse, api: str,
                         region: str) -> Iterable[bytes] | None:
        """The `refuse_log_writes` fault: a write to a log stream whose name starts with the knob's
        prefix is denied as IAM denies it (a role without logs:CreateLogStream/PutLogEvents on
        those streams); None lets the call go on to moto (the body is put back)."""
        knob = FAULTS.get("refuse_log_writes", region=region)
        if not knob:
            return None
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(body)
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            return None
        stream = str(request.get("logStreamName", ""))
        if not stream.startswith(str(knob.get("prefix", ""))):
            return None
        stats.fault_served(region, api)
        resource = (f"arn:aws:logs:{region}:{ACCOUNT}:log-group:{request.get('logGroupName', '')}"
                    f":log-stream:{stream}")
        return _error(start_response, 400, "AccessDeniedException", (
            f"User: arn:aws:sts::{ACCOUNT}:assumed-role/ecs-migrate/emulator is not authorized to "
            f"perform: logs:{api} on resource: {resource} because no identity-based policy allows "
            f"the logs:{api} action"))

    def _moto(self, environ: Environ, body: bytes) -> tuple[str, list, bytes]:
        """Passes a request to moto and returns its whole answer."""
        environ["wsgi.input"] = io.BytesIO(body)
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list, exc_info: Any = None) -> Callable[..., Any]:
            captured["status"], captured["headers"] = status, headers
            return lambda _data: None

        data = b"".join(self.app(environ, capture))
        return captured["status"], captured["headers"], data

    def deployment_api(self, environ: Environ, start_response: StartResponse, api: str) -> Iterable[bytes]:
        """The native blue/green deployment APIs moto lacks (deployments.py)."""
        length = int(environ.get("CONTENT_LENGTH") or 0)
        try:
            request = json.loads(environ["wsgi.input"].read(length) or b"{}")
            answer = deployments.HANDLERS[api](stats.region_of(environ), request)
        except deployments.ApiError as exc:
            return _error(start_response, 400, exc.code, exc.message)
        except ValueError as exc:
            return _error(start_response, 400, "SerializationException", str(exc))
        return _json(start_response, "200 OK", answer)

    def service_api(self, environ: Environ, start_response: StartResponse, api: str) -> Iterable[bytes]:
        """moto's answer, plus what deployments.py models: a BLUE_GREEN service's configuration
        and, on UpdateService, its service deployment."""
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        region = stats.region_of(environ)
        if api in ("CreateService", "UpdateService"):
            try:
                deployments.validate(json.loads(body or b"{}"))
            except deployments.ApiError as exc:
                return _error(start_response, 400, exc.code, exc.message)
            except ValueError as exc:
                return _error(start_response, 400, "SerializationException", str(exc))
        status, headers, data = self._moto(environ, body)
        if status.startswith("200"):
            request = json.loads(body or b"{}")
            if api == "CreateService":
                deployments.after_create(region, request)
            elif api == "UpdateService":
                deployments.after_update(region, request)
            data = deployments.add_configuration(region, data)
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        start_response(status, [*headers, ("Content-Length", str(len(data)))])
        return [data]

    def run_task(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        """RunTask with clientToken idempotency and the created-then-5xx knob."""
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        region = stats.region_of(environ)
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            request = {}
        stats.run_task_token(region, request.get("clientToken"))
        with idempotency.serialized(region, request):
            seen = idempotency.lookup(region, request)
            if seen and seen[0] == "conflict":
                return _error(start_response, 400, "ConflictException", seen[1].decode())
            if seen:
                data = seen[1]
                status, headers = "200 OK", [("Content-Type", "application/x-amz-json-1.1")]
            else:
                with agent.answering_run_task():
                    status, headers, data = self._moto(environ, body)
                if status.startswith("200"):
                    idempotency.remember(region, request, data)
        fail = FAULTS.take("run_task_created_then_fail", region)
        if fail and status.startswith("200"):
            stats.fault_served(region, "RunTask")
            return _error(start_response, fail, "ServiceUnavailable", "emulated: task created, then 5xx")
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        start_response(status, [*headers, ("Content-Length", str(len(data)))])
        return [data]

    def lambda_control(self, environ: Environ, start_response: StartResponse, method: str,
                       region: str | None) -> Iterable[bytes]:
        """`POST /_emulator/lambda?region=R` registers (or replaces) a local Lambda function;
        `GET` lists R's functions (lambdas.py)."""
        if not region:
            return _json(start_response, "400 Bad Request", {"message": "?region=R is required"})
        if method == "GET":
            return _json(start_response, "200 OK", lambdas.listing(region))
        if method != "POST":
            return _json(start_response, "405 Method Not Allowed", {"message": "GET or POST"})
        length = int(environ.get("CONTENT_LENGTH") or 0)
        try:
            request = json.loads(environ["wsgi.input"].read(length) or b"{}")
            if not isinstance(request, dict):
                raise lambdas.LambdaError("the body must be a JSON object")
            return _json(start_response, "200 OK", lambdas.register(region, request))
        except (lambdas.LambdaError, ValueError) as exc:
            return _json(start_response, "400 Bad Request", {"message": str(exc)})

    def control(self, environ: Environ, start_response: StartResponse, path: str) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        if path == "/_emulator/health":
            return _json(start_response, "200 OK", {"status": "ok"})
        if path == "/_emulator/stats":
            query = dict(p.split("=", 1) for p in environ.get("QUERY_STRING", "").split("&") if "=" in p)
            if method == "DELETE":
                stats.clear(query.get("region"))
            snapshot = stats.snapshot(query.get("region"))
            for r, doc in snapshot.items():
                doc["lambda_log_files"] = lambdas.log_files(r)
            return _json(start_response, "200 OK", snapshot)
        query = dict(p.split("=", 1) for p in environ.get("QUERY_STRING", "").split("&") if "=" in p)
        region = query.get("region")
        if path == "/_emulator/reset" and method == "POST" and region:
            reset_region(region)
            return _json(start_response, "200 OK", {"reset": region})
        if path == "/_emulator/lambda":
            return self.lambda_control(environ, start_response, method, region)
        if path != "/_emulator/faults":
            return _json(start_response, "404 Not Found", {"message": f"no such control path {path}"})
        if method == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            try:
                changes = json.loads(environ["wsgi.input"].read(length) or b"{}")
                return _json(start_response, "200 OK", FAULTS.update(changes, region))
            except (KeyError, ValueError) as exc:
                return _json(start_response, "400 Bad Request", {"message": str(exc)})
        if method == "DELETE":
            return _json(start_response, "200 OK", FAULTS.reset(region))
        return _json(start_response, "200 OK", FAULTS.snapshot(region))


# The services the seed and ecs-migrate use: a reset empties each one's backend in the region.
RESET_SERVICES = ("ecs", "ec2", "ssm", "logs", "secretsmanager", "ecr", "sts", "iam")


def reset_region(region: str) -> None:
    """Empties one region: its tasks are killed, then every backend, its deployments, RunTask
    tokens, stats and fault knobs start afresh, so a test can seed a new world there while
    others run in other regions."""
    from moto.backends import get_backend

    agent.forget(region)
    deployments.forget(region)
    lambdas.forget(region)
    idempotency.forget(region)
    for service in RESET_SERVICES:
        for account_backends in get_backend(service).values():
            if region in account_backends:
                account_backends[region].reset()
    stats.clear(region)
    FAULTS.reset(region)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument(
        "--exit-on-stdin-eof",
        action="store_true",
        help="exit when stdin closes (test harnesses: the emulator dies with its parent)",
    )
    args = parser.parse_args()

    agent.install()
    cwlogs.install()
    app = FaultMiddleware(DomainDispatcherApplication(create_backend_app))
    server = make_server(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)
    atexit.register(agent.kill_all)
    atexit.register(lambdas.kill_all)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    host, port = server.server_address[:2]
    lambdas.EMULATOR_URL = f"http://{host}:{port}"
    print(f"http://{host}:{port}", flush=True)
    if args.exit_on_stdin_eof:
        def watch_stdin() -> None:
            while sys.stdin.buffer.read(4096):
                pass
            agent.kill_all()
            lambdas.kill_all()
            os._exit(0)

        threading.Thread(target=watch_stdin, daemon=True).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
