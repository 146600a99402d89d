# Conventions shared by all rule files.
#
# Every rule writes its log to logs/<rule>/... and its timing to benchmarks/<rule>/...
# (both git-ignored); the sum of the benchmark files is the profile's measured time.
# Rules are thin calls of `python -m ctadam.<module>` so each step can be run by hand.

import sys

# The interpreter running snakemake (the project's .venv), so rules find ctadam even when
# snakemake was started without activating the environment.
PY = f"{sys.executable} -m"

# Timing rules reserve every core so that no other job runs beside them. Modes that schedule
# no job (--report, --lint) set no core count, and then one is enough.
from snakemake.exceptions import WorkflowError

try:
    ALL_CORES = workflow.cores
except WorkflowError:
    ALL_CORES = 1
