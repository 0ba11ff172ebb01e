"""The rails images' `bundle exec rails …`: Rails' own ActiveRecord and Rake running each image's
db/migrate against a SQLite file (images/rails, rails-broken, rails-next)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from harness import container, wait_until

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / "emulator" / "images"
FIRST = ["20240101000000", "20240215093000", "20240301120000"]  # every image has these
NEXT = ["20240501000000", "20240502000000"]  # rails-next's own
REVERT = "ARGV.each { |v| ActiveRecord::Base.connection.migration_context.run(:down, Integer(v, 10)) }"


def bundle(tmp_path: Path, *args: str, image: str = "rails", merged: bool = False,
           env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`bundle exec rails ARGS` from the image directory, as the agent runs it (cwd = image
    directory, argv[0] inside it); `merged`: stderr into the same pipe as stdout, as in a task."""
    full = {"PATH": os.environ["PATH"], "DB_NAME": str(tmp_path / "db.sqlite3"), **(env or {})}
    return subprocess.run(
        [str(IMAGES / image / "bundle"), "exec", "rails", *args],
        env=full, capture_output=not merged, text=True, cwd=IMAGES / image, timeout=60,
        stdout=subprocess.PIPE if merged else None, stderr=subprocess.STDOUT if merged else None,
    )


def versions(tmp_path: Path) -> list[str]:
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        return [r[0] for r in db.execute("SELECT version FROM schema_migrations ORDER BY version")]


def columns(tmp_path: Path, table: str) -> list[str]:
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        return [r[1] for r in db.execute(f"PRAGMA table_info({table})")]


def tables(tmp_path: Path) -> set[str]:
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_migrate_prints_rails_own_output_and_records_versions(tmp_path):
    r = bundle(tmp_path, "db:migrate")
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    lines = r.stdout.splitlines()
    assert lines[:3] == ["== 20240101000000 CreateUsers: migrating " + "=" * 38,
                         "-- create_table(:users)", lines[2]]
    assert len(lines[0]) == 79
    assert lines[2].startswith("   -> ") and lines[2].endswith("s"), lines[2]
    assert "-- add_column(:users, :email, :string)" in lines
    assert "-- add_index(:posts, :user_id)" in lines
    assert any(l.startswith("== 20240301120000 CreatePosts: migrated (") for l in lines)
    assert len([l for l in lines if l]) == 14, "the line count ecs-migrate's tests expect"
    assert versions(tmp_path) == FIRST
    assert columns(tmp_path, "users") == ["id", "name", "email"]
    assert columns(tmp_path, "posts") == ["id", "user_id", "title"]
    again = bundle(tmp_path, "db:migrate")
    assert (again.returncode, again.stdout, again.stderr) == (0, "", "")


def test_failing_migration_fails_for_real_and_keeps_the_earlier_ones(tmp_path):
    r = bundle(tmp_path, "db:migrate", image="rails-broken")
    assert r.returncode == 1
    err = r.stderr.splitlines()
    assert err[:4] == [
        "rails aborted!",
        "StandardError: An error has occurred, this and all later migrations canceled:",
        "",
        "SQLite3::ConstraintException: UNIQUE constraint failed: users.email",
    ], r.stderr
    assert "ActiveRecord::RecordNotUnique: SQLite3::ConstraintException: UNIQUE constraint failed: users.email" in err
    assert err[-2:] == ["Tasks: TOP => db:migrate", "(See full trace by running task with --trace)"]
    # the backtrace shows the migration's own line, as Rails cuts it to the app's lines
    assert any("rails-broken/db/migrate/20240401000000_add_unique_index_to_users.rb:" in l
               for l in err), r.stderr
    out = r.stdout.splitlines()
    assert "== 20240401000000 AddUniqueIndexToUsers: migrating " + "=" * 28 in out
    assert out[-1] == "-- add_index(:users, :email, {:unique=>true})"
    assert not any("AddUniqueIndexToUsers: migrated" in l for l in out)
    # its transaction rolled back: the three earlier ones stay, neither duplicate user does
    assert versions(tmp_path) == FIRST
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM users").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'index_users_on_email'"
                          ).fetchone() == (0,)


