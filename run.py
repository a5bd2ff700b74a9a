#!/usr/bin/env python3
"""The two commands, with their own set-up (needs only Python >= 3.10 on the PATH).

    python3 run.py main    all claims at the default scale on the embedded dataset -> report path
    python3 run.py test    the linter (ruff), then the unit tests and every claim at the smoke scale

The first call makes ``.venv`` and installs vaebench with its dependencies into it;
later calls reinstall only when pyproject.toml changed. Extra arguments go through to
``vaebench main`` or to pytest.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".vaebench-installed"


def say(msg: str) -> None:
    print(f"[run.py] {msg}", file=sys.stderr, flush=True)


def ensure_env() -> Path:
    python = BIN / "python"
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if not python.exists():
        say(f"creating {VENV}")
        venv.EnvBuilder(with_pip=True).create(VENV)
    if not STAMP.exists() or STAMP.read_text().strip() != wanted:
        say("installing vaebench and its dependencies (TensorFlow is the big one: about a minute)")
        subprocess.check_call([str(python), "-m", "pip", "install", "-q", "--upgrade", "pip"])
        subprocess.check_call([str(python), "-m", "pip", "install", "-q", "-e", f"{ROOT}[dev]"])
        STAMP.write_text(wanted)
    return python


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("main", "test"):
        print(__doc__)
        return 2
    python = ensure_env()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    if argv[0] == "main":
        cmd = [str(BIN / "vaebench"), "main", *argv[1:]]
    else:
        lint = [str(BIN / "ruff"), "check", "."]
        say(" ".join(lint))
        if subprocess.call(lint, cwd=ROOT, env=env) != 0:
            say("ruff found problems (above); `ruff check --fix .` fixes the import order and unused imports")
            return 1
        cmd = [str(python), "-m", "pytest", "tests", "hypotheses", "--vaebench-scale", "smoke", *argv[1:]]
    say(" ".join(cmd))
    return subprocess.call(cmd, cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
