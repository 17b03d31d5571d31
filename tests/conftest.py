"""Fixtures shared by the whole suite: a real Redis (tests/redistools.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from redistools import RedisServer, require_redis


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A ``redis-server`` on 127.0.0.1 for the session (its ``url``: ``redis://...``);
    skipped with the install command when missing, a failure under ``CI=true``."""
    require_redis()
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()
