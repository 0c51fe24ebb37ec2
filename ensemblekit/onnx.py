"""ONNX export of ensemblekit's networks and ensembles, through skl2onnx.

Importing this module registers, once, a skl2onnx shape calculator, converter
and (for ensembles) parser for :class:`~ensemblekit.MLPClassifier`,
:class:`~ensemblekit.MLPRegressor`, :class:`~ensemblekit.EnsembleClassifier`
and :class:`~ensemblekit.EnsembleRegressor`, so that ``skl2onnx.to_onnx``
converts them alone or as a step of a :class:`~sklearn.pipeline.Pipeline`.
:func:`to_onnx` is a shortcut with ensemblekit's defaults, and
:func:`export_model_file` turns a model file (:func:`ensemblekit.save`) into
an ``.onnx`` file.  It needs the ``onnx`` extra
(``pip install "ensemblekit[onnx]"``: skl2onnx, onnx, onnxruntime); nothing
else in ensemblekit imports it.

What the graphs compute
-----------------------
Networks
    One ``MatMul`` + ``Add`` per layer and the activation as an ONNX
    operator.  Batch normalisation is folded into the weights: inference
    computes ``gamma * (z - mean) / sqrt(var + eps) + beta`` with the running
    statistics, an affine map per unit, so the layer's weights are scaled by
    ``s = gamma / sqrt(var + eps)`` and its bias becomes
    ``(b - mean) * s + beta``.  An inference hook that multiplies each hidden
    unit by a factor independent of the row (book-mode
    :class:`~ensemblekit.Dropout`'s keep ratio) is folded into the next
    layer's weights the same way; the factors are read by running the
    plugin's own hook on a row of ones.
Classifiers
    Outputs ``label`` and ``probabilities`` (skl2onnx's convention).  The
    label is the first most probable class (multiclass), the positive class
    when its probability exceeds 0.5 (binary), or the 0/1 indicator matrix
    (multilabel).  Under ``skl2onnx.to_onnx`` an :class:`MLPClassifier`
    honours skl2onnx's ``zipmap`` option like every scikit-learn classifier
    (on by default there); :func:`to_onnx` turns it off.  Ensembles always
    output plain tensors.
Ensembles
    Every member's outputs, combined as the built-in combiner does
    (``mean``, ``weighted_mean``, ``geometric_mean``, ``vote``), plus the
    members' spread unless the ``uncertainty`` option is ``False``: for
    classifiers ``probabilities_std`` (the standard deviation of the
    members' probabilities, per class) and ``mutual_information`` (as in
    :meth:`~ensemblekit.EnsembleClassifier.predict_uncertainty`); for
    regressors ``std`` (as ``predict(X, return_std=True)``).
Standardised targets
    A :class:`~sklearn.compose.TransformedTargetRegressor` with a
    ``StandardScaler`` (``ensemblekit train --scale-target``) outputs its
    regressor's prediction times the scale plus the mean, and an ensemble's
    ``std`` times the scale.
Types
    The graph computes in the dtype ``predict`` computes in: the input's
    and the weights' common type (float32 weights on float32 input stay
    float32; float64 on either side computes in float64), and its outputs
    have that dtype.  Regressors output ``(n_samples, n_outputs)``, also for
    one output, as skl2onnx's regressors do.

What is refused
---------------
:class:`OnnxExportError` names what has no faithful graph rather than
exporting a different model: a plugin that transforms hidden activations at
inference (``ensemblekit_predict_hidden``) other than the built-in dropout
plugins, an unknown activation, an ensemble strategy that produces the
members' outputs itself (``"mc_dropout"``), a combiner other than the
built-in four, and a member that is neither an ensemblekit network nor
convertible by skl2onnx.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import is_classifier
from sklearn.compose import TransformedTargetRegressor
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from . import _layers
from .default_plugins.combiners import GeometricMean, Mean, Vote, WeightedMean
from .default_plugins.dropout import Dropout
from .default_plugins.mc_dropout import MCDropoutMasks
from .ensemble import EnsembleClassifier, EnsembleRegressor
from .exceptions import OnnxExportError
from .mlp import BaseMLP, MLPClassifier, MLPRegressor
from .plugins import Hooks, Plugin
from .schema import ColumnSchema

try:
    import onnx
    from skl2onnx import to_onnx as _skl2onnx_to_onnx
    from skl2onnx import update_registered_converter
    from skl2onnx.algebra.onnx_operator import OnnxSubEstimator
    from skl2onnx.algebra.onnx_ops import (
        OnnxAdd,
        OnnxArgMax,
        OnnxCast,
        OnnxClip,
        OnnxConcat,
        OnnxDiv,
        OnnxEqual,
        OnnxExp,
        OnnxGather,
        OnnxGreater,
        OnnxIdentity,
        OnnxLog,
        OnnxMatMul,
        OnnxMax,
        OnnxMul,
        OnnxNeg,
        OnnxReduceSumApi11,
        OnnxRelu,
        OnnxReshapeApi13,
        OnnxSigmoid,
        OnnxSoftmax,
        OnnxSqrt,
        OnnxSub,
        OnnxTanh,
    )
    from skl2onnx.common.data_types import (
        DoubleTensorType,
        FloatTensorType,
        Int64TensorType,
        StringTensorType,
        guess_numpy_type,
    )
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise ImportError(
        "ensemblekit.onnx needs skl2onnx and onnx: pip install 'ensemblekit[onnx]' "
        f"({exc})"
    ) from exc

__all__ = [
    "OnnxExportError",
    "export_model_file",
    "folded_layers",
    "register",
    "to_onnx",
]

#: The skl2onnx aliases of ensemblekit's estimators.
ALIASES = {
    MLPClassifier: "EnsemblekitMLPClassifier",
    MLPRegressor: "EnsemblekitMLPRegressor",
    EnsembleClassifier: "EnsemblekitEnsembleClassifier",
    EnsembleRegressor: "EnsemblekitEnsembleRegressor",
}

#: Plugins whose inference hook multiplies every hidden unit by a factor that
#: does not depend on the row: their factors are read from the hook itself.
UNIT_SCALING_PLUGINS: tuple[type, ...] = (Dropout, MCDropoutMasks)

#: The combiners whose arithmetic the graphs reproduce.
COMBINERS: tuple[type[Plugin], ...] = (Mean, WeightedMean, GeometricMean, Vote)


# --------------------------------------------------------------------------
# the network's arithmetic, with batch norm and inference scalings folded in
# --------------------------------------------------------------------------
def _inference_scales(model: BaseMLP) -> list[np.ndarray | None]:
    """Per hidden layer, the factor the inference hooks multiply each unit by."""
    n_hidden = len(model.coefs_) - 1
    scales: list[np.ndarray | None] = [None] * n_hidden
    plugins = list(getattr(model, "plugins_", None) or [])
    hook = Hooks(plugins).direct("ensemblekit_predict_hidden") if plugins else None
    if hook is None:
        return scales
    by_name = dict(plugins)
    for name, function, argnames in hook.calls:
        plugin = by_name.get(name)
        if type(plugin) not in UNIT_SCALING_PLUGINS:
            raise OnnxExportError(
                f"plugin {name!r} ({type(plugin).__name__}) transforms hidden activations "
                "at inference (it implements ensemblekit_predict_hidden), which has no "
                f"ONNX equivalent in ensemblekit.onnx; {type(model).__name__} cannot be "
                "exported with it. Refit without it, or export the weights yourself."
            )
        for layer in range(n_hidden):
            probe = np.ones((1, model.coefs_[layer].shape[1]), dtype=model.coefs_[layer].dtype)
            arguments = {"estimator": model, "layer": layer, "activation": probe}
            function(**{a: arguments[a] for a in argnames})
            factor = probe[0].astype(np.float64)
            scales[layer] = factor if scales[layer] is None else scales[layer] * factor
    return scales


def folded_layers(model: BaseMLP) -> list[tuple[np.ndarray, np.ndarray]]:
    """The network's layers as plain affine maps, batch norm folded in.

    Parameters
    ----------
    model : MLPClassifier or MLPRegressor
        A fitted network.

    Returns
    -------
    list of (ndarray of shape (n_in, n_out), ndarray of shape (n_out,))
        Per layer, in float64, the weights ``W`` and bias ``b`` such that the
        inference pass is ``act(a @ W + b)`` layer after layer (hidden
        activation, then the output activation on the last layer).  Batch
        normalisation with the running statistics and the inference hooks'
        per-unit factors are part of ``W`` and ``b``.

    Raises
    ------
    OnnxExportError
        If a plugin transforms hidden activations at inference in a way that
        is not a per-unit factor (any plugin implementing
        ``ensemblekit_predict_hidden`` but the built-in dropout ones).
    sklearn.exceptions.NotFittedError
        If ``model`` is not fitted.
    """
    check_is_fitted(model, "coefs_")
    scales = _inference_scales(model)
    n_hidden = len(model.coefs_) - 1
    layers = []
    for i, (coef, intercept) in enumerate(zip(model.coefs_, model.intercepts_)):
        W = np.array(coef, dtype=np.float64)
        b = np.array(intercept, dtype=np.float64)
        scale = scales[i - 1] if i > 0 else None
        if scale is not None:
            W *= scale[:, None]
        if i < n_hidden and model.batch_norm:
            gamma, beta, mean, var = (np.asarray(getattr(model, attr)[i])
                                      for attr in ("bn_gammas_", "bn_betas_",
                                                   "bn_running_means_", "bn_running_vars_"))
            # the factor in the parameters' dtype, as predict computes it
            s = (gamma / np.sqrt(var + _layers.BN_EPSILON)).astype(np.float64)
            W *= s
            b = (b - mean) * s + beta
        layers.append((W, b))
    return layers


# --------------------------------------------------------------------------
# dtypes
# --------------------------------------------------------------------------
_TENSOR_TYPES = {np.dtype(np.float32): FloatTensorType, np.dtype(np.float64): DoubleTensorType}


def _numpy_type(var_type: Any) -> np.dtype | None:
    try:
        return np.dtype(guess_numpy_type(var_type))
    except (NotImplementedError, TypeError):
        return None


def _input_dtype(var_type: Any) -> np.dtype:
    """The dtype ``predict`` sees for an input of this ONNX type (others become float64)."""
    dtype = _numpy_type(var_type)
    return dtype if dtype is not None and dtype in _TENSOR_TYPES else np.dtype(np.float64)


def _members(model: Any) -> list[Any]:
    return list(model.estimators_) if isinstance(model, (EnsembleClassifier,
                                                           EnsembleRegressor)) else [model]


def _mlp_dtype(model: BaseMLP, in_dtype: np.dtype) -> np.dtype:
    """The dtype a network computes in: its ``dtype`` parameter's (or the input's), and
    the weights' common type."""
    seen = in_dtype if model.dtype is None else np.dtype(model.dtype)
    return np.dtype(np.result_type(seen, np.asarray(model.coefs_[0]).dtype))


