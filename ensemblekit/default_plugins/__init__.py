"""Built-in plugins, written exactly as a third-party plugin is written.

Each module implements ``ensemblekit_register_plugins`` and defines its
plugin class(es); ``pyproject.toml`` lists each module in the ``ensemblekit``
entry-point group, as a third-party distribution would.
"""
