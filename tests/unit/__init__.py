"""Fast in-process unit tests (a package, so its module names do not clash with tests/python's)."""
