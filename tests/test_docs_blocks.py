"""Every code block of README.md and docs/ is run or checked, and every printed output compared.

The registry: :func:`claim` gives each block of every page (``tests/docs_blocks.py``
reads them: fenced Markdown blocks, MyST directives, reST code and literal blocks)
the runner that runs or checks it, and ``test_every_block_is_claimed`` fails on a
block no runner claims.  ``test_page`` then runs each page's blocks in order, in a
fresh folder:

* ``python`` blocks run in one namespace per page; a ``{code-block} python``
  (an illustration) runs in a copy of it, so that it cannot change what the page's
  next blocks see, and one with an ``if __name__ == "__main__":`` guard runs as a
  script in a subprocess, after the page's ``python`` blocks before it.  A
  ``print(...)`` line followed by ``# ...`` comments must print those comments,
  a ``>>>`` block is a doctest (``...`` elides), and ``test_*`` functions a block
  defines (the testing pages show test files) are called, once per parameter set.
* ``bash`` / ``console`` blocks: ``ensemblekit ...`` through the real CLI (click's
  runner, in the page's folder), ``python -c`` in a subprocess, ``python -m pytest
  FILES`` collected (``--collect-only``: the suite runs those files itself) and the
  bare ``python -m pytest`` checked to be what ``.ci/run`` runs.  ``pip install``
  is checked, not run: every path it names is a project (``pyproject.toml``) whose
  distribution is installed here, and every extra it names exists.
  ``SLOW_COMMANDS`` are parsed by the real CLI but not run, with the reason.
* a ``text`` block after a block that printed must be what it printed (a ``...``
  line stands for lines the page leaves out; durations and the test's folder are
  normalised, nothing else); a ``console`` block's output lines likewise.
* other text, ``toml``, ``{include}``, ``{literalinclude}``, ``{toctree}`` and reST
  literal blocks each have a named checker in ``CHECKERS``; ``NOT_RUN`` lists, with
  the reason, the blocks that are neither run nor checked.

``test_a_planted_mismatch_is_reported`` feeds the same machinery a page whose printed
number was changed.  The build itself, the API and hook references, and the CSV
tutorial's pictures are tested in ``tests/test_docs.py``.
"""

from __future__ import annotations

import ast
import contextlib
import doctest
import importlib.metadata
import inspect
import io
import json
import re
import shlex
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import tomllib
from click.testing import CliRunner
from docs_blocks import (
    DOCS,
    ROOT,
    Block,
    commands,
    markdown_blocks,
    output_comments,
    output_mismatch,
    page_blocks,
    pages,
)
from sklearn.datasets import load_wine
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from ensemblekit import hookimpl
from ensemblekit.cli import cli

_RightL1 = pytest.importorskip("ensemblekit_l1").L1

PAGES = {p.relative_to(ROOT).as_posix(): p for p in pages()}

#: Blocks that are neither run nor checked, by (page, first line): keep it tiny.
NOT_RUN: dict[tuple[str, str], str] = {
    ("docs/regularisation.md", "alpha = λ · batch_size"):
        "a formula set as text (the conversion is tested in tests/test_builtin_plugin_"
        "behaviour.py), not code or output",
}

#: Commands parsed by the real CLI (every option and value checked) but not run.
SLOW_COMMANDS: dict[str, str] = {
    "ensemblekit reproduce all --out docs/chapter6":
        "reruns every chapter-6 experiment (minutes of CPU); test_the_chapter6_outputs_are_"
        "what_the_generator_writes checks the files it wrote, and test_reproduce.py runs "
        "every experiment in its --quick form",
    "ensemblekit reproduce overfitting --out results --seeds 5":
        "5 seeds x 200 epochs of the 6 x 100 network; the --quick form runs in "
        "tests/test_reproduce.py",
}

