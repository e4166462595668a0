"""Shared fixtures: the repository's fixture files (tests/data,
tests/golden) and cheap key-derivation parameters for fast tests."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional

import pytest

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"
GOLDEN = REPO / "tests" / "golden" / "v1"
#: Argon2id parameters that keep the tests fast (never for real vaults).
# Remote vaults (the Swift tests) keep a metadata cache: in a temporary
# directory, never the user's ~/.cache.
os.environ.setdefault("CLOUDBACKUP_CACHE_DIR", tempfile.mkdtemp(prefix="cloudbackup-test-cache-"))

FAST_KDF = {"memory_kib": 64, "iterations": 1, "parallelism": 1}
FAST_KDF_JSON = '{"memory_kib": 64, "iterations": 1, "parallelism": 1}'


@pytest.fixture
def cli_env() -> Dict[str, str]:
    """The environment for CLI subprocesses: a password and a cheap KDF."""
    env = dict(os.environ)
    env["CLOUDBACKUP_PASSWORD"] = "correct horse"
    env["CLOUDBACKUP_KDF"] = FAST_KDF_JSON
    env.pop("CLOUDBACKUP_SETTINGS", None)
    return env


def run_cli(
    args: List[str], env: Dict[str, str], stdin: Optional[str] = None
) -> "subprocess.CompletedProcess[str]":
    """Runs ``python -m cloudbackup ARGS`` in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "cloudbackup", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )
