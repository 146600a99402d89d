"""Tests of the one training loop's extension points: trackers, samplers, tasks, batch CLI."""

import json
import math

import numpy as np
import pytest
import torch
from conftest import write_fake_mnist1d, write_fake_shakespeare

from ctadam import io
from ctadam.data import arrays_sha256
from ctadam.runconfig import validate_config
from ctadam.samplers import ArrayBatches, CharWindows, evenly_spaced
from ctadam.trackers import ScaleInvariantStats, Tracker, scaled_update
from ctadam.train import checkpoint_path, main, run


@pytest.fixture
def tiny_data(tmp_path) -> str:
    return str(write_fake_mnist1d(tmp_path / "tiny.npz", 64, 32, seed=0))


@pytest.fixture
def tiny_text(tmp_path) -> str:
    return str(write_fake_shakespeare(tmp_path / "text.npz"))


def config(data: str, **over) -> dict:
    cfg = {"task": "mnist1d", "data": data, "model": {"hidden": [8]}, "steps": 12,
           "optimizer": {"name": "adamw", "lr": 1e-2, "betas": [0.9, 0.999],
                         "weight_decay": 0.1},
           "dtype": "float64", "log_every": 4}
    cfg.update(over)
    return cfg


class Recorder(Tracker):
    """Logs the order of the hooks and the parameters seen around each step."""

    name = "recorder"

    def __init__(self):
        self.calls, self.moved = [], []

    def before_step(self, n):
        self.calls.append(("before", n))
        self.prev = self.ctx.flat.clone()

    def after_step(self, n, loss):
        self.calls.append(("after", n))
        self.moved.append(bool((self.ctx.flat != self.prev).any()))
        assert math.isfinite(loss)

    def result(self):
        return {"n_calls": len(self.calls)}


def test_tracker_hooks_wrap_each_step(tiny_data):
    rec = Recorder()
    record = run(config(tiny_data), [rec])
    assert rec.calls == [(k, n) for n in range(1, 13) for k in ("before", "after")]
    assert all(rec.moved), "before_step must run before the optimizer step, after_step after"
    assert record["trackers"] == {"recorder": {"n_calls": 24}}


def test_tracker_names_must_differ(tiny_data):
    with pytest.raises(ValueError, match="trackers must have distinct names"):
        run(config(tiny_data), [Recorder(), Recorder()])


def test_scaled_update_inverts_an_adamw_step():
    prev, u = torch.randn(5, dtype=torch.float64), torch.randn(5, dtype=torch.float64)
    lr, lam = 0.01, 0.3
    new = (1 - lr * lam) * prev - lr * u
    torch.testing.assert_close(scaled_update(prev, new, lr, lam) / lr, u)


def test_scale_invariant_stats_match_engine_update_norms(tiny_data):
    """The per-group |u_n| of the tracker is the engine's logged eta |u_n| / eta."""
    stats = ScaleInvariantStats({"first": ["layers.0.weight", "layers.0.bias"]})
    record = run(config(tiny_data, log_every=1), [stats])
    series = record["trackers"]["groups"]["series"]["first"]
    logged = record["log"]["groups"]["layers.0"]["update_norm"]
    assert len(series["u_sq"]) == 12
    for u_sq, eta_u in zip(series["u_sq"], logged, strict=True):
        assert math.sqrt(u_sq) == pytest.approx(eta_u / 1e-2, rel=1e-9)
    assert all(-1.0 <= c <= 1.0 for c in series["cos"])


def test_tracker_state_survives_resume(tiny_data, tmp_path):
    cfg = config(tiny_data, steps=20, batch_size=16)
    full = run(cfg, [ScaleInvariantStats({"g": ["layers.0.weight"]})])
    # a checkpoint at step 10 left behind by a run that stopped there
    ckpt = tmp_path / "ckpt"

    class Stopped(Exception):
        pass

    class Stop(Tracker):
        name = "stop"

        def after_step(self, n, loss):
            if n == 11 and not resumed_once:
                raise Stopped

    resumed_once = False
    with pytest.raises(Stopped):
        run(cfg, [ScaleInvariantStats({"g": ["layers.0.weight"]}), Stop()],
            checkpoint_dir=ckpt, checkpoint_every=10)
    resumed_once = True
    assert checkpoint_path(ckpt, validate_config(cfg)).exists()
    resumed = run(cfg, [ScaleInvariantStats({"g": ["layers.0.weight"]}), Stop()],
                  checkpoint_dir=ckpt, checkpoint_every=10)
    assert resumed["trackers"]["groups"] == full["trackers"]["groups"]
    assert resumed["trackers"]["stop"] == {}
    assert resumed["per_step"] == full["per_step"]


def test_array_batches_cover_each_epoch_once():
    x, y = torch.arange(10.0)[:, None], torch.arange(10)
    batches = ArrayBatches(x, y, 3, seed=1)
    seen = torch.cat([batches.batch(n)[1] for n in (1, 2, 3)])
    assert len(set(seen.tolist())) == 9
    assert torch.equal(batches.batch(2)[1], ArrayBatches(x, y, 3, seed=1).batch(2)[1])
    with pytest.raises(ValueError, match="batch_size must be <= n_train=10"):
        ArrayBatches(x, y, 11, seed=0)


def test_char_windows_are_shifted_pairs_and_stateless():
    text = torch.arange(100)
    sampler = CharWindows(text, block_size=8, batch_size=5, seed=3)
    x, y = sampler.batch(7)
    assert x.shape == y.shape == (5, 8)
    assert torch.equal(y[:, :-1], x[:, 1:]) and torch.equal(y[:, 0], x[:, 0] + 1)
    assert torch.equal(x, CharWindows(text, 8, 5, 3).batch(7)[0])
    assert not torch.equal(x, sampler.batch(8)[0])
    with pytest.raises(ValueError, match="block_size must be < the text length 100"):
        CharWindows(text, 100, 5, 0)


