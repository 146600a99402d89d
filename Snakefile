# The ctadam workflow: data -> runs (JSON records) -> aggregates -> figures, tables,
# numbers -> paper. This file only loads and validates the configuration and includes
# one rule file per experiment family from code/workflow/rules/.
#
#   snakemake --cores all                                  # quick CPU profile (default)
#   snakemake --cores all --configfile config/full.yaml    # paper scale, GPU
#   snakemake --cores 1 figures/stability_region.pdf       # one target


from snakemake.utils import validate

from ctadam.io import require_finite


# The quick profile is the default. A profile given with --configfile replaces it rather
# than being merged into it, so no key of quick.yaml leaks into smoke or full.
if not workflow.overwrite_configfiles:

    configfile: "config/quick.yaml"


validate(config, "config/schema.yaml")
require_finite(config)  # YAML .nan and .inf pass the schema's bounds

# Each rule file appends the final outputs of its family to ALL_TARGETS.
ALL_TARGETS = []


include: "code/workflow/rules/common.smk"
include: "code/workflow/rules/bench.smk"
include: "code/workflow/rules/theory.smk"
include: "code/workflow/rules/lr_region.smk"
include: "code/workflow/rules/continuous_time.smk"
include: "code/workflow/rules/data.smk"
include: "code/workflow/rules/stability_sweep.smk"
include: "code/workflow/rules/stability_training.smk"
include: "code/workflow/rules/normalization.smk"
include: "code/workflow/rules/meta_adaptive.smk"
include: "code/workflow/rules/kadam_optimizer.smk"
include: "code/workflow/rules/claims.smk"
include: "code/workflow/rules/paper.smk"


rule all:
    default_target: True
    input:
        ALL_TARGETS,