def _output_dtype(model: Any, in_dtype: np.dtype) -> np.dtype:
    """The dtype of ``predict``/``predict_proba`` for input of ``in_dtype``."""
    return np.dtype(np.result_type(*(
        _mlp_dtype(m, in_dtype) if isinstance(m, BaseMLP) else in_dtype
        for m in _members(model))))


def _class_labels(classes: np.ndarray) -> np.ndarray:
    """Class labels as an ONNX tensor holds them: int64 or strings (skl2onnx's convention)."""
    classes = np.asarray(classes)
    if classes.dtype.kind in "biu":
        return classes.astype(np.int64)
    if classes.dtype.kind == "f":
        if not np.array_equal(classes, np.round(classes)):
            raise OnnxExportError(
                f"class labels {classes.tolist()} are floats that are not integers; ONNX "
                "labels are int64 or strings. Encode the labels before fitting."
            )
        return classes.astype(np.int64)
    return np.array([str(c) for c in classes])


def _label_type(classes: np.ndarray) -> type:
    return Int64TensorType if _class_labels(classes).dtype == np.int64 else StringTensorType


def _is_multilabel(model: MLPClassifier) -> bool:
    return model.out_activation_ == "logistic" and model.n_outputs_ > 1


# --------------------------------------------------------------------------
# graph pieces
# --------------------------------------------------------------------------
def _const(value: Any, dtype: np.dtype) -> np.ndarray:
    return np.asarray(value, dtype=dtype)


