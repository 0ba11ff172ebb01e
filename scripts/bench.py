"""Benchmarks ecs-migrate against the shell script it replaces, on the local emulator.

Not part of the test suite (no timed assertions anywhere): it measures and prints, and with
--write-docs rewrites the figures in docs/performance.md. Run it through scripts/bench.

Same emulated task for both tools, in the same run:
  * baseline: what teams write today: run-task, the SDK's own `tasks_stopped` waiter (boto3's,
    which is the aws-cli's `wait tasks-stopped`), then get-log-events from the head;
  * ecs-migrate with the defaults a user gets (no polling flags).
Two teardown modes: the task STOPPED 0.9 s after the container exited with the last log line
2 s after STOPPED; and a realistic Fargate teardown of 10 s with the last line 2 s after the
exit. The figure is how long after the container's exit each tool returns (the container
writes its exit time to a file just before it exits).
Also: API calls per task-minute, SIGINT-to-StopTask latency while log reads hang, and a chatty
container (200k lines) for completeness, order and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
REGION = "ap-northeast-1"

BASELINE = r'''
import sys, boto3
cluster, td, subnets, sgs, script = sys.argv[1:6]
ecs = boto3.client("ecs"); logs = boto3.client("logs")
task = ecs.run_task(cluster=cluster, taskDefinition=td, launchType="FARGATE",
    networkConfiguration={"awsvpcConfiguration": {"subnets": subnets.split(","), "securityGroups": sgs.split(",")}},
    overrides={"containerOverrides": [{"name": "rails", "command": ["sh", "-c", script]}]})["tasks"][0]
arn = task["taskArn"]
ecs.get_waiter("tasks_stopped").wait(cluster=cluster, tasks=[arn])
t = ecs.describe_tasks(cluster=cluster, tasks=[arn])["tasks"][0]
stream = "ecs/ass-staging/rails/" + arn.rsplit("/", 1)[1]
token = None
while True:
    kw = {"nextToken": token} if token else {"startFromHead": True}
    page = logs.get_log_events(logGroupName="/ecs/ass-staging", logStreamName=stream, **kw)
    for e in page["events"]:
        print(e["message"])
    if page["nextForwardToken"] == token:
        break
    token = page["nextForwardToken"]
sys.exit(t["containers"][0].get("exitCode", 1))
'''


class Emulator:
    def __init__(self) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [PY, str(ROOT / "emulator/emulator.py"), "--port", "0", "--exit-on-stdin-eof"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
        )
        self.url = self.proc.stdout.readline().decode().strip()

    def _req(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        with urllib.request.urlopen(req) as resp:
            return json.loads(resp.read() or b"{}")

    def faults(self, knobs: dict) -> None:
        self._req("DELETE", "/_emulator/faults")
        if knobs:
            self._req("POST", "/_emulator/faults", knobs)

    def stats(self) -> dict:
        return self._req("GET", f"/_emulator/stats?region={REGION}").get(REGION, {})

    def close(self) -> None:
        self.proc.kill()


def run(cmd: list[str], env: dict, stdout_path: Path) -> tuple[float, int, int]:
    """Runs cmd; returns (end time, exit code, peak RSS KiB).

    RSS comes from /usr/bin/time: a child forked from this Python process would report
    Python's own pre-exec high-water mark (tens of MB) as its ru_maxrss.
    """
    rss_file = stdout_path.with_suffix(".rss")
    with open(stdout_path, "wb") as out:
        code = subprocess.call(["/usr/bin/time", "-f", "%M", "-o", str(rss_file), *cmd],
                               env=env, stdout=out, stderr=subprocess.DEVNULL)
    end = time.time()
    return end, code, int(rss_file.read_text().split()[-1])


def count_lines(path: Path, prefix: str) -> int:
    return sum(1 for line in path.read_text(errors="replace").splitlines() if line.startswith(prefix))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--lines", type=int, default=200_000)
    ap.add_argument("--bin", default=str(ROOT / "target/release/ecs-migrate"))
    ap.add_argument("--write-docs", action="store_true")
    args = ap.parse_args()

    emu = Emulator()
    work = Path(tempfile.mkdtemp(prefix="ecs-migrate-bench-"))
    try:
        world = json.loads(subprocess.check_output(
            [PY, str(ROOT / "emulator/seed.py"), emu.url, "--region", REGION,
             "--data-dir", str(work / "world")]))
        user = {k: v for k, v in os.environ.items() if not k.startswith(("ECS_MIGRATE_", "AWS_"))}
        env = dict(
            user, AWS_ENDPOINT_URL=emu.url, AWS_REGION=REGION, AWS_DEFAULT_REGION=REGION,
            AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
            ECS_MIGRATE_CLUSTER=world["cluster"], ECS_MIGRATE_SERVICE="ass-staging",
            ECS_MIGRATE_CONTAINER="rails", ECS_MIGRATE_IMAGE=world["image"],
        )
        ecs = boto3.client("ecs", endpoint_url=emu.url, region_name=REGION,
                           aws_access_key_id="bench", aws_secret_access_key="bench")
        svc = ecs.describe_services(cluster=world["cluster"], services=["ass-staging"])["services"][0]
        net = svc["networkConfiguration"]["awsvpcConfiguration"]
        # one warm-up run registers the migration task definition both tools then use
        warm = subprocess.run([args.bin, "run", "--output", "json", "--", "true"], env=env,
                              capture_output=True, text=True, check=True)
        td = json.loads(warm.stdout)["task_definition_arn"]

        exit_file = work / "exit-ts"

        def script(i: int) -> str:
            # the container runs 3 s + i * 6/runs s, so the runs sample every phase of the
            # waiter's fixed 6 s poll instead of one lucky or unlucky alignment
            sleep = 3 + i * 6 / args.runs
            return f"seq 1 20 | sed 's/^/line-/'; sleep {sleep:.2f}; date +%s.%N > {exit_file}"

        modes = {
            "fast teardown (STOPPED 0.9 s after exit, last line 2 s after STOPPED)": {
                "deprovisioning_delay": 0.9, "log_flush_lag": 2.0, "log_flush_tail_lines": 1},
            "10 s Fargate teardown (last line 2 s after exit)": {
                "teardown_delay": 10.0, "log_exit_lag": 2.0, "log_flush_tail_lines": 1},
        }
        tools = {
            "baseline": lambda i: [PY, "-c", BASELINE, world["cluster"], td, ",".join(net["subnets"]),
                                   ",".join(net.get("securityGroups", [])), script(i)],
            "ecs-migrate": lambda i: [args.bin, "run", "--", "sh", "-c", script(i)],
        }
        results: dict = {}
        for mode, knobs in modes.items():
            emu.faults(knobs)
            for i in range(args.runs):
                for tool, cmd in tools.items():
                    exit_file.unlink(missing_ok=True)
                    out = work / f"{tool}.out"
                    end, code, _ = run(cmd(i), env, out)
                    after = end - float(exit_file.read_text())
                    lines = count_lines(out, "line-")
                    results.setdefault(mode, {}).setdefault(tool, []).append((after, code, lines))
        emu.faults({})

        # API calls per task-minute while the task runs: a 90 s and a 30 s migration with the
        # defaults; their difference is one minute of following, without start-up and drain
        def calls_of(seconds: int) -> dict:
            before = emu.stats().get("calls", {})
            run([args.bin, "run", "--", "sh", "-c", f"echo start; sleep {seconds}"], env,
                work / "minute.out")
            after = emu.stats().get("calls", {})
            return {k: after.get(k, 0) - before.get(k, 0) for k in after}

        short, long = calls_of(30), calls_of(90)
        steady = {k: long.get(k, 0) - short.get(k, 0) for k in long if long.get(k, 0) != short.get(k, 0)}
        per_minute = sum(steady.values())

        # SIGINT while log reads hang and fail: how long until StopTask reaches AWS
        p = subprocess.Popen([args.bin, "run", "--", "sh", "-c", "sleep 60"], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for line in p.stderr:
            if "task RUNNING" in line:
                break
        emu.faults({"latency": {"GetLogEvents": 5.0},
                    "error_burst": {"GetLogEvents": {"count": 1000, "status": 503}}})
        time.sleep(1.0)
        stops_before = len(emu.stats().get("stop_task_times", []))
        sent = time.time()
        p.send_signal(signal.SIGINT)
        p.wait()
        stops = emu.stats().get("stop_task_times", [])[stops_before:]
        abort_latency = stops[0] - sent if stops else float("nan")
        emu.faults({})

        # a chatty container: every line once, in order; peak RSS
        chatty = work / "chatty.out"
        t0 = time.time()
        _, code, rss = run([args.bin, "run", "--", "sh", "-c",
                            f"seq 1 {args.lines} | sed 's/^/log-line-/'"], env, chatty)
        chatty_secs = time.time() - t0
        got = [l for l in chatty.read_text().splitlines() if l.startswith("log-line-")]
        want = [f"log-line-{i}" for i in range(1, args.lines + 1)]
        lost = len(set(want) - set(got))
        repeated = len(got) - len(set(got))
        in_order = got == want
    finally:
        emu.close()

    report = [f"Runs per mode: {args.runs}; emulator defaults otherwise (ingest delay 0.2 s). "
              f"Medians of how long after the container's exit each tool returned.", "",
              "| teardown | baseline (s) | ecs-migrate (s) | ratio of medians |",
              "| --- | --- | --- | --- |"]
    for mode, by_tool in results.items():
        row = []
        for tool in ("baseline", "ecs-migrate"):
            runs = by_tool[tool]
            complete = [r[0] for r in runs if r[2] == 20]
            row.append((statistics.median(r[0] for r in runs),
                        statistics.median(complete) if complete else float("nan"), len(complete)))
        (b, bc, bn), (e, ec, en) = row
        report.append(f"| {mode} | {b:.1f} ({bc:.1f}, {bn}/{args.runs}) | {e:.1f} ({ec:.1f}, {en}/{args.runs}) "
                      f"| {e / b:.2f} |")
    report += [
        "",
        "Each cell: median of all runs (median of the runs that printed all 20 lines, how many did).",
        "",
        f"API calls per task-minute while the task runs (a 90 s minus a 30 s migration): "
        f"**{per_minute}** ({', '.join(f'{k} {v}' for k, v in sorted(steady.items()))}); "
        f"a whole 30 s run makes {sum(short.values())} calls, start-up and drain included.",
        f"SIGINT while GetLogEvents hangs 5 s and fails: StopTask reached AWS **{abort_latency:.2f} s** after the signal.",
        f"Chatty container: {len(got)} of {args.lines} lines printed, {lost} lost, {repeated} repeated, "
        f"in order: {'yes' if in_order else 'NO'}, exit {code}, {chatty_secs:.1f} s, "
        f"**peak RSS {rss / 1024:.1f} MB**.",
    ]
    text = "\n".join(report)
    print(text)
    if args.write_docs:
        doc = ROOT / "docs/performance.md"
        body = doc.read_text()
        new = re.sub(r"<!-- bench:start -->.*<!-- bench:end -->",
                     f"<!-- bench:start -->\n{text}\n<!-- bench:end -->", body, flags=re.S)
        doc.write_text(new)


if __name__ == "__main__":
    main()
