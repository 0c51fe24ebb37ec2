"""Plugin mistakes that used to pass in silence (issue 15, item 6).

A method named like a hook but not decorated with ``@hookimpl``, and one whose
name is no hook at all, are a ``PluginError`` when a fit builds its hooks; an
ensemble strategy handed the caller's ``X`` gets a read-only view of it.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_iris

from ensemblekit import EnsembleClassifier, MLPClassifier, Plugin, PluginError, hookimpl
from ensemblekit.plugins import hook_name_problems, read_only

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


class Forgotten(Plugin):
    """Counts epochs, but its hook lacks the decorator."""

    name = "forgotten"

    def ensemblekit_epoch_end(self, epoch):
        self.calls_ = getattr(self, "calls_", 0) + 1


class Misspelled(Plugin):
    """An undecorated, misspelled hook."""

    name = "misspelled"

    def ensemblekit_epoch_ned(self, epoch):
        pass


class Fine(Plugin):
    """A real hook and an ordinary helper: nothing to report."""

    name = "fine"

    @hookimpl
    def ensemblekit_epoch_end(self, epoch):
        self.helper()

    def helper(self):
        pass


@pytest.mark.parametrize("cls, match", [
    (Forgotten, r"plugin 'forgotten' \(Forgotten\): method ensemblekit_epoch_end is not "
                r"decorated with @hookimpl"),
    (Misspelled, r"plugin 'misspelled' \(Misspelled\): method ensemblekit_epoch_ned is not "
                 r"an ensemblekit hook; did you mean ensemblekit_epoch_end\?"),
])
def test_hook_like_methods_that_would_never_run_stop_the_fit(cls, match):
    X, y = load_iris(return_X_y=True)
    with pytest.raises(PluginError, match=match):
        MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, plugins=[cls()]).fit(X, y)


def test_an_ordinary_plugin_has_no_problems_and_trains():
    assert hook_name_problems(Fine) == []
    X, y = load_iris(return_X_y=True)
    MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, plugins=[Fine()]).fit(X, y)


class Vandal:
    """Mixin: a strategy's member_outputs that writes into the X it is handed."""

    @hookimpl
    def ensemblekit_member_outputs(self, estimator, members, X, output):
        if sp.issparse(X):
            X.data[:] = 0.0
        else:
            X[:] = 0.0
        return None


class VandalStrategy(Vandal, Plugin):
    """An independent-runs strategy that tries to overwrite the caller's X."""

    name = "vandal"

    @hookimpl
    def ensemblekit_prepare_runs(self, estimator, template, n_estimators):
        return None


def _ensemble():
    X, y = load_iris(return_X_y=True)
    member = MLPClassifier(hidden_layer_sizes=(4,), max_iter=3, random_state=0)
    return EnsembleClassifier(member, n_estimators=2, strategy=VandalStrategy(),
                              random_state=0).fit(X, y), X


def test_a_strategy_cannot_write_into_the_callers_X():
    ens, X = _ensemble()
    before = X.copy()
    with pytest.raises(PluginError, match="plugin 'strategy' failed in hook "
                                          "ensemblekit_member_outputs: ValueError: "
                                          "assignment destination is read-only"):
        ens.predict(X)
    np.testing.assert_array_equal(X, before)
    assert X.flags.writeable  # the user's array itself is untouched


def test_a_sparse_X_is_handed_over_as_a_copy():
    ens, X = _ensemble()
    Xs = sp.csr_matrix(X)
    before = Xs.toarray()
    ens.predict(Xs)  # the strategy zeroes its copy; the ensemble then predicts normally
    np.testing.assert_array_equal(Xs.toarray(), before)


def test_read_only_forms():
    a = np.ones(3)
    view = read_only(a)
    assert view.base is a and not view.flags.writeable and a.flags.writeable
    m = sp.csr_matrix(a)
    assert read_only(m) is not m
    assert read_only("text") == "text"
