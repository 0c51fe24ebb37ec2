"""scikit-learn's own estimator checks, for every configuration we promise.

Expected failures (the only ones):

* ``check_sample_weight_equivalence_on_{dense,sparse}_data`` with the
  ``Dropout`` plugin.  The check fits once with a sample of weight 2 and once
  with that sample repeated, and demands the same model.  Dropout draws an
  independent mask per *row*: two copies of a sample get two masks, one
  weighted sample gets one, so the two fits see different noise and cannot be
  equal (they are equal only in expectation).  The same configuration without
  dropout, and batch norm (whose statistics are weighted for this reason), pass.
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from ensemblekit import Dropout, MLPClassifier, MLPRegressor, WeightDecay

_DROPOUT_XFAIL = {
    "check_sample_weight_equivalence_on_dense_data":
        "dropout draws one mask per row: a weighted row and its repeats see different noise",
    "check_sample_weight_equivalence_on_sparse_data":
        "dropout draws one mask per row: a weighted row and its repeats see different noise",
}


def _configs():
    for cls in (MLPClassifier, MLPRegressor):
        yield cls(max_iter=100)
        yield cls(max_iter=100, plugins=[WeightDecay(), Dropout()])
        yield cls(max_iter=100, batch_norm=True)


def _expected_failed_checks(estimator):
    plugins = estimator.get_params()["plugins"] or []
    return _DROPOUT_XFAIL if any(isinstance(p, Dropout) for p in plugins) else {}


@parametrize_with_checks(list(_configs()), expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)