def test_stdout_is_not_synced_so_the_error_lands_first_in_one_pipe(tmp_path):
    """One pipe for both, as the agent gives a container: Rake's report (stderr, unbuffered)
    comes before the migration lines (stdout, flushed at exit), as from a real Rails container."""
    r = bundle(tmp_path, "db:migrate", image="rails-broken", merged=True)
    assert r.returncode == 1
    lines = r.stdout.splitlines()
    assert lines[0] == "rails aborted!", lines
    aborted = lines.index("(See full trace by running task with --trace)")
    assert lines.index("== 20240101000000 CreateUsers: migrating " + "=" * 38) > aborted
    assert lines[-1] == "-- add_index(:users, :email, {:unique=>true})"


def test_rollback_step_and_down_version(tmp_path):
    bundle(tmp_path, "db:migrate")
    r = bundle(tmp_path, "db:rollback", "STEP=2")
    assert r.returncode == 0, r.stderr
    assert "== 20240301120000 CreatePosts: reverting " + "=" * 38 in r.stdout.splitlines()
    assert "== 20240215093000 AddEmailToUsers: reverted (" in r.stdout
    assert versions(tmp_path) == FIRST[:1]
    assert columns(tmp_path, "users") == ["id", "name"]
    r = bundle(tmp_path, "db:migrate:down", env={"VERSION": FIRST[0]})  # from the env too
    assert r.returncode == 0 and versions(tmp_path) == []
    assert "users" not in tables(tmp_path)
    r = bundle(tmp_path, "db:migrate:down", "VERSION=19990101000000")
    assert r.returncode == 1
    assert "ActiveRecord::UnknownMigrationVersionError" in r.stderr
    assert "No migration with version number 19990101000000." in r.stderr
    r = bundle(tmp_path, "db:migrate:down")
    assert r.returncode == 1
    assert "VERSION is required - To go down one migration, use db:rollback" in r.stderr


@pytest.mark.parametrize("step", ["0", "x"])
def test_rollback_with_a_step_that_is_not_a_number_reverts_nothing(tmp_path, step):
    """Rails 6.1 reads STEP with to_i and checks nothing (ecs-migrate validates STEP itself)."""
    bundle(tmp_path, "db:migrate")
    r = bundle(tmp_path, "db:rollback", f"STEP={step}")
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    assert versions(tmp_path) == FIRST


def test_a_negative_step_reverts_all_but_the_first_as_rails_61_does(tmp_path):
    bundle(tmp_path, "db:migrate", image="rails-next")
    r = bundle(tmp_path, "db:rollback", "STEP=-1", image="rails-next")
    assert r.returncode == 0, r.stderr
    assert versions(tmp_path) == FIRST[:1]


def test_status_and_version_and_no_file_for_versions_the_image_lacks(tmp_path):
    bundle(tmp_path, "db:migrate", image="rails-next")
    bundle(tmp_path, "db:rollback", image="rails-next")
    r = bundle(tmp_path, "db:migrate:status", image="rails-next")
    assert r.returncode == 0, r.stderr
    assert f"database: {tmp_path / 'db.sqlite3'}" in r.stdout
    assert " Status   Migration ID    Migration Name" in r.stdout
    assert "   up     20240101000000  Create users" in r.stdout
    assert "   up     20240501000000  Add role to users" in r.stdout
    assert "  down    20240502000000  Create comments" in r.stdout
    # the first release's image does not have rails-next's files
    r = bundle(tmp_path, "db:migrate:status")
    assert "   up     20240501000000  ********** NO FILE **********" in r.stdout, r.stdout
    assert "20240502000000" not in r.stdout, "down and no file: not listed"
    r = bundle(tmp_path, "db:version")
    assert (r.returncode, r.stdout) == (0, "Current version: 20240501000000\n")


def test_status_before_any_migration_aborts_like_rails(tmp_path):
    r = bundle(tmp_path, "db:migrate:status")
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr == "Schema migrations table does not exist yet.\n"


def test_the_next_release_applies_only_its_own_on_a_database_the_first_migrated(tmp_path):
    """schema_migrations lives in the database file: across tasks and images."""
    bundle(tmp_path, "db:migrate")
    r = bundle(tmp_path, "db:migrate", image="rails-next")
    assert r.returncode == 0, r.stderr
    migrated = [l.split()[1] for l in r.stdout.splitlines() if ": migrated (" in l]
    assert migrated == NEXT
    assert versions(tmp_path) == FIRST + NEXT
    assert "role" in columns(tmp_path, "users") and "comments" in tables(tmp_path)