def _activate(name: str, z: Any, opv: int, model: BaseMLP) -> Any:
    if name == "identity":
        return z
    if name == "relu":
        return OnnxRelu(z, op_version=opv)
    if name == "tanh":
        return OnnxTanh(z, op_version=opv)
    if name == "logistic":
        return OnnxSigmoid(z, op_version=opv)
    if name == "exp":
        return OnnxExp(z, op_version=opv)
    if name == "softmax":
        return OnnxSoftmax(z, axis=1, op_version=opv)
    raise OnnxExportError(f"{type(model).__name__} uses the activation {name!r}, which "
                          "ensemblekit.onnx does not know")


def _network(model: BaseMLP, X: Any, in_dtype: np.dtype, opv: int) -> Any:
    """The network's output activations, shape (n_samples, n_outputs), for X of ``in_dtype``."""
    layers = folded_layers(model)
    dtype = _mlp_dtype(model, in_dtype)
    a = _cast(X, in_dtype, dtype, opv)
    for i, (W, b) in enumerate(layers):
        z = OnnxAdd(OnnxMatMul(a, W.astype(dtype), op_version=opv), b.astype(dtype),
                    op_version=opv)
        last = i == len(layers) - 1
        a = _activate(model.out_activation_ if last else model.activation, z, opv, model)
    return a


def _cast(x: Any, dtype: Any, to: np.dtype, opv: int) -> Any:
    """``x`` (of ``dtype``) as ``to``."""
    return x if dtype == to else OnnxCast(x, to=to.type, op_version=opv)


def _converter_input(operator: Any, opv: int) -> tuple[Any, np.dtype]:
    """The operator's input as ``predict`` validates it, and its dtype."""
    X = operator.inputs[0]
    in_dtype = _input_dtype(X.type)
    return _cast(X, _numpy_type(X.type), in_dtype, opv), in_dtype


def _mlp_classifier_outputs(model: MLPClassifier, X: Any, in_dtype: np.dtype, opv: int
                            ) -> tuple[Any, Any]:
    """``(output activations, probabilities)`` of a classifier network, as ``predict_proba``."""
    out = _network(model, X, in_dtype, opv)
    dtype = _mlp_dtype(model, in_dtype)
    if model.n_outputs_ == 1:
        return out, OnnxConcat(OnnxSub(_const([1], dtype), out, op_version=opv), out,
                               axis=1, op_version=opv)
    return out, out


def _argmax_label(classes: np.ndarray, proba: Any, opv: int) -> Any:
    index = OnnxArgMax(proba, axis=1, keepdims=0, op_version=opv)
    return OnnxGather(_class_labels(classes), index, op_version=opv)


