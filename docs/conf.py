"""Sphinx configuration of the async-kernel documentation.

Built by ``scripts/docs.sh`` in a venv that holds this project's wheel (whose JupyterLite build addon
puts the Pyodide runtime, the kernel's wheels and its memory snapshot into the embedded site),
jupyterlite-sphinx and jupyterlite-core. Everything the built pages load comes from the build: they
work offline.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from sphinx.application import Sphinx

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
# autodoc documents the working tree's docstrings; the installed wheel serves the JupyterLite build.
sys.path.insert(0, str(ROOT / "py"))

#: The repository's example notebooks (lite/content) that pages embed with ``notebooklite``.
EXAMPLES = ("widget.ipynb", "concurrency.ipynb")


def copy_examples() -> None:
    """Copy them into docs/examples (gitignored): notebooklite takes paths inside the docs only."""
    dest = DOCS / "examples"
    dest.mkdir(exist_ok=True)
    for name in EXAMPLES:
        data = (ROOT / "lite" / "content" / name).read_bytes()
        target = dest / name
        if not target.is_file() or target.read_bytes() != data:
            target.write_bytes(data)


copy_examples()

project = "async-kernel"
author = "async-kernel contributors"
copyright = "async-kernel contributors"
release = version = re.search(
    r'__version__ = "([^"]+)"', (ROOT / "py" / "async_kernel" / "_version.py").read_text()
).group(1)

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "jupyterlite_sphinx",
]
source_suffix = {".md": "markdown"}
root_doc = "index"
# examples/ holds copies of lite/content notebooks: embedded with notebooklite, not pages of their own.
exclude_patterns = ["_build", "_contents", "examples", ".venv"]
myst_heading_anchors = 3
# Code blocks without a language (shell commands, mostly) are not highlighted as Python.
highlight_language = "none"
html_theme = "alabaster"
# Wide enough for the embedded JupyterLite apps' toolbars (the kernel's name stays in view).
html_theme_options = {
    "description": "A concurrent Python kernel for Jupyter",
    "fixed_sidebar": True,
    "page_width": "1180px",
    "sidebar_width": "220px",
}
html_title = "async-kernel"
html_static_path: list[str] = []
html_show_sourcelink = False

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
napoleon_google_docstring = False
napoleon_numpy_docstring = True

# -- jupyterlite-sphinx: the site in _build/html/lite, built by `jupyter lite build` at the end
jupyterlite_dir = str(DOCS)
# Holds "AsyncKernelAddon": {"kernel_aliases": ["python"]}: try_examples always asks for "python".
jupyterlite_config = "jupyter_lite_config.json"
# The notebooks are embedded, not turned into pages.
jupyterlite_bind_ipynb_suffix = False
# The "Examples" section of every autodoc'ed docstring gets a button that opens it as a notebook.
global_enable_try_examples = True
try_examples_global_button_text = "Try it in your browser"


def setup(app: Sphinx) -> None:
    # jupyterlite-sphinx adds a stylesheet from a web-font CDN (for its "Try It Live!" button): the
    # pages must load nothing from outside the site.
    app.registry.css_files = [(name, attrs) for name, attrs in app.registry.css_files if "://" not in name]
