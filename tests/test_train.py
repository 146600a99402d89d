"""Tests of the training engine ctadam.train: config checks, records, determinism, resume."""

import json
import math
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from conftest import write_fake_mnist1d

from ctadam import io
from ctadam.data import arrays_sha256
from ctadam.runconfig import validate_config
from ctadam.trackers import Tracker
from ctadam.train import REASONS, all_finite, checkpoint_path, divergence, main, run


@pytest.fixture
def tiny_data(tmp_path) -> str:
    """A small MNIST-1D-shaped dataset (40 features, 10 classes) in the cache format."""
    return str(write_fake_mnist1d(tmp_path / "tiny.npz", 64, 32, seed=0))


def config(data: str, **over) -> dict:
    cfg = {"task": "mnist1d", "data": data, "model": {"hidden": [8]}, "steps": 30,
           "optimizer": {"name": "adam", "lr": 1e-2, "betas": [0.9, 0.999], "eps": 1e-16},
           "dtype": "float64", "log_every": 5, "eval_every": 10}
    cfg.update(over)
    return cfg


def without_timing(record: dict) -> str:
    return json.dumps({k: v for k, v in record.items() if k != "timing"}, sort_keys=True)


@pytest.mark.parametrize("change, message", [
    ({"steps": 0}, "steps must be an integer >= 1"),
    ({"task": "imagenet"}, "task must be one of"),
    ({"dtype": "float16"}, "dtype must be one of"),
    ({"lr_schedule": 1}, "unknown keys ['lr_schedule']"),
    ({"optimizer": {"name": "adam", "lr": -1.0, "betas": [0.9, 0.999]}}, "optimizer.lr must be"),
    ({"optimizer": {"name": "adam", "lr": 1e-3, "betas": [0.9, 1.0]}}, "(beta2) must be in [0, 1)"),
    ({"optimizer": {"name": "adam", "lr": 1e-3, "betas": [0.9]}}, "optimizer.betas must be a pair"),
    ({"optimizer": {"name": "adam", "lr": 1e-3, "betas": [0.9, 0.99], "k": 2}},
     "optimizer.k must be 1 for adam"),
    ({"optimizer": {"name": "sgd", "lr": 1e-3, "betas": [0.9, 0.99]}}, "optimizer.name must be"),
    ({"batch_size": 0}, "batch_size must be an integer >= 1"),
    ({"monitor": {"window": 2}}, "monitor.window must be an integer >= 3"),
    ({"dtype": ["float32"]}, "dtype must be one of ('float32', 'float64'), got ['float32']"),
    ({"dtype": 64}, "dtype must be one of"),
    ({"arch": "resnet"}, "arch must be one of ('mlp', 'cnn1d'"),
    ({"norm": "batch"}, "norm must be one of ('none', 'layer')"),
    ({"model": {"hiddn": [3]}}, "model (arch 'mlp') has unknown keys ['hiddn']; allowed keys: "
                                "['affine', 'hidden', 'in_features', 'norm_eps', 'out_features']"),
    ({"model": {"norm": "layer"}}, "unknown keys ['norm']"),
    ({"arch": "cnn1d", "model": {"hidden": [3]}},
     "model (arch 'cnn1d') has unknown keys ['hidden']; allowed keys: ['affine', 'channels'"),
    ({"optimizer": {"name": "adamw", "lr": 0.1, "betas": [0.9, 0.99], "weight_decay": 10.0}},
     "optimizer.lr * optimizer.weight_decay must be in [0, 1) for adamw"),
    ({"optimizer": {"name": "kadam", "lr": 0.5, "betas": [0.9, 0.99], "weight_decay": 4.0}},
     "optimizer.lr=0.5 * optimizer.weight_decay=4.0 = 2.0"),
])
def test_bad_config_names_key_and_range(change, message):
    with pytest.raises(ValueError) as err:
        validate_config(config("x.npz", **change))
    assert message in str(err.value)


def test_decay_limit_only_for_decoupled_decay():
    """lr * weight_decay < 1 binds adamw and kadam; Adam's weight_decay is a coupled L2 term."""
    for name, wd in (("adamw", 9.99), ("kadam", 9.99), ("adam", 20.0)):
        opt = {"name": name, "lr": 0.1, "betas": [0.9, 0.99], "weight_decay": wd}
        assert validate_config(config("x.npz", optimizer=opt))["optimizer"]["weight_decay"] == wd


