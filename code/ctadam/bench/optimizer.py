"""Speed of one KAdam step against torch.optim.Adam, timed in one process.

Usage (the workflow's rules call exactly these)::

    python -m ctadam.bench.optimizer measure --out data/bench/optimizer.json
    python -m ctadam.bench.optimizer numbers --record data/bench/optimizer.json \\
        --macros paper/generated/numbers_bench.tex --table paper/generated/bench_optimizer.tex

``measure`` times ``optimizer.step()`` on one float32 parameter tensor of each size (its
gradient fixed), on one CPU thread, for torch's Adam (foreach, single-tensor and fused
kernels) and for KAdam with each k (foreach, single-tensor and the ``torch.compile`` path).
All optimizers of one size are built side by side and timed round-robin, one step each per
round, so that a change in machine load hits all of them alike; the record holds the median
and quartiles over the rounds after warm-up, and the first step's time (which includes the
compilation for the compiled path). ``numbers`` turns the record into the paper's ratios
and says which of the project's three speed targets (``targets``) the medians meet.

Memory traffic sets the scale: a step must read the parameter and the gradient, write the
parameter, and read and write m_i and v_i at each level: (3 + 4k) tensors of N floats. So
the cost of k levels relative to k = 1 is at best (3 + 4k)/7.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ctadam.checks import check_int
from ctadam.io import read_json, write_json_atomic, write_macros, write_text_atomic

if TYPE_CHECKING:
    import torch
# torch (seconds to import) is imported only by the timing functions, so that the cheap
# rules (numbers, figure), which only read the record, start fast.

TORCH_KINDS = {"foreach": dict(foreach=True), "single": dict(foreach=False),
               "fused": dict(fused=True)}
KADAM_KINDS = {"foreach": dict(foreach=True), "single": dict(foreach=False),
               "compile": dict(compile=True)}
# The targets: default KAdam (k=1) <= 1.1 x torch foreach; the fast path (k=1)
# <= 1.2 x torch fused; k levels <= 1.2 x (3 + 4k)/7 x the k = 1 cost of the same path.
TARGET_DEFAULT = 1.1
TARGET_FAST = 1.2
TARGET_LEVEL_SLACK = 1.2


def traffic_ratio(k: int) -> float:
    """Tensors moved by a k-level step over those moved by Adam: (3 + 4k) / 7."""
    return (3 + 4 * k) / 7


def build(name: str, size: int, grad: torch.Tensor) -> torch.optim.Optimizer:
    """A fresh parameter of ``size`` floats with gradient ``grad`` and its optimizer ``name``."""
    import torch

    from ctadam.optim import KAdam

    param = torch.nn.Parameter(torch.randn(size, generator=torch.Generator().manual_seed(1)))
    param.grad = grad
    family, kind, *level = name.split("-")  # "torch-fused", "kadam-compile-k2"
    if family == "torch":
        return torch.optim.Adam([param], lr=1e-3, **TORCH_KINDS[kind])
    return KAdam([param], lr=1e-3, k=int(level[0][1:]), **KADAM_KINDS[kind])


def config_names(ks: list[int], compile_path: bool) -> list[str]:
    names = [f"torch-{kind}" for kind in TORCH_KINDS]
    kinds = [kind for kind in KADAM_KINDS if compile_path or kind != "compile"]
    return names + [f"kadam-{kind}-k{k}" for k in ks for kind in kinds]


def time_size(size: int, names: list[str], repeats: int, warmup: int) -> dict:
    """Time every optimizer in ``names`` at one size, round-robin; return per-name stats."""
    import torch

    grad = torch.randn(size, generator=torch.Generator().manual_seed(2))
    opts = {name: build(name, size, grad) for name in names}
    first = {}
    for name, opt in opts.items():
        t0 = time.perf_counter()
        opt.step()
        first[name] = time.perf_counter() - t0
        for _ in range(warmup):
            opt.step()
    samples = {name: [] for name in names}
    for _ in range(repeats):
        for name, opt in opts.items():
            t0 = time.perf_counter()
            opt.step()
            samples[name].append(time.perf_counter() - t0)
    out = {}
    for name in names:
        s = sorted(samples[name])
        q = statistics.quantiles(s, n=4) if len(s) > 1 else [s[0]] * 3
        out[name] = {"median_s": statistics.median(s), "q1_s": q[0], "q3_s": q[2], "min_s": s[0],
                     "first_step_s": first[name], "samples_s": s}
    return out


def measure(sizes: list[int], ks: list[int], repeats: int, warmup: int,
            compile_path: bool, threads: int, cold_compile: bool = True) -> dict:
    """Run the benchmark and return the record (see the module docstring).

    With ``cold_compile`` inductor's on-disk caches are bypassed, so the first compiled
    step costs what it costs a new user, not a cache hit from an earlier run.
    """
    for size in sizes:
        check_int("sizes", size, 1)
    for k in ks:
        check_int("ks", k, 1, 8)
    check_int("repeats", repeats, 1)
    check_int("warmup", warmup, 0)
    check_int("threads", threads, 1)
    import torch

    torch.set_num_threads(threads)
    if compile_path and cold_compile:
        from torch._inductor import config as inductor_config

        inductor_config.force_disable_caches = True
    names = config_names(ks, compile_path)
    load_before = _load_average()
    results = {}
    for size in sizes:
        results[str(size)] = time_size(size, names, repeats, warmup)
        print(f"timed N = {size:.0e}", file=sys.stderr, flush=True)
    return {
        "sizes": sizes, "ks": ks, "repeats": repeats, "warmup": warmup, "threads": threads,
        "dtype": "float32", "compile_path": compile_path,
        "cold_compile": compile_path and cold_compile, "names": names, "results": results,
        "machine": {"torch": torch.__version__, "python": platform.python_version(),
                    "platform": platform.platform(), "processor": _cpu_name(),
                    "cpus": os.cpu_count(), "load_average_before": load_before,
                    "load_average_after": _load_average()},
    }


def _load_average() -> float | None:
    """The 1-minute load average (other processes competing for the CPU), if known."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