def _sum(terms: Sequence[Any], opv: int) -> Any:
    """Left-to-right sum, numpy's order for a reduction over the leading axis."""
    total = terms[0]
    for term in terms[1:]:
        total = OnnxAdd(total, term, op_version=opv)
    return total


def _mean(terms: Sequence[Any], dtype: np.dtype, opv: int) -> Any:
    return OnnxDiv(_sum(terms, opv), _const([len(terms)], dtype), op_version=opv)


def _log_clipped(p: Any, dtype: np.dtype, opv: int) -> Any:
    tiny = np.finfo(dtype).eps
    return OnnxLog(OnnxClip(p, _const(tiny, dtype), _const(1, dtype), op_version=opv),
                   op_version=opv)


def _row_sum(x: Any, opv: int, keepdims: int) -> Any:
    return OnnxReduceSumApi11(x, axes=[1], keepdims=keepdims, op_version=opv)


def _entropy(p: Any, dtype: np.dtype, opv: int) -> Any:
    return OnnxNeg(_row_sum(OnnxMul(p, _log_clipped(p, dtype, opv), op_version=opv), opv, 0),
                   op_version=opv)


def _combine(combiner: Any, outputs: list[Any], n_columns: int, dtype: np.dtype,
             opv: int) -> Any:
    """The combiner's arithmetic over the members' outputs, in member order."""
    kind = type(combiner)
    if kind is Mean:
        return _mean(outputs, dtype, opv)
    if kind is WeightedMean:
        # the combiner's own arithmetic gives its weights: member m outputs e_m
        n = len(outputs)
        weights = np.asarray(combiner.ensemblekit_combine(
            outputs=np.eye(n, dtype=dtype)[:, None, :]))[0]
        return _sum([OnnxMul(out, _const([w], dtype), op_version=opv)
                     for w, out in zip(weights, outputs)], opv)
    if kind is GeometricMean:
        logs = [_log_clipped(out, dtype, opv) for out in outputs]
        combined = OnnxExp(_mean(logs, dtype, opv), op_version=opv)
        return OnnxDiv(combined, _row_sum(combined, opv, 1), op_version=opv)
    if kind is Vote:
        columns = np.arange(n_columns, dtype=np.int64)
        votes = [OnnxCast(OnnxEqual(OnnxArgMax(out, axis=1, keepdims=1, op_version=opv),
                                    columns, op_version=opv), to=dtype.type, op_version=opv)
                 for out in outputs]
        return _mean(votes, dtype, opv)
    raise AssertionError(f"unchecked combiner {kind.__name__}")  # _check_ensemble refuses it


def _spread(outputs: list[Any], center: Any, dtype: np.dtype, opv: int) -> Any:
    """Root mean squared deviation of the outputs from ``center``."""
    squares = []
    for out in outputs:
        deviation = OnnxSub(out, center, op_version=opv)
        squares.append(OnnxMul(deviation, deviation, op_version=opv))
    return OnnxSqrt(_mean(squares, dtype, opv), op_version=opv)


#: skl2onnx options of a classifier member: its probabilities as a tensor.
_SUB_OPTIONS = {"zipmap": False}


# --------------------------------------------------------------------------
# checks: what cannot be exported is refused, naming it
# --------------------------------------------------------------------------
def _check_ensemble(model: Any) -> None:
    check_is_fitted(model, "estimators_")
    strategy = getattr(model, "strategy_", None)
    if strategy is not None and callable(getattr(strategy, "ensemblekit_member_outputs", None)):
        raise OnnxExportError(
            f"the ensemble's strategy {getattr(strategy, 'name', type(strategy).__name__)!r} "
            f"({type(strategy).__name__}) computes the members' outputs itself at "
            "prediction (ensemblekit_member_outputs; MC dropout draws masks per pass), "
            "which ensemblekit.onnx does not reproduce; this ensemble cannot be exported."
        )
    combiner = model.combiner_
    if type(combiner) not in COMBINERS:
        raise OnnxExportError(
            f"the combiner {getattr(combiner, 'name', type(combiner).__name__)!r} "
            f"({type(combiner).__name__}) is not one of the built-in combiners "
            f"({', '.join(c.name for c in COMBINERS)}) whose arithmetic ensemblekit.onnx "
            "reproduces; this ensemble cannot be exported."
        )
    for i, member in enumerate(model.estimators_):
        if isinstance(member, BaseMLP):
            try:
                folded_layers(member)
            except OnnxExportError as exc:
                raise OnnxExportError(f"ensemble member {i}: {exc}") from None
            continue
        try:  # what skl2onnx cannot convert fails here, not midway through the graph
            _skl2onnx_to_onnx(member, initial_types=[
                ("X", DoubleTensorType([None, model.n_features_in_]))],
                options={id(member): _SUB_OPTIONS} if is_classifier(model) else None)
        except Exception as exc:
            raise OnnxExportError(
                f"ensemble member {i} ({type(member).__name__}) is not an ensemblekit "
                f"network and skl2onnx cannot convert it: {type(exc).__name__}: {exc}"
            ) from exc


