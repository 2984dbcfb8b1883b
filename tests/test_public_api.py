"""The public API shows what it takes: no ``**kwargs`` anywhere a data scientist calls, so
``help()``, ``inspect.signature`` and tab completion list every parameter with its default."""

from __future__ import annotations

import inspect

import pytest

import attribution
import clv
from workbench import api

OUR_PACKAGES = {"attribution", "clv", "posterior_tools", "workbench"}


def _public_callables(module) -> list[tuple[str, object]]:
    names = getattr(module, "__all__", None) or [n for n in vars(module) if not n.startswith("_")]
    found = []
    for name in names:
        obj = getattr(module, name)
        if getattr(obj, "__module__", "").split(".")[0] not in OUR_PACKAGES:
            continue  # imported from elsewhere (pathlib.Path, typing), not our API
        if inspect.isclass(obj) and issubclass(obj, BaseException):
            continue  # error types: their signature is Exception's
        if inspect.isclass(obj):
            found.append((f"{module.__name__}.{name}", obj))
            for meth, fn in vars(obj).items():
                if not meth.startswith("_") and inspect.isfunction(fn):
                    found.append((f"{module.__name__}.{name}.{meth}", fn))
        elif inspect.isfunction(obj):
            found.append((f"{module.__name__}.{name}", obj))
    return found


PUBLIC = [item for m in (api, attribution, clv) for item in _public_callables(m)]


def test_the_public_surface_is_not_empty():
    names = {name for name, _ in PUBLIC}
    for expected in ("workbench.api.attribute", "workbench.api.clv", "workbench.api.plan"):
        assert expected in names
    assert "attribution.ConversionModel.predict_proba" in names


@pytest.mark.parametrize(("name", "obj"), PUBLIC, ids=[name for name, _ in PUBLIC])
def test_no_public_function_takes_kwargs(name, obj):
    try:
        params = inspect.signature(obj).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature
        pytest.skip(f"{name} has no Python signature")
    assert not [p.name for p in params if p.kind is inspect.Parameter.VAR_KEYWORD], name


@pytest.mark.parametrize("name", ["attribute", "clv", "plan", "report"])
def test_api_functions_document_every_parameter_with_its_default(name):
    fn = getattr(api, name)
    sig = inspect.signature(fn)
    doc = inspect.getdoc(fn) or ""
    for param in sig.parameters.values():
        assert param.kind is not inspect.Parameter.VAR_KEYWORD
        assert param.name in doc, f"api.{name} does not document '{param.name}'"
    keyword_only = [p for p in sig.parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY]
    assert all(p.default is not inspect.Parameter.empty for p in keyword_only)
