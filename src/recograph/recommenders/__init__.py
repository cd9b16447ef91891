"""One module per recommendation signal: ``fit_*`` offline in the build, ``score_*`` online."""