# Ratio name -> (KAdam, torch) configurations it compares, both at k = 1.
COMPARISONS = {"foreach_vs_torch_foreach": ("kadam-foreach-k1", "torch-foreach"),
               "single_vs_torch_single": ("kadam-single-k1", "torch-single"),
               "compile_vs_torch_fused": ("kadam-compile-k1", "torch-fused")}


def ratios(record: dict) -> dict:
    """The issue's ratios at the largest size: to torch's kernels, and k levels to k = 1.

    Ratios of medians, plus (``<name>_min``) ratios of the fastest steps, which other load
    on the machine disturbs less.
    """
    res = record["results"][str(max(record["sizes"]))]
    med = {name: r["median_s"] for name, r in res.items()}
    out = {"size": max(record["sizes"])}
    for key, (ours, theirs) in COMPARISONS.items():
        if ours in res:
            out[key] = med[ours] / med[theirs]
            out[f"{key}_min"] = res[ours]["min_s"] / res[theirs]["min_s"]
    smallest = record["results"][str(min(record["sizes"]))]
    for k in record["ks"]:
        if f"kadam-compile-k{k}" in smallest:
            out[f"compile_seconds_k{k}"] = smallest[f"kadam-compile-k{k}"]["first_step_s"]
    levels = {}
    for kind in KADAM_KINDS:
        if f"kadam-{kind}-k1" in med:
            levels[kind] = {str(k): med[f"kadam-{kind}-k{k}"] / med[f"kadam-{kind}-k1"]
                            for k in record["ks"]}
    out["level_cost"] = levels
    out["level_bound"] = {str(k): TARGET_LEVEL_SLACK * traffic_ratio(k) for k in record["ks"]}
    return out


# The paths of KAdam by the names the paper gives them.
PATH_WORDS = {"foreach": "default", "single": "per-tensor", "compile": "compiled"}


def targets(record: dict) -> dict:
    """Whether the project's three speed targets are met, judged on the medians of ``ratios``.

    ``default``: KAdam foreach (k = 1) <= TARGET_DEFAULT x torch foreach; ``fast``: KAdam
    compiled (k = 1) <= TARGET_FAST x torch fused (None when the compiled path was not
    timed); ``levels``: the (path, k) pairs with k > 1 whose cost exceeds
    TARGET_LEVEL_SLACK (3 + 4k)/7 times the k = 1 cost of the same path (None when no k > 1
    was timed, an empty list when every pair meets it).
    """
    r = ratios(record)
    fast = r.get("compile_vs_torch_fused")
    pairs = [(kind, int(k), cost) for kind, costs in r["level_cost"].items()
             for k, cost in costs.items() if int(k) > 1]
    return {"default": r["foreach_vs_torch_foreach"] <= TARGET_DEFAULT,
            "fast": None if fast is None else fast <= TARGET_FAST,
            "levels": None if not pairs else [(kind, k) for kind, k, cost in pairs
                                              if cost > r["level_bound"][str(k)]]}


def verdict(met: bool | None) -> str:
    """The words the paper puts after "the target ... is"."""
    return {True: "met", False: "not met", None: NOT_CHECKED}[met]


