"""The theory family's workflow steps: closed forms only, no runs.

Each module is the command line of one rule of ``code/workflow/rules/theory.smk``; the
mathematics lives in :mod:`ctadam.theory`. :mod:`.symbolic` (rule ``theory_symbolic``),
:mod:`.numbers` (``theory_numbers``), :mod:`.region_table` (``theory_region_table``); the
figure ``stability_region`` is drawn by :mod:`ctadam.plots.stability_region`
(``theory_figure``).
"""