#: Pages whose examples need a package that is optional: skipped only without it.
PAGE_NEEDS = {"docs/onnx.md": "onnxruntime", "docs/scaling.md": "ray",
              "docs/optuna.md": "optuna", "docs/dask.md": "distributed",
              "docs/tutorial-csv.md": "matplotlib", "README.md": "onnxruntime"}

#: Pages that train for long (the shipped recipe: five networks on warped images).
#: Pages that take long: the shipped recipe (five networks on warped images), a cluster of
#: worker processes (dask.md), Ray's start (scaling.md), collecting the test files
#: reliability.md names (they import Dask).
SLOW_PAGES = {"docs/chapter6/best-recipe.md", "docs/dask.md", "docs/scaling.md",
              "docs/reliability.md"}


# --------------------------------------------------------------------------
# the data files the pages' commands name
# --------------------------------------------------------------------------
def _wine_tables(folder: Path) -> None:
    """``data.csv``/``train.csv`` (labelled), ``test.csv`` and ``new.csv`` (no label)."""
    X, y = load_wine(return_X_y=True, as_frame=True)
    table = X.assign(label=np.array(["barolo", "grignolino", "barbera"])[y])
    table = table.sample(frac=1.0, random_state=0)
    table.iloc[:120].to_csv(folder / "data.csv", index=False)
    table.iloc[:120].to_csv(folder / "train.csv", index=False)
    table.iloc[120:].to_csv(folder / "test.csv", index=False)
    table.iloc[120:].drop(columns="label").to_csv(folder / "new.csv", index=False)


def _examples(folder: Path) -> None:
    """The repository's ``examples/`` (the page runs its commands from the root)."""
    (folder / "examples").symlink_to(ROOT / "examples")


SETUP: dict[str, Callable[[Path], None]] = {
    "docs/chapter6/best-recipe.md": _examples,
    "README.md": _wine_tables,
    "docs/ensembles.md": _wine_tables,
    "docs/hyperparameter-search.md": _wine_tables,
}


# --------------------------------------------------------------------------
# running a page
# --------------------------------------------------------------------------
class PageRun:
    """The state of one page's run: its namespace, folder and last printed output."""

    def __init__(self, page: str, folder: Path) -> None:
        self.page = page
        self.folder = folder
        self.namespace: dict = {"__name__": "docs_" + re.sub(r"\W", "_", page)}
        self.scripts: list[str] = []  # the page's python blocks so far, for scripts
        self.printed: str | None = None
        self.shell_dir = ROOT  # where a `pip install` path of the page is resolved

    def exec(self, code: str, where: str, namespace: dict | None = None) -> str:
        """Run ``code`` in the page's namespace (or ``namespace``); return what it printed."""
        namespace = self.namespace if namespace is None else namespace
        before = set(namespace)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, where, "exec"), namespace)  # noqa: S102
            for name in sorted(set(namespace) - before):
                if name.startswith("test_") and callable(namespace[name]):
                    _call_test(namespace[name])
        return out.getvalue()


def _call_test(function: Callable) -> None:
    """Call a test function a page defines, once per parameter set of its parametrize marks."""
    marks = [m for m in getattr(function, "pytestmark", []) if m.name == "parametrize"]
    if not marks:
        function()
        return
    for mark in marks:
        names = [n.strip() for n in mark.args[0].split(",")] \
            if isinstance(mark.args[0], str) else list(mark.args[0])
        for values in mark.args[1]:
            values = getattr(values, "values", values)
            values = values if len(names) > 1 else (values,)
            function(**dict(zip(names, values)))


def _python(run: PageRun, block: Block) -> None:
    printed = []
    for code, shown in output_comments(block.body):
        out = run.exec(code, f"{block.where} (python)")
        printed.append(out)
        if shown:
            mismatch = output_mismatch(out, shown)
            assert mismatch is None, f"{block.where}: the comment is not what it prints\n" \
                                     f"{mismatch}"
    run.scripts.append(block.body)
    run.printed = "".join(printed)


