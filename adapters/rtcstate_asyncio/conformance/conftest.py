"""The suite's fixture: the backend factory named by ``--rtcstate-backend`` (or the fake)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from rtcstate_asyncio.conformance import DEFAULT_FACTORY, BackendFactory, load_factory


@pytest.fixture
def rtcstate_backend(request: pytest.FixtureRequest) -> Callable[[], BackendFactory]:
    """The callable that makes the factory under test (``--rtcstate-backend``)."""
    spec = request.config.getoption("rtcstate_backend", default=None) or DEFAULT_FACTORY
    try:
        return load_factory(str(spec))
    except (ImportError, ValueError) as exc:
        raise pytest.UsageError(f"--rtcstate-backend {spec}: {exc}") from exc
