"""scripts/release, run for real: about 12 minutes on 2 cores, so only when
ECS_MIGRATE_RELEASE_TEST=1. It checks what the script promises: a binary that needs at most
glibc 2.17, runs `--version` with the commit, a tarball whose SHA-256 file matches, and the
build image's COPY sources in place."""

import hashlib
import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(os.environ.get("ECS_MIGRATE_RELEASE_TEST") != "1",
                                reason="set ECS_MIGRATE_RELEASE_TEST=1 (about 12 minutes)")


def test_release_builds_a_portable_checked_tarball():
    subprocess.run([str(ROOT / "scripts/release")], check=True, cwd=ROOT, timeout=3600)
    dist = ROOT / "dist"
    info = json.loads((dist / "release.json").read_text())
    major, minor = (int(x) for x in info["glibc_needed"].split(".")[:2])
    assert (major, minor) <= (2, 17), info
    tarball = dist / info["tarball"]
    digest = hashlib.sha256(tarball.read_bytes()).hexdigest()
    assert (dist / f"{info['tarball']}.sha256").read_text().split()[0] == digest == info["sha256"]
    with tarfile.open(tarball) as tar:
        names = tar.getnames()
    assert f"{info['tarball'].removesuffix('.tar.gz')}/ecs-migrate" in names, names
    version = subprocess.run([str(dist / "ecs-migrate"), "--version"], capture_output=True,
                             text=True, check=True).stdout.strip()
    assert version == f"ecs-migrate {info['version']} (commit {info['commit']})"
    assert len(info["commit"]) == 12, "built from a git checkout: the commit is known"
    # the build image's COPY sources exist now
    import dockerfile
    for c in dockerfile.parse_file(str(ROOT / "docs/pipeline/Dockerfile")):
        if c.cmd == "COPY":
            for source in c.value[:-1]:
                assert (ROOT / source).is_file(), source
    print(f"\nrelease: {info}")
