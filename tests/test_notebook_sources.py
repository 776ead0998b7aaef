"""Every notebook has its reviewable percent-format .py source beside it, and the two agree
(cell kinds, sources and tags); `jupytext --sync notebooks/*/*.ipynb` mends a pair."""
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")
NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*/*.ipynb"))


def _cells(path: Path):
    return [(c.cell_type, c.source.strip(), tuple(c.metadata.get("tags", ()))) for c in jupytext.read(path).cells]


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_each_notebook_and_its_py_source_agree(nb):
    py = nb.with_suffix(".py")
    assert py.exists(), f"{py} is missing: run `jupytext --sync {nb}` (pairing from jupytext.toml)"
    assert _cells(nb) == _cells(py), f"{nb.name} and {py.name} differ: run `jupytext --sync {nb}`"
