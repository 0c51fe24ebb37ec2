"""Type aliases of the public signatures."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy import sparse

__all__ = ["ArrayLike", "MatrixLike", "RandomStateLike"]

#: What ``fit`` and ``predict`` take as ``X``: anything array-like (a numpy array, a
#: list of lists, a pandas DataFrame) or a scipy sparse matrix or array.
MatrixLike = ArrayLike | sparse.spmatrix | sparse.sparray

#: A seed, a legacy ``RandomState`` or a ``Generator``, as scikit-learn accepts.
RandomStateLike = int | np.random.RandomState | np.random.Generator | None
