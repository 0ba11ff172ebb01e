"""scripts/release's Lambda package: the binary as an executable `bootstrap` at the zip's root
(what the provided.al2023 runtime runs), with its SHA-256, packed here from the debug binary
(ECS_MIGRATE_RELEASE_PREBUILT: no release build)."""

import hashlib
import json
import os
import shutil
import stat
import subprocess
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_lambda_zip_holds_an_executable_bootstrap_and_its_checksum(tmp_path):
    # a copy of the repository's files the script reads, so dist/ of the checkout is untouched
    work = tmp_path / "repo"
    shutil.copytree(ROOT, work, ignore=shutil.ignore_patterns(
        "target", ".venv", ".venv-checkov", "dist", ".git", "node_modules"), symlinks=True)
    binary = ROOT / "target/debug/ecs-migrate"
    env = {**os.environ, "ECS_MIGRATE_RELEASE_PREBUILT": str(binary),
           "CARGO_TARGET_DIR": str(ROOT / "target")}
    subprocess.run([str(work / "scripts/release")], check=True, cwd=work, env=env, timeout=300)
    dist = work / "dist"
    info = json.loads((dist / "release.json").read_text())
    zip_path = dist / info["lambda_zip"]
    assert info["lambda_zip"] == f"ecs-migrate-{info['version']}-lambda-x86_64.zip"
    digest = hashlib.sha256(zip_path.read_bytes()).hexdigest()
    assert (dist / f"{info['lambda_zip']}.sha256").read_text().split() == [digest, info["lambda_zip"]]
    assert info["lambda_sha256"] == digest
    with zipfile.ZipFile(zip_path) as z:
        [entry] = z.infolist()
        assert entry.filename == "bootstrap"
        mode = entry.external_attr >> 16
        assert stat.S_ISREG(mode) and mode & 0o111 == 0o111, oct(mode)
        assert z.read(entry) == binary.read_bytes()
