"""action.yml, run for real: its steps' shell scripts in bash as GitHub's runner runs a composite
action's steps (`bash --noprofile --norc -eo pipefail`, inputs through the step's env, GITHUB_PATH
and GITHUB_OUTPUT read between steps). The release it installs is packed by scripts/release from
the debug binary (ECS_MIGRATE_RELEASE_PREBUILT: no release build) and served from a file:// URL."""

import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from test_buildspec import endpoint, seed  # noqa: F401  (the emulator fixture)

ROOT = Path(__file__).resolve().parents[2]
DEBUG_BIN = ROOT / "target" / "debug" / "ecs-migrate"
VERSION = "0.1.0"
TARBALL = f"ecs-migrate-{VERSION}-x86_64-linux-gnu.tar.gz"
OUTPUTS = ["task-arn", "exit-code", "outcome", "migrated-versions", "client-token"]


def action() -> dict:
    return yaml.safe_load((ROOT / "action.yml").read_text())


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    """dist/ of scripts/release run in a copy of the repository's release inputs."""
    repo = tmp_path_factory.mktemp("repo")
    (repo / "scripts").mkdir()
    (repo / "src").mkdir()
    (repo / "src" / "main.rs").write_text("")
    shutil.copy(ROOT / "scripts" / "release", repo / "scripts" / "release")
    for f in ["Cargo.toml", "README.md", "LICENSE", "CHANGELOG.md"]:
        shutil.copy(ROOT / f, repo / f)
    subprocess.run([str(repo / "scripts" / "release")], cwd=repo, check=True, timeout=300,
                   env={**os.environ, "ECS_MIGRATE_RELEASE_PREBUILT": str(DEBUG_BIN)})
    return repo / "dist"


def expand(value: str, inputs: dict, steps: dict) -> str:
    """The expressions action.yml uses: inputs.X (or its default), github.action_repository,
    steps.ID.outputs.X."""
    spec = action()["inputs"]

    def one(m):
        expr = m.group(1).strip()
        if expr.startswith("inputs."):
            name = expr[len("inputs."):]
            assert name in spec, f"unknown input {name}"
            if name in inputs:
                return inputs[name]
            return expand(str(spec[name].get("default", "")), inputs, steps)
        if expr == "github.action_repository":
            return "example/ecs-migrate"
        m2 = re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expr)
        assert m2, f"unexpected expression {expr}"
        return steps.get(m2.group(1), {}).get(m2.group(2), "")

    return re.sub(r"\$\{\{(.*?)\}\}", one, value)


def read_outputs(path: Path) -> dict:
    """GITHUB_OUTPUT as the runner reads it: name=value or name<<DELIMITER … DELIMITER."""
    out, lines = {}, path.read_text().splitlines() if path.exists() else []
    i = 0
    while i < len(lines):
        if "<<" in lines[i]:
            name, delim = lines[i].split("<<", 1)
            end = lines.index(delim, i + 1)
            out[name] = "\n".join(lines[i + 1:end])
            i = end + 1
        else:
            name, _, value = lines[i].partition("=")
            out[name] = value
            i += 1
    return out


def run_action(tmp: Path, inputs: dict, env: dict, checksums: str | None = None):
    """Runs the composite action's steps in order until one fails. Returns (rc, log, the
    action's outputs, the steps' outputs, runner temp)."""
    spec = action()
    runner_temp = tmp / "runner-temp"
    runner_temp.mkdir(exist_ok=True)
    github_path = tmp / "github_path"
    github_path.touch()
    path = ["/usr/bin", "/bin"]
    steps, log, rc = {}, "", 0
    for n, step in enumerate(spec["runs"]["steps"]):
        assert step["shell"] == "bash"
        assert "${{" not in step["run"], "expressions stay out of scripts (no injection)"
        output = tmp / f"output-{n}"
        step_env = {k: expand(str(v), inputs, steps) for k, v in (step.get("env") or {}).items()}
        if checksums is not None and "ECS_MIGRATE_CHECKSUMS" in step_env:
            step_env["ECS_MIGRATE_CHECKSUMS"] = checksums
        extra = [p for p in github_path.read_text().splitlines() if p]
        script = tmp / f"step-{n}.sh"
        script.write_text(step["run"])
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            env={**env, **step_env, "PATH": ":".join(list(reversed(extra)) + path),
                 "GITHUB_ACTIONS": "true", "GITHUB_ACTION_PATH": str(ROOT),
                 "RUNNER_TEMP": str(runner_temp), "GITHUB_PATH": str(github_path),
                 "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(tmp / "summary.md")},
            cwd=tmp, capture_output=True, text=True, timeout=300)
        log += proc.stdout + proc.stderr
        if "id" in step:
            steps[step["id"]] = read_outputs(output)
        rc = proc.returncode
        if rc != 0:
            break
    outputs = {k: expand(v["value"], inputs, steps) for k, v in spec["outputs"].items()}
    return rc, log, outputs, steps, runner_temp


