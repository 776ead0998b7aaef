"""What a result record is, and the one formula that finds it.

A record is a JSON object: `kind` ("run", "analysis" or "migrated_run"), `config`, the numbers
(metrics and histories for a run, the outputs of an analysis), `provenance` (code version,
commit, device, library versions, data checksum, wall time), `labels` (the chapter and profile
it was made for) and, once stored, `key` and `content_sha256`.

    key = sha256(result-affecting config, data checksum, NUMERICS_VERSION)

The code version is provenance, not key: a refactor that keeps the numbers keeps every stored
result. The golden tests (tests/test_golden.py) say when the numbers changed; that is the
signal to bump NUMERICS_VERSION, which makes every key new. A key is always derived from the
record's own content (`record_key`), so a record made elsewhere is filed where this code
would look for it, whatever key its maker used.
"""
from __future__ import annotations

import hashlib
import json

NUMERICS_VERSION = 1   # bump when the golden tests show that the same config now computes other numbers
# a method's own numerics version where only its runs changed (their keys move, no other's):
# 2 = WAMAL's and MAXL's look-ahead uses the learning rate the epoch trained with (2026-12-03)
METHOD_NUMERICS = {"wamal": 2, "maxl": 2}
# RunConfig fields that change speed or safety, not results
EXECUTION_FIELDS = ("device", "compile", "checkpoint_every")
KINDS = ("run", "analysis", "migrated_run")
# not numbers of the result: where, when and how fast it was made
_NOT_NUMBERS = ("key", "content_sha256", "provenance", "labels", "compacted")
_TIMING_SUFFIXES = ("_s", "seconds", "per_s")
_TIMING_KEYS = ("engine", "group_size")


def make_key(config: dict, data_checksum: str, numerics: int = NUMERICS_VERSION) -> str:
    body = {"config": config, "data": data_checksum, "numerics": numerics}
    if config.get("method") in METHOD_NUMERICS:
        body["method_numerics"] = METHOD_NUMERICS[config["method"]]
    payload = json.dumps(body, sort_keys=True, separators=(",", ":"), default=list)
    return hashlib.sha256(payload.encode()).hexdigest()


def result_config(config: dict) -> dict:
    """A run config without the fields that do not change its result."""
    return {k: v for k, v in config.items() if k not in EXECUTION_FIELDS}


def result_config_json(config: dict) -> str:
    return canonical(result_config(config))


def run_key(config: dict, data_checksum: str) -> str:
    """The key of a training run (`config`: RunConfig.to_dict() or key_fields())."""
    return make_key(result_config(config), data_checksum)


def record_kind(record: dict) -> str:
    kind = record.get("kind") or ("analysis" if "analysis" in record.get("config", {}) else "run")
    if kind not in KINDS:
        raise ValueError(f"record kind {kind!r} is not one of: {', '.join(KINDS)}")
    return kind


def record_key(record: dict) -> str:
    """The key this code files `record` under, from its config and data checksum."""
    kind, config = record_kind(record), record["config"]
    checksum = record.get("provenance", {}).get("data_checksum", "")
    if kind == "run":
        return run_key(config, checksum)
    if kind == "analysis":
        return make_key(config, checksum)
    return make_key({kind: result_config(config), "grid": record.get("grid")}, checksum)


def canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=True, default=list)


def content_hash(record: dict) -> str:
    """sha256 of a record's canonical JSON, without its own `content_sha256` field."""
    return hashlib.sha256(canonical({k: v for k, v in record.items() if k != "content_sha256"}).encode()).hexdigest()


def _is_timing(name: str) -> bool:
    return name in _TIMING_KEYS or name.endswith(_TIMING_SUFFIXES)


def _without_timings(obj):
    if isinstance(obj, dict):
        return {k: _without_timings(v) for k, v in obj.items() if not _is_timing(str(k))}
    if isinstance(obj, list):
        return [_without_timings(v) for v in obj]
    return obj


def numbers(record: dict) -> dict:
    """What two records of one key must share to be the same result: everything but where,
    when and how fast it was made (provenance, labels, timings)."""
    body = {k: v for k, v in record.items() if k not in _NOT_NUMBERS}
    if isinstance(body.get("config"), dict):
        body["config"] = result_config(body["config"])
    return _without_timings(body)


def same_numbers(a: dict, b: dict) -> bool:
    return canonical(numbers(a)) == canonical(numbers(b))
