"""Import rules: the layers of ``docs/design.md`` ("Layers and import rules"), read off the source.

Every module of ``ensemblekit/`` and every third-party plugin module
(``plugins/*/*.py``, not their tests) is parsed with :mod:`ast`; each import
statement becomes an :class:`Import` with its importer, line and the absolute
modules it brings in. Imports are collected wherever they are written: at module
level, inside ``if``/``try``/class bodies, and inside functions (lazy imports).
Relative imports are resolved against the importing module's package, and
``from package import name`` counts as importing the submodule ``package.name``
when that module exists.

Each rule is a separate test whose failure message names the offending file,
line, importer and import:

* ``numerics`` -- the maths imports only numpy, scipy, threadpoolctl, numba, the
  standard library and the other numerics modules;
* ``hookspecs`` -- the plugin contract imports only pluggy and the standard library;
* ``sklearn-private`` -- one module imports scikit-learn's private API;
* ``estimators`` -- estimators never import ``io`` or the CLI;
* ``cli`` -- nothing outside the CLI imports it except the entry point, and no
  command module imports the group;
* ``plugins`` -- plugins import only the public plugin API from ensemblekit
  (built-ins have a few recorded departures);
* ``cycles`` -- no import cycle among ensemblekit's modules.

The cycle check uses only imports that run when a module is imported: imports
inside functions are deferred (they run after every module has finished
importing, so they cannot make an import fail half-way) and imports under
``if TYPE_CHECKING:`` never run; both are left out of the graph, but the other
rules still check them. A package ``__init__`` importing its submodules is an
edge; the implicit import of a parent package that ``import a.b`` performs is
not (otherwise every submodule would be in a cycle with an ``__init__`` that
imports it). Attribute access (``import sklearn`` then ``sklearn.utils._x``) is
not an import and is not checked.

:func:`check_import_rules` takes a root directory, so the planted-violation
tests run it on small package trees written into ``tmp_path``: every rule is
shown to fail on a violation of its own, and only that rule.
"""

from __future__ import annotations

import ast
import shutil
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "ensemblekit"

# --- the layers and what each may import (docs/design.md, "Layers and import rules") ------

# the maths: fast and testable on arrays alone, with nothing to import but array libraries
NUMERICS = frozenset({
    "ensemblekit._layers", "ensemblekit._optimizers", "ensemblekit._network",
    "ensemblekit._compiled", "ensemblekit._threads",
})
# array maths, BLAS thread control and the optional JIT: what the kernels need, nothing more
NUMERICS_MAY_IMPORT = frozenset({"numpy", "scipy", "threadpoolctl", "numba"})
# the contract plugin authors read: it depends on pluggy only, so it never changes with internals
HOOKSPECS = "ensemblekit.hookspecs"
HOOKSPECS_MAY_IMPORT = frozenset({"pluggy"})
# one module to change when scikit-learn moves its private API (the >=1.6 bound is loose)
SKLEARN_PRIVATE_IMPORTER = "ensemblekit._sklearn"
# the estimators are a library: model files and the command line are built on top of them
ESTIMATORS = frozenset({
    "ensemblekit.mlp", "ensemblekit.ensemble", "ensemblekit.search", "ensemblekit.metrics",
})
# io sits above the estimators (it saves and loads them), the CLI above everything
ESTIMATORS_MUST_NOT_IMPORT = ("ensemblekit.io", "ensemblekit.cli")
# the click group: it imports its commands, never the other way round
CLI_GROUP = "ensemblekit.cli"
# `python -m ensemblekit` and the console script `ensemblekit.__main__:main` (pyproject.toml)
CLI_ENTRY_POINTS = frozenset({"ensemblekit.__main__"})
# the flat CLI modules from before cli/ became a package (issue 14): command modules until gone
LEGACY_CLI_PREFIX = "ensemblekit._cli_"
# the public plugin API: what a plugin, built-in or third-party, may import from ensemblekit
PLUGIN_API = frozenset({
    "ensemblekit", "ensemblekit.hookspecs", "ensemblekit.exceptions", "ensemblekit.plugins",
    "ensemblekit.testing",
})
# departures for built-in plugins only (recorded in docs/design.md), one reason each
BUILTIN_PLUGIN_DEPARTURES = {
    "ensemblekit._compiled": "weight decay's gradient uses the compiled element-wise loop",
    "ensemblekit._layers": "plugins may reuse the in-place kernels instead of copying them",
    "ensemblekit._constraints": "parameter constraints (Interval, StrOptions) declared without "
                                "importing scikit-learn, built into its objects on validation",
    "ensemblekit._stack": "warnings name the caller's line (user_stacklevel)",
}
# built-ins build on each other (mc_dropout on dropout); `from ensemblekit import Dropout`,
# which a third party writes, would be a cycle through ensemblekit/__init__.py
BUILTIN_PLUGINS_PACKAGE = "ensemblekit.default_plugins"
# third-party plugin modules are plugins/<distribution>/<module>.py; their tests are not plugins
THIRD_PARTY_EXCLUDED = ("test_*", "conftest.py", "setup.py")