def base_env(release: Path) -> dict:
    return {"HOME": os.environ.get("HOME", "/root"),
            "ECS_MIGRATE_RELEASE_BASE_URL": release.as_uri()}


def digest(release: Path) -> str:
    return hashlib.sha256((release / TARBALL).read_bytes()).hexdigest()


def test_the_action_is_composite_with_its_inputs_and_outputs():
    a = action()
    assert a["runs"]["using"] == "composite"
    assert a["inputs"]["version"]["default"] in (ROOT / "CHANGELOG.md").read_text(), \
        "the default version is one of the changelog's"
    assert f"## [{a['inputs']['version']['default']}]" in (ROOT / "CHANGELOG.md").read_text()
    for name in ["cluster", "service"]:
        assert a["inputs"][name]["required"] is True
    assert list(a["outputs"]) == OUTPUTS
    for name, out in a["outputs"].items():
        assert out["value"] == "${{ steps.migrate.outputs.%s }}" % name
    install = a["runs"]["steps"][0]
    assert "scripts/action-install" in install["run"] and "GITHUB_PATH" in install["run"]
    for line in install["env"]["ECS_MIGRATE_CHECKSUMS"].splitlines():
        version, sha = line.split()
        assert re.fullmatch(r"[0-9a-f]{64}", sha) and f"## [{version}]" in (
            ROOT / "CHANGELOG.md").read_text(), line


def test_the_release_tarball_ships_licence_changelog_completions_and_man_page(release, tmp_path):
    subprocess.run(["tar", "-xzf", str(release / TARBALL), "-C", str(tmp_path)], check=True)
    d = tmp_path / TARBALL.removesuffix(".tar.gz")
    assert (d / "LICENSE").read_text().startswith("MIT License")
    assert "## [Unreleased]" in (d / "CHANGELOG.md").read_text()
    for f in ["ecs-migrate", "README.md", "completions/ecs-migrate.bash",
              "completions/_ecs-migrate", "completions/ecs-migrate.fish", "man/ecs-migrate.1"]:
        assert (d / f).is_file(), f
    # the bash completion loads, and registers for the command
    out = subprocess.run(["bash", "--norc", "-c",
                          f"source {d / 'completions/ecs-migrate.bash'}; complete -p ecs-migrate"],
                         capture_output=True, text=True, check=True).stdout
    assert "ecs-migrate" in out and "-F" in out, out
    man = (d / "man/ecs-migrate.1").read_text()
    assert ".TH ecs-migrate 1" in man and ".SH NAME" in man and ".SH SYNOPSIS" in man
    if shutil.which("man"):
        rendered = subprocess.run(["man", "-l", str(d / "man/ecs-migrate.1")], capture_output=True,
                                  text=True, env={**os.environ, "MANPAGER": "cat", "PAGER": "cat"})
        assert rendered.returncode == 0 and "SYNOPSIS" in rendered.stdout, rendered.stderr