def _illustration(run: PageRun, block: Block) -> None:
    """A ``{code-block} python``: runs in a copy of the namespace (or, guarded, as a script)."""
    if 'if __name__ == "__main__":' in block.body:
        script = run.folder / f"block_{block.line}.py"
        script.write_text("\n".join([*run.scripts, block.body]))
        result = subprocess.run([sys.executable, script.name], cwd=run.folder,
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, f"{block.where}\n{result.stderr[-3000:]}"
        run.printed = result.stdout
        return
    namespace = dict(run.namespace)
    with _context_for(block, namespace):
        run.printed = run.exec(block.body, f"{block.where} (code-block)", namespace)


@contextlib.contextmanager
def _context_for(block: Block, namespace: dict) -> Iterator[None]:
    """What the text around an illustration says is there: dask.md's running cluster."""
    if block.page == "docs/dask.md" and "Client(cluster)" in block.body:
        from distributed import LocalCluster

        with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                          dashboard_address=None) as cluster:
            namespace["cluster"] = cluster
            yield
    else:
        yield


def _doctest(run: PageRun, block: Block) -> None:
    test = doctest.DocTestParser().get_doctest(block.body, dict(run.namespace), block.where,
                                               block.page, block.line)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    out = io.StringIO()
    runner.run(test, out=out.write)
    assert runner.failures == 0, out.getvalue()
    run.printed = None


def _pip_install(run: PageRun, args: list[str]) -> None:
    """Checked, not run: each path is a project whose distribution is installed; extras exist."""
    targets = [a for a in args if not a.startswith("-")]
    assert targets, args
    for target in targets:
        match = re.fullmatch(r"(?P<what>[^\[<>=]+)(\[(?P<extras>[\w,-]+)\])?([<>=].*)?", target)
        assert match, target
        what, extras = match.group("what"), (match.group("extras") or "").split(",")
        if what.startswith(".") or "/" in what:
            projects = sorted(run.shell_dir.glob(what)) if "*" in what \
                else [run.shell_dir / what]
            assert projects and all(p.is_dir() for p in projects), f"no project at {what}"
        else:
            projects = [p for p in [ROOT, *ROOT.glob("plugins/*/")]
                        if _project(p)["name"] == what]
            assert projects, f"{what} is not a project of this repository"
        for path in projects:
            project = _project(path)
            importlib.metadata.distribution(project["name"])  # installed here
            for extra in filter(None, extras):
                assert extra in project.get("optional-dependencies", {}), \
                    f"{project['name']} has no extra {extra!r}"


def _project(path: Path) -> dict:
    pyproject = path / "pyproject.toml"
    assert pyproject.is_file(), f"{path} is not a project (no pyproject.toml)"
    return tomllib.loads(pyproject.read_text())["project"]


def _ensemblekit(run: PageRun, args: list[str], command: str, console: bool) -> str:
    """Run a command of the page; one in a console block may fail (it shows the error)."""
    if command in SLOW_COMMANDS:
        with cli.make_context("ensemblekit", list(args)) as context:
            name, sub, rest = cli.resolve_command(context, list(args))
            assert sub is not None, command
            sub.make_context(name, rest, parent=context)
        return ""
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0 or (console and result.exit_code in (1, 2)), \
        f"{command}\n{result.output}"
    return result.output


def _shell(run: PageRun, block: Block) -> None:
    printed = []
    for command, comment in commands(block.body):
        for part in (p.strip() for p in command.split("&&")):
            printed.append(_one_command(run, block, part, comment))
    run.printed = "".join(printed)
    if block.lang == "console":
        shown = [line for line in block.body.replace("\\\n", " ").splitlines()
                 if not line.startswith("$ ")]
        if any(line.strip() for line in shown):
            mismatch = output_mismatch(run.printed, "\n".join(shown), run.folder)
            assert mismatch is None, f"{block.where}\n{mismatch}"
            run.printed = None


