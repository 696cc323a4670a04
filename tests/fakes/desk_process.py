"""`helpdesk run` as a child process, for the tests and benchmarks that start, kill -9 and stop it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

HELPDESK = Path(sys.executable).parent / "helpdesk"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_ready(proc: asyncio.subprocess.Process, port: int, log_path: Path, timeout: float = 15,
                     probe: str = "/readyz") -> None:
    """Wait until `helpdesk run` answers `probe` on `port`; fail with its log if it exits or never does."""
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            if proc.returncode is not None:
                raise AssertionError(f"helpdesk run exited:\n{log_path.read_text()}")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(f"http://127.0.0.1:{port}{probe}")).status_code == 200:
                    return
            await asyncio.sleep(0.05)
    raise AssertionError(f"helpdesk run did not become ready:\n{log_path.read_text()}")


@dataclass
class DeskProcess:
    """One `helpdesk run` on its own HTTP port, its output in `<workdir>/<name>.log` (appended on restarts)."""

    env: dict[str, str]
    workdir: Path
    name: str = "run"
    probe: str = "/readyz"  # what answers 200 once it has started ("/healthz": alive, even without a database)
    port: int = field(default_factory=free_port)
    proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        """Its HTTP server."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        """Its output."""
        return self.workdir / f"{self.name}.log"

    async def start(self, timeout: float = 30) -> None:
        """Start it and wait until it answers its probe."""
        env = {**os.environ, **self.env, "HELPDESK_HTTP_PORT": str(self.port)}
        with self.log.open("a") as log:
            self.proc = await asyncio.create_subprocess_exec(
                str(HELPDESK), "run", env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=self.workdir)
        await wait_ready(self.proc, self.port, self.log, timeout, self.probe)

    async def kill(self) -> None:
        """kill -9: no shutdown, leased replies stay leased."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()

    async def stop(self, timeout: float = 30) -> int | None:
        """SIGTERM, then wait for it to end; its exit code (None if it was never started)."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(self.proc.wait(), timeout)
        return None if self.proc is None else self.proc.returncode