def test_install_from_the_pinned_table(release, tmp_path):
    table = f"{VERSION} {digest(release)}\n"
    rc, log, _, _, temp = run_action(tmp_path, {"cluster": "c", "service": "s", "image": "x:1",
                                                "timeout": "not-a-duration"},
                                     base_env(release), checksums=table)
    assert "installed in" in log, log
    assert (temp / f"ecs-migrate-{VERSION}" / "ecs-migrate").is_file()
    assert (tmp_path / "github_path").read_text() == f"{temp / f'ecs-migrate-{VERSION}'}\n"
    # the second step ran the installed binary: a usage error, exit 2, still reported
    assert rc == 2, log


def test_a_wrong_checksum_is_refused_and_nothing_installed(release, tmp_path):
    rc, log, outputs, _, temp = run_action(
        tmp_path, {"cluster": "c", "service": "s", "sha256": "0" * 64}, base_env(release))
    assert rc == 1, log
    assert f"checksum mismatch for {TARBALL}: expected {'0' * 64}, got {digest(release)}" in log
    assert "::error title=ecs-migrate install::checksum mismatch" in log
    assert not any(temp.rglob("ecs-migrate")), "nothing installed"
    assert (tmp_path / "github_path").read_text() == ""
    assert outputs == dict.fromkeys(OUTPUTS, ""), "the migration never ran"


def test_a_version_without_a_pinned_checksum_asks_for_one(release, tmp_path):
    rc, log, _, _, temp = run_action(tmp_path, {"cluster": "c", "service": "s",
                                                "version": "9.9.9"}, base_env(release))
    assert rc == 1 and "no SHA-256 for version 9.9.9" in log and "input sha256" in log, log
    assert not any(temp.rglob("ecs-migrate"))


def test_the_outputs_of_a_real_migration(release, endpoint, tmp_path):  # noqa: F811
    world = seed(endpoint, "ca-central-1", tmp_path)
    env = {**base_env(release), "AWS_ENDPOINT_URL": endpoint, "AWS_REGION": world["region"],
           "AWS_ACCESS_KEY_ID": "gha", "AWS_SECRET_ACCESS_KEY": "gha",
           "AWS_EC2_METADATA_DISABLED": "true", "ECS_MIGRATE_LOG_QUIET": "1s"}
    inputs = {"cluster": world["cluster"], "service": "ass-staging", "image": world["image_broken"],
              "container": "rails", "sha256": digest(release), "junit": "junit.xml",
              "args": "--poll-interval\n200ms\n--client-token\ngha-run-42-1"}
    rc, log, outputs, _, _ = run_action(tmp_path, inputs, env)
    assert rc == 1, log
    assert outputs["exit-code"] == "1" and outputs["outcome"] == "failed", (outputs, log)
    assert outputs["migrated-versions"] == "20240101000000,20240215093000,20240301120000"
    assert outputs["task-arn"].startswith("arn:aws:ecs:ca-central-1:"), outputs
    assert outputs["client-token"] == "gha-run-42-1"
    assert "::error title=ecs-migrate run%3A migration 20240401000000 AddUniqueIndexToUsers failed" in log
    summary = (tmp_path / "summary.md").read_text()
    assert "| 20240401000000 | AddUniqueIndexToUsers | up | began, never finished |" in summary
    assert (tmp_path / "junit.xml").read_text().startswith("<?xml")


def test_the_release_url_is_the_actions_own_repository_when_none_is_given(tmp_path):
    # github.action_repository can be empty in a composite action: the checkout path names it
    action_path = tmp_path / "_actions" / "acme" / "ecs-migrate" / "v0.1.0"
    env = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"),
           "GITHUB_ACTION_PATH": str(action_path), "ECS_MIGRATE_RELEASE_REPOSITORY": ""}
    proc = subprocess.run([str(ROOT / "scripts/action-install"), "0.1.0", "0" * 64,
                           str(tmp_path / "dest")], env=env, capture_output=True, text=True,
                          timeout=120)
    # no internet here: the download fails, naming the URL it was given
    assert proc.returncode == 1, proc.stderr
    assert ("cannot download https://github.com/acme/ecs-migrate/releases/download/v0.1.0/"
            "ecs-migrate-0.1.0-x86_64-linux-gnu.tar.gz") in proc.stderr, proc.stderr
    assert not (tmp_path / "dest" / "ecs-migrate").exists()
