"""Fast start: ``import ensemblekit`` and ``ensemblekit --help`` import nothing heavy.

``ensemblekit plugins`` imports every plugin module (pluggy, numpy), but not
scikit-learn, SciPy, pandas or numba: the built-in plugins declare their
constraints without scikit-learn (:mod:`ensemblekit._constraints`), ``Plugin``
is not a ``BaseEstimator``, and the bundled plugin distributions import SciPy
on first use.
"""

import subprocess
import sys

import click
import pytest

import ensemblekit
from ensemblekit.cli import COMMANDS, cli

HEAVY = ("sklearn", "scipy", "pandas", "numba", "pluggy", "joblib", "matplotlib")


def _imported_after(code: str) -> list[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, timeout=120).stdout.split()
    return [name for name in HEAVY if name in out]


@pytest.mark.parametrize("code", [
    "import ensemblekit",
    "import ensemblekit.cli",
    "from ensemblekit.cli import cli\n"
    "try:\n    cli(['--help'])\nexcept SystemExit:\n    pass",
    "from ensemblekit.cli import cli\n"
    "try:\n    cli(['--version'])\nexcept SystemExit:\n    pass",
])
def test_starting_imports_nothing_heavy(code):
    assert _imported_after(code) == []


#: what listing the plugins may import: the plugin machinery and numpy
PLUGIN_MACHINERY = ("pluggy", "joblib")


def test_listing_the_plugins_imports_no_scikit_learn_scipy_or_pandas():
    code = ("from ensemblekit.cli import cli\n"
            "try:\n    cli(['plugins'])\nexcept SystemExit:\n    pass")
    heavy = [name for name in _imported_after(code) if name not in PLUGIN_MACHINERY]
    assert heavy == []


def test_a_plugin_still_validates_with_scikit_learns_messages():
    from sklearn.utils._param_validation import InvalidParameterError

    from ensemblekit import Dropout, WeightDecay

    with pytest.raises(InvalidParameterError, match=r"'rate' parameter of Dropout must be"):
        Dropout(rate=1.5).validate()
    with pytest.raises(InvalidParameterError, match=r"'convention' parameter of WeightDecay"):
        WeightDecay(convention="keras").validate()
    WeightDecay(alpha=0.5, convention="book").validate()


def test_every_public_name_resolves_lazily():
    assert set(ensemblekit.__all__) == {*ensemblekit._PUBLIC, "__version__"}
    for name in ensemblekit.__all__:
        assert getattr(ensemblekit, name) is not None
    assert set(ensemblekit.__all__) <= set(dir(ensemblekit))
    assert ensemblekit.mlp.MLPClassifier is ensemblekit.MLPClassifier  # submodules too
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        ensemblekit.nothing_here  # noqa: B018


def test_the_help_lines_are_the_commands_own():
    formatter = click.HelpFormatter()
    limit = formatter.width - 6 - max(len(name) for name in COMMANDS)
    for name, (_, _, line) in COMMANDS.items():
        command = cli.get_command(None, name)
        assert command is not None and command.name == name
        assert click.utils.make_default_short_help(line, limit) == \
            command.get_short_help_str(limit), name
    assert cli.get_command(None, "no-such-command") is None
