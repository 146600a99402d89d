r"""The optimizer benchmark's summary: the timing record of :mod:`ctadam.bench.optimizer`
reduced to what its figure draws (rule ``bench_summary``).

The benchmark times one step of k-Adam (\cref{eq:kadam-ema,eq:kadam-u,eq:kadam-step}) against
torch's Adam; it is not a training family, so it has no engine runs. :func:`summarize` keeps,
per configuration and size, the median and quartiles of the step time in milliseconds, and the
ratios of :func:`ctadam.bench.optimizer.ratios` (the cost of k levels over k = 1 at the largest
size, beside the memory-traffic ratio (3 + 4k)/7 and its target bound)::

    python -m ctadam.experiments.bench --record data/bench/optimizer.json \
        --out data/bench/summary.json
"""

from ctadam.bench.optimizer import ratios


def summarize(record: dict) -> dict:
    """The figure's data from one benchmark record (see the module docstring)."""
    sizes = list(record["sizes"])
    series = {}
    for name in record["names"]:
        stats = [record["results"][str(size)][name] for size in sizes]
        series[name] = {key: [1e3 * s[f"{key}_s"] for s in stats]
                        for key in ("median", "q1", "q3")}
    return {"sizes": sizes, "ks": list(record["ks"]), "threads": record["threads"],
            "names": list(record["names"]), "ms": series, "ratios": ratios(record)}
