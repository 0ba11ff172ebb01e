"""The emulator's own tests: ONE emulator process per pytest session (harness.Emulator, with the
Rust harness's short timings), and for each test a fresh region of it, reset and seeded.

Fault knobs are set per region (`POST /_emulator/faults?region=R`), so no test touches the
global ones and no test needs to clean up after another: a region is reset when it is taken from
the pool and again when the test gives it back. Seeding takes about two seconds, so the next
world is reset and seeded in the background while a test runs (one ahead), and a region given
back is reset there too.
"""

from __future__ import annotations

import sys
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "emulator"))  # seed, revision, faults, … importable
sys.path.insert(0, str(Path(__file__).resolve().parent))  # harness

from harness import Emulator, World  # noqa: E402


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    emu = Emulator(tmp_path_factory.mktemp("emulator") / "stderr.log")
    yield emu
    emu.close()


class Seeder:
    """Seeded worlds, one ahead: a region from the pool, `POST /_emulator/reset?region=R`, then
    `seed.py URL --region R --data-dir DIR`, in a background thread."""

    def __init__(self, emulator: Emulator, base: Path):
        self.emulator = emulator
        self.base = base
        self.executor = ThreadPoolExecutor(max_workers=1)
        self.ahead: Future[tuple[str, dict[str, Any], Path]] | None = None
        self.count = 0

    def _prepare(self, n: int) -> tuple[str, dict[str, Any], Path]:
        region = self.emulator.regions.get(timeout=60)
        try:
            self.emulator.reset(region)
            data_dir = self.base / f"world-{n}-{region}"
            return region, self.emulator.seed(region, data_dir), data_dir
        except BaseException:
            self.emulator.regions.put(region)
            raise

    def take(self) -> tuple[str, dict[str, Any], Path]:
        ready = self.ahead or self.executor.submit(self._prepare, self.count)
        self.count += 1
        self.ahead = self.executor.submit(self._prepare, self.count)
        self.count += 1
        return ready.result()

    def give_back(self, region: str) -> None:
        """Resets the region (its tasks' processes are killed, its knobs cleared) and puts it back
        in the pool, in the background."""
        def reset() -> None:
            try:
                self.emulator.reset(region)
            finally:
                self.emulator.regions.put(region)

        self.executor.submit(reset)

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)


@pytest.fixture(scope="session")
def seeder(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeder]:
    s = Seeder(emulator, tmp_path_factory.mktemp("worlds"))
    yield s
    s.close()


@pytest.fixture
def make_world(emulator: Emulator, seeder: Seeder) -> Iterator[Callable[[], World]]:
    """A seeded world in a region of its own (as many as a test asks for); every region taken is
    reset and given back to the pool when the test ends."""
    taken: list[str] = []

    def make() -> World:
        region, doc, data_dir = seeder.take()
        taken.append(region)
        return World(emulator, region, doc, data_dir)

    yield make
    for region in taken:
        seeder.give_back(region)


@pytest.fixture
def world(make_world: Callable[[], World]) -> World:
    return make_world()


@pytest.fixture
def needs_ecs_migrate() -> Any:
    from harness import BIN

    if not BIN.exists():
        pytest.skip(f"needs the ecs-migrate binary at {BIN} (cargo build; scripts/test builds it)")
    return BIN
