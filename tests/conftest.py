"""Shared test settings: real data from the shared folder, a private results cache."""
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"

if "AUX_CORE_DATA" not in os.environ and (SHARED / "cifar10.npz").exists():
    os.environ["AUX_CORE_DATA"] = str(SHARED)


@pytest.fixture(autouse=True)
def _private_results(tmp_path_factory, monkeypatch):
    """Unit tests never read or write the project's results cache."""
    monkeypatch.setenv("AUX_CORE_RESULTS", str(tmp_path_factory.getbasetemp() / "results"))


def cifar10_available() -> bool:
    root = Path(os.environ.get("AUX_CORE_DATA", REPO / "data"))
    return (root / "cifar10.npz").exists() or (root / "cifar-10-batches-py").exists()


needs_cifar10 = pytest.mark.skipif(not cifar10_available(), reason="CIFAR-10 not found: set AUX_CORE_DATA")
