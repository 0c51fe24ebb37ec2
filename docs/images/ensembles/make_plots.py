"""Draw the figures of docs/ensembles.md (run from the repository root).

    python docs/images/ensembles/make_plots.py
"""

import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_diabetes, load_digits  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402

from ensemblekit import EnsembleClassifier, EnsembleRegressor, MLPClassifier, MLPRegressor  # noqa: E402

HERE = Path(__file__).resolve().parent
warnings.simplefilter("ignore", ConvergenceWarning)

# 1. regression on one feature of the diabetes data: the members agree where the data are
X, y = load_diabetes(return_X_y=True)
bmi = (X[:, [2]] - X[:, 2].mean()) / X[:, 2].std()
target = (y - y.mean()) / y.std()
reg = EnsembleRegressor(MLPRegressor(hidden_layer_sizes=(32, 32), learning_rate_init=0.01,
                                     max_iter=300), n_estimators=8, random_state=0)
reg.fit(bmi, target)
grid = np.linspace(-6, 6, 400)[:, None]
mean, std = reg.predict(grid, return_std=True)
fig, ax = plt.subplots(figsize=(7, 4))
ax.scatter(bmi, target, s=6, c="0.6", label="training data")
for member in reg.estimators_:
    ax.plot(grid, member.predict(grid), lw=0.8, alpha=0.6)
ax.fill_between(grid.ravel(), mean - 2 * std, mean + 2 * std, alpha=0.25, label="mean ± 2 std")
ax.plot(grid, mean, "k", lw=2, label="ensemble mean")
ax.set(xlabel="body-mass index (standardised)", ylabel="disease progression (standardised)",
       title="8 members: they agree inside the data and fan out outside it")
ax.legend(loc="upper left")
fig.tight_layout()
fig.savefig(HERE / "regression_std.png", dpi=100)

# 2. digits: mutual information on test digits vs on noise, and errors vs disagreement
X, y = load_digits(return_X_y=True)
X = X / 16
member = MLPClassifier(hidden_layer_sizes=(32, 32), solver="sgd", momentum=0,
                       learning_rate_init=0.1, batch_size=32, max_iter=50)
clf = EnsembleClassifier(member, n_estimators=5, random_state=0).fit(X[:300], y[:300])
known = clf.predict_uncertainty(X[300:])
noise = clf.predict_uncertainty(np.random.default_rng(0).random((500, 64)))
wrong = clf.predict(X[300:]) != y[300:]
fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
bins = np.linspace(0, max(known.mutual_information.max(), noise.mutual_information.max()), 30)
a1.hist(known.mutual_information, bins, alpha=0.6, density=True, label="test digits")
a1.hist(noise.mutual_information, bins, alpha=0.6, density=True, label="uniform noise")
a1.set(xlabel="mutual information (nats)", ylabel="density",
       title="Members disagree on inputs unlike the data")
a1.legend()
levels = np.unique(known.disagreement)
rate = [wrong[known.disagreement == d].mean() for d in levels]
count = [(known.disagreement == d).sum() for d in levels]
a2.bar(levels, rate, width=0.12)
for d, r, n in zip(levels, rate, count):
    a2.text(d, r + 0.01, f"n={n}", ha="center", fontsize=8)
a2.set(xlabel="share of members outvoted by the ensemble", ylabel="test error rate",
       title="Disagreement predicts mistakes")
fig.tight_layout()
fig.savefig(HERE / "disagreement.png", dpi=100)
print("wrote", HERE / "regression_std.png", HERE / "disagreement.png")