def test_runner_reverts_exactly_the_versions_given_newest_first(tmp_path):
    """The one-liner ecs-migrate's revert runs: Rails' reverting/reverted lines, in ARGV order."""
    bundle(tmp_path, "db:migrate", image="rails-next")
    r = bundle(tmp_path, "runner", REVERT, *reversed(NEXT), image="rails-next")
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    banners = [l for l in r.stdout.splitlines() if l.startswith("== ")]
    assert [b.split(" (")[0].rstrip(" =") for b in banners] == [
        "== 20240502000000 CreateComments: reverting",
        "== 20240502000000 CreateComments: reverted",
        "== 20240501000000 AddRoleToUsers: reverting",
        "== 20240501000000 AddRoleToUsers: reverted",
    ], r.stdout
    assert versions(tmp_path) == FIRST
    assert "role" not in columns(tmp_path, "users") and "comments" not in tables(tmp_path)
    # a version already down: nothing to do, as Rails
    again = bundle(tmp_path, "runner", REVERT, NEXT[1], image="rails-next")
    assert (again.returncode, again.stdout, again.stderr) == (0, "", "")


def test_runner_with_an_unknown_version_raises_and_exits_1(tmp_path):
    bundle(tmp_path, "db:migrate", image="rails-next")
    r = bundle(tmp_path, "runner", REVERT, NEXT[1], "20240509000000", image="rails-next")
    assert r.returncode == 1
    assert "(ActiveRecord::UnknownMigrationVersionError)" in r.stderr, r.stderr
    assert "No migration with version number 20240509000000." in r.stderr
    assert "== 20240502000000 CreateComments: reverted (" in r.stdout, "the one before it ran"
    assert versions(tmp_path) == FIRST + NEXT[:1]


def test_runner_code_errors_are_uncaught_exit_1(tmp_path):
    r = bundle(tmp_path, "runner", 'raise ArgumentError, "boom"')
    assert r.returncode == 1 and "boom (ArgumentError)" in r.stderr, r.stderr
    r = bundle(tmp_path, "runner", "puts ARGV.join(',')", "a", "b")
    assert (r.returncode, r.stdout) == (0, "a,b\n"), r.stderr
    r = bundle(tmp_path, "runner", "foo(")
    assert r.returncode == 1
    assert "Please specify a valid ruby command or the path of a script to run." in r.stderr


def test_slow_migration_stopped_midway_leaves_nothing_of_it(tmp_path):
    """SLOW_MIGRATION_SECONDS makes rails-next's first migration sleep inside its transaction; a
    SIGTERM then rolls it back (what a StopTask does to a runner); Rake reports the signal as an
    error and exits 1, as `rails db:migrate` does."""
    bundle(tmp_path, "db:migrate")
    env = {"PATH": os.environ["PATH"], "DB_NAME": str(tmp_path / "db.sqlite3"),
           "SLOW_MIGRATION_SECONDS": "60"}
    process = subprocess.Popen([str(IMAGES / "rails-next" / "bundle"), "exec", "rails", "db:migrate"],
                               cwd=IMAGES / "rails-next", env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def locked() -> bool:
        """Someone holds the database's write lock."""
        db = sqlite3.connect(tmp_path / "db.sqlite3", timeout=0, isolation_level=None)
        try:
            db.execute("BEGIN IMMEDIATE")
            db.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError:
            return True
        finally:
            db.close()

    def in_its_transaction() -> bool:
        """The migration holds the write lock, its add_column uncommitted, and keeps holding
        it (not one of the brief writes before it)."""
        return locked() and not time.sleep(0.3) and locked()

    try:
        wait_until(in_its_transaction, 20, "the slow migration inside its transaction")
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=20)
    finally:
        process.kill()
    assert time.monotonic() - started < 10, "it was sleeping, not finishing"
    assert process.returncode == 1
    assert "rails aborted!\nSignalException: SIGTERM\n" in out, out
    assert "== 20240501000000 AddRoleToUsers: migrating" in out, out
    assert "AddRoleToUsers: migrated" not in out
    assert versions(tmp_path) == FIRST
    assert "role" not in columns(tmp_path, "users")


def test_a_proxy_on_localhost_that_does_not_answer_fails_like_rails(tmp_path):
    r = bundle(tmp_path, "db:migrate", env={"DATABASE_HOST": "127.0.0.1", "DATABASE_PORT": "6432",
                                            "EMU_TASK_LOCALHOST": str(tmp_path)})
    assert r.returncode == 1 and r.stdout == ""
    assert ('ActiveRecord::ConnectionNotEstablished: connection to server at "127.0.0.1", '
            "port 6432 failed: Connection refused") in r.stderr, r.stderr
    assert not (tmp_path / "db.sqlite3").exists()


