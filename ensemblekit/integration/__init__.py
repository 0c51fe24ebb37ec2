"""Integrations with other libraries, each in its own module and optional extra.

:mod:`ensemblekit.integration.optuna`
    :class:`~ensemblekit.integration.optuna.OptunaPruningCallback`, a plugin that
    reports every epoch to an Optuna trial and prunes it (``pip install
    "ensemblekit[optuna]"``).
"""
