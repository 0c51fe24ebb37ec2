"""README.md is run, not just read.

* its first code block holds exactly the two commands of a fresh machine, and the
  second is what ``.ci/run`` runs;
* its ``python`` blocks run, in order, in one namespace;
* its ``bash`` block of ``ensemblekit`` commands runs through the real CLI, in a
  fresh folder holding the ``data.csv``, ``new.csv`` and ``test.csv`` it names (a
  labelled table made from scikit-learn's wine data).
"""

from __future__ import annotations

import io
import re
import shlex
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from sklearn.datasets import load_wine
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"^```(\w+)\n(.*?)^```", README, flags=re.S | re.M)


def test_the_first_block_installs_and_runs_and_ci_runs_its_test_command():
    kind, first = BLOCKS[0]
    commands = [line for line in first.splitlines() if line.strip()]
    assert kind == "bash" and len(commands) == 2
    assert commands[0] == "pip install . && ensemblekit train"
    ci = [line for line in (ROOT / ".ci" / "run").read_text().splitlines()
          if line and not line.startswith(("#", "set ", "cd "))]
    assert ci == [commands[1]]
    # the getting-started guide's install block is the same two commands
    guide = (ROOT / "docs" / "getting-started.md").read_text()
    assert re.search(r"^```bash\n(.*?)^```", guide, flags=re.S | re.M).group(1) == first


def test_the_python_blocks_run():
    namespace: dict = {"__name__": "readme"}
    blocks = [code for kind, code in BLOCKS if kind == "python"]
    assert len(blocks) >= 2
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        warnings.simplefilter("ignore", ConvergenceWarning)
        for i, code in enumerate(blocks):
            exec(compile(code, f"README.md, python block {i + 1}", "exec"), namespace)
    assert namespace["clf"].score(namespace["X"] / 16, namespace["y"]) > 0.9


def test_the_command_line_block_runs(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib", reason="report draws with matplotlib")
    pytest.importorskip("onnxruntime", reason="export needs the onnx extra")
    from ensemblekit.cli import cli

    block = next(code for kind, code in BLOCKS[1:] if kind == "bash" and "ensemblekit" in code)
    lines = block.replace("\\\n", " ").splitlines()
    commands = [shlex.split(line.split("#")[0]) for line in lines if line.strip()]
    assert all(c[0] == "ensemblekit" for c in commands)
    X, y = load_wine(return_X_y=True, as_frame=True)
    table = X.assign(label=np.array(["barolo", "grignolino", "barbera"])[y])
    table = table.sample(frac=1.0, random_state=0)
    monkeypatch.chdir(tmp_path)
    table.iloc[:120].to_csv("data.csv", index=False)
    table.iloc[120:].to_csv("test.csv", index=False)
    table.iloc[120:].drop(columns="label").to_csv("new.csv", index=False)
    runner = CliRunner()
    for command in commands:
        result = runner.invoke(cli, command[1:])
        assert result.exit_code == 0, (command, result.output)
    predicted = runner.invoke(cli, ["predict", "model.ekm", "new.csv"]).output
    assert len(pd.read_csv(io.StringIO(predicted))) == len(table) - 120
    assert Path("model.onnx").stat().st_size > 0 and any(Path("report").iterdir())
