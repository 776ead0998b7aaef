"""The results cache: keys, hits, misses, atomic writes, unreadable records."""
import json
import os

from aux_core.cache import ResultsCache, make_key
from aux_core.records import NUMERICS_VERSION


def test_key_changes_with_config_data_and_numerics_version_not_code():
    base = make_key({"lr": 1e-3, "seed": 0}, "data1")
    assert base == make_key({"seed": 0, "lr": 1e-3}, "data1")  # order-free
    assert base != make_key({"lr": 3e-3, "seed": 0}, "data1")
    assert base != make_key({"lr": 1e-3, "seed": 0}, "data2")
    assert base != make_key({"lr": 1e-3, "seed": 0}, "data1", numerics=NUMERICS_VERSION + 1)
    assert make_key.__code__.co_varnames[:3] == ("config", "data_checksum", "numerics")  # no code version


def test_put_get_round_trip_and_miss(tmp_path):
    cache = ResultsCache(tmp_path)
    key = make_key({"a": 1}, "d")
    assert cache.get(key) is None and key not in cache
    cache.put(key, {"metrics": {"acc": 0.5}, "nan": float("nan")})
    rec = cache.get(key)
    assert rec["metrics"] == {"acc": 0.5} and rec["key"] == key
    assert cache.keys() == [key]


def test_write_is_atomic_and_leaves_no_temp_files(tmp_path, monkeypatch):
    cache = ResultsCache(tmp_path)
    key = make_key({"a": 2}, "d")
    cache.put(key, {"v": 1})

    def crash(*args, **kwargs):
        raise OSError("disk full")
    monkeypatch.setattr(os, "replace", crash)
    try:
        cache.put(key, {"v": 2})
    except OSError:
        pass
    assert cache.get(key)["v"] == 1                     # the old record is intact
    assert [p.name for p in cache.path(key).parent.iterdir()] == [f"{key}.json"]


def test_truncated_or_foreign_record_is_a_miss(tmp_path):
    cache = ResultsCache(tmp_path)
    key = make_key({"a": 3}, "d")
    cache.put(key, {"v": 1})
    text = cache.path(key).read_text()
    cache.path(key).write_text(text[: len(text) // 2])
    assert cache.get(key) is None
    cache.path(key).write_text(json.dumps({"v": 1, "key": "other"}))
    assert cache.get(key) is None