# --------------------------------------------------------------------------
# ensemble members
# --------------------------------------------------------------------------
def _member_output(ensemble: Any, member: Any, X: Any, in_dtype: np.dtype, dtype: np.dtype,
                   opv: int) -> Any:
    """A member's output as the ensemble stacks it (aligned probabilities, or 2-D
    predictions), in the ensemble's ``dtype``."""
    classifier = is_classifier(ensemble)
    if isinstance(member, BaseMLP):
        out = (_mlp_classifier_outputs(member, X, in_dtype, opv)[1] if classifier
               else _network(member, X, in_dtype, opv))
        out = _cast(out, _mlp_dtype(member, in_dtype), dtype, opv)
    else:  # _check_ensemble made sure skl2onnx converts it
        sub = OnnxSubEstimator(member, X, op_version=opv,
                               options=_SUB_OPTIONS if classifier else None)
        out = sub[1] if classifier else OnnxReshapeApi13(
            sub[0], np.array([0, -1], dtype=np.int64), op_version=opv)
        out = OnnxCast(out, to=dtype.type, op_version=opv)
    if not classifier or len(member.classes_) == len(ensemble.classes_):
        return out
    # a member that never saw some classes: its columns placed among the ensemble's
    n_member = 2 if len(member.classes_) == 1 else len(member.classes_)
    placement = np.zeros((n_member, len(ensemble.classes_)), dtype=dtype)
    offset = np.zeros(len(ensemble.classes_), dtype=dtype)
    columns = np.searchsorted(ensemble.classes_, member.classes_)
    if len(columns) == 1:
        offset[columns[0]] = 1
    else:
        placement[np.arange(len(columns)), columns] = 1
    return OnnxAdd(OnnxMatMul(out, placement, op_version=opv), offset, op_version=opv)


# --------------------------------------------------------------------------
# skl2onnx: shape calculators, converters, parsers
# --------------------------------------------------------------------------
def _first_dimension(operator: Any) -> Any:
    return operator.inputs[0].get_first_dimension()


def _mlp_classifier_shapes(operator: Any) -> None:
    model = operator.raw_operator
    N = _first_dimension(operator)
    tensor = _TENSOR_TYPES[_output_dtype(model, _input_dtype(operator.inputs[0].type))]
    n_columns = 2 if model.n_outputs_ == 1 else model.n_outputs_
    if _is_multilabel(model):
        operator.outputs[0].type = Int64TensorType([N, model.n_outputs_])
    else:
        operator.outputs[0].type = _label_type(model.classes_)([N])
    operator.outputs[1].type = tensor([N, n_columns])


def _mlp_regressor_shapes(operator: Any) -> None:
    model = operator.raw_operator
    tensor = _TENSOR_TYPES[_output_dtype(model, _input_dtype(operator.inputs[0].type))]
    operator.outputs[0].type = tensor([_first_dimension(operator), model.n_outputs_])


def _ensemble_shapes(operator: Any) -> None:
    model = operator.raw_operator
    N = _first_dimension(operator)
    tensor = _TENSOR_TYPES[_output_dtype(model, _input_dtype(operator.inputs[0].type))]
    if is_classifier(model):
        C = len(model.classes_)
        types = [_label_type(model.classes_)([N]), tensor([N, C]), tensor([N, C]),
                 tensor([N])]
    else:
        k = model.estimators_[0].n_outputs_ if hasattr(model.estimators_[0], "n_outputs_") \
            else None
        types = [tensor([N, k]), tensor([N, k])]
    for variable, var_type in zip(operator.outputs, types):
        variable.type = var_type


def _convert_mlp_classifier(scope: Any, operator: Any, container: Any) -> None:
    model, opv = operator.raw_operator, container.target_opset
    X, in_dtype = _converter_input(operator, opv)
    dtype = _mlp_dtype(model, in_dtype)
    out, proba = _mlp_classifier_outputs(model, X, in_dtype, opv)
    label_var, proba_var = operator.outputs[0], operator.outputs[1]
    if _is_multilabel(model):
        label = OnnxCast(OnnxGreater(out, _const(0.5, dtype), op_version=opv),
                         to=np.int64, op_version=opv)
    elif model.n_outputs_ == 1:
        positive = OnnxCast(OnnxGreater(OnnxReshapeApi13(out, np.array([-1], dtype=np.int64),
                                                         op_version=opv),
                                        _const(0.5, dtype), op_version=opv),
                            to=np.int64, op_version=opv)
        label = OnnxGather(_class_labels(model.classes_), positive, op_version=opv)
    else:
        label = _argmax_label(model.classes_, proba, opv)
    _emit([label, proba], [label_var, proba_var], opv, scope, container)


def _convert_mlp_regressor(scope: Any, operator: Any, container: Any) -> None:
    model, opv = operator.raw_operator, container.target_opset
    X, in_dtype = _converter_input(operator, opv)
    out = _network(model, X, in_dtype, opv)
    OnnxIdentity(out, op_version=opv, output_names=[operator.outputs[0]]).add_to(
        scope, container)


