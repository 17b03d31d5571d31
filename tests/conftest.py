"""Fixtures shared by the whole suite: a real Redis (tests/redistools.py); the tests with real
media (aiortc calls, Chromium) in one pytest-xdist group."""

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


#: the tests whose real media (aiortc, Chromium) must not compete with each other for the CPU:
#: under ``pytest -n 2 --dist loadgroup`` (``make test``) they run one after the other on one
#: worker (a module's shared Chromium is started once), the other worker runs the rest
MEDIA = ("tests/browser/", "tests/adapters/test_e2e_", "tests/adapters/test_aiortc_",
         "tests/adapters/test_failover_aiortc")  # fmt: skip


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid.startswith(MEDIA):  # (node ids are relative to the repository)
            item.add_marker(pytest.mark.xdist_group("media"))
