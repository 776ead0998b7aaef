"""The results cache: one JSON record per run, keyed by everything that changes a result.

key = sha256(canonical JSON of the config's result-affecting fields, code version, data
checksum). Records are written to a temporary file in the same folder and renamed into
place, so a reader sees a whole record or none. Each record carries its provenance.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from . import settings


def make_key(config: dict, code_version: str, data_checksum: str) -> str:
    payload = json.dumps({"config": config, "code": code_version, "data": data_checksum},
                         sort_keys=True, separators=(",", ":"), default=list)
    return hashlib.sha256(payload.encode()).hexdigest()


class ResultsCache:
    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else settings.results_dir() / "cache"

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict | None:
        p = self.path(key)
        try:
            record = json.loads(p.read_text())
        except FileNotFoundError:
            return None
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None  # unreadable record: recompute rather than return garbage
        return record if record.get("key") == key else None

    def put(self, key: str, record: dict) -> Path:
        p = self.path(key)
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w") as f:
                json.dump({**record, "key": key}, f, allow_nan=True)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, p)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return p

    def get_or_compute(self, key: str, compute) -> tuple[dict, bool]:
        """(record, cached): the stored record, or `compute()`'s, stored first. For analyses that
        are not training runs (loss landscapes); `compute` returns a JSON-able dict."""
        record = self.get(key)
        if record is not None:
            return record, True
        record = compute()
        self.put(key, record)
        return {**record, "key": key}, False

    def __contains__(self, key: str) -> bool:
        return self.get(key) is not None

    def keys(self) -> list[str]:
        return sorted(p.stem for p in self.root.glob("*/*.json"))