def _one_command(run: PageRun, block: Block, command: str, comment: str) -> str:
    args = shlex.split(command)
    where = f"{block.where}: {command}"
    if args[0] == "ensemblekit":
        out = _ensemblekit(run, args[1:], command, block.lang == "console")
        expected = re.fullmatch(r"(\w[\w ()-]*): (\S+)( \(.*\))?", comment)
        if expected and command not in SLOW_COMMANDS:  # "# accuracy: 0.927856 (seed 0)"
            assert f"{expected.group(1)}: {expected.group(2)}" in out, (where, out)
        return out
    if args[:2] == ["pip", "install"]:
        _pip_install(run, args[2:])
        return ""
    if args[:3] == ["python", "-m", "pytest"]:
        if len(args) == 3:  # the whole suite: what CI runs
            assert command in (ROOT / ".ci" / "run").read_text(), where
            return ""
        result = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q",
                                 "-p", "no:cacheprovider", *args[3:]], cwd=ROOT,
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, f"{where}\n{result.stdout[-3000:]}"
        return ""
    if args[:2] == ["python", "-c"]:
        result = subprocess.run([sys.executable, *args[1:]], cwd=run.folder,
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, f"{where}\n{result.stderr[-3000:]}"
        return result.stdout
    if args[0] == "head":  # "head -4 shop.csv": the first lines of a file the page wrote
        lines = (run.folder / args[2]).read_text().splitlines(keepends=True)
        return "".join(lines[:int(args[1][1:])])
    if args[0] == "mkdir":  # the plugin tutorial's package: plugins/<name> of this repo
        return ""
    if args[0] == "cd":
        target = run.shell_dir / args[1]
        run.shell_dir = target if target.is_dir() else ROOT / "plugins" / args[1]
        assert run.shell_dir.is_dir(), where
        return ""
    if args[0] == "eval":  # shell completion: the script click prints is loaded by bash
        result = subprocess.run(["bash", "-c", f"{command} && complete -p ensemblekit"],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0 and "ensemblekit" in result.stdout, (where, result)
        return ""
    raise AssertionError(f"{where}: no runner for this command")


def _text(run: PageRun, block: Block) -> None:
    if block.body.startswith("$ "):  # commands and what they print, in one block
        _shell(run, Block(block.page, block.line, "console", "", "", block.body))
        return
    assert run.printed is not None, f"{block.where}: a text block after nothing printed"
    mismatch = output_mismatch(run.printed, block.body, run.folder)
    assert mismatch is None, f"{block.where}: not what the block before printed\n{mismatch}"
    run.printed = None


# --------------------------------------------------------------------------
# checkers of blocks that are not run
# --------------------------------------------------------------------------
def _check_cli_synopsis(run: PageRun, block: Block) -> None:
    """docs/cli.md's list of commands is the CLI's: every command, and nothing else."""
    listed = re.findall(r"^  (\w+) ", block.body, flags=re.M)
    assert sorted(listed) == sorted(cli.list_commands(None)), listed
    for option in re.findall(r"\[(--[\w-]+)\]", block.body):
        assert any(option in p.opts for p in cli.params), option


def _check_design_picture(run: PageRun, block: Block) -> None:
    """Every module and folder docs/design.md's picture names exists."""
    package = ROOT / "ensemblekit"
    for name in re.findall(r"[\w.]*\w\.py\b", block.body):
        assert list(package.rglob(name)), f"design.md names {name}, not in ensemblekit/"
    for folder in re.findall(r"(?<![\w/*])(\w+)/(?=[\s*])", block.body):
        assert (package / folder).is_dir() or (ROOT / folder).is_dir(), folder
    cli_line = next(line for line in block.body.splitlines() if line.startswith("cli/"))
    for module in cli_line.split("-->")[1].split():
        assert (package / "cli" / f"{module}.py").is_file(), module


def _check_call_order(run: PageRun, block: Block) -> None:
    """docs/hooks.rst's call order names only hooks that exist, and every training hook."""
    from ensemblekit import hookspecs

    named = set(re.findall(r"\bensemblekit_\w+", block.body))
    specs = {n for n, o in inspect.getmembers(hookspecs) if hasattr(o, "ensemblekit_spec")}
    assert named <= specs, named - specs


def _check_train_toml(run: PageRun, block: Block) -> None:
    """docs/cli.md's configuration file is read by the CLI's reader without complaint."""
    from ensemblekit.config import read_config

    (run.folder / "train.toml").write_text(block.body)
    settings = read_config(run.folder / "train.toml")
    assert settings["target"] == "bought", settings


def _check_tutorial_pyproject(run: PageRun, block: Block) -> None:
    assert block.body == (ROOT / "plugins/ensemblekit-maxnorm/pyproject.toml").read_text()


def _check_fragment(run: PageRun, block: Block) -> None:
    """The plugin tutorial's pieces of its module: each is, as code, in the complete module.

    Imports must be there as written; a method shown alone must be the module's
    method of that name, statement for statement (its docstring may be shorter).
    """
    source = (ROOT / "plugins/ensemblekit-maxnorm/ensemblekit_maxnorm.py").read_text()
    methods = {node.name: _code(node) for node in ast.walk(ast.parse(source))
               if isinstance(node, ast.FunctionDef)}
    for paragraph in block.body.strip().split("\n\n"):
        if not paragraph.startswith(" "):
            assert paragraph in source, f"{block.where}: not in the module\n{paragraph}"
            continue
        for node in ast.parse(textwrap.dedent(paragraph)).body:
            assert isinstance(node, ast.FunctionDef), f"{block.where}: {paragraph}"
            assert methods.get(node.name) == _code(node), \
                f"{block.where}: {node.name} differs from the package's"


def _code(function: ast.FunctionDef) -> str:
    """A function's decorators, arguments and statements, its docstring left out."""
    body = function.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    return ast.dump(ast.Module(body=[*function.decorator_list, function.args, *body],
                               type_ignores=[]))


def _compiles(code: str) -> bool:
    try:
        compile(code, "block", "exec")
    except SyntaxError:
        return False
    return True


def _check_missing_plugin_message(run: PageRun, block: Block) -> None:
    """The error of a model file naming a plugin that is not installed, reproduced."""
    from forge import craft, read_parts

    import ensemblekit
    from ensemblekit.testing import toy_classification

    X, y = toy_classification()
    clf = ensemblekit.MLPClassifier(hidden_layer_sizes=(4,), max_iter=2,
                                    plugins=["dropout"]).fit(X, y)
    ensemblekit.save(clf, run.folder / "m.ekm")
    document, arrays = read_parts(run.folder / "m.ekm")
    text = json.dumps(document).replace('"dropout"', '"orthoreg"').replace(
        '"distribution": "ensemblekit", "version": "0.1.0"',
        '"distribution": "ensemblekit-orthoreg", "version": "0.1.3"')
    craft(run.folder / "moved.ekm", json.loads(text), arrays)
    with pytest.raises(ValueError) as raised:
        ensemblekit.load(run.folder / "moved.ekm")
    # the page quotes the sentence that says what to install, of a longer message
    assert block.body.strip() in str(raised.value), str(raised.value)


def _check_wrong_gradient_message(run: PageRun, block: Block) -> None:
    """The message of check_plugin on an L1 whose penalty gradient is half the right one."""
    from ensemblekit.testing import check_plugin

    with pytest.raises(AssertionError) as raised:
        check_plugin(L1(alpha=0.01))
    shown = " ".join(block.body.split())
    assert " ".join(f"AssertionError: {raised.value}".split()) == shown, str(raised.value)


class L1(_RightL1):
    """ensemblekit-l1's plugin with its value doubled: the gradient it adds is half the right one.

    At module level, so that the kit's pickle check can pickle it.
    """

    @hookimpl
    def ensemblekit_penalty(self, coefs, coef_grads, n_samples):
        return 2 * super().ensemblekit_penalty(coefs, coef_grads, n_samples)


def _check_toctree(run: PageRun, block: Block) -> None:
    for entry in block.body.split():
        if entry.endswith("*"):
            assert list(DOCS.glob(entry + ".md")), entry
        else:
            assert (DOCS / f"{entry}.md").is_file() or (DOCS / f"{entry}.rst").is_file(), entry


def _check_summary(run: PageRun, block: Block) -> None:
    """chapter6/summary.txt is what the generator writes from chapter6/results.json."""
    from ensemblekit.reproduce import summary_markdown

    folder = DOCS / "chapter6"
    results = json.loads((folder / "results.json").read_text())
    assert (folder / "summary.txt").read_text() == summary_markdown(results)


def _check_search_benchmark(run: PageRun, block: Block) -> None:
    """The benchmark's output: its command is the script's default run, and its budget line."""
    text = (DOCS / block.arg).read_text()
    first = text.splitlines()[0]
    assert first == "$ python benchmarks/bench_search.py", first
    assert (ROOT / "benchmarks" / "bench_search.py").is_file()


#: (page, first line or block kind) -> checker, for blocks that are checked, not run.
CHECKERS: dict[tuple[str, str], Callable[[PageRun, Block], None]] = {
    ("docs/cli.md", "ensemblekit [--debug] [--version] COMMAND ..."): _check_cli_synopsis,
    ("docs/cli.md", "# train.toml"): _check_train_toml,
    ("docs/design.md", "python -m ensemblekit and the console script: __main__.py (main; "
                       "imports the CLI itself)"): _check_design_picture,
    ("docs/hooks.rst", "ensemblekit_fit_start(estimator, rng, n_samples, dtype)"):
        _check_call_order,
    ("docs/plugins-tutorial.md", "[build-system]"): _check_tutorial_pyproject,
    ("docs/plugins-security.md", "plugin 'orthoreg' is not installed: pip install "
                                 "'ensemblekit-orthoreg>=0.1'"): _check_missing_plugin_message,
    ("docs/plugins-testing.md", "AssertionError: check_penalty_gradient failed for "
                                "L1(alpha=0.01): the gradient"): _check_wrong_gradient_message,
    ("docs/index.md", "toctree"): _check_toctree,
    ("docs/reproduce.md", "include"): _check_summary,
    ("docs/hyperparameter-search.md", "literalinclude"): _check_search_benchmark,
}


def claim(block: Block) -> Callable[[PageRun, Block], None] | str:
    """The runner or checker of ``block``, or the reason it is not run (``NOT_RUN``)."""
    first = block.body.splitlines()[0] if block.body.strip() else ""
    for key in ((block.page, first), (block.page, block.directive)):
        if key in NOT_RUN:
            return NOT_RUN[key]
        if key in CHECKERS:
            return CHECKERS[key]
    if block.lang == "python" and first.startswith(">>>"):
        return _doctest
    if block.lang == "python" and block.page == "docs/plugins-tutorial.md" \
            and not _compiles(block.body):
        return _check_fragment  # a method shown alone, in the context of the module
    if block.lang == "python":
        return _illustration if block.directive == "code-block" else _python
    if block.lang in ("bash", "console"):
        return _shell
    if block.lang == "text" and not block.directive:
        return _text
    return f"UNCLAIMED {block.lang or block.directive} block"


def _all_blocks() -> list[Block]:
    return [b for p in PAGES.values() for b in page_blocks(p)]


def test_every_block_is_claimed():
    unclaimed = [f"{b.where}: {r}" for b in _all_blocks()
                 if isinstance(r := claim(b), str) and r.startswith("UNCLAIMED")]
    assert not unclaimed, "blocks no runner or checker claims:\n" + "\n".join(unclaimed)
    # the exceptions name blocks that exist, and stay few
    firsts = {(b.page, b.body.splitlines()[0] if b.body.strip() else b.directive)
              for b in _all_blocks()} | {(b.page, b.directive) for b in _all_blocks()}
    assert set(NOT_RUN) <= firsts and set(CHECKERS) <= firsts
    assert len(NOT_RUN) <= 2


def _run_page(page: str, folder: Path, text: str | None = None) -> None:
    """Run every block of ``page`` (or of ``text``, read as that page) in ``folder``."""
    blocks = page_blocks(PAGES[page]) if text is None else markdown_blocks(text, page)
    run = PageRun(page, folder)
    if page in SETUP:
        SETUP[page](folder)
    for block in blocks:
        runner = claim(block)
        if isinstance(runner, str):
            run.printed = None
            continue
        runner(run, block)
        if runner not in (_python, _illustration, _shell):
            run.printed = None


def _marks(page: str) -> list:
    return [pytest.mark.slow] if page in SLOW_PAGES else []


@pytest.mark.parametrize("page", [pytest.param(p, marks=_marks(p)) for p in PAGES])
def test_page(page, tmp_path, monkeypatch):
    if page in PAGE_NEEDS:
        pytest.importorskip(PAGE_NEEDS[page], reason=f"{page} needs {PAGE_NEEDS[page]}")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    # One BLAS thread: these networks are too small to gain from more, and on a busy
    # machine multithreaded BLAS ran the examples 13x slower (measured).
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        warnings.simplefilter("ignore", ConvergenceWarning)  # the examples train briefly
        _run_page(page, tmp_path)


def test_a_planted_mismatch_is_reported(tmp_path, monkeypatch):
    """A page whose printed number was changed fails, naming the block and both numbers."""
    page = (DOCS / "tutorial-csv.md").read_text()
    kinds = page[page.index("print(model[0].kinds_)"):]
    shown = re.search(r"```text\n(.*?)```", kinds, flags=re.S).group(1)
    planted = "```python\nprint(sorted({'age': 41, 'member': 'boolean'}.items()))\n```\n\n" \
              "```text\n[('age', 42), ('member', 'boolean')]\n```\n"
    monkeypatch.chdir(tmp_path)
    with pytest.raises(AssertionError, match=r"(?s)docs/x\.md:5: not what.*-\[\('age', 42\).*"
                                             r"\+\[\('age', 41\)"):
        _run_text("docs/x.md", tmp_path, planted)
    assert output_mismatch(shown, shown) is None
    assert output_mismatch(shown.replace("numeric", "text", 1), shown) is not None
    # a duration is not a mismatch, another number is
    assert output_mismatch("trained in 3.2s, accuracy 0.847", "trained in 1.0s, "
                           "accuracy 0.847") is None
    assert output_mismatch("accuracy 0.847", "accuracy 0.830") is not None
    # full-precision numbers may differ by a few float32 steps (another CPU's BLAS
    # kernels), not more; rounded ones not at all
    assert output_mismatch("no,0.7184039354324341,0.2815960645675659",
                           "no,0.7184039950370789,0.28159600496292114") is None
    assert output_mismatch("no,0.71840394,0.28159606", "no,0.718404,0.281596") is None
    assert output_mismatch("no,0.7184139354324341", "no,0.7184039950370789") is not None
    assert output_mismatch("loss 0.1235", "loss 0.1234") is not None
    assert output_mismatch("no,0.718404,yes", "no;0.718404,yes") is not None
    # so is an output comment under a print
    with pytest.raises(AssertionError, match="the comment is not what it prints"):
        _run_text("docs/y.md", tmp_path, "```python\nprint(6 * 7)\n# 41\n```\n")


def _run_text(page: str, folder: Path, text: str) -> None:
    run = PageRun(page, folder)
    for block in markdown_blocks(text, page):
        runner = claim(block)
        assert callable(runner), runner
        runner(run, block)
