"""Real processes for tests: start the project's commands, wait on conditions, stop them."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def start(args: list[str], env: Mapping[str, str]) -> subprocess.Popen:
    """Start a command in the project root, its output collected for `stop` to return."""
    return subprocess.Popen(
        args, cwd=ROOT, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def stop(process: subprocess.Popen, timeout: float = 30.0) -> str:
    """Ask a process to stop (SIGTERM), kill it if it does not, and return all it printed."""
    process.send_signal(signal.SIGTERM)
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    print(output)
    return output


def wait_until(condition: Callable[[], object], timeout: float = 45.0) -> object:
    """Poll until `condition()` is truthy (connection errors count as not yet); return it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = condition()
        except OSError:
            value = None
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout} s waiting for {condition.__name__}")