def level_verdict(failed: list[tuple[str, int]] | None) -> str:
    """The level target's outcome in words, naming every path and k that misses it."""
    if failed is None:
        return NOT_CHECKED
    if not failed:
        return "met on every path at every $k$ timed"
    names = [f"the {PATH_WORDS[kind]} path at $k = {k}$" for kind, k in failed]
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return "not met by " + listed


def ratio_text(value: float, target: float) -> str:
    """``value`` to two decimals, or more where two would hide on which side of ``target``
    it lies (1.104 against 1.1 is written 1.104, not 1.10)."""
    for digits in (2, 3, 4, 5, 6):
        text = f"{value:.{digits}f}"
        if (float(text) <= target) == (value <= target):
            return text
    return repr(float(value))


def table_text(record: dict) -> str:
    """The printed table: median step time (ms) per optimizer and size, and the ratios."""
    sizes = record["sizes"]
    lines = ["optimizer".ljust(20) + "".join(f"{f'N={s:.0e}':>14}" for s in sizes)]
    for name in record["names"]:
        row = [record["results"][str(s)][name]["median_s"] * 1e3 for s in sizes]
        lines.append(name.ljust(20) + "".join(f"{t:>11.3f} ms" for t in row))
    r = ratios(record)
    lines.append(f"\nratios at N = {r['size']:.0e}, {record['threads']} thread: of medians"
                 " (of minima, less sensitive to other load)")
    for key in COMPARISONS:
        if key in r:
            lines.append(f"  {key:28s} {r[key]:.3f} ({r[key + '_min']:.3f})")
    for kind, costs in r["level_cost"].items():
        text = ", ".join(f"k={k}: {c:.2f} (bound {r['level_bound'][k]:.2f})"
                         for k, c in costs.items())
        lines.append(f"  cost of k levels / k=1, {kind:8s} {text}")
    met = targets(record)
    lines.append(f"targets (medians): default <= {TARGET_DEFAULT} x torch foreach "
                 f"{verdict(met['default'])}; compiled <= {TARGET_FAST} x torch fused "
                 f"{verdict(met['fast'])}; levels <= {TARGET_LEVEL_SLACK} (3+4k)/7 "
                 f"{level_verdict(met['levels'])}".replace("$", ""))
    machine = record["machine"]
    lines.append(f"load average before/after: {machine.get('load_average_before')}"
                 f" / {machine.get('load_average_after')} on {machine.get('cpus')} CPUs")
    return "\n".join(lines)


K_WORDS = {1: "One", 2: "Two", 3: "Three", 4: "Four", 5: "Five", 6: "Six", 7: "Seven",
           8: "Eight"}
KIND_WORDS = {"foreach": "Foreach", "single": "Single", "fused": "Fused",
              "compile": "Compiled"}


PAPER_KS = (1, 2, 3)  # the levels the paper's text quotes; "n/a" where a profile skips one
MISSING = "n/a"
NOT_CHECKED = "not checked in this profile"


