"""The README's Python quick start runs as written."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO


def test_readme_python_quickstart() -> None:
    text = (REPO / "README.md").read_text()
    block = text.split("<!-- python-quickstart -->", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    r = subprocess.run([sys.executable, "-c", block], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "GET /v2/123456/restores/e87e6f7d"
    assert "404 Restore not found." in lines
    assert "[('/hello.txt', 0)] b'hello, vault'" in lines
    assert lines[-2:] == ["1", "wrong_password"]
