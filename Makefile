# The README's two commands:
#   make reproduce   every figure, table and number (quick CPU profile) and paper/main.pdf
#   make test        the test suite
# Both create .venv from the exact versions in requirements-lock.txt when it is missing and
# reuse it otherwise (the package itself is installed without dependencies on top).
# `make reproduce` also needs LaTeX (latexmk): `make latex` installs it on Debian/Ubuntu.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
CORES ?= all
# Extra snakemake options, e.g. make reproduce SNAKEFLAGS="--configfile config/full.yaml"
SNAKEFLAGS ?=
# Rules call `python -m ctadam...`: put the environment's python first on PATH.
RUN := PATH="$(CURDIR)/$(BIN):$$PATH"

# Debian/Ubuntu packages that compile paper/main.tex (siunitx is in texlive-science).
LATEX_PACKAGES := latexmk texlive-latex-recommended texlive-latex-extra \
	texlive-fonts-recommended texlive-science lmodern

.PHONY: reproduce test lint latex check-latex report timing clean-outputs readme-claims

$(STAMP): pyproject.toml requirements-lock.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-lock.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

reproduce: $(STAMP) $(if $(findstring --omit-from paper,$(SNAKEFLAGS)),,check-latex)
	$(RUN) $(BIN)/snakemake --cores $(CORES) $(SNAKEFLAGS)

test: $(STAMP)
	$(RUN) $(BIN)/python -m pytest

# Copy the claims ledger of the last run (data/claims.json, rule claims) into README.md.
readme-claims: $(STAMP)
	$(BIN)/python -m ctadam.claims readme --ledger data/claims.json --readme README.md

lint: $(STAMP)
	$(BIN)/ruff check code tests

# Before hours of training, make sure the last rule (latexmk) can run: as root on
# Debian/Ubuntu install LaTeX non-interactively, otherwise stop with what to do.
check-latex:
	@command -v latexmk >/dev/null 2>&1 || \
	if [ "$$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "latexmk is missing: installing LaTeX with apt-get (make latex)"; \
	  $(MAKE) latex; \
	else \
	  echo "error: latexmk is missing; it compiles paper/main.pdf (the last rule)."; \
	  echo "  On Debian/Ubuntu run:  sudo make latex"; \
	  echo "  (= apt-get install -y --no-install-recommends $(LATEX_PACKAGES))"; \
	  echo "  Elsewhere install a TeX distribution with latexmk, siunitx and cleveref,"; \
	  echo "  or build all but the paper: make reproduce SNAKEFLAGS=\"--omit-from paper\""; \
	  exit 1; \
	fi

# Install LaTeX non-interactively (needs root, Debian/Ubuntu).
latex:
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(LATEX_PACKAGES)

# The Snakemake report (figures and tables with their captions) of the last run.
report: $(STAMP)
	$(RUN) $(BIN)/snakemake --report report.html

# The profile's measured time: the per-rule sum of the benchmark files of the last run.
timing: $(STAMP)
	$(BIN)/python -m ctadam.timing benchmarks

# Everything the workflow made (a clean data/ for timing `make reproduce` from scratch).
clean-outputs:
	rm -rf $(filter-out data/README.md data/device,$(wildcard data/*)) figures/*.pdf figures/*.png \
	  paper/generated/* paper/main.pdf paper/main.log paper/*.aux paper/*.out paper/*.bbl \
	  paper/*.blg paper/*.fls paper/*.fdb_latexmk logs benchmarks report.html