def test_evenly_spaced():
    assert evenly_spaced(10, None) is None and evenly_spaced(10, 20) is None
    assert evenly_spaced(10, 3).tolist() == [0, 4, 9]  # linspace(0, 9, 3) = 0, 4.5, 9


def shakespeare_config(data: str, **over) -> dict:
    cfg = {"task": "shakespeare", "data": data, "arch": "char_transformer",
           "model": {"n_layer": 1, "n_head": 2, "n_embd": 16, "block_size": 8},
           "optimizer": {"name": "adam", "lr": 3e-3, "betas": [0.9, 0.99]}, "steps": 6,
           "batch_size": 4, "eval_samples": 20, "eval_every": 3}
    cfg.update(over)
    return cfg


def test_shakespeare_runs_through_the_engine(tiny_text):
    record = run(shakespeare_config(tiny_text))
    assert record["status"] == "ok" and record["steps_done"] == 6
    assert record["eval"]["step"] == [3, 6]
    # 12 equally likely characters: the untrained loss is near ln 12
    assert record["eval"]["test_loss"][0] == pytest.approx(math.log(12), rel=0.2)


def test_character_model_sees_the_whole_vocabulary(tmp_path):
    """The training text lacks the last of 12 characters; the validation text has it."""
    rng = np.random.default_rng(0)
    arrays = {"train": rng.integers(0, 11, 500).astype(np.uint16),
              "val": np.full(100, 11, dtype=np.uint16), "vocab": np.arange(97, 109)}
    path = tmp_path / "text.npz"
    np.savez(path, sha256=np.array(arrays_sha256(arrays)), **arrays)
    record = run(shakespeare_config(str(path), batch_size=None, n_train=2, steps=1))
    assert record["status"] == "ok"  # evaluating on character 11 needs a 12-way output
    assert record["eval"]["test_acc"][0] <= 1.0


def test_shakespeare_full_batch_uses_fixed_windows(tiny_text):
    a = run(shakespeare_config(tiny_text, batch_size=None, n_train=16))
    b = run(shakespeare_config(tiny_text, batch_size=None, n_train=16, seed=0))
    assert a["per_step"] == b["per_step"]
    with pytest.raises(ValueError, match="arch 'char_transformer' goes with task 'shakespeare'"):
        run(shakespeare_config(tiny_text, task="mnist1d"))


def test_loss_spike_is_a_divergence(tiny_data):
    cfg = config(tiny_data, steps=200, log_every=1, diverge_loss_factor=1.5,
                 optimizer={"name": "adam", "lr": 0.5, "betas": [0.9, 0.999]})
    record = run(cfg)
    assert record["status"] == "diverged"
    assert record["reason"] == "loss above diverge_loss_factor x its running minimum"
    losses = record["log"]["loss"]
    assert losses[-1] > 1.5 * min(losses[:-1])
    with pytest.raises(ValueError, match=r"diverge_loss_factor must be in \(1, inf\)"):
        run(config(tiny_data, diverge_loss_factor=1.0))


def test_record_names_the_machine(tiny_data):
    env = run(config(tiny_data, steps=1))["env"]
    assert env["cpu"] and env["blas"] and env["threads"] == torch.get_num_threads()


def test_cli_runs_several_configs_in_one_process(tiny_data, tmp_path, capsys):
    paths = []
    for seed in (0, 1):
        path = tmp_path / f"c{seed}.json"
        path.write_text(json.dumps(config(tiny_data, seed=seed, steps=3)))
        paths.append(str(path))
    outs = [str(tmp_path / "r0.json"), str(tmp_path / "r1.json")]
    assert main(["--config", *paths, "--out", *outs]) == 0
    assert capsys.readouterr().out.count("ok after 3 steps") == 2
    assert [io.read_json(o)["config"]["seed"] for o in outs] == [0, 1]
    with pytest.raises(SystemExit):
        main(["--config", *paths, "--out", outs[0]])
    assert "one record per --config" in capsys.readouterr().err


def test_gpu_cell_times_the_engines_own_setup_and_step(tmp_path, monkeypatch):
    """The GPU timing builds its run with train.setup (so a character model gets the corpus's
    vocabulary, which the timing's own set-up used to drop) and times train.step."""
    from ctadam import train
    from ctadam.experiments.kadam_optimizer import gpu_cell

    rng = np.random.default_rng(0)
    arrays = {"train": rng.integers(0, 11, 500).astype(np.uint16),
              "val": np.full(100, 11, dtype=np.uint16), "vocab": np.arange(97, 109)}
    path = tmp_path / "text.npz"
    np.savez(path, sha256=np.array(arrays_sha256(arrays)), **arrays)
    ka = {"betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.1, "diverge_loss_factor": 20.0,
          "tasks": {"shakespeare": {"arch": "char_transformer", "steps": 5, "batch_size": 2,
                                    "lrs": [1e-3], "train_windows": 4,
                                    "model": {"n_layer": 1, "n_head": 1, "n_embd": 8,
                                              "block_size": 4}}}}
    cell = {"task": "shakespeare", "norm": "none", "method": "adamw", "k": 1}
    seen = []
    engine_step = train.step

    def counted(s, n, trackers=()):
        seen.append((n, s.model.head.out_features))
        return engine_step(s, n, trackers)

    monkeypatch.setattr(train, "step", counted)
    assert gpu_cell.time_cell(ka, cell, str(path), steps=2, warmup=1, device="cpu") > 0
    assert seen == [(1, 12), (2, 12), (3, 12)]
