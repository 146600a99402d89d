"""One module per figure. Each has ``main()`` (``python -m ctadam.plots.<name> ...``) that
reads declared inputs and writes ``figures/<name>.pdf`` and ``.png`` via :func:`style.save`."""
