r"""Family ``meta_adaptive``: normalization as a hidden second level of adaptive normalization
(\cref{eq:meta-adaptive,eq:meta-adaptive-sum}; paper section ``normalization``), through the
protocol of :mod:`ctadam.experiments.protocol`.

:mod:`.runs` builds the stream runs and the training variants; :mod:`.summary` compares the
measured angle of ``w/|w|`` with the pooled level-2 prediction and writes the macros. Rules
``meta_adaptive_{config,run,summary,publish,figure}``.
"""

from ctadam.experiments.meta_adaptive.runs import VARIANTS, runs, trackers
from ctadam.experiments.meta_adaptive.summary import CLAIMS, TABLES, publish, summarize

__all__ = ["CLAIMS", "TABLES", "VARIANTS", "publish", "runs", "summarize", "trackers"]