def test_model_keys_pass_through(tiny_data):
    cfg = validate_config(config(tiny_data, model={"hidden": [4, 4], "affine": True}))
    assert cfg["model"] == {"hidden": [4, 4], "affine": True}
    assert run({**cfg, "steps": 2})["n_params"] == 40 * 4 + 4 + 4 * 4 + 4 + 4 * 10 + 10


def test_missing_key_is_named():
    cfg = config("x.npz")
    del cfg["steps"]
    with pytest.raises(ValueError, match="config.steps is required"):
        validate_config(cfg)


def test_defaults_and_kadam_pairs():
    cfg = validate_config(config("x.npz", optimizer={"name": "kadam", "lr": 1e-3, "k": 2,
                                                     "betas": [[0.9, 0.99], [0.5, 0.9]]}))
    assert cfg["optimizer"]["betas"] == [[0.9, 0.99], [0.5, 0.9]]
    assert cfg["optimizer"]["eps"] == 1e-8 and cfg["batch_size"] is None
    assert cfg["monitor"] == {"window": 20, "max_loglog_slope": 2.0}


def test_record_contents(tiny_data, tmp_path):
    out = tmp_path / "rec.json"
    record = run(config(tiny_data), out=out)
    assert io.read_json(out) == json.loads(json.dumps(record))
    assert record["status"] == "ok" and record["steps_done"] == 30
    assert len(record["per_step"]["update_max_abs"]) == 30
    # Adam's first update is a sign step: every nonzero coordinate has |u_1| = 1.
    assert record["per_step"]["update_max_abs"][0] == pytest.approx(1.0, rel=1e-9)
    assert record["per_step"]["update_rms"][0] <= 1.0 + 1e-12
    assert record["log"]["step"] == [1, 5, 10, 15, 20, 25, 30]
    assert record["eval"]["step"] == [10, 20, 30]
    assert set(record["log"]["groups"]) == {"layers.0", "layers.3"}
    group = record["log"]["groups"]["layers.0"]
    total = math.sqrt(sum(g["param_norm"][-1] ** 2 for g in record["log"]["groups"].values()))
    assert total == pytest.approx(record["log"]["param_norm"][-1], rel=1e-12)
    assert all(u > 0 for u in group["update_norm"])
    assert record["n_params"] == 40 * 8 + 8 + 8 * 10 + 10
    assert record["env"]["device"] == "cpu" and record["env"]["torch"] == torch.__version__
    assert record["timing"]["wall_time_s"] > 0 and record["monitor"]["exponential"] is False


def test_same_config_same_bytes(tiny_data, tmp_path):
    a, b = run(config(tiny_data, batch_size=16)), run(config(tiny_data, batch_size=16))
    assert without_timing(a) == without_timing(b)
    c = run(config(tiny_data, batch_size=16, seed=1))
    assert without_timing(a) != without_timing(c)


def test_divergence_is_data(tiny_data):
    cfg = config(tiny_data, diverge_norm=50.0, steps=200, log_every=1,
                 optimizer={"name": "adam", "lr": 1.0, "betas": [0.9, 0.5], "eps": 1e-16})
    record = run(cfg)
    assert record["status"] == "diverged"
    assert record["reason"] in ("parameter norm above diverge_norm", "non-finite loss")
    assert record["steps_done"] == record["diverged_at"] < 200
    assert len(record["per_step"]["update_max_abs"]) == record["diverged_at"]


def test_adamw_update_excludes_decay(tiny_data):
    """With decoupled decay, u_n = ((1 - eta lambda) theta_{n-1} - theta_n) / eta: still a sign
    step at n = 1."""
    cfg = config(tiny_data, optimizer={"name": "adamw", "lr": 1e-2, "betas": [0.9, 0.999],
                                       "eps": 1e-16, "weight_decay": 0.5})
    record = run(cfg)
    assert record["per_step"]["update_max_abs"][0] == pytest.approx(1.0, rel=1e-9)


