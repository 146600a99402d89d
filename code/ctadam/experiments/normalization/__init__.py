r"""Family ``normalization``: AdamW norm dynamics of LayerNorm groups (paper section
``normalization``), through the protocol of :mod:`ctadam.experiments.protocol`.

:mod:`.runs` builds the grid of engine runs and runs the identity check of
\cref{eq:wu-correction}; :mod:`.summary` compares the measured norms, angular steps and
cosines with \cref{eq:norm-equilibrium,eq:angular-step} and writes the macros and the table.
Besides the five rules ``normalization_{config,run,summary,publish,figure}`` the family has
``normalization_identity``::

    python -m ctadam.experiments.normalization identity --section section.json --out rec.json
"""

from ctadam.experiments.normalization.runs import IDENTITY_RUN, identity_run, runs, trackers
from ctadam.experiments.normalization.summary import CLAIMS, TABLES, publish, summarize

__all__ = ["CLAIMS", "IDENTITY_RUN", "TABLES", "identity_run", "publish", "runs", "summarize",
           "trackers"]
