"""The plugin-author pages tell the truth: the tutorial's listings are the real package."""

import pathlib
import re

import pytest

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

ROOT = pathlib.Path(__file__).parents[1]
TUTORIAL = ROOT / "docs" / "plugins-tutorial.md"
PACKAGE = ROOT / "plugins" / "ensemblekit-maxnorm"


def _blocks(language: str) -> list[str]:
    text = TUTORIAL.read_text()
    return re.findall(rf"^```{language}\n(.*?)^```", text, re.MULTILINE | re.DOTALL)


def _block_with(text: str) -> str:
    (block,) = [b for b in _blocks("python") if text in b]
    return block


def test_tutorial_pyproject_is_the_package_s():
    assert (PACKAGE / "pyproject.toml").read_text() in _blocks("toml")


def test_tutorial_complete_module_is_the_package_s():
    module = (PACKAGE / "ensemblekit_maxnorm.py").read_text()
    assert module == _block_with('"""Max-norm weight constraint for ensemblekit.')


def test_tutorial_test_file_tests_what_the_package_does():
    namespace: dict = {}
    exec(compile(_block_with("def test_conformance"), "tutorial tests", "exec"),  # noqa: S102
         namespace)
    plain = [name for name in namespace if name.startswith("test_") and
             not hasattr(namespace[name], "pytestmark")]
    assert plain == ["test_bound_holds_after_fit", "test_lbfgs_is_refused"]
    for name in plain:
        namespace[name]()


@pytest.mark.parametrize("page", ["plugins-tutorial", "plugins-testing", "plugins-security"])
def test_pages_are_in_the_table_of_contents(page):
    index = (ROOT / "docs" / "index.md").read_text()
    toctree = index[index.index("{toctree}"):]
    assert any(page == entry or (entry.endswith("*") and page.startswith(entry[:-1]))
               for entry in toctree.split())


def test_every_switch_is_on_the_security_page():
    security = (ROOT / "docs" / "plugins-security.md").read_text()
    plugins_py = (ROOT / "ensemblekit" / "plugins.py").read_text()
    switches = set(re.findall(r"ENSEMBLEKIT_[A-Z_]+", plugins_py))
    assert len(switches) == 5
    assert all(f"`{s}=" in security for s in switches)


_VERSION = re.compile(r"\b\d+(\.\d+)+\b")


def test_tutorial_plugins_listing_is_what_the_command_prints():
    from click.testing import CliRunner

    from ensemblekit.cli import cli

    text = TUTORIAL.read_text()
    after = text[text.index("pip install -e .\nensemblekit plugins\n```"):]
    (sample,) = re.findall(r"^```text\n(.*?)^```", after, re.MULTILINE | re.DOTALL)[:1]
    printed = CliRunner().invoke(cli, ["plugins"]).stdout.splitlines()
    # versions differ between the environment and the docs; the fields must not
    by_name = {line.split()[0]: _VERSION.sub("V", line).split() for line in printed}
    shown = [line for line in sample.splitlines() if line != "..."]
    assert len(shown) == 3
    for line in shown:
        assert _VERSION.sub("V", line).split() == by_name[line.split()[0]], line


def test_default_alpha_adds_weight_decay_beside_a_third_party_penalty():
    from ensemblekit import MLPClassifier, WeightDecay
    from ensemblekit.testing import toy_classification

    X, y = toy_classification()
    names = [n for n, _ in MLPClassifier(max_iter=1, plugins=["l1"]).fit(X, y).plugins_]
    assert names == ["l1", "weight_decay"]
    alone = MLPClassifier(max_iter=1, alpha=0, plugins=["l1"]).fit(X, y).plugins_
    assert [n for n, _ in alone] == ["l1"]
    assert not any(isinstance(p, WeightDecay) for _, p in alone)
    text = TUTORIAL.read_text()
    assert "default `alpha` adds weight decay beside your plugin" in text
    assert "`MLPClassifier(alpha=0, plugins=[\"l1\"])`" in text


def test_tutorial_schedule_chapter_runs(tmp_path, monkeypatch):
    """Chapter 9: a third-party schedule trains, ensembles (n_jobs=2), saves, loads, resumes."""
    text = TUTORIAL.read_text()
    chapter = text[text.index("## 9. Another hook: a learning-rate schedule"):]
    blocks = re.findall(r"^```python\n(.*?)^```", chapter, re.MULTILINE | re.DOTALL)
    assert len(blocks) == 2
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "tutorial_schedule"}
    for i, block in enumerate(blocks):
        exec(compile(block, f"tutorial chapter 9, block {i + 1}", "exec"), namespace)  # noqa: S102
    here = namespace["here"]
    # the decay reached the resumed model: 6 epochs of 9 steps at decay_steps=20
    assert here.n_steps_ == 6 * 9
    assert here.optimizer_.learning_rate == 0.2 * 0.5 ** ((here.n_steps_ - 1) / 20)
    two = namespace["ExponentialDecay"](decay_rate=0.9)
    with pytest.raises(Exception, match="all implement ensemblekit_learning_rate"):
        namespace["MLPClassifier"](solver="sgd", plugins=[two, "step_decay"]).fit(
            namespace["X"], namespace["y"])