def test_without_db_name_it_fails_like_a_missing_config(tmp_path):
    r = subprocess.run([str(IMAGES / "rails" / "bundle"), "exec", "rails", "db:migrate"],
                       env={"PATH": os.environ["PATH"]}, capture_output=True, text=True)
    assert r.returncode == 1 and r.stdout == ""
    assert "ActiveRecord::AdapterNotSpecified" in r.stderr and "DB_NAME is not set" in r.stderr


def test_unknown_commands(tmp_path):
    r = bundle(tmp_path, "db:frobnicate")
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr.startswith('Unrecognized command "db:frobnicate"'), r.stderr
    r = subprocess.run([str(IMAGES / "rails" / "bundle"), "install"], capture_output=True, text=True)
    assert (r.returncode, r.stdout) == (127, "") and "bundler: command not found" in r.stderr


def test_puma_serves_until_sigterm_and_exits_0():
    process = subprocess.Popen([str(IMAGES / "rails" / "bundle"), "exec", "puma", "-C", "config/puma.rb"],
                               cwd=IMAGES / "rails", text=True, stdout=subprocess.PIPE,
                               env={"PATH": os.environ["PATH"], "RAILS_ENV": "staging"})
    try:
        assert process.stdout is not None
        seen = []
        while "Use Ctrl-C to stop" not in seen:
            seen.append(process.stdout.readline().rstrip("\n"))
        assert seen[0] == "Puma starting in single mode..."
        assert "*  Environment: staging" in seen and "* Listening on http://0.0.0.0:3000" in seen
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=10)
    finally:
        process.kill()
    assert process.returncode == 0
    assert out.splitlines()[-1] == "- Goodbye!"


# --- through the agent -----------------------------------------------------------------------


def test_in_a_task_the_error_lands_before_the_migration_lines(world):
    """The rails-broken image run by the agent: its log has Rake's report first."""
    td = world.register("broken", lambda cs: cs[0].update(image=world["image_broken"]))
    _, stopped = world.wait_stopped(world.run_task(["bundle", "exec", "rails", "db:migrate"], td=td))
    assert container(stopped, "rails").get("exitCode") == 1
    lines = wait_until(lambda: (ls := world.log_lines("rails", stopped))
                       and "-- add_index(:users, :email, {:unique=>true})" in ls and ls,
                       10, "the last migration line in the rails stream")
    assert lines[0] == "rails aborted!", lines
    assert lines.index("(See full trace by running task with --trace)") < lines.index(
        "== 20240101000000 CreateUsers: migrating " + "=" * 38)
    assert world.sql("SELECT count(*) FROM schema_migrations") == "3"


def test_the_next_image_in_a_task_migrates_the_worlds_database(world):
    """seed's image_next selects images/rails-next/: after the first release, only its own two."""
    first = world.run_task(["bundle", "exec", "rails", "db:migrate"])
    assert container(world.wait_stopped(first)[1], "rails").get("exitCode") == 0
    assert world["image_next"].endswith("/rails-next:v4")
    td = world.register("next", lambda cs: cs[0].update(image=world["image_next"]))
    _, stopped = world.wait_stopped(world.run_task(["bundle", "exec", "rails", "db:migrate"], td=td))
    assert container(stopped, "rails").get("exitCode") == 0
    lines = wait_until(lambda: (ls := world.log_lines("rails", stopped))
                       and any("CreateComments: migrated (" in l for l in ls) and ls,
                       10, "rails-next's last migration in the rails stream")
    assert [l.split()[1] for l in lines if ": migrated (" in l] == NEXT
    assert world.sql("SELECT version FROM schema_migrations ORDER BY version").split() == FIRST + NEXT


def test_image_dir_resolution():
    import agent

    assert agent.image_dir_for("1.dkr.ecr.ap-northeast-1.amazonaws.com/rails:v1").name == "rails"
    assert agent.image_dir_for("1.dkr.ecr.x.amazonaws.com/rails-next:v4").name == "rails-next"
    assert agent.image_dir_for("localhost:5000/team/rails@sha256:" + "a" * 64).name == "rails"
    assert agent.image_dir_for("1.dkr.ecr.x.amazonaws.com/nope:v1") is None
