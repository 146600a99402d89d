r"""The continuous-time models against full-batch Adam/AdamW on a character transformer.

Runs of family ``continuous_time`` (paper/sections/continuous_time.tex): config in, record
out. The objective is the mean next-character cross-entropy of a
tiny :class:`ctadam.models.CharTransformer` (float64) over a fixed, seeded set of training
windows of the Shakespeare corpus: "full batch" means that this set is the whole objective.
For each learning rate eta the discrete optimizer runs N = round(T / eta) steps with
T = ``horizon_steps`` x max(eta) (so the largest eta runs ``horizon_steps`` steps), and each
model of :mod:`ctadam.theory.continuous` is integrated to step N with an explicit Runge-Kutta
method of ``scipy.integrate.solve_ivp`` (the right-hand side is the network's gradient; an
implicit method would need its Jacobian). At every recorded step n the record keeps

    sq_err[n]  = ||theta_model(n h) - theta_n||^2,   sq_disp[n] = ||theta_n - theta_0||^2,

and the trajectories of ``n_params`` coordinates drawn at random (seeded) from the whole
network. The largest eta is integrated again for every exponent in ``extra_p`` (h = eta^p),
and every model once more with a ten times looser tolerance: ``solver_check[model]`` is how
far that moves the trajectory, relative as in the error measure (it must stay below the errors
reported for the fitted order to count).

One run of family ``continuous_time`` per optimizer (:func:`run`, the family's ``run_one``).
"""

import time

import numpy as np
import torch
from torch.func import functional_call
from torch.nn import functional as F

from ctadam.checks import check_int, check_real, check_unit_interval
from ctadam.data import load_shakespeare
from ctadam.models import CharTransformer
from ctadam.theory import continuous

OPTIMIZERS = ("adam", "adamw")


class Objective:
    """Full-batch loss L(theta) and gradient of a CharTransformer over fixed windows, with
    theta the flat float64 vector of all parameters (numpy in, numpy out)."""

    def __init__(self, corpus_path: str, n_windows: int, block_size: int, n_layer: int,
                 n_head: int, n_embd: int, seed: int):
        corpus = load_shakespeare(corpus_path, block_size=block_size)
        x, y = corpus.windows("train", block_size)
        pick = np.random.default_rng(seed).choice(len(x), check_int("n_windows", n_windows),
                                                  replace=False)
        self.x, self.y = x[np.sort(pick)], y[np.sort(pick)]
        torch.manual_seed(seed)
        self.model = CharTransformer(corpus.vocab_size, block_size=block_size, n_layer=n_layer,
                                     n_head=n_head, n_embd=n_embd, norm="layer").double()
        self.names = [name for name, _ in self.model.named_parameters()]
        self.shapes = [p.shape for p in self.model.parameters()]
        self.theta0 = torch.cat([p.detach().reshape(-1) for p in self.model.parameters()]).numpy()

    def coordinate_name(self, index: int) -> str:
        """``tensor[i, j]`` naming flat coordinate ``index``."""
        for name, shape in zip(self.names, self.shapes, strict=True):
            if index < shape.numel():
                where = ",".join(str(int(i)) for i in np.unravel_index(index, tuple(shape)))
                return f"{name}[{where}]"
            index -= shape.numel()
        raise ValueError(f"index must be < {self.theta0.size}, got {index}")

    def _loss(self, theta: torch.Tensor) -> torch.Tensor:
        params, start = {}, 0
        for name, shape in zip(self.names, self.shapes, strict=True):
            params[name] = theta[start:start + shape.numel()].view(shape)
            start += shape.numel()
        logits = functional_call(self.model, params, (self.x,))
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), self.y.reshape(-1))

    def loss(self, theta: np.ndarray) -> float:
        with torch.no_grad():
            return float(self._loss(torch.as_tensor(np.ascontiguousarray(theta))))

    def grad(self, theta: np.ndarray) -> np.ndarray:
        th = torch.as_tensor(np.ascontiguousarray(theta, dtype=np.float64)).requires_grad_()
        (g,) = torch.autograd.grad(self._loss(th), th)
        return g.numpy()


def check_config(cfg: dict) -> dict:
    """Validate a run config; every bad value raises ValueError naming the key."""
    if cfg.get("optimizer") not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {cfg.get('optimizer')!r}")
    check_unit_interval("beta1", cfg["beta1"])
    check_unit_interval("beta2", cfg["beta2"])
    check_real("eps", cfg["eps"], 0.0)
    check_real("weight_decay", cfg["weight_decay"], 0.0)
    if cfg["optimizer"] == "adam" and cfg["weight_decay"] != 0:
        raise ValueError(f"weight_decay must be 0 for adam, got {cfg['weight_decay']}")
    if len(cfg["etas"]) < 1:
        raise ValueError("etas must list at least one learning rate, got []")
    for eta in cfg["etas"]:
        check_real("etas", eta, 0.0, 1.0, low_open=True)
    for p in cfg["extra_p"]:
        check_real("extra_p", p, 0.0, 4.0, low_open=True)
    check_int("horizon_steps", cfg["horizon_steps"], low=1)
    check_int("curve_points", cfg["curve_points"], low=2)
    check_int("n_params", cfg["n_params"], low=1)
    for model in cfg["models"]:
        if model not in continuous.MODELS:
            raise ValueError(f"models must be among {continuous.MODELS}, got {model!r}")
    continuous.per_step_rate(0.5, cfg["rates"])
    if cfg["method"] not in ("RK45", "DOP853", "RK23"):
        raise ValueError(f"method must be one of ('RK45', 'DOP853', 'RK23'), got "
                         f"{cfg['method']!r}")
    check_real("rtol", cfg["rtol"], 0.0, 1e-3, low_open=True)
    check_real("atol_scale", cfg["atol_scale"], 0.0, 1.0, low_open=True)
    return cfg


