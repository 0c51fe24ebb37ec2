"""ensemblekit-augment: random affine warps of training batches, on scikit-learn's digits."""

import numpy as np
import pytest
from ensemblekit_augment import RandomAffine
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

from ensemblekit import MLPClassifier, Plugin, PluginError, get_registry, hookimpl
from ensemblekit.testing import parametrize_with_plugin_checks

pytestmark = pytest.mark.filterwarnings("ignore", category=ConvergenceWarning)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y


class _BatchSpy(Plugin):
    """Keeps a copy of the first training batch, as the network receives it."""

    name = "batch_spy"

    def __init__(self):
        pass

    @hookimpl(trylast=True)
    def ensemblekit_batch_start(self, X):
        if not hasattr(self, "first_"):
            self.first_ = X.copy()


def _fit(X, y, plugins, **kw):
    params = dict(hidden_layer_sizes=(32,), alpha=0.0, max_iter=3, shuffle=False,
                  random_state=0, plugins=plugins)
    return MLPClassifier(**{**params, **kw}).fit(X, y)


@parametrize_with_plugin_checks([RandomAffine(), RandomAffine(fill_mode="constant"),
                                 RandomAffine(elastic=3.0, elastic_sigma=1.5)])
def test_the_plugin_kit(plugin, check):
    check(plugin)


def test_registered_under_its_name():
    assert get_registry().plugins["affine"] is RandomAffine
    assert get_registry().sources["affine"][0] == "ensemblekit-augment"


def test_batches_are_warped_and_the_users_data_is_not(digits):
    X, y = digits
    X = X[:200]
    before = X.copy()
    plain = _fit(X, y[:200], [_BatchSpy()]).plugins_[0][1].first_
    warped = _fit(X, y[:200], [RandomAffine(), _BatchSpy()]).plugins_[1][1].first_
    np.testing.assert_array_equal(X, before)  # the caller's array is untouched
    np.testing.assert_array_equal(plain, X[:200])  # shuffle=False: the rows in order
    assert warped.dtype == np.float32 and warped.shape == plain.shape
    changed = np.abs(warped - plain).max(axis=1)
    assert (changed > 0.05).mean() > 0.9  # nearly every image moved
    # a small warp keeps most of the ink where it was: still the same digit
    corr = [np.corrcoef(a, b)[0, 1] for a, b in zip(warped, plain)]
    assert np.median(corr) > 0.7


def test_a_pure_shift_moves_the_image_by_that_many_pixels():
    image = np.zeros((1, 25))
    image[0, 12] = 1.0  # the centre of a 5 x 5 image
    plugin = RandomAffine(rotation=0, shear=0, zoom=0, shift=1e-12, fill_mode="constant")
    plugin.ensemblekit_fit_start(estimator=None, rng=np.random.default_rng(0))
    plugin.shift = 1.0

    class _Fixed:  # a generator whose uniform draws are the top of each range
        def uniform(self, low, high, size):
            return np.broadcast_to(np.asarray(high, float), size).copy()

    plugin._rng = _Fixed()
    plugin.ensemblekit_batch_start(X=image)
    # the output pixel p reads the input at p + (1, 1): the dot moves up and left
    expected = np.zeros(25)
    expected[6] = 1.0
    np.testing.assert_allclose(image[0], expected, atol=1e-12)


def _column_displacement(elastic, elastic_sigma=2.0, seed=0):
    """Warp a horizontal ramp (pixel value = its column) elastically only.

    Bilinear interpolation reproduces a linear image exactly, so inside the
    image the warped ramp minus the ramp is the field's column displacement.
    """
    side = 24
    ramp = np.tile(np.arange(side, dtype=float), (side, 1)).reshape(1, -1)
    batch = np.repeat(ramp, 8, axis=0)
    plugin = RandomAffine(rotation=0, shear=0, zoom=0, shift=0, elastic=elastic,
                          elastic_sigma=elastic_sigma, fill_mode="nearest")
    plugin.ensemblekit_fit_start(estimator=None, rng=np.random.default_rng(seed))
    plugin.ensemblekit_batch_start(X=batch)
    inner = slice(4, side - 4)  # sources inside the image: nothing clamped
    return (batch - ramp).reshape(8, side, side)[:, inner, inner]


def test_the_elastic_field_is_smooth_and_scales_with_its_strength():
    weak, strong = _column_displacement(1.0), _column_displacement(2.0)
    np.testing.assert_allclose(strong, 2 * weak, atol=1e-9)  # the same field, twice as far
    rms = np.sqrt(np.mean(strong ** 2))
    assert 0.05 < rms < 0.5, rms  # a fraction of a pixel, as on 8 x 8 digits
    # smoothed: neighbouring pixels move together (independent draws would not)
    right = np.corrcoef(strong[:, :, :-1].ravel(), strong[:, :, 1:].ravel())[0, 1]
    assert right > 0.8, right
    rough = _column_displacement(2.0, elastic_sigma=0.3)
    assert np.corrcoef(rough[:, :, :-1].ravel(), rough[:, :, 1:].ravel())[0, 1] < right
    # each image gets its own field
    assert np.abs(strong[0] - strong[1]).max() > 0.05


