"""Real processes for tests: start the project's commands, wait on conditions, stop them."""

from __future__ import annotations

import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def start(
    args: list[str], env: Mapping[str, str], *, new_session: bool = False
) -> subprocess.Popen:
    """Start a command in the project root; its output goes to a temporary file (a pipe nobody
    reads would fill and block a chatty worker) that `stop` returns.

    With `new_session` it leads a process group of its own, so a test can kill it together with
    its children (a Celery worker's pool) as a crash would.
    """
    log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (closed by `stop`)
    process = subprocess.Popen(
        args,
        cwd=ROOT,
        env=dict(env),
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=new_session,
    )
    process.log = log
    return process


def output_of(process: subprocess.Popen) -> str:
    process.log.seek(0)
    return process.log.read()


def stop(process: subprocess.Popen, timeout: float = 30.0) -> str:
    """Ask a process to stop (SIGTERM), kill it if it does not, and return all it printed."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    output = output_of(process)
    process.log.close()
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
