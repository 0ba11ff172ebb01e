"""The emulator's fake `bundle exec rails db:*` (the rails image directory)."""

import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / "emulator" / "images"


def bundle(tmp_path: Path, *args: str, image: str = "rails") -> subprocess.CompletedProcess:
    env = {"PATH": os.environ["PATH"], "DB_NAME": str(tmp_path / "db.sqlite3")}
    return subprocess.run(
        [str(IMAGES / image / "bundle"), "exec", "rails", *args],
        env=env, capture_output=True, text=True, cwd=IMAGES / image, timeout=30,
    )


def versions(tmp_path: Path) -> list[str]:
    conn = sqlite3.connect(tmp_path / "db.sqlite3")
    return [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]


def test_migrate_prints_rails_format_and_records_versions(tmp_path):
    r = bundle(tmp_path, "db:migrate")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "== 20240101000000 CreateUsers: migrating " + "=" * 38
    assert len(lines[0]) == 79
    assert any(l.startswith("== 20240301120000 CreatePosts: migrated (") for l in lines)
    assert versions(tmp_path) == ["20240101000000", "20240215093000", "20240301120000"]
    again = bundle(tmp_path, "db:migrate")
    assert again.returncode == 0 and again.stdout == ""


def test_failing_migration_exits_1_like_rails_and_keeps_earlier_ones(tmp_path):
    r = bundle(tmp_path, "db:migrate", image="rails-broken")
    assert r.returncode == 1
    assert "StandardError: An error has occurred, this and all later migrations canceled:" in r.stdout
    assert "Tasks: TOP => db:migrate" in r.stdout
    assert versions(tmp_path) == ["20240101000000", "20240215093000", "20240301120000"]


def test_rollback_step_and_down_version(tmp_path):
    bundle(tmp_path, "db:migrate")
    r = bundle(tmp_path, "db:rollback", "STEP=2")
    assert r.returncode == 0
    assert "== 20240301120000 CreatePosts: reverted" in r.stdout
    assert versions(tmp_path) == ["20240101000000"]
    r = bundle(tmp_path, "db:migrate:down", "VERSION=20240101000000")
    assert r.returncode == 0 and versions(tmp_path) == []
    r = bundle(tmp_path, "db:migrate:down", "VERSION=19990101000000")
    assert r.returncode == 1 and "No migration with version number 19990101000000" in r.stdout


@pytest.mark.parametrize("step", ["0", "-1", "x"])
def test_rollback_rejects_bad_steps(tmp_path, step):
    bundle(tmp_path, "db:migrate")
    assert bundle(tmp_path, "db:rollback", f"STEP={step}").returncode == 1


def test_status_lists_up_and_down(tmp_path):
    bundle(tmp_path, "db:migrate")
    bundle(tmp_path, "db:rollback")
    r = bundle(tmp_path, "db:migrate:status")
    assert "   up     20240101000000  Create users" in r.stdout
    assert "  down     20240301120000  Create posts" in r.stdout


def test_without_db_name_it_fails_like_a_missing_config(tmp_path):
    r = subprocess.run([str(IMAGES / "rails" / "bundle"), "exec", "rails", "db:migrate"],
                       env={"PATH": os.environ["PATH"]}, capture_output=True, text=True)
    assert r.returncode == 1 and "DB_NAME is not set" in r.stdout


def test_image_dir_resolution():
    import agent

    assert agent.image_dir_for("1.dkr.ecr.ap-northeast-1.amazonaws.com/rails:v1").name == "rails"
    assert agent.image_dir_for("localhost:5000/team/rails@sha256:" + "a" * 64).name == "rails"
    assert agent.image_dir_for("1.dkr.ecr.x.amazonaws.com/nope:v1") is None
