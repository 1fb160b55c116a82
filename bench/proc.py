"""Child processes of the harness: the dev sink and each system under test."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

import psutil

REPO = Path(__file__).resolve().parent.parent


class Child:
    """A subprocess with its output in a log file, its CPU time readable while it runs."""

    def __init__(
        self,
        argv: Sequence[str],
        log_path: Path,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.argv = list(argv)
        self.log_path = log_path
        self._log: IO[bytes] = log_path.open("wb")
        self.popen = subprocess.Popen(
            self.argv,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=REPO,
            env={**os.environ, **(env or {})},
        )
        self._ps = psutil.Process(self.popen.pid)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def cpu_s(self) -> float | None:
        """User + system CPU seconds of all its threads so far; None once it has exited."""
        try:
            times = self._ps.cpu_times()
        except psutil.Error:
            return None
        return float(times.user + times.system)

    def exit_code(self) -> int | None:
        return self.popen.poll()

    def wait(self, timeout: float) -> int | None:
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, then SIGKILL if it does not exit within `timeout`."""
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(signal.SIGTERM)
            if self.wait(timeout) is None:
                self.popen.kill()
                self.popen.wait(10)
        self._log.close()
        return self.popen.returncode

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(10)
        self._log.close()

    def problem(self) -> str:
        """The first line of the log that says what went wrong, else its last lines."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        lines = text.splitlines()
        for index, line in enumerate(lines):
            if " CRITICAL " in line or " ERROR " in line:
                return line.strip()
            if line.startswith("Traceback"):
                return " | ".join(x.strip() for x in lines[index:][-3:])
        return " | ".join(x.strip() for x in lines[-3:])

    def tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])
