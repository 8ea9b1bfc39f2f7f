"""Run each gallery example as a script, as the documentation build does.

The full Sphinx build takes too long for CI; running the scripts checks that
every example still works with the current code. Each runs in a subprocess
with matplotlib's non-interactive Agg backend and the checkout on the path.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("plot_*.py"))

pytest.importorskip("matplotlib")

# Each script trains its models in full, for up to a minute or two.
pytestmark = pytest.mark.slow


@pytest.mark.parametrize("example", EXAMPLES, ids=[path.name for path in EXAMPLES])
def test_example_runs(example):
    env = {
        **os.environ,
        "MPLBACKEND": "Agg",
        # The examples train small networks; one torch thread is faster than
        # a thread pool competing for a busy machine's cores.
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    result = subprocess.run(
        [sys.executable, str(example)],
        cwd=example.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, f"{example.name} failed:\n{result.stderr[-4000:]}"
