"""One exception root: everything medledger raises is a MedLedgerError (as web3's Web3Exception)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import ModuleType

import pytest

import medledger
from medledger.chain.errors import ContractRevertError, revert_class
from medledger.errors import MedLedgerError
from medledger.scopes import category
from medledger.storage.cid import Cid
from medledger.storage.errors import InvalidCidError


def _package_modules() -> list[ModuleType]:
    """Every module of the installed package, imported (``__main__`` modules would run the CLI)."""
    names = [info.name for info in pkgutil.walk_packages(medledger.__path__, prefix="medledger.")]
    return [importlib.import_module(name) for name in names if not name.endswith(".__main__")]


def _exception_classes_defined_by_the_package() -> list[type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for module in [medledger, *_package_modules()]:
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, BaseException) and obj.__module__.startswith("medledger"):
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return [found[name] for name in sorted(found)]


def test_the_package_defines_exception_classes_in_every_layer() -> None:
    modules = {cls.__module__ for cls in _exception_classes_defined_by_the_package()}
    expected = {
        "medledger.chain.errors",
        "medledger.crypto.errors",
        "medledger.storage.errors",
        "medledger.flows.errors",
        "medledger.indexer.errors",
    }
    assert expected <= modules


def test_every_exception_class_the_package_defines_derives_from_medledger_error() -> None:
    outside = [
        f"{cls.__module__}.{cls.__qualname__}"
        for cls in _exception_classes_defined_by_the_package()
        if not issubclass(cls, MedLedgerError)
    ]
    assert outside == []


def test_the_class_made_for_a_contract_custom_error_is_a_medledger_error() -> None:
    cls = revert_class("SomeCustomErrorOfTheContract")
    assert issubclass(cls, ContractRevertError)
    assert issubclass(cls, MedLedgerError)


def test_an_error_keeps_its_standard_base_beside_the_root() -> None:
    with pytest.raises(ValueError, match="not-a-category"):
        category("not-a-category")


def test_catching_medledger_error_catches_a_failure_of_any_layer() -> None:
    with pytest.raises(MedLedgerError) as caught:
        Cid.parse("definitely not a cid")
    assert isinstance(caught.value, InvalidCidError)
