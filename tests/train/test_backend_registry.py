"""The backend registry: names resolve lazily, unknown names and missing extras say what to do."""

from __future__ import annotations

import subprocess
import sys

import pytest

from medmat.errors import MedmatError
from medmat.train import backend as registry
from medmat.train.builtin import BuiltinBackend
from medmat.train.interface import Backend


def test_builtin_resolves_to_its_class():
    assert registry.backend_class("builtin") is BuiltinBackend
    assert isinstance(registry.make_backend("builtin", {"epochs": 2}), Backend)


def test_hf_resolves_when_the_extra_is_installed():
    pytest.importorskip("transformers")
    pytest.importorskip("peft")
    from medmat.train.hf import HFBackend

    assert registry.backend_class("hf") is HFBackend


def test_importing_the_registry_imports_no_backend():
    # the experiment config imports the registry: it must not pull in torch or transformers
    code = ("import sys, medmat.train.backend; "
            "print(sorted(m for m in ('torch', 'transformers', 'medmat.train.builtin') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_missing_third_party_package_gives_the_install_hint(monkeypatch):
    entry = registry.BackendEntry("medmat_test_absent_pkg.sub:Model", "a fake", extra="fake")
    monkeypatch.setitem(registry.BACKENDS, "fake", entry)
    with pytest.raises(MedmatError, match=r"pip install 'medmat\[fake\]'.*medmat_test_absent_pkg"):
        registry.make_backend("fake")


def test_broken_medmat_module_is_not_disguised_as_a_missing_extra(monkeypatch):
    entry = registry.BackendEntry("medmat.train.no_such_module:Model", "a typo", extra="hf")
    monkeypatch.setitem(registry.BACKENDS, "typo", entry)
    with pytest.raises(ModuleNotFoundError, match="medmat.train.no_such_module"):
        registry.make_backend("typo")
