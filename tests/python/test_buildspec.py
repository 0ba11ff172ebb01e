"""buildspec-migrate.yml, run for real: its phase commands in bash with CodeBuild's variables
set, against the emulator's seeded world; once with a passing and once with a failing migration."""

import hashlib
import json
import os
import subprocess
import tarfile
from pathlib import Path

import boto3
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN_DIR = ROOT / "target" / "debug"
PHASES = ["install", "pre_build", "build", "post_build"]


@pytest.fixture(scope="module")
def endpoint():
    proc = subprocess.Popen(
        [str(ROOT / ".venv/bin/python"), str(ROOT / "emulator/emulator.py"), "--port", "0",
         "--exit-on-stdin-eof"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        env={**os.environ, "EMU_PROVISIONING_DELAY": "0.2", "EMU_PENDING_DELAY": "0.2",
             "EMU_DEPROVISIONING_DELAY": "0.2", "EMU_LOG_INGEST_DELAY": "0.1"},
    )
    url = proc.stdout.readline().decode().strip()
    assert url.startswith("http://127.0.0.1:"), url
    yield url
    proc.stdin.close()
    proc.wait(timeout=10)


def seed(endpoint: str, region: str, tmp: Path) -> dict:
    out = subprocess.run(
        [str(ROOT / ".venv/bin/python"), str(ROOT / "emulator/seed.py"), endpoint,
         "--region", region, "--data-dir", str(tmp / "world")],
        check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout)


def codebuild(buildspec: dict, env: dict, cwd: Path) -> tuple[int, dict, str]:
    """Runs the phases like CodeBuild: one bash session, commands in order, a failing
    command in an ABORT phase ends the build; exported variables read at the end."""
    script = ["set -u +e"]
    for key, value in (buildspec.get("env", {}).get("variables") or {}).items():
        script.append(f"export {key}={json.dumps(str(value))}")
    for phase in PHASES:
        spec = (buildspec.get("phases") or {}).get(phase)
        if not spec:
            continue
        abort = spec.get("on-failure") == "ABORT"
        for cmd in spec.get("commands", []):
            script.append(cmd)
            script.append(
                f'rc=$?; if [ $rc -ne 0 ]; then echo "PHASE {phase} FAILED rc=$rc" >&2; '
                + ('exit $rc; fi' if abort else 'failed=$rc; fi')
            )
    exported = buildspec["env"].get("exported-variables", [])
    for name in exported:
        script.append(f'echo "EXPORTED {name}=${{{name}:-}}"')
    proc = subprocess.run(["bash", "-c", "\n".join(script)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)
    exports = {}
    for line in proc.stdout.splitlines():
        if line.startswith("EXPORTED "):
            k, _, v = line[len("EXPORTED "):].partition("=")
            exports[k] = v
    return proc.returncode, exports, proc.stdout + proc.stderr


def build_env(endpoint: str, world: dict, src: Path) -> dict:
    return {
        "PATH": f"{BIN_DIR}:{os.environ['PATH']}",
        "HOME": os.environ.get("HOME", "/root"),
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": world["region"],
        "AWS_DEFAULT_REGION": world["region"],
        "AWS_ACCESS_KEY_ID": "codebuild",
        "AWS_SECRET_ACCESS_KEY": "codebuild",
        "AWS_EC2_METADATA_DISABLED": "true",
        "CODEBUILD_SRC_DIR": str(src),
        "CODEBUILD_SRC_DIR_RailsImage": str(src / "rails-image"),
        "CODEBUILD_BUILD_ID": "migrate:1",
        "CODEPIPELINE_EXECUTION_ID": "0c4f9a36-5d8e-4c39-9a43-64b3a4c2c7e1",
        "CODEBUILD_BUILD_NUMBER": "1",
        "ECS_MIGRATE_CLUSTER": world["cluster"],
        "ECS_MIGRATE_SERVICE": world["service_bg"],
        "ECS_MIGRATE_LOG_QUIET": "1s",
    }


def prepare(tmp: Path, image: str) -> Path:
    src = tmp / "src"
    (src / "rails-image").mkdir(parents=True)
    detail = {"ImageSizeInMb": "102", "ImageURI": image, "Version": "1.0", "RegistryId": "123456789012",
              "RepositoryName": image.split("/")[-1].split(":")[0], "ImageTags": ["v2"]}
    (src / "rails-image" / "imageDetail.json").write_text(json.dumps(detail))
    return src


def load_buildspec() -> dict:
    return yaml.safe_load((ROOT / "buildspec-migrate.yml").read_text())


def artifact_dir(spec: dict) -> str:
    """The artifact's base-directory as CodeBuild expands it (the buildspec's own variables)."""
    value = spec["artifacts"]["base-directory"]
    for name, v in spec["env"]["variables"].items():
        value = value.replace("${" + name + "}", str(v)).replace("$" + name, str(v))
    assert "$" not in value, value
    return value


def test_buildspec_shape():
    b = load_buildspec()
    assert b["version"] == 0.2
    assert b["phases"]["build"]["on-failure"] == "ABORT"
    assert set(b["env"]["exported-variables"]) == {"MIGRATION_TASK_ARN", "MIGRATED_VERSIONS"}
    assert b["artifacts"]["files"] == ["taskdef.json", "appspec.yaml", "imageDetail.json"]
    report = b["reports"]["migration"]
    assert report["file-format"] == "JUNITXML"
    assert report["files"] == [b["env"]["variables"]["JUNIT_REPORT"]]
    run = next(c for c in b["phases"]["build"]["commands"] if "ecs-migrate run" in c)
    assert '--junit "$JUNIT_REPORT"' in run


def junit_report(src: Path) -> dict:
    """The report the reports: section publishes, validated against the JUnit schema
    (tests/fixtures/junit-10.xsd, the Jenkins xunit plugin's); its root as a dict."""
    import xmlschema
    schema = xmlschema.XMLSchema(str(ROOT / "tests/fixtures/junit-10.xsd"))
    spec = load_buildspec()
    path = src / spec["reports"]["migration"]["files"][0]
    schema.validate(str(path))
    return schema.to_dict(str(path))


def test_the_artifact_is_taken_from_where_render_writes():
    b = load_buildspec()
    assert b["artifacts"]["base-directory"] in ("$OUT_DIR", "${OUT_DIR}"), "follows OUT_DIR"
    renders = [line for cmd in b["phases"]["build"]["commands"] for line in cmd.splitlines()
               if "ecs-migrate render" in line]
    assert renders and all('--out "$OUT_DIR"' in line for line in renders), renders
    assert all('"$OUT_DIR/' in line for line in renders if " cp " in line)


def test_passing_migration_exports_and_renders(endpoint, tmp_path):
    world = seed(endpoint, "ap-northeast-1", tmp_path)
    src = prepare(tmp_path, world["image"])
    rc, exports, log = codebuild(load_buildspec(), build_env(endpoint, world, src), src)
    assert rc == 0, log
    assert exports["MIGRATION_TASK_ARN"].startswith("arn:aws:ecs:ap-northeast-1:123456789012:task/"), log
    assert exports["MIGRATED_VERSIONS"] == "20240101000000,20240215093000,20240301120000"
    out = src / artifact_dir(load_buildspec())
    td = json.loads((out / "taskdef.json").read_text())
    assert td["containerDefinitions"][0]["image"] == world["image"], "deploys exactly the migrated image"
    assert "revision" not in td
    appspec = yaml.safe_load((out / "appspec.yaml").read_text())
    props = appspec["Resources"][0]["TargetService"]["Properties"]
    assert props["TaskDefinition"] == "<TASK_DEFINITION>"
    assert props["LoadBalancerInfo"] == {"ContainerName": "nginx", "ContainerPort": 80}
    assert props["PlatformVersion"] == "1.4.0", "the service's platform version, not LATEST"
    assert json.loads((out / "imageDetail.json").read_text())["ImageURI"] == world["image"]
    assert json.loads((src / "migration-result.json").read_text())["client_token"] == (
        "0c4f9a36-5d8e-4c39-9a43-64b3a4c2c7e1-1"), "execution id + build number"
    suite = junit_report(src)["testsuite"][0]
    cases = {c["@name"]: c for c in suite["testcase"]}
    assert (suite["@tests"], suite["@failures"]) == ("4", "0"), suite
    for name in ["20240101000000 CreateUsers", "20240215093000 AddEmailToUsers",
                 "20240301120000 CreatePosts"]:
        assert float(cases[name]["@time"]) >= 0 and cases[name]["@classname"] == "migrations.up"
    assert "outcome succeeded, exit code 0" in cases["ecs-migrate run"]["system-out"][0]
    # the JSON result carries the durations too
    result = json.loads((src / "migration-result.json").read_text())
    assert [m["seconds"] is not None for m in result["migrations"]] == [True] * 3, result


def test_placeholder_mode_leaves_the_image_to_the_deploy_action(endpoint, tmp_path):
    world = seed(endpoint, "sa-east-1", tmp_path)
    src = prepare(tmp_path, world["image"])
    env = {**build_env(endpoint, world, src), "ECS_MIGRATE_RENDER_IMAGE": "placeholder"}
    rc, _, log = codebuild(load_buildspec(), env, src)
    assert rc == 0, log
    out = src / artifact_dir(load_buildspec())
    td = json.loads((out / "taskdef.json").read_text())
    assert td["containerDefinitions"][0]["image"] == "<IMAGE1_NAME>"
    # the action fills it from this file: the migrated image, byte for byte
    assert json.loads((out / "imageDetail.json").read_text())["ImageURI"] == world["image"]


def aws(endpoint: str, region: str, service: str):
    return boto3.client(service, endpoint_url=endpoint, region_name=region,
                        aws_access_key_id="test", aws_secret_access_key="test")


def test_retry_after_fixing_the_database_runs_a_new_task(endpoint, tmp_path):
    """Retry keeps the execution id but gets a new build number: a new token, a new task. With
    the execution id alone, ECS would hand back the failed task of the first attempt."""
    world = seed(endpoint, "eu-central-1", tmp_path)
    # two levels missing: ActiveRecord's SQLite adapter creates the database file's directory,
    # not its parent (Errno::ENOENT)
    missing_dir = tmp_path / "db-volume-not-mounted-yet" / "db"
    aws(endpoint, world["region"], "ssm").put_parameter(
        Name="/ass-staging/db/name", Value=str(missing_dir / "staging.sqlite3"), Type="String",
        Overwrite=True)
    src = prepare(tmp_path, world["image"])
    env = {**build_env(endpoint, world, src), "CODEBUILD_BUILD_NUMBER": "7"}
    rc, _, log = codebuild(load_buildspec(), env, src)
    assert rc != 0, log
    first = json.loads((src / "migration-result.json").read_text())
    assert first["outcome"] == "failed" and first["task_arn"], log

    missing_dir.mkdir(parents=True)         # the operator fixes the database, presses Retry
    env["CODEBUILD_BUILD_NUMBER"] = "8"
    rc, second, log = codebuild(load_buildspec(), env, src)
    assert rc == 0, log
    assert second["MIGRATION_TASK_ARN"].startswith("arn:aws:ecs:"), log
    assert second["MIGRATION_TASK_ARN"] != first["task_arn"], "a retry runs a new task"
    assert second["MIGRATED_VERSIONS"] == "20240101000000,20240215093000,20240301120000"


def release_tarball(tmp: Path, version: str) -> Path:
    """A tarball laid out as scripts/release lays it out, holding the debug binary."""
    name = f"ecs-migrate-{version}-x86_64-linux-gnu"
    path = tmp / f"{name}.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        tar.add(BIN_DIR / "ecs-migrate", arcname=f"{name}/ecs-migrate")
    return path


def install_only(env: dict, cwd: Path) -> tuple[int, str]:
    spec = load_buildspec()
    only = {"env": spec["env"], "phases": {"install": spec["phases"]["install"]}}
    rc, _, log = codebuild(only, env, cwd)
    return rc, log


def test_install_fetches_the_release_from_s3_and_checks_its_checksum(endpoint, tmp_path):
    region = "eu-west-3"
    s3 = aws(endpoint, region, "s3")
    s3.create_bucket(Bucket="tools", CreateBucketConfiguration={"LocationConstraint": region})
    tarball = release_tarball(tmp_path, "0.1.0")
    s3.upload_file(str(tarball), "tools", f"ecs-migrate/0.1.0/{tarball.name}")
    good = hashlib.sha256(tarball.read_bytes()).hexdigest()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    env = {
        "PATH": f"{bin_dir}:{ROOT / '.venv/bin'}:/usr/bin:/bin",   # no ecs-migrate until installed
        "HOME": str(tmp_path), "AWS_ENDPOINT_URL": endpoint, "AWS_DEFAULT_REGION": region,
        "AWS_ACCESS_KEY_ID": "codebuild", "AWS_SECRET_ACCESS_KEY": "codebuild",
        "ECS_MIGRATE_RELEASE_BUCKET": "tools", "ECS_MIGRATE_RELEASE_VERSION": "0.1.0",
        "ECS_MIGRATE_RELEASE_SHA256": "0" * 64, "ECS_MIGRATE_INSTALL_DIR": str(bin_dir),
    }
    rc, log = install_only(env, tmp_path)
    assert rc != 0 and "PHASE install FAILED" in log, log
    assert "FAILED" in log and not (bin_dir / "ecs-migrate").exists(), "a bad checksum installs nothing"

    env["ECS_MIGRATE_RELEASE_SHA256"] = good
    rc, log = install_only(env, tmp_path)
    assert rc == 0, log
    assert (bin_dir / "ecs-migrate").exists()
    assert "ecs-migrate 0.1.0 (commit " in log, log

    del env["ECS_MIGRATE_RELEASE_SHA256"]
    rc, log = install_only(env, tmp_path)
    assert rc != 0 and "set ECS_MIGRATE_RELEASE_SHA256" in log, log


def test_failing_migration_fails_the_build_and_renders_nothing(endpoint, tmp_path):
    world = seed(endpoint, "ap-northeast-3", tmp_path)
    src = prepare(tmp_path, world["image_broken"])
    rc, exports, log = codebuild(load_buildspec(), build_env(endpoint, world, src), src)
    assert rc == 1, log
    assert "PHASE build FAILED rc=1" in log
    assert "An error has occurred, this and all later migrations canceled" in log
    assert not (src / "deploy" / "taskdef.json").exists()
    result = json.loads((src / "migration-result.json").read_text())
    assert result["outcome"] == "failed" and result["exit_code"] == 1
    # the report is there for CodeBuild to publish, valid, naming the migration that failed
    suite = junit_report(src)["testsuite"][0]
    cases = {c["@name"]: c for c in suite["testcase"]}
    assert (suite["@tests"], suite["@failures"]) == ("5", "2"), suite
    assert cases["20240401000000 AddUniqueIndexToUsers"]["failure"][0]["@type"] == "unfinished"
    failure = cases["ecs-migrate run"]["failure"][0]
    assert failure["@type"] == "failed", failure
    assert "migration 20240401000000 AddUniqueIndexToUsers began and never finished" in failure["@message"]
    assert "An error has occurred, this and all later migrations canceled" in failure["$"]


def test_missing_image_detail_stops_before_any_aws_call(endpoint, tmp_path):
    world = seed(endpoint, "eu-west-1", tmp_path)
    src = prepare(tmp_path, world["image"])
    env = build_env(endpoint, world, src)
    env["CODEBUILD_SRC_DIR_RailsImage"] = str(tmp_path / "nowhere")
    rc, _, log = codebuild(load_buildspec(), env, src)
    assert rc == 1 and "no imageDetail.json in input artifact RailsImage" in log
    assert not (src / "migration-result.json").exists()
