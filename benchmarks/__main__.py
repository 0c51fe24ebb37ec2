"""``python -m benchmarks``: run the harness (see :mod:`benchmarks.cli`)."""

from benchmarks.cli import main

raise SystemExit(main())