def macros(record: dict) -> dict[str, str]:
    r"""The paper's numbers (\Bench... macros), formatted; ``n/a`` for what was not timed.

    Every macro the paper uses is always written (k = 1, 2, 3 and all paths), so the paper
    compiles under every profile, e.g. the smoke profile that skips k = 3 and compiling.
    The targets and their outcomes (``met``, ``not met``, or not checked where the profile
    skips the path or k > 1) are macros too, so the text states whichever outcome it is.
    """
    r = ratios(record)
    res = record["results"][str(r["size"])]
    out = {"BenchSize": size_tex(r["size"]), "BenchRepeats": str(record["repeats"]),
           "BenchThreads": str(record["threads"]), "BenchTorch": record["machine"]["torch"]}
    for kind in TORCH_KINDS:
        ms = res[f"torch-{kind}"]["median_s"] * 1e3
        out[f"BenchTorch{KIND_WORDS[kind]}Ms"] = f"{ms:.3g}"
    for name, word, target in (
            ("foreach_vs_torch_foreach", "BenchForeachVsTorchForeach", TARGET_DEFAULT),
            ("single_vs_torch_single", "BenchSingleVsTorchSingle", None),
            ("compile_vs_torch_fused", "BenchCompiledVsTorchFused", TARGET_FAST)):
        out[word] = (MISSING if name not in r else f"{r[name]:.2f}" if target is None
                     else ratio_text(r[name], target))
        out[word + "Min"] = f"{r[name + '_min']:.2f}" if name in r else MISSING
    met = targets(record)
    out["BenchTargetDefault"] = f"{TARGET_DEFAULT:g}"
    out["BenchTargetFast"] = f"{TARGET_FAST:g}"
    out["BenchTargetLevelSlack"] = f"{TARGET_LEVEL_SLACK:g}"
    out["BenchDefaultOutcome"] = verdict(met["default"])
    out["BenchFastOutcome"] = verdict(met["fast"])
    out["BenchLevelOutcome"] = level_verdict(met["levels"])
    load = record["machine"].get("load_average_before")
    out["BenchLoadAverage"] = MISSING if load is None else f"{load:.1f}"
    out["BenchCpus"] = str(record["machine"].get("cpus", MISSING))
    # Steps after which compiling (k = 1) has paid for itself against the default path.
    saved = (res["kadam-foreach-k1"]["median_s"] - res["kadam-compile-k1"]["median_s"]
             if "kadam-compile-k1" in res and "kadam-foreach-k1" in res else 0.0)
    seconds = r.get("compile_seconds_k1")
    out["BenchCompileBreakEven"] = (f"{seconds / saved:.0f}" if seconds is not None and saved > 0
                                    else MISSING)
    for k in sorted(set(PAPER_KS) | set(record["ks"])):
        word = K_WORDS[k]
        out[f"BenchLevelBound{word}"] = f"{TARGET_LEVEL_SLACK * traffic_ratio(k):.2f}"
        out[f"BenchTraffic{word}"] = f"{traffic_ratio(k):.2f}"
        seconds = r.get(f"compile_seconds_k{k}")
        out[f"BenchCompileSeconds{word}"] = MISSING if seconds is None else f"{seconds:.1f}"
        bound = TARGET_LEVEL_SLACK * traffic_ratio(k)
        for kind in KADAM_KINDS:
            cost = r["level_cost"].get(kind, {}).get(str(k))
            out[f"Bench{KIND_WORDS[kind]}Level{word}"] = (MISSING if cost is None
                                                          else ratio_text(cost, bound))
            stats = res.get(f"kadam-{kind}-k{k}")
            out[f"BenchKadam{KIND_WORDS[kind]}Ms{word}"] = (
                MISSING if stats is None else f"{stats['median_s'] * 1e3:.3g}")
    return out


def size_tex(size: int) -> str:
    """``10^{7}`` for a power of ten, else the integer (LaTeX math)."""
    exponent = round(math.log10(size))
    return f"10^{{{exponent}}}" if 10**exponent == size else str(size)


def latex_table(record: dict) -> str:
    """Booktabs table of median step times (ms) at every size."""
    sizes = record["sizes"]
    head = " & ".join(f"$N={size_tex(s)}$" for s in sizes)
    rows = [r"\begin{tabular}{l" + "r" * len(sizes) + "}", r"\toprule",
            f"optimizer & {head} \\\\", r"\midrule"]
    for name in record["names"]:
        cells = " & ".join(f"{record['results'][str(s)][name]['median_s'] * 1e3:.3g}"
                           for s in sizes)
        label = name.replace("torch-", "Adam ").replace("kadam-", "KAdam ").replace("-k", ", k=")
        rows.append(f"{label} & {cells} \\\\")
    rows += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m ctadam.bench.optimizer", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("measure", help="time the optimizers and write the JSON record")
    run.add_argument("--out", required=True, help="JSON record to write")
    run.add_argument("--sizes", type=int, nargs="+", default=[10**5, 10**6, 10**7],
                     help="numbers of float32 parameters (default: 1e5 1e6 1e7)")
    run.add_argument("--ks", type=int, nargs="+", default=[1, 2, 3], help="KAdam levels")
    run.add_argument("--repeats", type=int, default=20, help="timed rounds (median reported)")
    run.add_argument("--warmup", type=int, default=3, help="untimed steps after the first")
    run.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    run.add_argument("--no-compile", dest="compile_path", action="store_false",
                     help="leave out KAdam's torch.compile path")
    run.add_argument("--warm-compile-cache", dest="cold_compile", action="store_false",
                     help="let torch.compile reuse its on-disk cache (first step faster)")
    num = sub.add_parser("numbers", help="LaTeX macros and table from a record")
    num.add_argument("--record", required=True, help="JSON record written by measure")
    num.add_argument("--macros", required=True, help="numbers_bench.tex to write")
    num.add_argument("--table", required=True, help="booktabs table to write")
    args = parser.parse_args(argv)
    if args.command == "measure":
        record = measure(args.sizes, args.ks, args.repeats, args.warmup, args.compile_path,
                         args.threads, args.cold_compile)
        write_json_atomic(args.out, record)
        print(table_text(record))
    else:
        record = read_json(args.record)
        write_macros(args.macros, macros(record), comment="Optimizer speed benchmark.")
        write_text_atomic(args.table, latex_table(record))
        print(table_text(record))


if __name__ == "__main__":
    main()