def _ensemble_graph(model: Any, X: Any, in_dtype: np.dtype, opv: int,
                    uncertainty: bool) -> list[Any]:
    """The ensemble's outputs: ``[label, probabilities(, std, mutual information)]`` or
    ``[prediction(, std)]``."""
    dtype = _output_dtype(model, in_dtype)
    outputs = [_member_output(model, member, X, in_dtype, dtype, opv)
               for member in model.estimators_]
    if not is_classifier(model):
        combined = _combine(model.combiner_, outputs, 0, dtype, opv)
        return [combined] + ([_spread(outputs, combined, dtype, opv)] if uncertainty else [])
    combined = _combine(model.combiner_, outputs, len(model.classes_), dtype, opv)
    nodes = [_argmax_label(model.classes_, combined, opv), combined]
    if uncertainty:
        mean = _mean(outputs, dtype, opv)
        expected = _mean([_entropy(out, dtype, opv) for out in outputs], dtype, opv)
        information = OnnxMax(OnnxSub(_entropy(mean, dtype, opv), expected, op_version=opv),
                              _const([0], dtype), op_version=opv)
        nodes += [_spread(outputs, mean, dtype, opv), information]
    return nodes


def _emit(nodes: list[Any], variables: list[Any], opv: int, scope: Any,
          container: Any) -> None:
    """Add ``nodes`` to the graph as the operator's output ``variables``."""
    for node, variable in zip(nodes, variables):
        OnnxIdentity(node, op_version=opv, output_names=[variable]).add_to(scope, container)


def _convert_ensemble(scope: Any, operator: Any, container: Any) -> None:
    model, opv = operator.raw_operator, container.target_opset
    X, in_dtype = _converter_input(operator, opv)
    uncertainty = len(operator.outputs) > (2 if is_classifier(model) else 1)
    _emit(_ensemble_graph(model, X, in_dtype, opv, uncertainty), operator.outputs, opv,
          scope, container)


def _parse_ensemble(scope: Any, model: Any, inputs: list[Any],
                    custom_parsers: Any = None) -> list[Any]:
    """Declare an ensemble's outputs: the prediction, and the members' spread if asked."""
    options = scope.get_options(model, {"zipmap": False, "uncertainty": True})
    if options.get("zipmap"):
        raise OnnxExportError(
            f"{type(model).__name__} outputs plain tensors; the zipmap option is not "
            "supported (pass options={'zipmap': False} or leave it out)."
        )
    _check_ensemble(model)
    operator = scope.declare_local_operator(ALIASES[type(model)], model)
    operator.inputs = inputs
    tensor = FloatTensorType  # final types are set by the shape calculator
    if is_classifier(model):
        names = ["label", "probabilities"]
        if options["uncertainty"]:
            names += ["probabilities_std", "mutual_information"]
    else:
        names = ["variable"] + (["std"] if options["uncertainty"] else [])
    for name in names:
        operator.outputs.append(scope.declare_local_variable(name, tensor()))
    return list(operator.outputs)


# --------------------------------------------------------------------------
# the standardised target of ``ensemblekit train --scale-target``
# --------------------------------------------------------------------------
_TARGET_ALIAS = "EnsemblekitTransformedTargetRegressor"


def _check_target_scaler(model: TransformedTargetRegressor) -> None:
    check_is_fitted(model, "regressor_")
    transformer = model.transformer_
    if type(transformer) is not StandardScaler or model.func is not None:
        raise OnnxExportError(
            f"TransformedTargetRegressor with transformer {type(transformer).__name__} "
            f"(func={model.func!r}): ensemblekit.onnx exports only a StandardScaler "
            "target transformer, the one `ensemblekit train --scale-target` uses."
        )


def _with_std(model: TransformedTargetRegressor, uncertainty: bool) -> bool:
    return uncertainty and isinstance(model.regressor_, EnsembleRegressor)


def _parse_target_scaler(scope: Any, model: Any, inputs: list[Any],
                         custom_parsers: Any = None) -> list[Any]:
    """Declare the outputs: the prediction, and the ensemble's ``std`` if asked."""
    _check_target_scaler(model)
    options = scope.get_options(model, {"uncertainty": True})
    operator = scope.declare_local_operator(_TARGET_ALIAS, model)
    operator.inputs = inputs
    names = ["variable"] + (["std"] if _with_std(model, options["uncertainty"]) else [])
    for name in names:
        operator.outputs.append(scope.declare_local_variable(name, FloatTensorType()))
    return list(operator.outputs)


def _target_scaler_shapes(operator: Any) -> None:
    model = operator.raw_operator
    tensor = _TENSOR_TYPES[_output_dtype(model.regressor_,
                                         _input_dtype(operator.inputs[0].type))]
    for variable in operator.outputs:
        variable.type = tensor([_first_dimension(operator), None])


