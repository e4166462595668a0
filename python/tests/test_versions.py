"""One version for every artifact: Cargo.toml's workspace version is the
Python package's, the CLI's, the native module's, the npm package's, the C
library's (its test pins it) and the changelog's."""

from __future__ import annotations

import json
import re
import sys

from typing import Dict

import pytest

if sys.version_info < (3, 11):  # the repository's checks need tomllib; the 3.11+ run makes them
    pytest.skip("tomllib is Python 3.11+", allow_module_level=True)
import tomllib

import cloudbackup
from cloudbackup import _native
from conftest import REPO, run_cli


def cargo_version() -> str:
    data = tomllib.loads((REPO / "Cargo.toml").read_text())
    version: str = data["workspace"]["package"]["version"]
    return version


def test_every_artifact_has_cargos_version(cli_env: Dict[str, str]) -> None:
    version = cargo_version()
    assert cloudbackup.__version__ == version
    assert _native.__version__ == version
    r = run_cli(["--version"], cli_env)
    assert r.returncode == 0 and r.stdout.strip() == f"cloudbackup {version}", r.stdout
    package = json.loads((REPO / "web" / "package.json").read_text())
    assert package["version"] == version
    lock = json.loads((REPO / "web" / "package-lock.json").read_text())
    assert lock["version"] == version and lock["packages"][""]["version"] == version
    # The C library's version test pins the string cb_version() returns.
    c_test = (REPO / "bindings" / "c" / "tests" / "test_cloudbackup.c").read_text()
    pinned = re.search(r'ck_assert_str_eq\(v, "([^"]+)"\)', c_test)
    assert pinned is not None and pinned.group(1) == version


def test_licences_agree() -> None:
    """One SPDX identifier everywhere, and each package ships the root LICENSE."""
    cargo = tomllib.loads((REPO / "Cargo.toml").read_text())["workspace"]["package"]["license"]
    package = json.loads((REPO / "web" / "package.json").read_text())["license"]
    project = tomllib.loads((REPO / "python" / "pyproject.toml").read_text())["project"]
    # PEP 639: an SPDX expression, the text in the wheel and the sdist.
    assert cargo == package == project["license"] == "Apache-2.0"
    assert project["license-files"] == ["LICENSE"]
    text = (REPO / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0" in text
    assert (REPO / "python" / "LICENSE").read_text() == text
    assert (REPO / "web" / "LICENSE").read_text() == text


def test_the_changelog_names_the_version() -> None:
    text = (REPO / "CHANGELOG.md").read_text()
    assert "## [Unreleased]" in text
    assert f"## [{cargo_version()}]" in text
