"""Draw every figure of the docs again: ``python docs/make_figures.py`` (from the repository root).

* ``docs/chapter6/*.png``: redrawn from ``docs/chapter6/results.json`` by
  :func:`ensemblekit.reproduce.redraw` (no training; ``ensemblekit reproduce all
  --out docs/chapter6`` reruns the experiments themselves and draws them too);
* ``docs/images/ensembles/*.png``: ``docs/images/ensembles/make_plots.py``;
* ``docs/images/tutorial-csv/*.png``: the CSV tutorial's ``ensemblekit report``,
  after its training command, on the data its script writes.
"""

from __future__ import annotations

import runpy
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

DOCS = Path(__file__).resolve().parent


def main() -> None:
    """Redraw the three sets of figures."""
    from ensemblekit.reproduce import redraw

    redraw(DOCS / "chapter6")
    runpy.run_path(str(DOCS / "images" / "ensembles" / "make_plots.py"), run_name="__main__")
    tutorial = (DOCS / "tutorial-csv.md").read_text()
    script = tutorial.split("```python\n", 1)[1].split("```", 1)[0]
    train = next(block for block in tutorial.split("```bash\n")[1:]
                 if block.startswith("ensemblekit train")).split("```", 1)[0]
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run([sys.executable, "-c", script], cwd=folder, check=True)
        subprocess.run(train.replace("\\\n", " ").split(), cwd=folder, check=True,
                       stdout=subprocess.DEVNULL)
        subprocess.run(["ensemblekit", "report", "shop.ekm", "--out", "report",
                        "--data", "shop.csv"], cwd=folder, check=True,
                       stdout=subprocess.DEVNULL)
        for png in Path(folder, "report").glob("*.png"):
            shutil.copy(png, DOCS / "images" / "tutorial-csv" / png.name)


if __name__ == "__main__":
    main()