def test_kadam_k1_matches_adam(tiny_data):
    adam = run(config(tiny_data))
    kadam = run(config(tiny_data, optimizer={"name": "kadam", "lr": 1e-2, "k": 1,
                                             "betas": [0.9, 0.999], "eps": 1e-16}))
    np.testing.assert_allclose(kadam["log"]["param_norm"], adam["log"]["param_norm"], rtol=1e-9)


def test_cli(tiny_data, tmp_path, capsys):
    cfg_path = tmp_path / "cfg.json"
    cfg_path.write_text(json.dumps(config(tiny_data, steps=5)))
    assert main(["--config", str(cfg_path), "--out", str(tmp_path / "r.json")]) == 0
    assert "ok after 5 steps" in capsys.readouterr().out
    assert io.read_json(tmp_path / "r.json")["steps_done"] == 5


def test_sigkill_and_resume_gives_identical_record(tiny_data, tmp_path):
    cfg = config(tiny_data, steps=1000, log_every=50, eval_every=500, batch_size=16)
    cfg_path = tmp_path / "cfg.json"
    cfg_path.write_text(json.dumps(cfg))
    ckpt_dir, out = tmp_path / "ckpt", tmp_path / "resumed.json"
    cmd = [sys.executable, "-m", "ctadam.train", "--config", str(cfg_path), "--out", str(out),
           "--checkpoint-dir", str(ckpt_dir), "--checkpoint-every", "50"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpt = checkpoint_path(ckpt_dir, validate_config(cfg))
    deadline = time.monotonic() + 60
    while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert ckpt.exists() and not out.exists()
    assert subprocess.run(cmd, capture_output=True).returncode == 0
    assert not ckpt.exists()
    reference = run(cfg)
    assert without_timing(io.read_json(out)) == without_timing(json.loads(json.dumps(reference)))


def test_per_step_statistics_do_not_depend_on_logging(tiny_data):
    """Update statistics are computed in batches between logged steps; the batching must not
    change them."""
    a = run(config(tiny_data, log_every=1))
    b = run(config(tiny_data, log_every=7))
    assert a["per_step"] == b["per_step"]
    assert b["log"]["step"] == [1, 7, 14, 21, 28, 30]
    # the logged update norm of step 7 is eta * |u_7| summed over groups
    u7 = math.sqrt(sum(g["update_norm"][1] ** 2 for g in b["log"]["groups"].values()))
    rms7 = b["per_step"]["update_rms"][6]
    assert u7 == pytest.approx(1e-2 * rms7 * math.sqrt(b["n_params"]), rel=1e-12)


def write_config(tmp_path, name: str, cfg: dict) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(cfg))
    return str(path)


def test_cli_honours_repeated_options(tiny_data, tmp_path, capsys):
    """Issue 18.1: `--config A --out RA --config B --out RB` ran only B."""
    a = write_config(tmp_path, "a.json", config(tiny_data, steps=2, seed=0))
    b = write_config(tmp_path, "b.json", config(tiny_data, steps=2, seed=1))
    ra, rb = tmp_path / "ra.json", tmp_path / "rb.json"
    assert main(["--config", a, "--out", str(ra), "--config", b, "--out", str(rb)]) == 0
    assert io.read_json(ra)["config"]["seed"] == 0 and io.read_json(rb)["config"]["seed"] == 1
    assert capsys.readouterr().out.count("ok after 2 steps") == 2


