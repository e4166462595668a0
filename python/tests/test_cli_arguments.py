"""Every subcommand of ``cloudbackup`` (but ``serve``, ``agent`` and ``api``,
which serve or call the network), each positional argument and each option
that takes a value given odd values in turn (0, -1, 10^20, 1e999, nan, an
empty string, bytes that are not UTF-8, a path that does not exist...)
against a small vault: the command returns a status (argparse's usage
error, or the tool's own), never a traceback. In-process, for speed."""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import signal
import traceback
from pathlib import Path
from types import FrameType
from typing import Dict, List, Optional

import pytest

from cloudbackup import cli
from cloudbackup.locking import retry_lock_from_env
from cloudbackup.store import gc_grace_from_env
from conftest import FAST_KDF_JSON

ODD = ["0", "-1", "abc", "", "1e999", "nan", "99999999999999999999", "\udcff", "/nonexistent/x", "-", "5%", "1000T", "latest"]

#: Commands that serve, loop or call the network.
SKIPPED = {"serve", "agent", "api"}


class _Timeout(BaseException):
    pass


def _alarm(signum: int, frame: Optional[FrameType]) -> None:
    raise _Timeout()


def _plausible(action: argparse.Action, vault: str, dest_dir: Path) -> str:
    """A value that works for positional ``action``."""
    dest = action.dest.lower()
    if "vault" in dest:
        return vault
    if dest in ("source", "path"):
        return "src"
    if "snapshot" in dest or dest in ("first", "second"):
        return "latest"
    if dest == "dest":
        return str(dest_dir)
    if dest == "pattern":
        return "*"
    return "x"


def test_every_command_given_odd_values_never_ends_in_a_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CLOUDBACKUP_PASSWORD", "pw")
    monkeypatch.setenv("CLOUDBACKUP_NEW_PASSWORD", "pw2")
    monkeypatch.setenv("CLOUDBACKUP_KDF", FAST_KDF_JSON)
    monkeypatch.setenv("CLOUDBACKUP_RETRY_LOCK", "0")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (tmp_path / "src" / "d").mkdir(parents=True)
    (tmp_path / "src" / "d" / "f").write_bytes(b"x" * 10_000)
    failures: List[str] = []
    runs = [0]

    def run(argv: List[str]) -> None:
        runs[0] += 1
        # dump writes to sys.stdout.buffer.
        out = io.TextIOWrapper(io.BytesIO())
        err = io.StringIO()
        previous = signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(20)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                cli.main(argv)
        except SystemExit:
            pass
        except _Timeout:
            failures.append(f"{argv}: still running after 20 s")
        except BaseException as e:  # noqa: BLE001 (what the test looks for)
            where = traceback.extract_tb(e.__traceback__)[-1]
            failures.append(f"{argv}: {type(e).__name__}: {e} ({os.path.basename(where.filename)}:{where.lineno})")
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)

    commands = next(a for a in cli._parser()._actions if isinstance(a, argparse._SubParsersAction))
    made: Dict[str, int] = {}
    for name, parser in sorted(commands.choices.items()):
        if name in SKIPPED:
            continue
        made[name] = len(made)
        vault = str(tmp_path / f"v{made[name]}")
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            assert cli.main(["backup", "--init", "src", vault]) == 0
        positionals = [a for a in parser._actions if not a.option_strings]
        options = [a for a in parser._actions if a.option_strings and a.nargs != 0 and not isinstance(a, argparse._HelpAction)]
        for i in range(len(positionals)):
            for odd in ODD:
                values = [_plausible(a, vault, tmp_path / f"out{runs[0]}") for a in positionals]
                values[i] = odd
                run([name, *values])
        for option in options:
            for odd in ODD:
                run([name, option.option_strings[-1], odd, *[_plausible(a, vault, tmp_path / f"out{runs[0]}") for a in positionals]])
    assert runs[0] > 1000, f"only {runs[0]} runs: the sweep lost its commands"
    assert failures == []


# "5\udcff": an environment value or argument that is not UTF-8 (byte 0xff).
@pytest.mark.parametrize("odd", ["nan", "inf", "-1", "1e999", "9223372037", "5s", " 5", "5\udcff"])
def test_spans_of_seconds_follow_the_core_s_one_rule(
    odd: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--grace``, ``--retry-lock``, ``$CLOUDBACKUP_RETRY_LOCK`` and
    ``$CLOUDBACKUP_GC_GRACE`` are read by the core's ``parse_seconds`` (as
    the C agent and node read the lock wait): NaN and infinity were taken
    from the environment before."""
    monkeypatch.setenv("CLOUDBACKUP_PASSWORD", "pw")
    monkeypatch.setenv("CLOUDBACKUP_KDF", FAST_KDF_JSON)
    vault = str(tmp_path / "v")
    assert cli.main(["init", vault]) == 0
    rule = "is not a number of seconds from 0 to 9223372036"
    for option in ("--grace", "--retry-lock"):
        with pytest.raises(SystemExit) as e:
            cli.main(["gc", option, odd, vault])
        assert e.value.code == 2
        assert rule in capsys.readouterr().err
    for env in ("CLOUDBACKUP_RETRY_LOCK", "CLOUDBACKUP_GC_GRACE"):
        with monkeypatch.context() as m:
            m.setenv(env, odd)
            assert cli.main(["gc", vault]) != 0
        err = capsys.readouterr().err
        assert f"`{env}`" in err and rule in err, err
    monkeypatch.setenv("CLOUDBACKUP_RETRY_LOCK", "2.5")
    monkeypatch.setenv("CLOUDBACKUP_GC_GRACE", "1e3")
    assert retry_lock_from_env() == 2.5 and gc_grace_from_env() == 1000.0
    assert cli.main(["gc", vault]) == 0
