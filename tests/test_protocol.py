"""The family protocol: the splitter, the record reader, the runner's resume-skip."""

import json

import pytest

from ctadam.experiments import protocol


def test_shard_ids_deal_sorted_ids_round_robin_and_leave_no_shard_empty():
    assert protocol.shard_ids(["c", "a", "b", "d"], 2) == [["a", "c"], ["b", "d"]]
    assert protocol.shard_ids(["a", "b"], 5) == [["a"], ["b"]]
    with pytest.raises(ValueError, match="shards"):
        protocol.shard_ids(["a"], 0)


def test_family_names_the_missing_package_and_the_missing_protocol_parts():
    with pytest.raises(ValueError, match="no package"):
        protocol.family("no_such_family")
    with pytest.raises(ValueError, match="lacks"):
        protocol.family("protocol")
    with pytest.raises(ValueError, match="identifier"):
        protocol.family("../x")


def test_read_records_refuses_a_run_in_two_directories(tmp_path):
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "r1.json").write_text("{}")
    (tmp_path / "a" / "r2.json").write_text('{"x": 1}')
    assert protocol.read_records([tmp_path / "a"]) == {"r1": {}, "r2": {"x": 1}}
    with pytest.raises(ValueError, match="r1"):
        protocol.read_records([tmp_path / "a", tmp_path / "b"])


def test_a_bad_json_file_is_named(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="bad.json"):
        protocol.read_json_file(bad)


def test_run_configs_writes_one_record_per_run_and_skips_finished_runs(tmp_path, tiny_mnist):
    cfg = {"task": "mnist1d", "data": str(tiny_mnist), "steps": 3, "model": {"hidden": [8]},
           "optimizer": {"name": "adam", "lr": 1e-3, "betas": [0.9, 0.999]}}
    path = tmp_path / "run_a.json"
    path.write_text(json.dumps(cfg))
    out = tmp_path / "records"
    [record] = protocol.run_configs([path], out, lambda c: [])
    first = record.read_bytes()
    record.write_text(first.decode().replace('"status": "ok"', '"status": "ok" '))
    protocol.run_configs([path], out, lambda c: [])  # same config: skipped, file untouched
    assert record.read_bytes() != first
    cfg["steps"] = 4  # another config under the same id: trained again
    path.write_text(json.dumps(cfg))
    protocol.run_configs([path], out, lambda c: [])
    assert json.loads(record.read_text())["steps_done"] == 4


def test_run_one_replaces_the_engine_and_its_records_resume_too(tmp_path):
    calls = []

    def run_one(config):
        calls.append(config)
        return {"config": config, "value": config["x"] ** 2}

    path = tmp_path / "sim.json"
    path.write_text(json.dumps({"x": 3}))
    [record] = protocol.run_configs([path], tmp_path / "out", lambda c: [], run_one=run_one)
    assert json.loads(record.read_text())["value"] == 9
    protocol.run_configs([path], tmp_path / "out", lambda c: [], run_one=run_one)
    assert len(calls) == 1


def test_read_records_restores_non_finite_floats(tmp_path):
    """Records store NaN and inf as strings (ctadam.io); the reader gives floats back."""
    from ctadam.io import write_json_atomic

    write_json_atomic(tmp_path / "r.json", {"u": [1.0, float("inf")], "slope": float("nan")})
    record = protocol.read_records([tmp_path])["r"]
    assert record["u"] == [1.0, float("inf")] and record["slope"] != record["slope"]
    assert protocol.read_json_file(tmp_path / "r.json")["u"][1] == float("inf")


def test_checked_runs_names_the_family_run_and_key_of_a_bad_engine_config():
    import types

    adam = {"name": "adam", "lr": 1e-3, "betas": [0.9, 0.999]}
    fam = types.ModuleType("ctadam.experiments.toy")
    fam.runs = lambda section, data: {
        "ok": {"task": "mnist1d", "data": data["mnist1d"], "steps": 2, "optimizer": adam},
        "bad": {"task": "mnist1d", "data": "x.npz", "steps": 0, "optimizer": adam}}
    with pytest.raises(ValueError, match=r"toy: run bad: steps"):
        protocol.checked_runs(fam, {}, {"mnist1d": "m.npz"})
    fam.run_one = lambda config: config  # a non-engine family checks its own configs
    assert set(protocol.checked_runs(fam, {}, {"mnist1d": "m.npz"})) == {"ok", "bad"}


def _claim(claim_id):
    return {"id": claim_id, "claim": "c", "verdict": "reproduced", "measure": "m", "value": 1.0,
            "interval": None, "seeds": 5, "rule": "r_publish"}


def test_write_publication_writes_the_declared_claims_and_refuses_others(tmp_path):
    from types import ModuleType

    fam = ModuleType("ctadam.experiments.fake")
    fam.TABLES, fam.CLAIMS = (), ("band",)
    fam.publish = lambda summary, section: {"macros": {"A": "1"}, "tables": {},
                                            "claims": [_claim(summary["id"])]}
    out = tmp_path / "claims.json"
    protocol.write_publication(fam, {"id": "band"}, {}, tmp_path / "n.tex", tmp_path, out)
    assert json.loads(out.read_text())[0]["id"] == "band"
    with pytest.raises(ValueError, match="declares"):
        protocol.write_publication(fam, {"id": "noise"}, {}, tmp_path / "n.tex", tmp_path, out)
    with pytest.raises(ValueError, match="--claims"):
        protocol.write_publication(fam, {"id": "band"}, {}, tmp_path / "n.tex", tmp_path)
