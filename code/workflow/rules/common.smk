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


def write_family_configs(runs, section, config_paths, section_path, log_path):
    """The `<family>_config` step: the section and one JSON file per run config.

    `runs` is the family's `runs(section, data)`, computed when the workflow is parsed;
    `config_paths` are the declared outputs in sorted run-id order.
    """
    import json

    with open(section_path, "w", encoding="utf-8") as handle:
        json.dump(section, handle, indent=1, sort_keys=True)
    for run_id, path in zip(sorted(runs), config_paths, strict=True):
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(runs[run_id], handle, indent=1, sort_keys=True)
    with open(log_path, "w", encoding="utf-8") as handle:
        print(f"{len(config_paths)} run configs and the section", file=handle)
