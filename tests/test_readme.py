"""README.md is run, not just read.

* its first code block holds exactly the two commands of a fresh machine, and the
  second is what ``.ci/run`` runs;
* its other blocks (the ``python`` ones in one namespace, the ``ensemblekit``
  commands through the real CLI) run in ``tests/test_docs_blocks.py``.
"""

from __future__ import annotations

import re
from pathlib import Path

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
