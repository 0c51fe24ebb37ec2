"""Sphinx configuration of the ensemblekit documentation.

Build: ``python -m sphinx -W --keep-going -b html docs docs/_build/html``
(``tests/test_docs.py`` runs exactly that, with warnings as errors).
"""

import inspect
import logging
import re

import ensemblekit
from ensemblekit import hookspecs

project = "ensemblekit"
author = "the ensemblekit developers"
copyright = "the ensemblekit developers"
version = release = ensemblekit.__version__

extensions = [
    "myst_parser",
    "numpydoc",
    "sphinx.ext.autodoc",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]

# Markdown pages: fenced directives, definition lists, and heading anchors so that
# ``[text](design.md#some-heading)`` links resolve.
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# API reference: the docstrings are numpydoc; methods are listed with :members:, so
# numpydoc's own member tables (which would need autosummary stubs) are off.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
autodoc_member_order = "bysource"
autodoc_typehints = "none"

html_theme = "alabaster"
html_title = f"ensemblekit {release}"


class _AllowEmptyGlob(logging.Filter):
    """Drop the "toctree glob pattern didn't match any documents" warning.

    The index's toctree globs the pages other parts of the project add (CLI,
    ensembles, performance, plugin tutorial); a pattern that matches nothing yet
    is not an error.  Sphinx logs that warning without a type, so
    ``suppress_warnings`` cannot silence it; this filter, on the logger of the
    toctree directive, does.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return getattr(record, "subtype", None) != "empty_glob"


# --------------------------------------------------------------------------
# the hook reference: one section per hook of ensemblekit/hookspecs.py
# --------------------------------------------------------------------------
HOOK_SECTIONS_MARKER = ".. hook sections: generated here by conf.py from ensemblekit/hookspecs.py"

# a group banner of hookspecs.py, and the comment lines that follow it
_BANNER = re.compile(r"^# -{10,}\n# (?P<title>.+)\n# -{10,}\n(?P<intro>(?:#.*\n)*)", re.M)


def hook_sections() -> str:
    """reST for every hook in ``hookspecs.py``, grouped under its banner comment.

    Each group's title is the banner's text and its introduction the comment
    lines right below the banner; each hook gets a section with its spec.
    """
    source = inspect.getsource(hookspecs)
    banners = list(_BANNER.finditer(source))
    starts = [0] + [b.start() for b in banners]
    ends = starts[1:] + [len(source)]
    out = []
    for banner, start, end in zip([None, *banners], starts, ends):
        hooks = [name for name in re.findall(r"^def (ensemblekit_\w+)\(", source[start:end], re.M)
                 if hasattr(getattr(hookspecs, name), "ensemblekit_spec")]
        if not hooks:
            continue
        title = banner["title"].strip() if banner else "Hooks"
        title = title[0].upper() + title[1:]
        out += [title, "-" * len(title), ""]
        if banner and banner["intro"]:
            out += [line[1:].strip() for line in banner["intro"].splitlines()] + [""]
        for name in hooks:
            out += [name, "~" * len(name), "", f".. autofunction:: {name}", ""]
    return "\n".join(out)


# --------------------------------------------------------------------------
# the API reference: public names api.rst does not place are appended
# --------------------------------------------------------------------------
OTHER_NAMES_MARKER = ".. other public names: generated here by conf.py from ensemblekit.__all__"


def other_public_names(placed: str) -> str:
    """reST documenting each name of ``ensemblekit.__all__`` absent from ``placed``.

    ``placed`` is the text of ``api.rst``; a name counts as placed when one of
    its directives (``.. autoclass:: Name``, ...) documents it.
    """
    documented = set(re.findall(r"^\.\. (?:auto\w+|py:\w+):: (?:ensemblekit\.)?(\w+)\s*$",
                                placed, re.M))
    out = []
    for name in ensemblekit.__all__:
        if name == "__version__" or name in documented:
            continue
        obj = getattr(ensemblekit, name)
        if isinstance(obj, type) and issubclass(obj, BaseException):
            directive = "autoexception"
        elif isinstance(obj, type):
            directive = "autoclass"
        elif inspect.isfunction(obj):
            directive = "autofunction"
        else:
            directive = "autodata"
        out += [name, "~" * len(name), "", f".. {directive}:: {name}"]
        if directive == "autoclass":
            out += ["   :members:"]
        out += [""]
    if out:
        out = ["More public names", "-----------------", ""] + out
    return "\n".join(out)


def _skip_request_setters(app, what, name, obj, skip, options):
    """Skip scikit-learn's generated ``set_<method>_request`` methods.

    scikit-learn adds them to every estimator class for metadata routing; their
    docstrings point into scikit-learn's own documentation.
    """
    return True if re.fullmatch(r"set_\w+_request", name) else None


def _generate_sections(app, docname, source):
    if docname == "hooks":
        source[0] = source[0].replace(HOOK_SECTIONS_MARKER, hook_sections())
    elif docname == "api":
        source[0] = source[0].replace(OTHER_NAMES_MARKER, other_public_names(source[0]))


def setup(app):
    """Generate the hook and API sections; install the empty-glob filter."""
    app.connect("source-read", _generate_sections)
    app.connect("autodoc-skip-member", _skip_request_setters)
    logging.getLogger("sphinx.sphinx.directives.other").addFilter(_AllowEmptyGlob())
    return {"parallel_read_safe": True}
