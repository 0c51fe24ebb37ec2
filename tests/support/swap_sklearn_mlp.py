"""pytest plugin: make ``sklearn.neural_network`` hand out ensemblekit's MLPs.

Loaded with ``-p swap_sklearn_mlp`` before scikit-learn's own test module is
imported, so its ``from sklearn.neural_network import MLPClassifier,
MLPRegressor`` picks up ours: scikit-learn's test-suite runs unchanged against
ensemblekit.
"""

import sklearn.neural_network

import ensemblekit

sklearn.neural_network.MLPClassifier = ensemblekit.MLPClassifier
sklearn.neural_network.MLPRegressor = ensemblekit.MLPRegressor