def block_atol(obj: Objective, rtol: float, scale: float) -> np.ndarray:
    """Absolute tolerances per block of y = (theta, mhat, vhat): rtol x scale x the block's
    size at the start (rms theta_0, rms g_0, mean g_0^2), so that coordinates crossing zero
    and the small second moments are both controlled."""
    g0 = obj.grad(obj.theta0)
    sizes = (np.sqrt(np.mean(obj.theta0**2)), np.sqrt(np.mean(g0**2)), np.mean(g0**2))
    return rtol * scale * np.repeat(sizes, obj.theta0.size)


def _model_run(obj, cfg, eta, steps, marks, path, picks, model, p, loosen=1.0):
    start = time.perf_counter()
    _, sol = continuous.integrate(obj.grad, obj.theta0, eta, cfg["beta1"], cfg["beta2"], steps,
                                  kind=cfg["rates"], model=model, p=p, eps=cfg["eps"],
                                  weight_decay=cfg["weight_decay"], eval_steps=marks,
                                  method=cfg["method"], rtol=loosen * cfg["rtol"],
                                  atol=block_atol(obj, loosen * cfg["rtol"], cfg["atol_scale"]))
    theta = sol.y[: obj.theta0.size].T[: len(path)]  # the recorded steps (the last may be < N)
    return {"model": model, "p": p, "h": continuous.time_step(eta, p), "theta": theta,
            "sq_err": np.sum((theta - path) ** 2, axis=1), "params": theta[:, picks],
            "loss": [obj.loss(th) for th in theta[:: max(1, len(theta) // 20)]],
            "nfev": int(sol.nfev), "seconds": time.perf_counter() - start}


def run(cfg: dict) -> dict:
    """Discrete runs and model integrations for every eta of ``cfg``; the record (docstring)."""
    cfg = check_config(cfg)
    torch.set_num_threads(check_int("threads", cfg.get("threads", 1), low=1))
    obj = Objective(cfg["data"], cfg["n_windows"], cfg["block_size"], cfg["n_layer"],
                    cfg["n_head"], cfg["n_embd"], cfg["seed"])
    picks = np.sort(np.random.default_rng(cfg["seed"]).choice(obj.theta0.size, cfg["n_params"],
                                                              replace=False))
    eta_max = max(cfg["etas"])
    horizon = cfg["horizon_steps"] * eta_max
    runs = []
    for eta in sorted(cfg["etas"]):
        steps = max(1, int(round(horizon / eta)))
        every = max(1, steps // cfg["curve_points"])
        start = time.perf_counter()
        _, path = continuous.discrete_adam(obj.grad, obj.theta0, eta, cfg["beta1"], cfg["beta2"],
                                           steps, eps=cfg["eps"],
                                           weight_decay=cfg["weight_decay"], record_every=every)
        path = np.array(path)
        marks = every * np.arange(len(path))
        entry = {"eta": float(eta), "steps": steps, "marks": marks,
                 "sq_disp": np.sum((path - obj.theta0) ** 2, axis=1), "params": path[:, picks],
                 "loss": [obj.loss(th) for th in path[:: max(1, len(path) // 20)]],
                 "seconds_discrete": time.perf_counter() - start, "models": []}
        ps = [1.0] + ([p for p in cfg["extra_p"] if p != 1.0] if eta == eta_max else [])
        for p in ps:
            for model in cfg["models"]:
                entry["models"].append(_model_run(obj, cfg, eta, steps, marks, path, picks,
                                                  model, p))
                print(f"eta={eta:g} p={p:g} {model}: nfev {entry['models'][-1]['nfev']}, "
                      f"{entry['models'][-1]['seconds']:.1f} s", flush=True)
        if eta == eta_max:
            entry["solver_check"] = {}
            for model in cfg["models"]:
                loose = _model_run(obj, cfg, eta, steps, marks, path, picks, model, 1.0,
                                   loosen=10.0)
                tight = next(m for m in entry["models"] if m["model"] == model)
                entry["solver_check"][model] = float(np.sqrt(
                    np.sum((loose["theta"] - tight["theta"]) ** 2)
                    / max(np.sum(entry["sq_disp"]), 1e-300)))
        for m in entry["models"]:
            del m["theta"]
        runs.append(entry)
    return {"config": cfg, "dim": int(obj.theta0.size), "horizon": horizon,
            "picks": picks, "pick_names": [obj.coordinate_name(int(i)) for i in picks],
            "loss0": obj.loss(obj.theta0), "runs": runs, "torch": torch.__version__}
