"""The benchmark harness runs end to end on tiny sizes and reports (no timing asserted)."""

import numpy as np
import pytest
from sklearn.datasets import load_digits

from benchmarks.cli import NOTES_END, NOTES_START, main
from benchmarks.contenders import TorchContender
from benchmarks.report import Spread, per_round_ratios
from benchmarks.sections import attribute


def test_quick_run_reports_every_section(tmp_path, capsys):
    docs = tmp_path / "performance.md"
    assert main(["--quick", "--rounds", "1", "--no-torch", "--write-docs",
                 "--docs-path", str(docs)]) == 0
    printed = capsys.readouterr().out
    page = docs.read_text(encoding="utf-8")
    for title in ("### Machine", "### numpy GEMM peak", "### mnist-like, float32",
                  "### mnist-like, float64", "### digits, float32", "### wide, float64",
                  "### Plugin overhead", "### predict, float32", "### Peak memory",
                  "### Where one ensemblekit epoch goes", "### Targets",
                  "### Ensemble training in parallel", "### Start-up: fresh interpreters",
                  "### First use of the compiled loops", "### Single fit beside a busy loop"):
        assert title in page, title
        assert title.replace("### ", "== ") in printed, title
    # every contender of the epoch tables has a row; the ratios were computed
    assert "| sklearn |" in page and "| numpy matmuls only |" in page
    assert "ensemblekit time \u00f7 this" in page
    assert "optimizer update" in page
    assert "torch (fused Adam)" not in page  # --no-torch honoured
    assert "Ensemble of 4: n_jobs=2 speed-up over n_jobs=1" in page
    assert "never oversubscribed" in page
    assert "ensemblekit --help: seconds" in page


def test_regenerating_keeps_the_hand_written_notes(tmp_path):
    docs = tmp_path / "performance.md"
    args = ["--quick", "--rounds", "1", "--no-torch", "--only", "gemm", "--write-docs",
            "--docs-path", str(docs)]
    assert main(args) == 0
    page = docs.read_text(encoding="utf-8")
    start = page.index(NOTES_START) + len(NOTES_START)
    docs.write_text(page[:start] + "\nThe lead's analysis.\n" + page[page.index(NOTES_END):],
                    encoding="utf-8")
    assert main(args) == 0
    page = docs.read_text(encoding="utf-8")
    assert "The lead's analysis." in page and "### numpy GEMM peak" in page


def test_unknown_section_and_bad_rounds_are_refused(capsys):
    assert main(["--only", "mnist"]) == 2
    assert "unknown section(s) ['mnist']" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["--rounds", "0"])
    assert "--rounds must be at least 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--threads", "0"])
    assert "--threads must be at least 1" in capsys.readouterr().err


def test_threads_caps_the_blas_for_the_run(capsys):
    assert main(["--quick", "--rounds", "1", "--no-torch", "--threads", "1",
                 "--only", "gemm"]) == 0
    printed = capsys.readouterr().out
    assert "1 threads" in printed and "threads per contender (--threads)  1" in printed


def test_ratios_are_taken_within_rounds():
    # round 2 is slow for both contenders: the ratio stays 0.5 in every round
    spread = per_round_ratios([1.0, 4.0, 1.1], [2.0, 8.0, 2.2])
    assert spread == Spread(0.5, 0.5, 0.5)
    with pytest.raises(ValueError, match="at least one round"):
        Spread.of([])


def test_profile_attribution_charges_builtins_to_their_callers():
    update = ("/x/ensemblekit/_optimizers.py", 1, "update")
    forward = ("/x/ensemblekit/mlp.py", 2, "_forward_train")
    reduce_ = ("~", 0, "<method 'reduce' of 'numpy.ufunc' objects>")
    stats = {
        update: (1, 1, 3.0, 4.0, {}),
        forward: (1, 1, 2.0, 3.0, {}),
        # 1 s under update, 3 s under the forward pass
        reduce_: (2, 2, 4.0, 4.0, {update: (1, 1, 1.0, 1.0), forward: (1, 1, 3.0, 3.0)}),
    }
    seconds = attribute(stats)
    assert seconds == pytest.approx({"optimizer update": 4.0,
                                     "forward: matmuls + bias add": 5.0})


def test_torch_contender_trains_one_epoch():
    pytest.importorskip("torch")
    X, y = load_digits(return_X_y=True)
    X = (X[:300] / 16).astype(np.float32)
    contender = TorchContender((16,), 64)
    contender.start(X, y[:300])
    first = contender.loss
    contender.epoch()
    assert np.isfinite(contender.loss) and contender.loss < first
