"""``pytest --lite``: run notebooks in a real browser, in JupyterLite, on the "Python (async)" kernel.

The plugin (:mod:`.plugin`, entry point group ``pytest11``) collects ``.ipynb`` files as test items
when ``--lite`` is given and does nothing otherwise. :mod:`.site` builds and serves the JupyterLite
site the notebooks run in; :mod:`.browser` drives the notebook UI with Playwright.
"""
