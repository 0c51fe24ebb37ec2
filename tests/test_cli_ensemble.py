"""``ensemblekit train`` with ensembles, ``predict --uncertainty``, ``plugins --all``.

Real CSV files of sklearn's bundled data, the real command through click's
runner (and a subprocess where the process-wide plugin registry must start
fresh), models read back with :func:`ensemblekit.load`.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from interrupts import interrupt_at, sigint_default
from scipy.stats import norm
from sklearn.datasets import load_diabetes, load_iris
from sklearn.metrics import r2_score

import ensemblekit
from ensemblekit.cli import cli
from ensemblekit.metrics import gaussian_nll

TINY = ["--hidden", "8", "--max-iter", "30", "-q"]


def run(*args, code: int = 0, env: dict | None = None):
    result = CliRunner().invoke(cli, [str(a) for a in args], env=env)
    assert result.exit_code == code, (result.output, result.exception)
    return result


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("cli-ensemble")
    iris = load_iris(as_frame=True).frame
    iris.to_csv(root / "iris.csv", index=False)
    load_diabetes(as_frame=True, scaled=False).frame.to_csv(root / "diabetes.csv",
                                                            index=False)
    run("train", root / "iris.csv", *TINY, "--n-estimators", 3, "--out", root / "iris3.ekm")
    run("train", root / "diabetes.csv", *TINY, "--n-estimators", 3,
        "--out", root / "diab3.ekm")
    return {"root": root, "iris": root / "iris.csv", "diabetes": root / "diabetes.csv",
            "iris3": root / "iris3.ekm", "diab3": root / "diab3.ekm"}


def test_n_estimators_trains_an_ensemble_of_the_configured_network(data):
    model = ensemblekit.load(data["iris3"])
    ensemble = model[-1]
    assert type(ensemble).__name__ == "EnsembleClassifier"
    assert len(ensemble.estimators_) == 3
    assert all(m.hidden_layer_sizes == (8,) and m.max_iter == 30 for m in ensemble.estimators_)
    # members differ (their own seeds) and the combined output is their mean
    X = pd.read_csv(data["iris"]).drop(columns=["target"])
    Z = model[:-1].transform(X)
    members = np.stack([m.predict_proba(Z) for m in ensemble.estimators_])
    assert not np.allclose(members[0], members[1])
    np.testing.assert_allclose(model.predict_proba(X), members.mean(axis=0))


def test_summary_names_the_ensemble_and_members_epochs(data):
    out = run("train", data["iris"], "--hidden", "8", "--max-iter", "30",
              "--n-estimators", 2, "--combiner", "vote", "--bootstrap").output
    assert "EnsembleClassifier of 2 x MLPClassifier" in out
    assert "combiner=vote" in out and "sampler=bootstrap" in out
    assert "epochs: 30, 30" in out


@pytest.mark.parametrize("backend", ["loky", "threading"])
def test_same_seed_same_ensemble_whatever_n_jobs_and_backend(data, backend):
    root = data["root"]
    run("train", data["iris"], *TINY, "--n-estimators", 3, "--n-jobs", 2,
        "--backend", backend, "--out", root / f"iris3-{backend}.ekm")
    X = pd.read_csv(data["iris"]).drop(columns=["target"])
    sequential = ensemblekit.load(data["iris3"]).predict_proba(X)
    parallel = ensemblekit.load(root / f"iris3-{backend}.ekm").predict_proba(X)
    np.testing.assert_array_equal(sequential, parallel)


def test_ensemble_options_need_more_than_one_member(data):
    result = run("train", data["iris"], *TINY, "--combiner", "vote", "--bootstrap", code=2)
    assert "--combiner, --bootstrap: an ensemble setting" in result.output
    assert "--n-estimators" in result.output


@pytest.mark.parametrize("name, use", [("bootstrap", "--bootstrap"),
                                       ("vote", "--combiner vote"),
                                       ("snapshot", "--strategy snapshot")])
def test_an_ensemble_part_as_plugin_is_a_usage_error_naming_its_option(data, tmp_path,
                                                                       monkeypatch, name, use):
    from sklearn.pipeline import Pipeline

    def no_training(*args, **kwargs):
        raise AssertionError("trained before refusing --plugin")

    monkeypatch.setattr(Pipeline, "fit", no_training)
    out = tmp_path / "m.ekm"
    result = run("train", data["iris"], *TINY, "--plugin", name, "--out", out, code=2)
    assert "Invalid value for --plugin" in result.output
    assert f"plugin {name!r} is an ensemble" in result.output
    assert f"use {use}" in result.output
    assert not out.exists()


def test_unknown_combiner_is_refused_before_training_with_the_choices(data):
    result = run("train", data["iris"], *TINY, "--n-estimators", 2, "--combiner", "median",
                 code=1)
    assert "unknown combiner 'median'" in result.output
    for name in ("mean", "vote", "geometric_mean", "weighted_mean"):
        assert name in result.output
    result = run("train", data["iris"], *TINY, "--n-estimators", 2, "--strategy", "dropout",
                 code=1)
    assert "is not a strategy" in result.output and "snapshot" in result.output


def test_a_plugin_typo_suggests_only_plugins_of_that_option(data):
    """'vot' is nearest 'vote', a combiner: --plugin suggests a training plugin instead."""
    result = run("train", data["iris"], *TINY, "--plugin", "dropot", code=1)
    assert "did you mean 'dropout'?" in result.output
    result = run("train", data["iris"], *TINY, "--plugin", "vot", code=1)
    assert "'vote'" not in result.output and "installed training plugins are" in result.output
    assert "weight_decay" in result.output and "snapshot," not in result.output
    result = run("train", data["iris"], *TINY, "--n-estimators", 2, "--combiner",
                 "weighted_man:weights=[1,1]", code=1)
    assert "did you mean 'weighted_mean'?" in result.output
    assert "installed combiner plugins are" in result.output


def test_weighted_mean_combiner_takes_its_weights_on_the_command_line(data, tmp_path):
    out = tmp_path / "w.ekm"
    run("train", data["iris"], *TINY, "--n-estimators", 2,
        "--combiner", "weighted_mean:weights=[3,1]", "--out", out)
    ensemble = ensemblekit.load(out)[-1]
    assert ensemble.combiner_.name == "weighted_mean"
    assert list(ensemble.combiner_.weights) == [3, 1]


@pytest.mark.parametrize("spec, message, code", [
    ("weighted_mean", "needs weights: use combiner=WeightedMean(weights=[...]) with one "
                      "weight per member (on the command line: --combiner "
                      "weighted_mean:weights=[...])", 1),
    ("weighted_mean:weights=[1,2,3]", "WeightedMean has 3 weight(s) for 2 member(s)", 1),
    ("weighted_mean:weights=[1,-1]", "weights must be finite, non-negative and not all zero",
     1),
    ("weighted_mean:weights", "Invalid value for --combiner: expected NAME:KEY=VALUE", 2),
])
def test_weighted_mean_without_usable_weights_is_refused_before_training(data, spec,
                                                                          message, code):
    result = run("train", data["iris"], *TINY, "--n-estimators", 2, "--combiner", spec,
                 code=code)
    assert message in result.output


def test_combiner_parameter_that_does_not_exist_is_named(data):
    result = run("train", data["iris"], *TINY, "--n-estimators", 2,
                 "--combiner", "weighted_mean:weigths=[1,1]", code=1)
    assert "plugin 'weighted_mean' has no parameter 'weigths'" in result.output


def test_zero_jobs_is_a_usage_error(data):
    result = run("train", data["iris"], *TINY, "--n-estimators", 2, "--n-jobs", 0, code=2)
    assert "--n-jobs" in result.output


def test_snapshot_strategy_from_the_command_line(data):
    out = data["root"] / "snap.ekm"
    run("train", data["iris"], "--hidden", "8", "--max-iter", "20", "-q",
        "--n-estimators", 2, "--strategy", "snapshot", "--out", out)
    ensemble = ensemblekit.load(out)[-1]
    assert ensemble.strategy_.name == "snapshot"
    assert len(ensemble.estimators_) == 2
    assert len(ensemble.member_status_) == 1  # one training run, two snapshots


def test_ensemble_settings_from_a_config_file(data, tmp_path):
    config = tmp_path / "ens.toml"
    config.write_text('hidden = [8]\nmax-iter = 20\nn-estimators = 2\ncombiner = '
                      '"geometric_mean"\nbootstrap = true\n')
    run("train", data["iris"], "--config", config, "-q", "--out", tmp_path / "m.ekm")
    ensemble = ensemblekit.load(tmp_path / "m.ekm")[-1]
    assert ensemble.combiner_.name == "geometric_mean"
    assert ensemble.sampler_.name == "bootstrap"
    assert len(ensemble.estimators_) == 2


def test_verbose_reports_each_finished_member(data):
    result = CliRunner().invoke(cli, ["train", str(data["iris"]), "--hidden", "8",
                                      "--max-iter", "10", "--n-estimators", "3", "-v"])
    assert result.exit_code == 0, result.output
    for k in (1, 2, 3):
        assert f"member {k}/3: 10 epochs, final loss" in result.output


def test_predict_uncertainty_for_a_classifier_ensemble(data):
    result = run("predict", data["iris3"], data["iris"], "--uncertainty", "--proba")
    table = pd.read_csv(pd.io.common.StringIO(result.output))
    columns = ["predictive_entropy", "expected_entropy", "mutual_information",
               "disagreement"]
    assert set(columns) <= set(table.columns)
    assert len(table) == 150
    proba = table[[c for c in table.columns if c.startswith("proba_")]].to_numpy()
    entropy = -(proba * np.log(np.clip(proba, 1e-300, None))).sum(axis=1)
    np.testing.assert_allclose(table["predictive_entropy"], entropy, rtol=1e-6, atol=1e-9)
    mi = table["predictive_entropy"] - table["expected_entropy"]
    # the columns are printed at the float32 model's precision: their difference is
    # exact to a few float32 steps of the entropies (~1), not relative to the small mi
    np.testing.assert_allclose(table["mutual_information"], mi, rtol=1e-6,
                               atol=4 * np.finfo(np.float32).eps)
    assert (table["mutual_information"] >= -1e-12).all()
    assert table["disagreement"].between(0, 1).all()


def test_predict_uncertainty_for_a_regressor_ensemble_is_in_target_units(data):
    result = run("predict", data["diab3"], data["diabetes"], "--uncertainty")
    table = pd.read_csv(pd.io.common.StringIO(result.output))
    assert list(table.columns) == ["target", "std"]
    model = ensemblekit.load(data["diab3"])
    X = pd.read_csv(data["diabetes"]).drop(columns=["target"])
    members = np.stack([m.predict(model[:-1].transform(X))
                        for m in model[-1].regressor_.estimators_])
    scale = model[-1].transformer_.scale_[0]
    np.testing.assert_allclose(table["std"], members.std(axis=0) * scale, rtol=1e-6)


def test_predict_uncertainty_needs_an_ensemble(data, tmp_path):
    run("train", data["iris"], *TINY, "--out", tmp_path / "one.ekm")
    result = run("predict", tmp_path / "one.ekm", data["iris"], "--uncertainty", code=2)
    assert "--uncertainty needs an ensemble" in result.output


def test_evaluate_a_regressor_ensemble_reports_its_nll(data):
    metrics = json.loads(run("evaluate", data["diab3"], data["diabetes"], "--json").output)
    assert {"r2", "rmse", "mae", "nll"} <= set(metrics)
    model = ensemblekit.load(data["diab3"])
    frame = pd.read_csv(data["diabetes"])
    X, y = frame.drop(columns=["target"]), frame["target"].to_numpy()
    members = np.stack([m.predict(model[:-1].transform(X))
                        for m in model[-1].regressor_.estimators_])
    std = members.std(axis=0) * model[-1].transformer_.scale_[0]
    assert metrics["nll"] == pytest.approx(gaussian_nll(y, model.predict(X), std))


def test_gaussian_nll_is_the_normal_log_density():
    rng = np.random.default_rng(0)
    y, mean, std = rng.normal(size=50), rng.normal(size=50), rng.uniform(0.5, 2, 50)
    assert gaussian_nll(y, mean, std) == pytest.approx(-norm.logpdf(y, mean, std).mean())
    # agreeing members (std 0) are floored, not infinite
    assert np.isfinite(gaussian_nll(y, mean, np.zeros(50)))
    with pytest.raises(ValueError, match="non-negative"):
        gaussian_nll(y, mean, -std)


def test_scale_target_trains_a_regression_in_any_units(data, tmp_path):
    frame = pd.read_csv(data["diabetes"])
    X, y = frame.drop(columns=["target"]), frame["target"].to_numpy()
    args = ["train", data["diabetes"], "--hidden", "16", "--max-iter", "100", "-q",
            "--test-size", "0"]
    run(*args, "--out", tmp_path / "scaled.ekm")
    run(*args, "--no-scale-target", "--out", tmp_path / "raw.ekm")
    scaled = r2_score(y, ensemblekit.load(tmp_path / "scaled.ekm").predict(X))
    raw = r2_score(y, ensemblekit.load(tmp_path / "raw.ekm").predict(X))
    # a target around 150 with a unit-scale initialisation: 100 epochs are not enough
    assert scaled > 0.5 > raw


def test_report_plots_every_member(data, tmp_path):
    out = tmp_path / "report"
    run("report", data["iris3"], "--out", out)
    page = (out / "index.md").read_text()
    assert "EnsembleClassifier of 3 x MLPClassifier" in page
    assert "- epochs: 30, 30, 30" in page
    assert (out / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _plugins_subprocess(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ensemblekit", "plugins", *args],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, **env}, check=True)


def test_plugins_lists_roles_and_parameters():
    listing = json.loads(run("plugins", "--json").output)
    rows = {row["name"]: row for row in listing["plugins"]}
    assert rows["dropout"]["role"] == "training"
    assert rows["dropout"]["parameters"]["rate"] == 0.5
    assert rows["mean"]["role"] == "combiner"
    assert rows["bootstrap"]["role"] == "sampler"
    assert rows["snapshot"]["role"] == "strategy"
    assert rows["l1"]["distribution"] == "ensemblekit-l1"
    assert "not_loaded" not in listing


def test_plugins_all_shows_hooks_and_the_plugins_not_loaded():
    shown = _plugins_subprocess("--all", ENSEMBLEKIT_LOAD_PLUGINS="ensemblekit-l1").stdout
    assert "ensemblekit_l1.L1; hooks: penalty" in shown
    assert ("NOT LOADED noise from ensemblekit-noise: not listed in "
            "ENSEMBLEKIT_LOAD_PLUGINS=ensemblekit-l1") in shown
    listing = json.loads(_plugins_subprocess("--all", "--json",
                                             ENSEMBLEKIT_DISABLE_PLUGIN_AUTOLOAD="1").stdout)
    skipped = {row["name"]: row["reason"] for row in listing["not_loaded"]}
    assert {"l1", "noise", "maxnorm", "gradclip"} <= set(skipped)
    assert skipped["l1"] == "ENSEMBLEKIT_DISABLE_PLUGIN_AUTOLOAD is set"
    assert "weight_decay" in {row["name"] for row in listing["plugins"]}


@pytest.mark.slow
def test_dask_backend_trains_the_same_ensemble_on_a_local_cluster(data, tmp_path):
    pytest.importorskip("distributed")
    result = run("train", data["iris"], "--hidden", "8", "--max-iter", "30",
                 "--n-estimators", 3, "--backend", "dask", "--n-jobs", 2,
                 "--out", tmp_path / "dask.ekm")
    assert "on local Dask cluster (2 workers)" in result.output
    X = pd.read_csv(data["iris"]).drop(columns=["target"])
    np.testing.assert_array_equal(ensemblekit.load(tmp_path / "dask.ekm").predict_proba(X),
                                  ensemblekit.load(data["iris3"]).predict_proba(X))


def test_console_script_trains_and_predicts_an_ensemble(data, tmp_path):
    model = tmp_path / "ens.ekm"
    subprocess.run(["ensemblekit", "train", str(data["iris"]), "--hidden", "8",
                    "--max-iter", "30", "--n-estimators", "3", "--n-jobs", "2", "-q",
                    "--out", str(model)], check=True, timeout=300)
    shown = subprocess.run(["ensemblekit", "predict", str(model), str(data["iris"]),
                            "--proba"], check=True, timeout=300, capture_output=True,
                           text=True).stdout
    table = pd.read_csv(pd.io.common.StringIO(shown))
    X = pd.read_csv(data["iris"]).drop(columns=["target"])
    loaded = ensemblekit.load(model)
    np.testing.assert_array_equal(table["target"], loaded.predict(X))
    expected = loaded.predict_proba(X)  # printed at its precision (float32): exactly
    np.testing.assert_array_equal(table.filter(like="proba_").to_numpy().astype(expected.dtype),
                                  expected)


@pytest.mark.slow
def test_ctrl_c_during_a_parallel_ensemble_exits_130_and_writes_nothing(tmp_path):
    from sklearn.datasets import load_digits

    csv = tmp_path / "digits.csv"
    load_digits(as_frame=True).frame.to_csv(csv, index=False)
    model = tmp_path / "never.ekm"
    proc = subprocess.Popen(
        ["ensemblekit", "train", str(csv), "--hidden", "64", "--max-iter", "40",
         "--n-estimators", "6", "--n-jobs", "2", "-v", "--out", str(model)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=sigint_default)
    # the first finished member: at least four more are still to train
    _, err = interrupt_at(proc, lambda line, seen: line.startswith("member 1/6"),
                          lambda: proc.send_signal(signal.SIGINT), "no member finished")
    assert proc.returncode == 130, err
    assert err[-1] == "interrupted: no model written"
    assert not any("Traceback" in line for line in err), err
    assert not model.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["digits.csv"]  # no temp file


@pytest.mark.slow
def test_scheduler_option_uses_a_running_dask_cluster(data, tmp_path):
    distributed = pytest.importorskip("distributed")
    # in-process (its address is inproc://...): the command connects as to any scheduler
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        result = run("train", data["iris"], "--hidden", "8", "--max-iter", "30",
                     "--n-estimators", 3, "--scheduler", cluster.scheduler_address,
                     "--out", tmp_path / "remote.ekm")
    assert f"on Dask scheduler {cluster.scheduler_address}" in result.output
    X = pd.read_csv(data["iris"]).drop(columns=["target"])
    np.testing.assert_array_equal(ensemblekit.load(tmp_path / "remote.ekm").predict_proba(X),
                                  ensemblekit.load(data["iris3"]).predict_proba(X))


@pytest.mark.slow
def test_an_unreachable_scheduler_is_one_clear_line(data):
    pytest.importorskip("distributed")
    result = run("train", data["iris"], *TINY, "--n-estimators", 2,
                 "--scheduler", "tcp://127.0.0.1:1", code=1)
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:1" in result.output


def _on_a_terminal(*args: str) -> bytes:
    """What ``ensemblekit ARGS`` shows on stderr when it is a (pseudo-)terminal."""
    pty = pytest.importorskip("pty")
    import fcntl
    import struct
    import termios

    main, child = pty.openpty()
    # a terminal of 30 x 100 (a new pty is 0 x 0, where tqdm draws nothing)
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    proc = subprocess.Popen(["ensemblekit", *args], stdout=subprocess.DEVNULL, stderr=child)
    os.close(child)
    shown = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    os.close(main)
    assert proc.wait(timeout=300) == 0
    return shown


@pytest.mark.parametrize("extra", [(), ("--n-estimators", "2"),
                                   ("--n-estimators", "3", "--backend", "threading"),
                                   ("--n-estimators", "3", "--n-jobs", "2")])
def test_a_terminal_gets_a_progress_bar_of_epochs(data, extra):
    """A network's bar counts its epochs; an ensemble's the epochs of all its members
    (sequential, threads or loky processes), with the members done beside it."""
    shown = _on_a_terminal("train", str(data["iris"]), "--hidden", "8", "--max-iter", "20",
                           *extra)
    assert b"epoch/s" in shown or b"s/epoch" in shown, shown[-300:]
    if extra:
        n = int(extra[1])
        total = f"/{20 * n} ".encode()
        assert total in shown, shown[-300:]
        # the bar moved between members: a count that is no multiple of 20
        counts = {int(m) for m in re.findall(rb"\| *(\d+)/" + str(20 * n).encode(), shown)}
        assert any(c % 20 for c in counts), counts
        assert f"members {n - 1}/{n} done".encode() in shown


def test_quiet_draws_no_bar_on_a_terminal(data):
    shown = _on_a_terminal("train", str(data["iris"]), "--hidden", "8", "--max-iter", "20",
                           "--n-estimators", "2", "--n-jobs", "2", "-q")
    assert shown == b""


@pytest.mark.slow
def test_dask_draws_a_bar_of_members_on_a_terminal(data):
    pytest.importorskip("distributed")
    shown = _on_a_terminal("train", str(data["iris"]), "--hidden", "8", "--max-iter", "20",
                           "--n-estimators", "2", "--backend", "dask", "--n-jobs", "2")
    assert b"member/s" in shown or b"s/member" in shown, shown[-300:]


# --------------------------------------------------------------------------
# members' warnings: one line naming the member, whatever the backend (issue 16)
# --------------------------------------------------------------------------
def _member_warnings_shown(stderr: str, seeds: list[int]) -> None:
    """Each member's convergence warning is one line naming it; nothing else is shown."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines == [f"warning: ensemble member {i} (seed {seed}): Stochastic Optimizer: "
                     "Maximum iterations (30) reached and the optimization hasn't "
                     "converged yet." for i, seed in enumerate(seeds)], stderr


