"""Sphinx configuration of the skaevae documentation.

Build with ``make -C docs html`` (see docs/Makefile); the gallery scripts in
``examples/`` run during the build, through sphinx-gallery.
"""

import os
import re
import sys
import warnings
from pathlib import Path

# The gallery and the user-guide figures train small networks in this
# process. torch sizes its thread pool at import, so this comes first: on a
# busy machine an oversized pool makes training many times slower, and these
# networks gain little from intra-op threads anyway.
os.environ.setdefault("OMP_NUM_THREADS", "1")

# Import the checkout next to this folder, not an installed copy, so the API
# pages and the gallery show the code being built.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sklearn.exceptions import ConvergenceWarning  # noqa: E402

import skaevae  # noqa: E402

project = "skaevae"
author = "the skaevae developers"
copyright = "the skaevae developers"
release = skaevae.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "matplotlib.sphinxext.plot_directive",
]

templates_path = ["_templates"]
exclude_patterns = ["_build"]
default_role = "literal"

# API pages: one page per public name, each listing its methods once.
autosummary_generate = True
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
# "fit()" rather than "AutoencoderTransformer.fit()" in the page's contents,
# which would not fit the side bar.
toc_object_entries_show_parents = "hide"

# The gallery: examples/ at the repository root, run at build time.
warnings.filterwarnings("ignore", category=UserWarning, message="Matplotlib is currently using agg")
# The examples train for a fixed, small budget of epochs to stay fast; that
# the loss was still improving when it ran out is expected, not news.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

sphinx_gallery_conf = {
    "examples_dirs": ["../examples"],
    "gallery_dirs": ["auto_examples"],
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    # Lists each API page's gallery examples (the minigallery in
    # _templates/skaevae_class.rst).
    "doc_module": ("skaevae",),
    "backreferences_dir": "gen_modules/backreferences",
    "abort_on_example_error": True,
    # The file names' two-digit numbers give the gallery's reading order:
    # the two estimators first, then tables, anomalies, the family and scale.
    "within_subsection_order": "FileNameSortKey",
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "show_memory": False,
    "min_reported_time": 1,
}

# User-guide figures: made by the scripts in figures/ at build time.
plot_include_source = False
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 110)]
plot_rcparams = {"figure.autolayout": False}

# Methods inherited from scikit-learn (set_output, get_metadata_routing, the
# set_*_request methods) cross-reference labels and terms of scikit-learn's
# own documentation, which this site cannot resolve offline (no
# intersphinx): show those references as plain text instead of broken links.
_SKLEARN_XREF = re.compile(r":(?:ref|term):`([^`<]*?)\s*(?:<([^`>]*)>)?`")


def _xref_as_text(match):
    text, target = match.group(1).strip(), match.group(2)
    if target is None and "_" in text and " " not in text:
        return "scikit-learn's user guide"
    return text


def _plain_sklearn_xrefs(app, what, name, obj, options, lines):
    if (getattr(obj, "__module__", None) or "").startswith("sklearn."):
        lines[:] = [_SKLEARN_XREF.sub(_xref_as_text, line) for line in lines]


def setup(app):
    app.connect("autodoc-process-docstring", _plain_sklearn_xrefs)


html_theme = "pydata_sphinx_theme"
html_title = f"skaevae {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_prev_next": False,
    "secondary_sidebar_items": ["page-toc"],
}
# Pages without sub-pages need no left sidebar, and the gallery's wide
# figures need the room more than a list of the other examples does.
html_sidebars = {
    "index": [],
    "user_guide": [],
    "performance": [],
    "benchmarks": [],
    "auto_examples/*": [],
}
html_static_path = ["_static"]
html_css_files = ["skaevae.css"]
