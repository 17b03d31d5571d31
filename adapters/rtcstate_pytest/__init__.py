"""rtcstate's pytest plugin: the conformance kit's fixtures and options (docs/testing.md).

Registered as a ``pytest11`` entry point, so pytest loads it wherever rtcstate is installed.
It is an adapter package (the core never imports pytest, and writing the coverage report is
I/O), outside :mod:`rtcstate.testing`, and imports nothing of the kit at load time: pytest
keeps working where the ``testing`` extra is not installed, and a fixture used there fails with
the one line naming the extra (``pip install 'rtcstate[testing]'``).

Fixtures (each a fresh object per test):

``rtc_network``
    a :class:`~rtcstate.testing.network.SimNetwork` (sessions, a hub, lossy links, fake media,
    one fake clock) with no faults;
``rtc_clock``
    a :class:`~rtcstate.testing.clock.TimerWheel` that carries out timer effects;
``rtc_two_party`` / ``rtc_multi_device``
    the scenario harnesses :func:`~rtcstate.testing.harness.two_party` and
    :func:`~rtcstate.testing.harness.multi_device` (a call to one device / forked to N);
``rtc_room``
    the N-party conversation harness :func:`~rtcstate.testing.nparty.run_room` (N sessions
    and the hub over the lossy network; check the outcome with
    :func:`~rtcstate.testing.nparty.check_room`);
``rtc_strategies``
    the module :mod:`rtcstate.testing.strategies` (wire messages, envelopes, payloads).

Options:

``--rtcstate-backend package.module:Factory``
    the media backend the conformance suite (``pytest --pyargs rtcstate_asyncio.conformance``)
    runs on;
``--rtcstate-coverage PATH``
    record the model coverage of the run (:mod:`rtcstate.testing.modelcoverage`), write it as
    JSON to PATH and print a summary. Off by default, and then nothing is recorded.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # pragma: no cover
    from rtcstate.testing.clock import TimerWheel
    from rtcstate.testing.harness import Outcome
    from rtcstate.testing.modelcoverage import ModelCoverage
    from rtcstate.testing.network import SimNetwork

_COVERAGE = pytest.StashKey[tuple["ModelCoverage", Path, dict[str, Any]]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("rtcstate", "rtcstate conformance kit")
    group.addoption(
        "--rtcstate-backend",
        metavar="MODULE:FACTORY",
        default=None,
        help="media backend factory for the suite rtcstate_asyncio.conformance "
        "(default: the fake backend)",
    )
    group.addoption(
        "--rtcstate-coverage",
        metavar="PATH",
        default=None,
        help="write which (machine, state, input) pairs, drop reasons and codes the run "
        "exercised to PATH (JSON) and print a summary",
    )


def pytest_report_header(config: pytest.Config) -> list[str]:
    backend = config.getoption("rtcstate_backend")
    return [f"rtcstate backend: {backend}"] if backend else []


def pytest_configure(config: pytest.Config) -> None:
    path = config.getoption("rtcstate_coverage")
    if not path:
        return
    from rtcstate.testing.modelcoverage import ModelCoverage

    recorder = ModelCoverage()
    recorder.install()
    config.stash[_COVERAGE] = (recorder, Path(path), {})


def pytest_sessionfinish(session: pytest.Session) -> None:
    held = session.config.stash.get(_COVERAGE, None)
    if held is None:
        return
    recorder, path, result = held
    recorder.uninstall()
    result.update(recorder.report())
    path.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    held = config.stash.get(_COVERAGE, None)
    if held is None or not held[2]:
        return
    from rtcstate.testing.modelcoverage import summary

    for line in summary(held[2]):
        terminalreporter.write_line(line)
    terminalreporter.write_line(f"  full report: {held[1]}")


def pytest_unconfigure(config: pytest.Config) -> None:
    held = config.stash.get(_COVERAGE, None)
    if held is not None:
        held[0].uninstall()


def _kit(name: str) -> ModuleType:
    return importlib.import_module(f"rtcstate.testing.{name}")


@pytest.fixture
def rtc_network() -> SimNetwork:
    """A fresh simulated network (no faults, the default media model)."""
    network: SimNetwork = _kit("network").SimNetwork()
    return network


@pytest.fixture
def rtc_clock() -> TimerWheel:
    """A fresh timer wheel at time 0."""
    wheel: TimerWheel = _kit("clock").TimerWheel()
    return wheel


@pytest.fixture
def rtc_two_party() -> Callable[..., Outcome]:
    """:func:`rtcstate.testing.harness.two_party`."""
    run: Callable[..., Outcome] = _kit("harness").two_party
    return run


@pytest.fixture
def rtc_multi_device() -> Callable[..., Outcome]:
    """:func:`rtcstate.testing.harness.multi_device`."""
    run: Callable[..., Outcome] = _kit("harness").multi_device
    return run


@pytest.fixture
def rtc_room() -> Callable[..., Any]:
    """:func:`rtcstate.testing.nparty.run_room`."""
    run: Callable[..., Any] = _kit("nparty").run_room
    return run


@pytest.fixture
def rtc_strategies() -> ModuleType:
    """The module :mod:`rtcstate.testing.strategies`."""
    return _kit("strategies")
