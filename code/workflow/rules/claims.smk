# Rule claims: every family's claim rows (data/runs/<family>/claims.json, written by its
# publish rule) -> the claims ledger data/claims.json, its table for the paper
# (paper/generated/claims.tex), the macros \ClaimVerdict<Id> and \ClaimValue<Id> the abstract
# reads (paper/generated/numbers_claims.tex) and the Markdown table data/claims.md, which
# `make readme-claims` copies into README.md. Fails when a required claim is missing or stated
# twice (ctadam.claims.REQUIRED_IDS).

# The families that state claims, each with its publish rule's claims.json.
CLAIM_FAMILIES = [
    "stability_sweep",
    "stability_training",
    "lr_region",
    "continuous_time",
    "normalization",
    "meta_adaptive",
    "kadam_optimizer",
]


rule claims:
    input:
        [f"data/runs/{family}/claims.json" for family in CLAIM_FAMILIES],
    output:
        ledger="data/claims.json",
        table=report(
            "paper/generated/claims.tex",
            caption="../../../report/claims.rst",
            category="Claims",
        ),
        macros="paper/generated/numbers_claims.tex",
        markdown="data/claims.md",
    log:
        "logs/claims/claims.log",
    benchmark:
        "benchmarks/claims/claims.tsv"
    threads: 1
    shell:
        "{PY} ctadam.claims merge --rows {input} --ledger {output.ledger}"
        " --table {output.table} --macros {output.macros} --markdown {output.markdown}"
        " > {log} 2>&1"


ALL_TARGETS += [
    "data/claims.json",
    "paper/generated/claims.tex",
    "paper/generated/numbers_claims.tex",
    "data/claims.md",
]