@pytest.mark.parametrize("backend, n_jobs", [("loky", 1), ("threading", 2), ("loky", 2)])
def test_every_backend_names_the_member_of_a_warning(data, tmp_path, backend, n_jobs):
    """In this process (one job), in threads, in worker processes: the same lines."""
    out = tmp_path / f"{backend}.ekm"
    result = run("train", data["iris"], "--hidden", "8", "--max-iter", "30",
                 "--n-estimators", 3, "--n-jobs", n_jobs, "--backend", backend, "--out", out)
    _member_warnings_shown(result.stderr, ensemblekit.load(out)[-1].member_seeds_)
    assert "site-packages" not in result.output
    quiet = run("train", data["iris"], *TINY, "--n-estimators", 3, "--n-jobs", n_jobs,
                "--backend", backend)
    assert quiet.output == ""


def test_console_threading_names_the_member_of_a_warning(data, tmp_path):
    out = tmp_path / "threads.ekm"
    proc = subprocess.run(["ensemblekit", "train", str(data["iris"]), "--hidden", "8",
                           "--max-iter", "30", "--n-estimators", "3", "--n-jobs", "2",
                           "--backend", "threading", "--out", str(out)],
                          capture_output=True, text=True, timeout=300, check=True)
    _member_warnings_shown(proc.stderr, ensemblekit.load(out)[-1].member_seeds_)


@pytest.mark.slow
def test_console_dask_is_silent_with_quiet_and_names_members_without(data, tmp_path):
    """No distributed log line, no raw warning with a site-packages path: -q prints nothing."""
    pytest.importorskip("distributed")
    args = ["ensemblekit", "train", str(data["iris"]), "--hidden", "8", "--max-iter", "30",
            "--n-estimators", "3", "--backend", "dask", "--n-jobs", "2"]
    quiet = subprocess.run([*args, "-q", "--out", str(tmp_path / "q.ekm")],
                           capture_output=True, text=True, timeout=300, check=True)
    assert (quiet.stdout, quiet.stderr) == ("", "")
    shown = subprocess.run([*args, "--out", str(tmp_path / "d.ekm")], capture_output=True,
                           text=True, timeout=300, check=True)
    _member_warnings_shown(shown.stderr, ensemblekit.load(tmp_path / "d.ekm")[-1].member_seeds_)
    assert "on local Dask cluster (2 workers)" in shown.stdout
    X = pd.read_csv(data["iris"]).drop(columns=["target"])
    np.testing.assert_array_equal(ensemblekit.load(tmp_path / "d.ekm").predict_proba(X),
                                  ensemblekit.load(tmp_path / "q.ekm").predict_proba(X))