def _convert_target_scaler(scope: Any, operator: Any, container: Any) -> None:
    """The regressor's outputs in the target's units: ``y * scale + mean``, ``std * scale``."""
    model, opv = operator.raw_operator, container.target_opset
    X, in_dtype = _converter_input(operator, opv)
    dtype = _output_dtype(model.regressor_, in_dtype)
    regressor = model.regressor_
    if isinstance(regressor, EnsembleRegressor):
        _check_ensemble(regressor)
        outputs = _ensemble_graph(regressor, X, in_dtype, opv, len(operator.outputs) > 1)
    elif isinstance(regressor, MLPRegressor):
        outputs = [_network(regressor, X, in_dtype, opv)]
    else:
        outputs = [OnnxReshapeApi13(
            OnnxCast(OnnxSubEstimator(regressor, X, op_version=opv), to=dtype.type,
                     op_version=opv), np.array([0, -1], dtype=np.int64), op_version=opv)]
    scaler = model.transformer_
    scale = np.ones(1) if scaler.scale_ is None else scaler.scale_
    mean = np.zeros(1) if scaler.mean_ is None else scaler.mean_
    nodes = [OnnxAdd(OnnxMul(outputs[0], _const(scale, dtype), op_version=opv),
                     _const(mean, dtype), op_version=opv)]
    if len(outputs) > 1:
        nodes.append(OnnxMul(outputs[1], _const(np.abs(scale), dtype), op_version=opv))
    _emit(nodes, operator.outputs, opv, scope, container)


_registered = False


def register() -> None:
    """Register ensemblekit's estimators with skl2onnx (done on import; idempotent).

    After this, ``skl2onnx.to_onnx`` converts :class:`~ensemblekit.MLPClassifier`,
    :class:`~ensemblekit.MLPRegressor`, :class:`~ensemblekit.EnsembleClassifier`
    and :class:`~ensemblekit.EnsembleRegressor`, alone or inside a
    :class:`~sklearn.pipeline.Pipeline`.  Options (skl2onnx's ``options``
    argument): ``zipmap`` and ``output_class_labels`` for ``MLPClassifier``
    (as for scikit-learn's classifiers), ``uncertainty`` (default ``True``)
    for the ensembles.  A :class:`~sklearn.compose.TransformedTargetRegressor`
    whose transformer is a ``StandardScaler`` (``ensemblekit train
    --scale-target``) is registered too: it outputs the regressor's
    prediction in the target's units, and an ensemble's ``std`` scaled alike.
    """
    global _registered
    if _registered:
        return
    classifier_options = {"zipmap": [True, False, "columns"], "nocl": [True, False],
                          "output_class_labels": [False, True]}
    update_registered_converter(MLPClassifier, ALIASES[MLPClassifier],
                                _mlp_classifier_shapes, _convert_mlp_classifier,
                                options=classifier_options)
    update_registered_converter(MLPRegressor, ALIASES[MLPRegressor],
                                _mlp_regressor_shapes, _convert_mlp_regressor)
    for cls in (EnsembleClassifier, EnsembleRegressor):
        update_registered_converter(cls, ALIASES[cls], _ensemble_shapes, _convert_ensemble,
                                    parser=_parse_ensemble,
                                    options={"zipmap": [False, True],
                                             "uncertainty": [True, False]})
    update_registered_converter(TransformedTargetRegressor, _TARGET_ALIAS,
                                _target_scaler_shapes, _convert_target_scaler,
                                parser=_parse_target_scaler,
                                options={"uncertainty": [True, False]})
    _registered = True


# --------------------------------------------------------------------------
# the shortcuts
# --------------------------------------------------------------------------
def _estimators(model: Any) -> list[Any]:
    """``model`` and every estimator nested in it (pipeline steps, transformers)."""
    found, stack = [], [model]
    while stack:
        est = stack.pop()
        found.append(est)
        if isinstance(est, TransformedTargetRegressor) and hasattr(est, "regressor_"):
            stack.append(est.regressor_)
        for name in ("steps", "transformers_", "transformer_list"):
            for item in getattr(est, name, None) or []:
                if isinstance(item, tuple) and len(item) > 1 and hasattr(item[1], "fit"):
                    stack.append(item[1])
    return found


def _weights_dtype(model: Any) -> np.dtype:
    dtypes = [np.asarray(member.coefs_[0]).dtype for est in _estimators(model)
              for member in (_members(est) if isinstance(est, (BaseMLP, EnsembleClassifier,
                                                                 EnsembleRegressor)) else [])
              if isinstance(member, BaseMLP)]
    return np.dtype(np.result_type(*dtypes)) if dtypes else np.dtype(np.float32)