RULES = ("numerics", "hookspecs", "sklearn-private", "estimators", "cli", "plugins", "cycles")


@dataclass(frozen=True)
class Import:
    """One import statement, resolved.

    Attributes
    ----------
    importer : str
        Absolute name of the importing module.
    file : str
        Its path, relative to the root directory.
    line : int
        Line of the import statement.
    statement : str
        The statement's source, on one line.
    module : str
        The absolute module named by the statement (``from <module> import ...``).
    names : tuple of str
        Names imported from ``module`` (empty for ``import module``).
    targets : tuple of str
        Absolute modules the statement imports: ``module``, or ``module.name`` for
        each name that is a known submodule.
    deferred : bool
        Inside a function (a lazy import).
    type_checking : bool
        Under ``if TYPE_CHECKING:``.
    """

    importer: str
    file: str
    line: int
    statement: str
    module: str
    names: tuple[str, ...]
    targets: tuple[str, ...]
    deferred: bool
    type_checking: bool

    def where(self) -> str:
        return f"{self.file}:{self.line}: {self.importer}: `{self.statement}`"


def _module_name(path: Path, base: Path) -> str:
    parts = list(path.relative_to(base).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources(root: Path) -> dict[str, Path]:
    """Map module names to files: ``ensemblekit/**.py`` and ``plugins/*/*.py`` (no tests)."""
    modules = {_module_name(p, root): p for p in sorted((root / PACKAGE).rglob("*.py"))
               if "__pycache__" not in p.parts}
    for p in sorted(root.glob("plugins/*/*.py")):
        if not any(p.match(pattern) for pattern in THIRD_PARTY_EXCLUDED):
            modules[p.stem] = p
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return ((isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
            or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"))


def collect_imports(root: Path) -> list[Import]:
    """Every import statement of the modules under ``root``, resolved to absolute names.

    Parameters
    ----------
    root : Path
        A directory holding ``ensemblekit/`` and, optionally, ``plugins/``.

    Returns
    -------
    list of Import
        In file order, then line order.
    """
    sources = _sources(root)
    found: list[Import] = []
    for name, path in sources.items():
        source = path.read_text(encoding="utf-8")
        is_package = path.name == "__init__.py"
        package = name if is_package else name.rpartition(".")[0]

        def visit(node: ast.AST, deferred: bool, type_checking: bool,
                  name: str = name, path: Path = path, source: str = source,
                  package: str = package) -> None:
            if isinstance(node, ast.Import | ast.ImportFrom):
                if isinstance(node, ast.Import):
                    imported = [(alias.name, ()) for alias in node.names]
                else:
                    if node.level:
                        base = package.split(".")
                        base = base[:len(base) - (node.level - 1)]
                        module = ".".join(base + ([node.module] if node.module else []))
                    else:
                        module = node.module or ""
                    names = tuple(alias.name for alias in node.names)
                    imported = [(module, names)]
                statement = " ".join((ast.get_source_segment(source, node) or "").split())
                for module, names in imported:
                    targets = [f"{module}.{n}" if f"{module}.{n}" in sources else module
                               for n in names] or [module]
                    found.append(Import(
                        importer=name, file=path.relative_to(root).as_posix(),
                        line=node.lineno, statement=statement, module=module,
                        names=tuple(names), targets=tuple(dict.fromkeys(targets)),
                        deferred=deferred, type_checking=type_checking))
                return
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                deferred = True
            if isinstance(node, ast.If) and _is_type_checking(node.test):
                for child in node.body:
                    visit(child, deferred, True)
                for child in node.orelse:
                    visit(child, deferred, type_checking)
                return
            for child in ast.iter_child_nodes(node):
                visit(child, deferred, type_checking)

        visit(ast.parse(source, filename=str(path)), False, False)
    return found


# --- the rules: each takes every import and returns one message per violation -------------

def _top(module: str) -> str:
    return module.partition(".")[0]


def _is_stdlib(module: str) -> bool:
    return _top(module) in sys.stdlib_module_names


def _is_private(part: str) -> bool:
    return part.startswith("_") and not (part.startswith("__") and part.endswith("__"))


def _in_package(module: str) -> bool:
    return _top(module) == PACKAGE


def _is_cli(module: str) -> bool:
    return (module == CLI_GROUP or module.startswith(CLI_GROUP + ".")
            or module.startswith(LEGACY_CLI_PREFIX))


def _rule_numerics(imports: list[Import]) -> list[str]:
    bad = []
    for imp in imports:
        if imp.importer not in NUMERICS:
            continue
        for target in imp.targets:
            ok = (target in NUMERICS if _in_package(target)
                  else _top(target) in NUMERICS_MAY_IMPORT or _is_stdlib(target))
            if not ok:
                bad.append(f"{imp.where()} imports {target}: numerics import only "
                           f"{sorted(NUMERICS_MAY_IMPORT)}, the stdlib and each other")
    return bad


def _rule_hookspecs(imports: list[Import]) -> list[str]:
    return [f"{imp.where()} imports {target}: hookspecs imports only pluggy and the stdlib"
            for imp in imports if imp.importer == HOOKSPECS
            for target in imp.targets
            if not (_top(target) in HOOKSPECS_MAY_IMPORT or _is_stdlib(target))]


def _rule_sklearn_private(imports: list[Import]) -> list[str]:
    bad = []
    for imp in imports:
        if _top(imp.module) != "sklearn" or imp.importer == SKLEARN_PRIVATE_IMPORTER:
            continue
        private = [p for p in imp.module.split(".") + list(imp.names) if _is_private(p)]
        if private:
            bad.append(f"{imp.where()} uses scikit-learn private API ({', '.join(private)}): "
                       f"only {SKLEARN_PRIVATE_IMPORTER} may")
    return bad


def _rule_estimators(imports: list[Import]) -> list[str]:
    return [f"{imp.where()} imports {target}: estimators never import io or the CLI"
            for imp in imports if imp.importer in ESTIMATORS
            for target in imp.targets
            if any(target == f or target.startswith(f + ".") for f in ESTIMATORS_MUST_NOT_IMPORT)
            or _is_cli(target)]


def _rule_cli(imports: list[Import]) -> list[str]:
    bad = []
    for imp in imports:
        inside = _is_cli(imp.importer)
        for target in imp.targets:
            if not inside and imp.importer not in CLI_ENTRY_POINTS and _is_cli(target):
                bad.append(f"{imp.where()} imports {target}: nothing outside the CLI imports "
                           f"it (entry points: {sorted(CLI_ENTRY_POINTS)})")
            elif inside and imp.importer != CLI_GROUP and target == CLI_GROUP:
                bad.append(f"{imp.where()} imports the group {CLI_GROUP}: a command module "
                           f"never imports the group (the group imports its commands)")
    return bad


def _rule_plugins(imports: list[Import], third_party: frozenset[str]) -> list[str]:
    bad = []
    for imp in imports:
        builtin = imp.importer.startswith(BUILTIN_PLUGINS_PACKAGE)
        if not (builtin or imp.importer in third_party):
            continue
        allowed = PLUGIN_API | (frozenset(BUILTIN_PLUGIN_DEPARTURES) if builtin else frozenset())
        public = imp.module in PLUGIN_API or (
            builtin and imp.module.startswith(BUILTIN_PLUGINS_PACKAGE))
        for target in imp.targets:
            if (not _in_package(target) or target in allowed
                    or (builtin and target.startswith(BUILTIN_PLUGINS_PACKAGE))):
                continue
            bad.append(f"{imp.where()} imports {target}: plugins import only the public plugin "
                       f"API {sorted(allowed)}")
        # a private name of a public module (a private module is refused above)
        private = [n for n in imp.names
                   if _is_private(n) and f"{imp.module}.{n}" not in imp.targets]
        if public and private:
            bad.append(f"{imp.where()} imports private name(s) {', '.join(private)} from "
                       f"{imp.module}: plugins use its public names only")
    return bad


def _cycles(imports: list[Import]) -> list[list[tuple[str, Import]]]:
    """Each import cycle among ensemblekit modules, as (module, the import it makes) pairs."""
    graph: dict[str, dict[str, Import]] = {}
    for imp in imports:
        if imp.deferred or imp.type_checking or not _in_package(imp.importer):
            continue
        for target in imp.targets:
            if _in_package(target):
                graph.setdefault(imp.importer, {}).setdefault(target, imp)
    # Tarjan's strongly connected components
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    components: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for succ in graph.get(node, {}):
            if succ not in index:
                connect(succ)
                low[node] = min(low[node], low[succ])
            elif succ in stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    cycles = []
    for component in components:
        start = component[0]
        if len(component) == 1 and start not in graph.get(start, {}):
            continue
        # shortest path from start back to start, inside the component
        members, paths = set(component), {start: [start]}
        frontier, cycle = [start], None
        while cycle is None:
            following = []
            for node in frontier:
                for succ in sorted(graph.get(node, {})):
                    if succ == start:
                        cycle = paths[node] + [start]
                        break
                    if succ in members and succ not in paths:
                        paths[succ] = paths[node] + [succ]
                        following.append(succ)
                if cycle:
                    break
            frontier = following
        cycles.append([(a, graph[a][b]) for a, b in zip(cycle, cycle[1:])])
    return cycles


def _rule_cycles(imports: list[Import]) -> list[str]:
    return ["import cycle " + " -> ".join([m for m, _ in cycle] + [cycle[0][0]]) + ": "
            + "; ".join(imp.where() for _, imp in cycle)
            for cycle in _cycles(imports)]


def check_import_rules(root: Path) -> dict[str, list[str]]:
    """Check every import rule on the source tree under ``root``.

    Parameters
    ----------
    root : Path
        A directory holding ``ensemblekit/`` and, optionally, ``plugins/<dist>/*.py``.

    Returns
    -------
    dict of str to list of str
        For each rule of :data:`RULES`, one message per violation (empty: it holds).
    """
    imports = collect_imports(root)
    third_party = frozenset(n for n, p in _sources(root).items()
                            if p.is_relative_to(root / "plugins"))
    checks: dict[str, Callable[[list[Import]], list[str]]] = {
        "numerics": _rule_numerics,
        "hookspecs": _rule_hookspecs,
        "sklearn-private": _rule_sklearn_private,
        "estimators": _rule_estimators,
        "cli": _rule_cli,
        "plugins": lambda found: _rule_plugins(found, third_party),
        "cycles": _rule_cycles,
    }
    return {rule: checks[rule](imports) for rule in RULES}


# --- the rules on this repository -----------------------------------------------------------

@pytest.fixture(scope="module")
def violations() -> dict[str, list[str]]:
    return check_import_rules(ROOT)


def _holds(violations: dict[str, list[str]], rule: str) -> None:
    found = violations[rule]
    assert not found, f"import rule {rule!r} broken {len(found)} time(s):\n" + "\n".join(found)


def test_the_tree_is_scanned() -> None:
    # the rules below pass vacuously if nothing is found: make sure the layers exist
    modules = set(_sources(ROOT))
    assert {"ensemblekit", HOOKSPECS, "ensemblekit._layers", "ensemblekit.mlp",
            CLI_GROUP, "ensemblekit.__main__"} <= modules
    assert any(m.startswith(BUILTIN_PLUGINS_PACKAGE + ".") for m in modules)
    assert any(_sources(ROOT)[m].is_relative_to(ROOT / "plugins") for m in modules)
    assert not any("tests" in _sources(ROOT)[m].relative_to(ROOT / "plugins").parts
                   for m in modules if _sources(ROOT)[m].is_relative_to(ROOT / "plugins"))


def test_numerics_import_only_array_libraries(violations: dict[str, list[str]]) -> None:
    _holds(violations, "numerics")


def test_hookspecs_imports_only_pluggy(violations: dict[str, list[str]]) -> None:
    _holds(violations, "hookspecs")


def test_only_one_module_imports_sklearn_private_api(violations: dict[str, list[str]]) -> None:
    _holds(violations, "sklearn-private")


def test_estimators_never_import_io_or_cli(violations: dict[str, list[str]]) -> None:
    _holds(violations, "estimators")


def test_nothing_outside_the_cli_imports_it(violations: dict[str, list[str]]) -> None:
    _holds(violations, "cli")


def test_plugins_use_only_the_public_plugin_api(violations: dict[str, list[str]]) -> None:
    _holds(violations, "plugins")


def test_no_import_cycles(violations: dict[str, list[str]]) -> None:
    _holds(violations, "cycles")


# --- the checker on planted trees -----------------------------------------------------------

# a small tree in the v2 layout that keeps every rule (lazy imports, TYPE_CHECKING included)
CLEAN_TREE = {
    "ensemblekit/__init__.py": "from .mlp import MLP\nfrom .plugins import Plugin\n"
                               "__version__ = '0'\n",
    "ensemblekit/__main__.py": "from .cli import cli\n",
    "ensemblekit/_compiled.py": "import os\n\n\ndef jit():\n    import numba\n",
    "ensemblekit/_layers.py": "import numpy as np\nfrom scipy.special import expit\n",
    "ensemblekit/_optimizers.py": "from ._compiled import jit\n\n\ndef limit():\n"
                                  "    from threadpoolctl import ThreadpoolController\n",
    "ensemblekit/_network.py": "from __future__ import annotations\n\nfrom . import _layers\n",
    "ensemblekit/_sklearn.py": "from sklearn.utils._param_validation import Interval\n"
                               "from sklearn.model_selection._search import BaseSearchCV\n",
    "ensemblekit/_stack.py": "import pluggy\nimport sklearn.base\n",
    "ensemblekit/exceptions.py": "class PluginError(Exception):\n    pass\n",
    "ensemblekit/hookspecs.py": "import pluggy\nimport typing\n",
    "ensemblekit/plugins.py": "import pluggy\nfrom sklearn.base import BaseEstimator\n"
                              "from . import hookspecs\nfrom .exceptions import PluginError\n"
                              "from typing import TYPE_CHECKING\n"
                              "if TYPE_CHECKING:\n    from .mlp import MLP\n\n\n"
                              "def version():\n    from . import __version__\n",
    "ensemblekit/mlp.py": "from sklearn.base import BaseEstimator\nfrom . import _network\n"
                          "from ._optimizers import Adam\nfrom ._sklearn import Interval\n"
                          "from .plugins import Plugin\n",
    "ensemblekit/ensemble.py": "from .mlp import MLP\nfrom ._sklearn import safe_indexing\n",
    "ensemblekit/search.py": "from ._sklearn import BaseSearchCV\nfrom .mlp import MLP\n",
    "ensemblekit/metrics.py": "from sklearn.metrics import log_loss\n",
    "ensemblekit/io.py": "from .ensemble import Ensemble\nfrom .mlp import MLP\n",
    "ensemblekit/config.py": "from .mlp import MLP\n",
    "ensemblekit/reproduce.py": "from .config import model_from_config\nfrom .io import save\n",
    "ensemblekit/cli/__init__.py": "import click\nfrom . import predict, train\n",
    "ensemblekit/cli/common.py": "import click\n",
    "ensemblekit/cli/train.py": "from ..config import model_from_config\nfrom ..io import save\n"
                                "from .common import option\n",
    "ensemblekit/cli/predict.py": "from ensemblekit.cli import common\nfrom ..io import load\n",
    "ensemblekit/default_plugins/__init__.py": "",
    "ensemblekit/default_plugins/dropout.py": "from .._constraints import Interval\n"
                                              "from .._stack import user_stacklevel\n"
                                              "from ..hookspecs import hookimpl\n"
                                              "from ..plugins import Plugin\n",
    "ensemblekit/default_plugins/mc_dropout.py": "from .dropout import Dropout\n"
                                                 "from .._compiled import _loop\n",
    "plugins/ensemblekit-good/ensemblekit_good.py": "from ensemblekit import Plugin, hookimpl\n"
                                                    "from ensemblekit.exceptions import "
                                                    "PluginError\n",
    # tests of a plugin distribution are not plugin code
    "plugins/ensemblekit-good/tests/test_good.py": "from ensemblekit.mlp import _private\n",
    "plugins/ensemblekit-good/conftest.py": "from ensemblekit.mlp import MLP\n",
}

# (rule, file, code appended, fragments the message must contain): one or more per rule
PLANTED = [
    ("numerics", "ensemblekit/_network.py", "\n\ndef f():\n    import sklearn.base\n",
     ["ensemblekit/_network.py:7", "ensemblekit._network", "import sklearn.base"]),
    ("numerics", "ensemblekit/_layers.py", "from .plugins import Plugin\n",
     ["ensemblekit/_layers.py:3", "ensemblekit.plugins"]),
    ("hookspecs", "ensemblekit/hookspecs.py", "import numpy as np\n",
     ["ensemblekit/hookspecs.py:3", "ensemblekit.hookspecs", "import numpy as np"]),
    ("sklearn-private", "ensemblekit/ensemble.py", "from sklearn.utils import _safe_indexing\n",
     ["ensemblekit/ensemble.py:3", "_safe_indexing"]),
    ("sklearn-private", "ensemblekit/default_plugins/dropout.py",
     "from sklearn.utils._param_validation import Interval\n",
     ["ensemblekit/default_plugins/dropout.py:5", "_param_validation"]),
    ("estimators", "ensemblekit/search.py", "from . import io\n",
     ["ensemblekit/search.py:3", "ensemblekit.search", "ensemblekit.io"]),
    ("estimators", "ensemblekit/metrics.py", "\n\ndef f():\n    from .io import load\n",
     ["ensemblekit/metrics.py:5", "ensemblekit.metrics", "from .io import load"]),
    ("cli", "ensemblekit/reproduce.py", "\n\ndef f():\n    from .cli.train import model\n",
     ["ensemblekit/reproduce.py:6", "ensemblekit.reproduce", "ensemblekit.cli.train"]),
    ("cli", "ensemblekit/cli/train.py", "\n\ndef f():\n    from ensemblekit.cli import cli\n",
     ["ensemblekit/cli/train.py:7", "ensemblekit.cli.train", "the group"]),
    ("plugins", "plugins/ensemblekit-good/ensemblekit_good.py",
     "from ensemblekit._layers import ACTIVATIONS\n",
     ["ensemblekit_good.py:3", "ensemblekit._layers"]),
    ("plugins", "plugins/ensemblekit-good/ensemblekit_good.py",
     "from ensemblekit.mlp import MLP\n", ["ensemblekit_good.py:3", "ensemblekit.mlp"]),
    ("plugins", "ensemblekit/default_plugins/dropout.py",
     "from ..plugins import _zero_strength_params\n",
     ["dropout.py:5", "_zero_strength_params"]),
    ("cycles", "ensemblekit/plugins.py", "from .mlp import MLP\n",
     ["ensemblekit.mlp -> ensemblekit.plugins -> ensemblekit.mlp", "ensemblekit/plugins.py:12"]),
    # a package __init__ importing its submodule is an edge
    ("cycles", "ensemblekit/mlp.py", "from ensemblekit import __version__\n",
     ["ensemblekit -> ensemblekit.mlp -> ensemblekit", "ensemblekit/mlp.py:6"]),
]


def _write_tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def _failing(result: dict[str, list[str]]) -> set[str]:
    return {rule for rule, found in result.items() if found}


def test_the_clean_tree_keeps_every_rule(tmp_path: Path) -> None:
    result = check_import_rules(_write_tree(tmp_path, CLEAN_TREE))
    assert result == {rule: [] for rule in RULES}


@pytest.mark.parametrize(("rule", "file", "code", "expected"), PLANTED,
                         ids=[f"{p[0]}-{p[1].rpartition('/')[2]}" for p in PLANTED])
def test_a_planted_violation_breaks_its_rule(tmp_path: Path, rule: str, file: str, code: str,
                                             expected: list[str]) -> None:
    files = dict(CLEAN_TREE)
    files[file] += code
    result = check_import_rules(_write_tree(tmp_path, files))
    assert _failing(result) == {rule}, result
    [message] = result[rule]
    missing = [fragment for fragment in expected if fragment not in message]
    assert not missing, f"{missing} not in {message!r}"


def test_a_violation_planted_in_a_copy_of_this_package_is_found(
        tmp_path: Path, violations: dict[str, list[str]]) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(ROOT / PACKAGE, tmp_path / PACKAGE, ignore=ignore)
    shutil.copytree(ROOT / "plugins", tmp_path / "plugins", ignore=ignore)
    assert check_import_rules(tmp_path) == violations  # the copy is read as the original
    optimizers = tmp_path / PACKAGE / "_optimizers.py"
    lines = optimizers.read_text().count("\n")
    with optimizers.open("a") as f:
        f.write("\n\ndef _frame():\n    import pandas as pd\n")
    result = check_import_rules(tmp_path)
    new = {rule: [m for m in found if m not in violations[rule]] for rule, found in result.items()}
    assert new == {rule: [] for rule in RULES if rule != "numerics"} | {"numerics": [
        f"ensemblekit/_optimizers.py:{lines + 4}: ensemblekit._optimizers: `import pandas as pd` "
        "imports pandas: numerics import only ['numba', 'numpy', 'scipy', 'threadpoolctl'], "
        "the stdlib and each other"]}


def test_every_rule_is_shown_to_fail() -> None:
    assert {planted[0] for planted in PLANTED} == set(RULES)


@pytest.mark.parametrize("guard", ["\n\ndef f():\n    from .mlp import MLP\n",
                                   "from typing import TYPE_CHECKING\n"
                                   "if TYPE_CHECKING:\n    from .mlp import MLP\n"])
def test_deferred_and_type_checking_imports_make_no_cycle(tmp_path: Path, guard: str) -> None:
    files = dict(CLEAN_TREE)
    files["ensemblekit/plugins.py"] += guard
    assert check_import_rules(_write_tree(tmp_path, files))["cycles"] == []


def test_relative_imports_resolve_to_absolute_modules(tmp_path: Path) -> None:
    imports = collect_imports(_write_tree(tmp_path, CLEAN_TREE))

    def targets(importer: str) -> Iterable[tuple[str, ...]]:
        return [imp.targets for imp in imports if imp.importer == importer]

    assert targets("ensemblekit.cli") == [("click",), ("ensemblekit.cli.predict",
                                                       "ensemblekit.cli.train")]
    assert targets("ensemblekit.cli.train") == [("ensemblekit.config",), ("ensemblekit.io",),
                                                ("ensemblekit.cli.common",)]
    assert ("ensemblekit.cli.common",) in targets("ensemblekit.cli.predict")
    [lazy] = [imp for imp in imports if imp.importer == "ensemblekit.plugins" and imp.deferred]
    assert lazy.targets == ("ensemblekit",) and lazy.names == ("__version__",)
    [guarded] = [imp for imp in imports if imp.type_checking]
    assert guarded.importer == "ensemblekit.plugins" and not guarded.deferred
