"""Every public name has a numpy-style docstring and type hints for its signature.

numpydoc's own validator runs over the public API of ``ensemblekit``, its
public modules and the example plugin distributions in ``plugins/``: every
public class, function and method must have a docstring with a one-line
summary, document every parameter it takes (and none it does not), and have
a Returns section when it returns a value.

Every public function and method (constructors included) also annotates
each parameter and its return type.

Hook implementations (``ensemblekit_*`` methods marked with ``@hookimpl``)
are held to the summary only: their parameters are the hook's, documented once
on the hook specification in :mod:`ensemblekit.hookspecs` (which is checked in
full here), as pytest and pluggy plugins do.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import ensemblekit
import ensemblekit.hookspecs

numpydoc_validate = pytest.importorskip("numpydoc.validate")

#: numpydoc checks enforced: docstring present, summary, parameters, returns.
CHECKS = {"GL08", "SS01", "SS03", "PR01", "PR02", "PR07", "RT01", "RT03"}
#: What a hook implementation must have: its parameters are the hook spec's.
HOOKIMPL_CHECKS = {"GL08", "SS01", "SS03"}
PLUGIN_DISTRIBUTIONS = ["ensemblekit_noise", "ensemblekit_l1", "ensemblekit_maxnorm",
                        "ensemblekit_gradclip"]


def _public_modules() -> list[str]:
    found = [m.name for m in pkgutil.walk_packages(ensemblekit.__path__, "ensemblekit.")]
    return ["ensemblekit", *(name for name in found
                             if not any(p.startswith("_") for p in name.split(".")[1:]))]


def _public_names(modname: str) -> list[str]:
    module = importlib.import_module(modname)
    names = getattr(module, "__all__", None)
    if names is None:  # no __all__: what the module itself defines without a leading _
        names = [n for n, v in vars(module).items() if not n.startswith("_")
                 and getattr(v, "__module__", None) == modname]
    found = []
    for name in names:
        obj = getattr(module, name)
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue  # constants and instances (scorers, the hookimpl marker)
        found.append(f"{modname}.{name}")
        if inspect.isclass(obj):  # its methods, inherited ones of ours included
            ours = [k for k in obj.__mro__ if k.__module__.split(".")[0].startswith(
                "ensemblekit")]
            found += [f"{modname}.{name}.{attr}" for klass in ours
                      for attr, value in vars(klass).items()
                      if not attr.startswith("_") and (
                          inspect.isfunction(value)
                          or isinstance(value, (property, classmethod, staticmethod)))]
    return found


def _all_public_names() -> list[str]:
    names = []
    for modname in _public_modules() + PLUGIN_DISTRIBUTIONS:
        try:
            names += _public_names(modname)
        except ModuleNotFoundError:  # a plugin distribution that is not installed
            continue
    # the hook specifications: the reference every hook implementation relies on
    names += [f"ensemblekit.hookspecs.{name}" for name in vars(ensemblekit.hookspecs)
              if name.startswith("ensemblekit_")]
    return sorted(set(names))


def _resolve(qualname: str):
    modname, _, rest = qualname.partition(".")
    obj = importlib.import_module(modname)
    for part in rest.split("."):
        obj = getattr(obj, part)
    return obj


def _is_hookimpl(qualname: str) -> bool:
    return hasattr(_resolve(qualname), "ensemblekit_impl")


def test_the_public_api_is_found():
    names = _all_public_names()
    assert "ensemblekit.MLPClassifier.fit" in names
    assert "ensemblekit.hookspecs.ensemblekit_penalty" in names
    assert len(names) > 100


@pytest.mark.parametrize("qualname", _all_public_names())
def test_numpy_docstring(qualname):
    checks = HOOKIMPL_CHECKS if _is_hookimpl(qualname) else CHECKS
    errors = [f"{code}: {message}"
              for code, message in numpydoc_validate.validate(qualname)["errors"]
              if code in checks]
    assert not errors, f"{qualname}:\n" + "\n".join(errors)


@pytest.mark.parametrize("qualname", [name for name in _all_public_names()
                                      if "hookspecs" not in name and not _is_hookimpl(name)])
def test_type_hints(qualname):
    obj = _resolve(qualname)
    if isinstance(obj, property):
        obj = obj.fget
    if inspect.isclass(obj):
        if "__init__" not in vars(obj):
            return  # the constructor is inherited (and checked where it is defined)
        obj = obj.__init__
    signature = inspect.signature(obj)
    missing = [name for name, p in signature.parameters.items()
               if name not in ("self", "cls") and p.annotation is inspect.Parameter.empty
               and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    assert not missing, f"{qualname}: parameters without a type hint: {missing}"
    assert signature.return_annotation is not inspect.Signature.empty, (
        f"{qualname}: no return type hint")
