# Conventions shared by all rule files.
#
# Every rule writes its log to logs/<rule>/... and its timing to benchmarks/<rule>/...
# (both git-ignored); the sum of the benchmark files is the profile's measured time.
# Rules are thin calls of `python -m ctadam.<module>` so each step can be run by hand.

import sys

# The interpreter running snakemake (the project's .venv), so rules find ctadam even when
# snakemake was started without activating the environment.
PY = f"{sys.executable} -m"
