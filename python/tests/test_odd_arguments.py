"""Every public function of ``cloudbackup``, the constructors and class
methods of its classes, and the methods of a vault, snapshot, index,
sessions and vault state, called with odd values (None, NaN, 2**70, a lone
surrogate, bytes that are not UTF-8, an object...) in each argument in turn:
each call returns or raises a ``cloudbackup.Error`` or a ``TypeError`` naming
what was wrong. Python's own errors for two values are accepted as Python
raises them everywhere: ``UnicodeEncodeError`` for a str with a lone
surrogate, ``OverflowError`` for an int past 64 bits, as long as they name
the argument (PyO3's note ``while processing 'name'``, from Python 3.11;
where our own code converts, the error is ``InvalidArgument`` or
``InvalidJson`` naming it). Anything else (an ``AttributeError`` from
inside, a ``KeyError``, a panic) fails the test."""

from __future__ import annotations

import inspect
import os
import sys
from functools import partial
from pathlib import Path
from typing import Any, Callable, Dict, List

import pytest

import cloudbackup as cb
from cloudbackup.engine import VaultState
from conftest import FAST_KDF

SMALL = {"chunker": {"min_size": 1024, "avg_size": 4096, "max_size": 16384}, "zstd_level": 3, "bundle_size": 65536}

ODD: List[Any] = [
    None, {}, [], 1.5, -1, float("nan"), 2**70, -(2**70), "x", "", "\ud800", b"", b"\xff", bytearray(3),
    memoryview(b"ab"), object(), True, (1,), [None], {"a": {1: 2}},
]

#: Whether exceptions carry notes (``add_note``), where PyO3 names the argument.
NOTES = sys.version_info >= (3, 11)

#: What an odd value may raise (see the module's docstring).
EXPECTED = (cb.Error, TypeError, UnicodeEncodeError, OverflowError)


def positional(f: Callable[..., Any]) -> int:
    """How many positional arguments ``f`` takes (3 when it will not say)."""
    try:
        params = inspect.signature(f).parameters.values()
    except (TypeError, ValueError):
        return 3
    return len([p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)])


class Sweep:
    def __init__(self) -> None:
        self.failures: List[str] = []
        self.calls = 0

    def run(self, label: str, target: Callable[[], Any], name: str, arity: int) -> None:
        """Calls ``getattr(target(), name)`` with ``arity`` arguments ("x"),
        each odd value in each place in turn; a fresh target after a call
        that went through (it may have changed or used it up)."""
        for pos in range(max(arity, 1)):
            obj = target()
            for odd in ODD:
                args: List[Any] = ["x"] * max(arity, 1)
                args[pos] = odd
                self.calls += 1
                try:
                    result = getattr(obj, name)(*args)
                    if inspect.isgenerator(result):
                        list(result)
                except (UnicodeEncodeError, OverflowError) as e:
                    # Raised by PyO3's own conversion, with the argument's
                    # name in a note (add_note: Python 3.11 and later).
                    if NOTES and not any("while processing" in n for n in getattr(e, "__notes__", [])):
                        self.failures.append(
                            f"{label}(argument {pos} = {odd!r:.40}): {type(e).__name__} naming no argument: {e}"
                        )
                    continue
                except EXPECTED:
                    continue
                except Exception as e:  # noqa: BLE001 (what the test looks for)
                    self.failures.append(f"{label}(argument {pos} = {odd!r:.40}): {type(e).__name__}: {e}")
                    continue
                obj = target()


def test_every_function_and_method_given_odd_values_raises_what_it_should(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "x" as a destination or source is a relative path: in tmp_path.
    monkeypatch.chdir(tmp_path)
    src = tmp_path / "src"
    src.mkdir()
    (src / "f").write_bytes(b"hello" * 1000)
    made = [0]

    def stored() -> cb.StoredVault:
        made[0] += 1
        sv = cb.StoredVault.init(str(tmp_path / f"v{made[0]}"), "pw", SMALL, FAST_KDF)
        sv.backup(str(src))
        return sv

    def objects() -> Dict[str, Any]:
        sv = stored()
        state = sv.state()
        snap = sv.snapshot("latest", state)
        index = sv.load_index()
        session = cb.BackupSession(sv.vault, cb.Index())
        session.start_file("/a", 0o644, 1)
        return {
            "StoredVault": sv,
            "Vault": sv.vault,
            "VaultState": state,
            "Snapshot": snap,
            "Index": index,
            "BackupSession": session,
            "RestoreSession": cb.RestoreSession(sv.vault, snap, index),
        }

    sweep = Sweep()
    for name in sorted(n for n in dir(cb) if not n.startswith("_")):
        value = getattr(cb, name)
        if inspect.ismodule(value) or not callable(value) or name in ("Any", "JobReporter", "Storage"):
            continue
        if inspect.isclass(value) and issubclass(value, BaseException):
            continue
        if not inspect.isclass(value):
            sweep.run(name, lambda: cb, name, positional(value))
            continue
        # The constructor (called through the module), then the class's own methods.
        sweep.run(f"{name}()", lambda: cb, name, 4)
        for method, f in inspect.getmembers(value):
            raw = inspect.getattr_static(value, method, None)
            if not method.startswith("_") and callable(f) and isinstance(raw, (staticmethod, classmethod)):
                sweep.run(f"{name}.{method}", partial(lambda c: c, value), method, positional(f))
    probe = objects()
    for kind, obj in probe.items():
        for method, f in inspect.getmembers(obj):
            if method.startswith("_") or not callable(f) or inspect.isclass(f):
                continue
            sweep.run(f"{kind}.{method}", partial(lambda k: objects()[k], kind), method, positional(f))
    assert sweep.calls > 3000, f"only {sweep.calls} calls: the sweep lost its functions"
    assert sweep.failures == []
    # The module still works, and the vaults made are whole.
    assert isinstance(probe["VaultState"], VaultState)
    assert len(stored().snapshots()) == 1
    assert os.path.isdir(tmp_path / "v1")


def test_a_str_with_no_utf8_form_or_an_int_for_a_path_is_refused_naming_the_argument(tmp_path: Path) -> None:
    """Where our own code converts an argument, a lone surrogate is an
    InvalidArgument (InvalidJson inside JSON) naming it, and an int given
    for a path (which ``os`` would take for a file descriptor) a TypeError."""
    lone = "\ud800"
    with pytest.raises(cb.InvalidArgument, match="`password`: is not UTF-8 text"):
        cb.Vault.create(lone, None, FAST_KDF)
    with pytest.raises(cb.InvalidArgument, match="`name`: cannot be a file name"):
        cb.engine.partial_tag(lone)
    with pytest.raises(cb.InvalidJson, match="a str that is not UTF-8 text"):
        cb.apply_patch({"a": lone}, [])
    with pytest.raises(cb.InvalidJson):
        cb.parse_response("v1.agents.get_agent", 200, '{"a": "\ud800"}', params={"machine_agent_id": "1"})
    with pytest.raises(cb.InvalidArgument, match="`location`: cannot be a file name"):
        cb.StoredVault.init(str(tmp_path / lone), "pw", None, FAST_KDF)
    sv = cb.StoredVault.init(tmp_path / "vault", "pw", None, FAST_KDF)
    with pytest.raises(TypeError, match="argument 'source'"):
        sv.backup(3)  # type: ignore[arg-type]
    with pytest.raises(cb.InvalidArgument, match="`kind`: 'tmp' is not one of"):
        sv.ids("tmp")