def to_onnx(model: Any, X: Any, *, zipmap: bool | str = False, uncertainty: bool = True,
            target_opset: int | None = None, name: str | None = None,
            options: dict | None = None) -> onnx.ModelProto:
    """Convert an ensemblekit model, or a pipeline ending in one, to ONNX.

    Parameters
    ----------
    model : estimator
        A fitted :class:`~ensemblekit.MLPClassifier`,
        :class:`~ensemblekit.MLPRegressor`, :class:`~ensemblekit.EnsembleClassifier`,
        :class:`~ensemblekit.EnsembleRegressor`, or a scikit-learn
        :class:`~sklearn.pipeline.Pipeline` whose other steps skl2onnx converts.
    X : int, array-like or pandas.DataFrame
        An ``int``: the number of features, for one input ``"X"`` of shape
        ``(None, X)`` in the dtype of the network's weights.  An array or a
        DataFrame: a sample of the input, from which skl2onnx takes the
        input's type (a DataFrame gives one input per column).
    zipmap : bool or "columns", default=False
        skl2onnx's ``zipmap`` option for :class:`~ensemblekit.MLPClassifier`:
        ``False`` outputs the probabilities as a tensor.
    uncertainty : bool, default=True
        Ensembles also output the members' spread (``probabilities_std`` and
        ``mutual_information`` for classifiers, ``std`` for regressors).
    target_opset : int, optional
        The ONNX opset; skl2onnx's latest tested one by default.
    name : str, optional
        The graph's name.
    options : dict, optional
        More skl2onnx options, merged over the above.

    Returns
    -------
    onnx.ModelProto
        The model; ``onnxruntime.InferenceSession(model.SerializeToString())``
        runs it.

    Raises
    ------
    OnnxExportError
        If a part of the model has no faithful ONNX graph (the message names
        it); see the module's documentation.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from ensemblekit import MLPClassifier
    >>> from ensemblekit.onnx import to_onnx
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=20).fit(X, y)  # doctest: +SKIP
    >>> onx = to_onnx(clf, 4)  # doctest: +SKIP
    >>> [o.name for o in onx.graph.output]  # doctest: +SKIP
    ['label', 'probabilities']
    """
    register()
    all_options: dict = {}
    for est in _estimators(model):
        if isinstance(est, MLPClassifier):
            all_options[id(est)] = {"zipmap": zipmap}
        elif isinstance(est, (EnsembleClassifier, EnsembleRegressor,
                              TransformedTargetRegressor)):
            all_options[id(est)] = {"uncertainty": uncertainty}
    for key, value in (options or {}).items():
        all_options[key] = {**all_options.get(key, {}), **value}
    kwargs: dict[str, Any] = {"target_opset": target_opset, "options": all_options}
    if name is not None:
        kwargs["name"] = name
    if isinstance(X, (int, np.integer)) and not isinstance(X, bool):
        tensor = _TENSOR_TYPES[_weights_dtype(model)]
        return _skl2onnx_to_onnx(model, initial_types=[("X", tensor([None, int(X)]))],
                                 **kwargs)
    if not hasattr(X, "iloc") and not hasattr(X, "dtype"):
        X = np.asarray(X)
    return _skl2onnx_to_onnx(model, X[:1], **kwargs)


def export_model_file(path_in: str | os.PathLike, path_out: str | os.PathLike, *,
                      target_opset: int | None = None, uncertainty: bool = True
                      ) -> onnx.ModelProto:
    """Convert a model file written by :func:`ensemblekit.save` to an ONNX file.

    A model trained by ``ensemblekit train`` reads a table: the ONNX graph has
    one input per feature column, named after it, each of shape ``(None, 1)``:
    float32 for the numeric columns (ONNX Runtime's ``Imputer`` has no
    float64 kernel; a missing value is NaN) and strings for the categorical
    ones (a missing category is the empty string: ONNX string tensors have no
    NaN), spelt as the model's column schema writes them (booleans as
    ``"True"``/``"False"``); the schema step itself is left out of the graph.
    A model saved from Python has one input ``"X"`` of ``n_features_in_``
    columns in the dtype of its weights.

    Parameters
    ----------
    path_in : str or path-like
        The model file; read with :func:`ensemblekit.load`.
    path_out : str or path-like
        The ONNX file to write.
    target_opset : int, optional
        The ONNX opset; skl2onnx's latest tested one by default.
    uncertainty : bool, default=True
        Ensembles also output the members' spread.

    Returns
    -------
    onnx.ModelProto
        The model written.

    Raises
    ------
    OnnxExportError
        If a part of the model has no faithful ONNX graph.
    """
    import pandas as pd

    from .io import atomic_write, load

    model, metadata = load(path_in, return_metadata=True)
    if isinstance(model, Pipeline) and isinstance(model.steps[0][1], ColumnSchema):
        # the schema normalises what a table was read as; ONNX's typed inputs (one
        # per column, float32 or string) stand in for it
        model = model[1:]
    for est in _estimators(model):
        # ONNX string tensors hold no NaN: a missing category is fed as ""
        if isinstance(est, SimpleImputer) and np.asarray(est.statistics_).dtype.kind in "OU":
            est.missing_values = ""
    X: Any
    if "numeric_columns" in metadata:
        # float32: ONNX Runtime's Imputer has no float64 kernel
        columns: dict[str, Any] = {c: np.zeros(1, dtype=np.float32)
                                   for c in metadata["numeric_columns"]}
        columns.update({c: np.array(["a"], dtype=object)
                        for c in metadata["categorical_columns"]})
        X = pd.DataFrame(columns)
    else:
        X = int(model.n_features_in_)
    onx = to_onnx(model, X, target_opset=target_opset, uncertainty=uncertainty)
    with atomic_write(path_out) as fh:
        fh.write(onx.SerializeToString())
    return onx


register()

