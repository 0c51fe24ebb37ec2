"""The plugin contract: every hook ensemblekit calls, with its arguments.

Three kinds of hooks live here.

*Discovery hooks* are implemented by plugin **modules** (the objects that the
``ensemblekit`` entry-point group names).  They run once per process, when the
registry is first needed, and only register named things.

*Training hooks* are implemented by plugin **instances** (subclasses of
:class:`ensemblekit.Plugin`).  One plugin manager is built per call to ``fit``
or ``partial_fit``; the estimator's resolved plugins are registered in it and
the training loop calls these hooks.  A hook that no registered plugin
implements is never called, so an estimator without plugins pays nothing.

*Ensemble hooks* are implemented by the plugin instances an ensemble is
configured with (its combiner, sampler and strategy); the ensemble calls them
in the driver process, never a network's ``fit``.

Every hook argument is passed by keyword; an implementation may accept any
subset of a spec's arguments, in any order (pluggy's rule).  Arrays handed to
hooks are the loop's own buffers: hooks that document an in-place contract
must modify them in place and must not keep references past the call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pluggy

_F = TypeVar("_F", bound=Callable[..., Any])

hookspec = pluggy.HookspecMarker("ensemblekit")
hookimpl = pluggy.HookimplMarker("ensemblekit")

__all__ = ["hookimpl", "hookspec"]


def _ensemble_hook(spec: _F) -> _F:
    """Mark ``spec`` as an ensemble hook (called by ensembles, never by a network's fit).

    :mod:`ensemblekit.plugins` splits the specs into its ``TRAINING_HOOKS`` and
    ``ENSEMBLE_HOOKS`` by this mark.
    """
    spec.ensemblekit_ensemble_hook = True  # type: ignore[attr-defined]
    return spec


# --------------------------------------------------------------------------
# discovery
# --------------------------------------------------------------------------
@hookspec
def ensemblekit_register_plugins(register):
    """Register plugin classes under the names users refer to them by.

    Parameters
    ----------
    register : callable
        ``register(name, plugin_class)``.  ``name`` is what users write in
        ``plugins=["name"]``, on the command line (``--plugin name:k=v``) and
        in nested parameters (``plugins__name__k``).  Registering a name that
        another plugin already registered is an error naming both.
    """


# --------------------------------------------------------------------------
# training: lifecycle
# --------------------------------------------------------------------------
@hookspec
def ensemblekit_fit_start(estimator, rng, n_samples, dtype):
    """Called once at the start of every ``fit`` / ``partial_fit`` call.

    Parameters
    ----------
    estimator : MLPClassifier or MLPRegressor
        The estimator being fitted; its fitted attributes (``coefs_``,
        ``n_layers_``, ...) already exist.
    rng : numpy.random.Generator
        This fit's generator, derived from ``random_state``.  Plugins that
        need randomness must draw from it (never from the global RNG) so that
        the same ``random_state`` gives the same result.
    n_samples : int
        Number of training samples (after any validation split).
    dtype : numpy.dtype
        Floating dtype of the computation (``float32`` or ``float64``).
    """


@hookspec
def ensemblekit_fit_end(estimator):
    """Called once when a ``fit`` / ``partial_fit`` call ends normally.

    Parameters
    ----------
    estimator : MLPClassifier or MLPRegressor
        The fitted estimator.
    """


@hookspec
def ensemblekit_epoch_start(estimator, epoch, global_epoch):
    """Called before each pass over the training data.

    Parameters
    ----------
    estimator : MLPClassifier or MLPRegressor
        The estimator being fitted.
    epoch : int
        Zero-based index of the epoch within this call.
    global_epoch : int
        Zero-based index of the epoch since the last fresh fit, counted across
        ``partial_fit`` calls and warm starts (``estimator.n_epochs_``).
    """


@hookspec
def ensemblekit_epoch_end(estimator, epoch, record, global_epoch):
    """Called after each pass over the training data.

    Parameters
    ----------
    estimator : MLPClassifier or MLPRegressor
        The estimator being fitted.
    epoch : int
        Zero-based index of the epoch within this call.
    record : dict
        The epoch's entry of ``estimator.history_``: ``"epoch"``, ``"loss"``
        and, with a validation split, ``"val_loss"`` and ``"val_score"``.
        Plugins may add keys of their own.
    global_epoch : int
        Zero-based index of the epoch since the last fresh fit (see
        :func:`ensemblekit_epoch_start`).
    """


@hookspec
def ensemblekit_batch_start(estimator, batch, X, y, step):
    """Called before each mini-batch's forward pass (stochastic solvers only).

    The place for data augmentation: ``X`` is the loop's own copy of the
    batch's rows, gathered for this step, so a plugin may change its values
    in place (``X[...] = warped``) and the step trains on what it leaves
    there; the user's data and the validation split are never touched.

    Parameters
    ----------
    estimator : MLPClassifier or MLPRegressor
        The estimator being fitted.
    batch : int
        Zero-based index of the mini-batch within the epoch.
    X : ndarray or sparse matrix of shape (batch_size, n_features)
        The batch's inputs, in the training dtype.  May be modified in place
        (keeping its shape and dtype).
    y : ndarray of shape (batch_size, n_outputs)
        The batch's (binarised) targets.  Read only.
    step : int
        Zero-based index of this optimizer step since the last fresh fit,
        counted across ``partial_fit`` calls and warm starts
        (``estimator.n_steps_`` before the step).
    """


@hookspec
def ensemblekit_batch_end(estimator, batch, loss, step):
    """Called after each mini-batch's optimizer step.

    Parameters
    ----------
    estimator : MLPClassifier or MLPRegressor
        The estimator being fitted.
    batch : int
        Zero-based index of the mini-batch within the epoch.
    loss : float
        The batch's loss, penalties included.
    step : int
        Zero-based index of the step just taken since the last fresh fit
        (see :func:`ensemblekit_batch_start`).
    """


@hookspec(firstresult=True)
def ensemblekit_should_stop(estimator, epoch, record):
    """Ask whether training should stop after this epoch.

    The first implementation returning a non-``None`` value decides.

    Parameters
    ----------
    estimator : MLPClassifier or MLPRegressor
        The estimator being fitted.
    epoch : int
        Zero-based index of the epoch within this call.
    record : dict
        The epoch's entry of ``estimator.history_``.

    Returns
    -------
    stop : bool or None
        ``True`` to stop, ``False`` to forbid other plugins' votes,
        ``None`` to abstain.
    """


@hookspec(firstresult=True)
def ensemblekit_learning_rate(estimator, global_epoch, step, steps_per_epoch,
                              learning_rate_init):
    """Return the step size of the next optimizer step: learning-rate schedules.

    Called before every mini-batch of the stochastic solvers, before
    :func:`ensemblekit_batch_start`; the value returned is set with
    ``estimator.optimizer_.set_learning_rate`` (Adam still applies its bias
    correction to it).  At most one plugin of a network may implement this
    hook: two schedules would silently overwrite each other, so a second one
    is a :class:`~ensemblekit.PluginError` naming both.  The counters run
    across ``partial_fit`` calls and warm starts, and restart with a fresh
    ``fit``, so per-step schedules (warm restarts, warm-up, one-cycle) work
    with incremental training too.

    Parameters
    ----------
    estimator : MLPClassifier or MLPRegressor
        The estimator being fitted.
    global_epoch : int
        Zero-based index of the current epoch since the last fresh fit
        (``estimator.n_epochs_``).
    step : int
        Zero-based index of the coming optimizer step since the last fresh
        fit (``estimator.n_steps_``).
    steps_per_epoch : int
        Mini-batches per epoch in this call (``ceil(n_samples / batch_size)``).
    learning_rate_init : float
        The estimator's ``learning_rate_init``.

    Returns
    -------
    learning_rate : float or None
        The step size, finite and ``>= 0``; ``None`` leaves it as it is.
    """


# --------------------------------------------------------------------------
# training: forward / backward
# --------------------------------------------------------------------------
@hookspec
def ensemblekit_forward_hidden(estimator, layer, activation):
    """Transform a hidden layer's output during the *training* forward pass.

    Modify ``activation`` **in place** (dropout, noise).  The loop keeps the
    untransformed output to compute the activation's derivative, so any
    element-wise transform is allowed; its derivative is applied by
    :func:`ensemblekit_backward_hidden`.

    Parameters
    ----------
    estimator : MLPClassifier or MLPRegressor
        The estimator being fitted.
    layer : int
        Zero-based index of the hidden layer.
    activation : ndarray of shape (batch_size, n_units)
        The layer's output after its activation function.
    """


@hookspec
def ensemblekit_backward_hidden(estimator, layer, delta):
    """Back-propagate through what :func:`ensemblekit_forward_hidden` did.

    ``delta`` arrives as the gradient of the loss with respect to the
    *transformed* output; modify it **in place** into the gradient with
    respect to the untransformed one (for dropout: multiply by the same
    mask).

    Parameters
    ----------
    estimator : MLPClassifier or MLPRegressor
        The estimator being fitted.
    layer : int
        Zero-based index of the hidden layer.
    delta : ndarray of shape (batch_size, n_units)
        The gradient to transform in place.
    """


@hookspec
def ensemblekit_predict_hidden(estimator, layer, activation):
    """Transform a hidden layer's output at *inference* (``predict``).

    Inference also happens inside ``fit``: for early stopping's validation
    scores, and once at the end, over one batch, to check the last step.
    Modify ``activation`` **in place**.  Used by non-inverted dropout (scale
    by the keep ratio) and by MC-dropout style plugins.  Plugins that do
    nothing at inference should simply not implement it.

    Parameters
    ----------
    estimator : MLPClassifier or MLPRegressor
        The fitted estimator.
    layer : int
        Zero-based index of the hidden layer.
    activation : ndarray of shape (n_samples, n_units)
        The layer's output after its activation function.
    """


@hookspec
def ensemblekit_penalty(estimator, coefs, intercepts, coef_grads, intercept_grads,
                        n_samples):
    """Add a penalty term to the loss and its gradient to the gradients.

    The data loss is a (weighted) mean over the batch; gradients arriving here
    are gradients of that mean.  Add the penalty's gradient **in place** to
    ``coef_grads`` / ``intercept_grads`` and return the penalty's value.

    Parameters
    ----------
    estimator : MLPClassifier or MLPRegressor
        The estimator being fitted.
    coefs : list of ndarray
        Weight matrices, ``coefs[i]`` of shape (fan_in, fan_out).  Read only.
    intercepts : list of ndarray
        Bias vectors.  Read only.
    coef_grads : list of ndarray
        Gradients of the weights, same shapes as ``coefs``.
    intercept_grads : list of ndarray
        Gradients of the biases, same shapes as ``intercepts``.
    n_samples : float
        The batch's size (the sum of its sample weights when weighted), for
        penalties that follow scikit-learn's ``alpha / n`` convention.

    Returns
    -------
    value : float
        The penalty added to the loss.
    """


# --------------------------------------------------------------------------
# training: optimizer step
# --------------------------------------------------------------------------
@hookspec
def ensemblekit_before_step(estimator, params, grads, step):
    """Called after the gradients are complete, before the optimizer step.

    Modify ``grads`` in place (gradient clipping, decoupled weight decay).

    Parameters
    ----------
    estimator : MLPClassifier or MLPRegressor
        The estimator being fitted.
    params : list of ndarray
        All trainable arrays: ``coefs_``, then ``intercepts_``, then batch-norm
        scales and shifts.
    grads : list of ndarray
        Their gradients, in the same order and shapes.
    step : int
        Zero-based index of this optimizer step since the last fresh fit
        (see :func:`ensemblekit_batch_start`).
    """


@hookspec
def ensemblekit_after_step(estimator, params, step):
    """Called after the optimizer step.

    Modify ``params`` in place (weight constraints such as max-norm).

    Parameters
    ----------
    estimator : MLPClassifier or MLPRegressor
        The estimator being fitted.
    params : list of ndarray
        All trainable arrays, as in :func:`ensemblekit_before_step`.
    step : int
        Zero-based index of the step just taken since the last fresh fit.
    """


# --------------------------------------------------------------------------
# ensembles
# --------------------------------------------------------------------------
# Implemented by the plugin instances an EnsembleClassifier / EnsembleRegressor
# is configured with (its ``combiner``, its ``bootstrap`` sampler and its
# ``strategy``).  They run in the driver process, never in a worker.
@_ensemble_hook
@hookspec
def ensemblekit_check_ensemble(estimator, n_members):
    """Check, before any member is trained, that a plugin can serve an ensemble.

    Raise ``ValueError`` naming the problem: a classification-only combiner
    on a regressor, combiner weights whose number is not the number of
    members, a strategy that needs a stochastic solver on an L-BFGS member.

    Parameters
    ----------
    estimator : EnsembleClassifier or EnsembleRegressor
        The ensemble being fitted (its parameters are set, its fitted
        attributes are not).
    n_members : int
        Number of members the ensemble will have (``n_estimators``).
    """


@_ensemble_hook
@hookspec(firstresult=True)
def ensemblekit_prepare_runs(estimator, template, n_estimators):
    """Decide how many training runs make the members (a *strategy* hook).

    A deep ensemble trains one run per member.  A strategy that gets several
    members out of one run (snapshot ensembles, MC dropout) configures the
    unfitted ``template`` for it, in place with ``template.set_params`` (for
    instance by adding a training plugin), and returns ``1``.

    Parameters
    ----------
    estimator : EnsembleClassifier or EnsembleRegressor
        The ensemble being fitted.
    template : MLPClassifier or MLPRegressor
        An unfitted clone of the ensemble's ``estimator``; every run is a clone
        of it with its own ``random_state``.
    n_estimators : int
        The number of members asked for.

    Returns
    -------
    n_runs : int or None
        Number of independent training runs; ``None`` lets the next
        implementation (or the default, ``n_estimators`` runs) decide.
    """


@_ensemble_hook
@hookspec(firstresult=True)
def ensemblekit_sample_member(estimator, run, rng, n_samples, y):
    """Choose the training rows of one run (a *sampler* hook: bagging).

    Called in the driver, once per run and in run order, before any run is
    dispatched, so the rows do not depend on ``n_jobs`` or the backend.

    Parameters
    ----------
    estimator : EnsembleClassifier or EnsembleRegressor
        The ensemble being fitted.
    run : int
        Zero-based index of the run.
    rng : numpy.random.Generator
        This run's sampling generator (derived from ``random_state``); draw
        from it, never from the global RNG.
    n_samples : int
        Number of training rows.
    y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        The validated targets, for samplers that stratify.  Read only.

    Returns
    -------
    indices : ndarray of int or None
        Row indices (repeats allowed) the run trains on; ``None`` means all
        rows.
    """


@_ensemble_hook
@hookspec(firstresult=True)
def ensemblekit_collect_members(estimator, runs):
    """Turn the fitted training runs into the ensemble's members (*strategy*).

    Parameters
    ----------
    estimator : EnsembleClassifier or EnsembleRegressor
        The ensemble being fitted.
    runs : list of MLPClassifier or MLPRegressor
        The fitted runs that did not diverge, in run order.

    Returns
    -------
    members : list of estimator or None
        Fitted estimators with ``predict`` (and ``predict_proba`` for
        classifiers), in a fixed order; ``None`` keeps the runs as members.
    """


@_ensemble_hook
@hookspec(firstresult=True)
def ensemblekit_member_outputs(estimator, members, X, output):
    """Compute every member's output on ``X`` (*strategy*, at prediction).

    Parameters
    ----------
    estimator : EnsembleClassifier or EnsembleRegressor
        The fitted ensemble.
    members : list of estimator
        ``estimator.estimators_``.
    X : ndarray or sparse matrix of shape (n_samples, n_features)
        Validated input.
    output : callable
        ``output(member, X)`` returns one member's output as an ndarray of
        shape (n_samples, n_outputs): class probabilities with columns aligned
        to the ensemble's ``classes_``, or regression predictions.

    Returns
    -------
    outputs : ndarray of shape (n_members, n_samples, n_outputs) or None
        One slice per member, in a fixed order; ``None`` lets the default
        (``output`` of each member in turn) run.
    """


@_ensemble_hook
@hookspec(firstresult=True)
def ensemblekit_combine(estimator, outputs):
    """Merge the members' outputs into the ensemble's (a *combiner* hook).

    Runs in the driver, on the members' outputs in member order, so the
    result is the same bit for bit for any ``n_jobs`` and backend.

    Parameters
    ----------
    estimator : EnsembleClassifier or EnsembleRegressor
        The fitted ensemble.
    outputs : ndarray of shape (n_members, n_samples, n_outputs)
        Class probabilities (columns in ``classes_`` order) or regression
        predictions.  Read only.

    Returns
    -------
    combined : ndarray of shape (n_samples, n_outputs)
        For classifiers, rows are probability distributions.  Keep the dtype
        of ``outputs``.
    """
