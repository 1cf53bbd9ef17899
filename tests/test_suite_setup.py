"""The test setup itself: under ``pytest -n 2`` a test marked ``timed`` runs while no other test runs, and the others
run side by side (tests/conftest.py's turn locks)."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import ROOT

WINDOW = '''import time

import pytest


def _note(kind, seconds):
    started = time.time()
    time.sleep(seconds)
    with open("windows.txt", "a") as out:
        out.write(f"{kind} {started} {time.time()}\\n")
'''


def test_a_timed_test_runs_alone_and_the_others_side_by_side(tmp_path):
    (tmp_path / "test_timed.py").write_text(WINDOW + '''

@pytest.mark.timed
@pytest.mark.parametrize("i", range(3))
def test_timed(i):
    _note("timed", 0.4)
''')
    for name in ("first", "second"):  # two files: one for each worker
        (tmp_path / f"test_{name}.py").write_text(WINDOW + f'''

@pytest.mark.parametrize("i", range(8))
def test_plain(i):
    _note("{name}", 0.15)
''')
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_XDIST")}
    env["PYTHONPATH"] = str(ROOT / "tests")  # this suite's conftest, loaded as a plugin
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadfile", "-p", "conftest", "-q", "-p", "no:cacheprovider",
         "-W", "ignore::pytest.PytestUnknownMarkWarning", str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    windows = [line.split() for line in (tmp_path / "windows.txt").read_text().splitlines()]
    windows = [(kind, float(start), float(end)) for kind, start, end in windows]
    assert len(windows) == 3 + 8 + 8

    def overlap(a, b) -> bool:
        return a[1] < b[2] and b[1] < a[2]

    timed = [w for w in windows if w[0] == "timed"]
    others = [w for w in windows if w[0] != "timed"]
    assert not [(t, o) for t in timed for o in others if overlap(t, o)]  # alone
    first, second = ([w for w in windows if w[0] == name] for name in ("first", "second"))
    assert any(overlap(a, b) for a in first for b in second)  # the rest, side by side