def test_cli_refuses_duplicate_outputs_before_running(tiny_data, tmp_path, capsys):
    """Issue 18.2: `--config a b --out r r` wrote a's record, then b's over it."""
    a = write_config(tmp_path, "a.json", config(tiny_data, steps=2, seed=0))
    b = write_config(tmp_path, "b.json", config(tiny_data, steps=2, seed=1))
    out = tmp_path / "r.json"
    with pytest.raises(SystemExit) as exit_info:
        main(["--config", a, b, "--out", str(out), str(tmp_path / "." / "r.json")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--out names the same record twice" in err and "r.json" in err
    assert not out.exists()


@pytest.mark.parametrize("optimizer", [
    {"name": "adam", "lr": 1e6, "betas": [0.9, 0.999]},
    {"name": "lion", "lr": 10.0, "betas": [0.9, 0.99]},
])
def test_blown_up_runs_are_diverged_by_default(tiny_data, optimizer):
    """Issue 18.3: Adam at lr 1e6 and Lion at lr 10 were recorded "ok" with losses of 1e11
    and 655, as the engine's defaults had no loss rule."""
    cfg = config(tiny_data, steps=50, dtype="float32", optimizer=optimizer, diverge_norm=1e30)
    record = run(cfg)
    assert record["config"]["diverge_loss_factor"] is None
    assert record["status"] == "diverged", record["log"]["loss"]
    assert record["reason"] in REASONS and record["reason"] != REASONS[2]
    assert record["monitor"]["exponential"] is True
    assert record["monitor"]["diverged_at"] == record["diverged_at"]


def test_divergence_rules():
    cfg = validate_config(config("x.npz"))
    st = {"best_loss": 1e-6, "first_loss": 2.3}
    assert divergence(cfg, 0.5, True, st) is None  # a spike up from a minimum near zero
    assert divergence(cfg, 2.4, True, st) == REASONS[4]  # above its start and 1e3 x its best
    assert divergence(cfg, 2.4, True, {"best_loss": 0.01, "first_loss": 2.3}) is None
    assert divergence(cfg, math.nan, True, st) == REASONS[0]
    assert divergence(cfg, 0.1, False, st) == REASONS[1]
    spiky = validate_config(config("x.npz", diverge_loss_factor=20.0))
    assert divergence(spiky, 0.1, True, {"best_loss": 1e-3, "first_loss": 2.3}) == REASONS[3]


def test_non_finite_update_ends_the_run_at_its_step(tiny_data):
    """A NaN gradient at step 3 makes the update non-finite while the loss of step 3 is
    finite: the run diverges at step 3, not at the next loss."""

    class PoisonGradient(Tracker):
        name = "poison"

        def before_step(self, n):
            if n == 3:
                next(self.ctx.model.parameters()).grad.fill_(math.nan)

    record = run(config(tiny_data, log_every=10), [PoisonGradient()])
    assert record["status"] == "diverged" and record["diverged_at"] == 3
    assert record["reason"] == "non-finite update"
    assert record["monitor"]["exponential"] is True and record["monitor"]["diverged_at"] == 3
    assert record["log"]["step"][-1] == 3


def test_diverged_before_the_monitor_window_fills_is_not_read_as_stable(tiny_data):
    """Issue 18.4: a run that diverged by norm before the monitor's window filled reported
    `monitor.exponential = false`."""
    cfg = config(tiny_data, diverge_norm=50.0, steps=200, log_every=1,
                 optimizer={"name": "adam", "lr": 1.0, "betas": [0.9, 0.5], "eps": 1e-16})
    record = run(cfg)
    assert record["status"] == "diverged" and record["monitor"]["records"] < 20
    assert record["monitor"]["exponential"] is True
    assert record["monitor"]["reason"] == record["reason"]


def test_foreign_checkpoint_is_left_alone(tiny_data, tmp_path):
    """Issue 18.7: the checkpoint of another config in --checkpoint-dir was deleted at the
    end of a run, even without --checkpoint-every."""
    other = config(tiny_data, steps=20, seed=5, batch_size=16)
    ckpt = tmp_path / "ckpt"

    class Stop(Tracker):
        name = "stop"
        at = 11

        def after_step(self, n, loss):
            if n == self.at:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(other, [Stop()], checkpoint_dir=ckpt, checkpoint_every=10)
    before = sorted(p.name for p in ckpt.iterdir())
    assert len(before) == 1
    run(config(tiny_data, steps=5), checkpoint_dir=ckpt)
    run(config(tiny_data, steps=15), checkpoint_dir=ckpt, checkpoint_every=5)
    assert sorted(p.name for p in ckpt.iterdir()) == before
    Stop.at = None
    resumed = run(other, [Stop()], checkpoint_dir=ckpt, checkpoint_every=10)
    assert without_timing(resumed) == without_timing(run(other, [Stop()]))
    assert not any(ckpt.iterdir())


def test_corrupt_checkpoint_says_to_delete_it(tiny_data, tmp_path):
    cfg = config(tiny_data, steps=5)
    path = checkpoint_path(tmp_path, validate_config(cfg))
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot be read .*delete it to start the run"):
        run(cfg, checkpoint_dir=tmp_path)


@pytest.mark.parametrize("args, message", [
    (["--config", "{missing}", "--out", "r.json"], "missing.json"),
    (["--config", "{bad_json}", "--out", "r.json"], "bad.json' cannot be read as JSON"),
    (["--config", "{bad_steps}", "--out", "r.json"], "steps.json': steps must be an integer >= 1"),
    (["--config", "{good}", "--out", "r.json", "--threads", "0"],
     "--threads must be an integer >= 1, got 0"),
    (["--config", "{good}", "--out", "r.json", "--checkpoint-every", "-1"],
     "--checkpoint-every must be an integer >= 0, got -1"),
    (["--config", "{no_data}", "--out", "r.json"], "nowhere.npz"),
    (["--config", "{good}", "--out", "r.json", "--device", "tpu"], "argument --device"),
])
def test_cli_bad_input_exits_2_with_one_line(tiny_data, tmp_path, capsys, args, message):
    """Issue 18.10: every bad input gave a traceback and exit status 1."""
    files = {"missing": str(tmp_path / "missing.json"),
             "bad_json": str(tmp_path / "bad.json"),
             "bad_steps": write_config(tmp_path, "steps.json", config(tiny_data, steps=0)),
             "good": write_config(tmp_path, "good.json", config(tiny_data, steps=2)),
             "no_data": write_config(tmp_path, "nd.json", config(str(tmp_path / "nowhere.npz")))}
    (tmp_path / "bad.json").write_text('{"task": "mnist1d",')
    argv = [a.format(**files) for a in args]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own errors exit from parse_args
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], err


def test_cli_traceback_only_with_debug(tiny_data, tmp_path, capsys):
    bad = write_config(tmp_path, "steps.json", config(tiny_data, steps=0))
    argv = ["--config", bad, "--out", str(tmp_path / "r.json")]
    assert main(argv) == 2
    assert capsys.readouterr().err.strip().endswith("steps must be an integer >= 1, got 0")
    with pytest.raises(ValueError, match="steps must be an integer >= 1"):
        main([*argv, "--debug"])


def test_cache_of_another_task_is_named(tmp_path):
    """Issue 18.12: a CIFAR-shaped cache given as MNIST-1D data failed inside the model."""
    rng = np.random.default_rng(0)
    arrays = {"x_train": rng.integers(0, 255, (20, 3, 8, 8)).astype(np.uint8),
              "y_train": rng.integers(0, 10, 20), "x_test": rng.integers(0, 255, (5, 3, 8, 8)),
              "y_test": rng.integers(0, 10, 5)}
    path = tmp_path / "images.npz"
    np.savez(path, sha256=np.array(arrays_sha256(arrays)), **arrays)
    with pytest.raises(ValueError, match=r"images.npz' does not hold a mnist1d dataset: expected "
                                         r"inputs of shape \(N, \*\) .* got inputs of shape "
                                         r"\(20, 3, 8, 8\)"):
        run(config(str(path), steps=1))


def test_all_finite():
    assert all_finite(torch.tensor([1.0, -2.0]))
    assert all_finite(torch.tensor([3e38, 3e38], dtype=torch.float32))  # the sum overflows
    for bad in (math.inf, -math.inf, math.nan):
        assert not all_finite(torch.tensor([1.0, bad, 2.0]))
    assert not all_finite(torch.tensor([math.inf, -math.inf]))


def test_images_in_the_wrong_layout_are_named(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {"x_train": rng.integers(0, 255, (6, 8, 8, 3)).astype(np.uint8),
              "y_train": rng.integers(0, 10, 6),
              "x_test": rng.integers(0, 255, (2, 8, 8, 3)).astype(np.uint8),
              "y_test": rng.integers(0, 10, 2)}
    path = tmp_path / "hwc.npz"
    np.savez(path, sha256=np.array(arrays_sha256(arrays)), **arrays)
    cfg = {"task": "cifar10", "arch": "cifar_cnn", "data": str(path), "steps": 1,
           "model": {"channels": [4]}, "optimizer": {"name": "adam", "lr": 1e-3,
                                                     "betas": [0.9, 0.999]}}
    with pytest.raises(ValueError, match=r"expected inputs of shape \(N, 3, \*, \*\)"):
        run(cfg)