def test_elastic_moves_pixels_on_top_of_the_same_affine_maps(digits):
    X, y = digits
    affine = dict(rotation=8, shear=0.1, zoom=0.05, shift=0.5, fill_mode="constant")
    batch = X[:16].copy()
    plugin = RandomAffine(**affine)
    plugin.ensemblekit_fit_start(estimator=None, rng=np.random.default_rng(7))
    plugin.ensemblekit_batch_start(X=batch)
    elastic = X[:16].copy()
    plugin = RandomAffine(**affine, elastic=2.0)
    plugin.ensemblekit_fit_start(estimator=None, rng=np.random.default_rng(7))
    plugin.ensemblekit_batch_start(X=elastic)
    # elastic adds to the same affine maps: a difference, but a small one
    assert 0 < np.abs(elastic - batch).mean() < np.abs(batch - X[:16]).mean()


def test_augmentation_changes_training_and_predict_is_untouched(digits):
    X, y = digits
    plain = _fit(X[:300], y[:300], [], max_iter=20)
    augmented = _fit(X[:300], y[:300], [RandomAffine()], max_iter=20)
    assert not np.allclose(plain.coefs_[0], augmented.coefs_[0], atol=1e-3)
    again = _fit(X[:300], y[:300], [RandomAffine()], max_iter=20)
    np.testing.assert_array_equal(augmented.coefs_[0], again.coefs_[0])  # same seed
    proba = augmented.predict_proba(X[300:400])
    np.testing.assert_array_equal(proba, augmented.predict_proba(X[300:400]))


def test_augmentation_makes_the_network_robust_to_warped_digits(digits):
    """Trained with warps, a network still reads digits written at a slant or tilt."""
    X, y = digits
    held_out = X[1000:].copy()
    warper = RandomAffine(rotation=15, shear=0.3, zoom=0.1, shift=0.5, fill_mode="constant")
    warper.ensemblekit_fit_start(estimator=None, rng=np.random.default_rng(123))
    warper.ensemblekit_batch_start(X=held_out)
    kw = dict(hidden_layer_sizes=(100,), max_iter=60, n_iter_no_change=60, shuffle=True)
    plain = _fit(X[:1000], y[:1000], [], **kw)
    augmented = _fit(X[:1000], y[:1000], [RandomAffine(rotation=15, shear=0.3,
                                                        fill_mode="constant")], **kw)
    on_warped = {"plain": plain.score(held_out, y[1000:]),
                 "augmented": augmented.score(held_out, y[1000:])}
    assert on_warped["augmented"] > on_warped["plain"] + 0.03, on_warped


@pytest.mark.parametrize("params, match", [
    ({"rotation": -1}, "rotation must be a finite real number >= 0"),
    ({"shear": float("nan")}, "shear must be"),
    ({"shift": "1"}, "shift must be"),
    ({"zoom": 1.0}, r"zoom must be a real number in \[0, 1\)"),
    ({"fill_mode": "mirror"}, "fill_mode must be one of"),
    ({"fill_value": float("inf")}, "fill_value must be"),
    ({"elastic": -0.5}, "elastic must be a finite real number >= 0"),
    ({"elastic_sigma": 0}, "elastic_sigma must be a finite real number > 0"),
    ({"elastic_sigma": None}, "elastic_sigma must be"),
    ({"image_shape": (8,)}, r"image_shape must be None or \(height, width\)"),
    ({"image_shape": (0, 8)}, "image_shape must be"),
])
def test_bad_parameters_are_named(digits, params, match):
    X, y = digits
    with pytest.raises(ValueError, match=match):
        _fit(X[:50], y[:50], [RandomAffine(**params)])


def test_images_that_do_not_fit_the_data_are_a_clear_error(digits):
    X, y = digits
    with pytest.raises(PluginError, match=r"image_shape \(4, 4\) has 16 pixels but the "
                                          r"data has 64 features"):
        _fit(X[:50], y[:50], [RandomAffine(image_shape=(4, 4))])
    with pytest.raises(PluginError, match="63 features are not a square image"):
        _fit(X[:50, :63], y[:50], [RandomAffine()])
    _fit(X[:50, :60], y[:50], [RandomAffine(image_shape=(6, 10))])  # not square: say so
    with pytest.raises(PluginError, match=r"elastic_sigma=1e\+300 pixels is larger than "
                                          r"the 8 x 8 image; use at most 8"):
        _fit(X[:50], y[:50], [RandomAffine(elastic=2.0, elastic_sigma=1e300)])


def test_sparse_batches_are_refused_and_lbfgs_warns(digits):
    from scipy import sparse

    X, y = digits
    with pytest.raises(PluginError, match="RandomAffine needs dense image rows"):
        _fit(sparse.csr_matrix(X[:50]), y[:50], [RandomAffine()])
    with pytest.warns(UserWarning, match="RandomAffine does nothing with solver='lbfgs'"):
        _fit(X[:50], y[:50], [RandomAffine()], solver="lbfgs")
