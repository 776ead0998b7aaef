"""Shared test settings: real data from the shared folder; a private, empty results cache and
results store for the whole session, unit tests and nbval's notebook kernels alike (set here,
at import, so the kernels inherit them), so no test reads or writes the project's own."""
import os
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"
COMMITTED_STORE = REPO / "results" / "store"

if "AUX_CORE_DATA" not in os.environ and (SHARED / "cifar10.npz").exists():
    os.environ["AUX_CORE_DATA"] = str(SHARED)
# one folder for the whole session: pytest-xdist's workers inherit it from the controller, so the
# notebooks on both workers share their runs (two processes reaching one key take turns on its lock)
if "AUX_CORE_TEST_SESSION" not in os.environ:
    os.environ["AUX_CORE_TEST_SESSION"] = tempfile.mkdtemp(prefix="aux-core-tests-")
_SESSION = Path(os.environ["AUX_CORE_TEST_SESSION"])
if "PYTEST_XDIST_WORKER" in os.environ:   # several workers share the cores: one intra-op thread each
    os.environ["OMP_NUM_THREADS"] = "1"
os.environ["AUX_CORE_RESULTS"] = str(_SESSION / "results")
os.environ["AUX_CORE_STORE"] = str(_SESSION / "store")
for _switch in ("AUX_CORE_PUBLISH", "AUX_CORE_REFRESH", "AUX_CORE_NO_TRAINING", "AUX_CORE_LABELS"):
    os.environ.pop(_switch, None)


@pytest.fixture(autouse=True)
def _private_results(tmp_path_factory, monkeypatch):
    """Each unit test's results go to the session's temporary folder, never to the project's."""
    base = tmp_path_factory.getbasetemp()
    monkeypatch.setenv("AUX_CORE_RESULTS", str(base / "results"))
    monkeypatch.setenv("AUX_CORE_STORE", str(base / "store"))


def cifar10_available() -> bool:
    root = Path(os.environ.get("AUX_CORE_DATA", REPO / "data"))
    return (root / "cifar10.npz").exists() or (root / "cifar-10-batches-py").exists()


needs_cifar10 = pytest.mark.skipif(not cifar10_available(), reason="CIFAR-10 not found: set AUX_CORE_DATA")
