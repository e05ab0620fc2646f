"""A live ``pianogan serve`` on loopback for the server and browser tests."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


@contextmanager
def live_server(model: Path, *options: str):
    """Start ``pianogan serve --port 0`` and yield its base URL; stop it afterwards.

    The command prints its address once the socket is bound and the model loaded,
    so the tests wait for that line rather than for a fixed time.
    """
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}", "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "pianogan", "serve", "--model", str(model), "--port", "0", *options],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        line = process.stdout.readline()
        match = re.search(r"(http://\S+)/ ", line)
        if not match:
            process.kill()
            raise RuntimeError(f"pianogan serve did not start: {line!r} {process.stderr.read()[-2000:]}")
        yield match.group(1)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()
