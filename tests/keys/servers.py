"""Several production servers on the test database, for what must hold across processes.

A test that proves something across processes (two portals that must agree, a command run the way
an operator runs it) starts them here; each is started by tests/servers.py as bin/run serves it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from tests.servers import free_port, granian_serving, server_environment


def closed_port_url() -> str:
    """A redis:// URL where nothing listens: Redis is down."""
    return f"redis://127.0.0.1:{free_port()}/0"


@contextmanager
def granian_servers(tmp_path: Path, count: int = 2, *, redis_url: str | None = None) -> Iterator[list[str]]:
    """`count` separate servers (one worker of 4 threads each) on loopback; yields their base URLs."""
    env = server_environment(tmp_path, redis_url=redis_url)
    with ExitStack() as servers:
        ports = [
            servers.enter_context(granian_serving(env=env, log=tmp_path / f"granian-{index}.log", threads=4))
            for index in range(count)
        ]
        yield [f"http://127.0.0.1:{port}" for port in ports]
