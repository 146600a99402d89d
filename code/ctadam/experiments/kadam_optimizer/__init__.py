r"""Family ``kadam_optimizer``: the k-Adam study (paper section ``kadam_optimizer``), through the
protocol of :mod:`ctadam.experiments.protocol`.

The paper's k sweep of k-Adam (\cref{eq:kadam-step}) under four upper-level strategies with and
without normalization, the direct test (un-normalized 2-Adam with the momentum-free, pooled
level 2 of \cref{eq:meta-adaptive} against AdamW with and without LayerNorm) and the tuned
baselines (AdamW, Lion). Modules: :mod:`.plan` (cells and run configs, torch-free),
:mod:`.split` (the data of both stages), :mod:`.selection` (the learning-rate choice),
:mod:`.summary`, :mod:`.tables` (publish), :mod:`.verdict` (the ledger rows ``kadam`` and
``kadam-cifar10``, :data:`CLAIMS`), :mod:`.power` (the parse-time MDE warning),
:mod:`.gpu_cell` (timing and projection of a profile) and :mod:`.standalone` (one command
that runs a protocol outside the workflow: CIFAR-10 on one GPU, the small tasks on the CPU).

Rules: ``kadam_optimizer_config`` (the selection configs, :func:`runs`),
``kadam_optimizer_split`` (per task), ``kadam_optimizer_select`` (the selection runs, one job
per shard), ``kadam_optimizer_choose`` (the chosen rates and the final configs),
``kadam_optimizer_run`` (the final seeds), then ``_summary`` (records of both stages),
``_publish`` and ``_figure``. The family's own steps::

    python -m ctadam.experiments.kadam_optimizer split --section S --task mnist1d \
        --data data/mnist1d/mnist1d.npz
    python -m ctadam.experiments.kadam_optimizer choose --section S --records D1 D2 \
        --selection selection.json --configs-dir DIR
"""

from ctadam.experiments.kadam_optimizer.plan import final_ids, runs, split_data
from ctadam.experiments.kadam_optimizer.summary import summarize
from ctadam.experiments.kadam_optimizer.tables import TABLES, publish
from ctadam.experiments.kadam_optimizer.verdict import CLAIMS


def trackers(config: dict) -> list:
    """The study's runs need no tracker (its metrics are the engine's evaluations)."""
    return []


__all__ = ["CLAIMS", "TABLES", "final_ids", "publish", "runs", "split_data", "summarize",
           "trackers"]
