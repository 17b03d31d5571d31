"""A user's mistake on the command line gives one line and an exit code, never a traceback.

Theory of operation
-------------------
:func:`guarded` runs a sub-command and turns the errors a user can cause into one line on
stderr (``rtcstate: error: ...``) and an exit code: a :class:`UsageError` raised by a check
(exit 2, like argparse), a missing extra (:class:`rtcstate.extras.MissingExtraError`, exit 1,
naming the extra to install), a relay that cannot be reached, an address that cannot be bound
or resolved (exit 1), Ctrl-C (exit 130). Anything else is a bug and keeps its traceback. The
argparse ``type=`` checks (:func:`port`, :func:`non_negative`, :func:`positive`,
:func:`relay_url`) refuse bad
values before anything starts, with argparse's own one-line message.
"""

from __future__ import annotations

import argparse
import errno
import socket
import sys
from collections.abc import Callable
from urllib.parse import urlsplit

from rtcstate.errors import RtcError
from rtcstate.extras import MissingExtraError

__all__ = ["UsageError", "guarded", "non_negative", "port", "positive", "relay_url"]


class UsageError(Exception):
    """A mistake of the user's: ``str()`` is the one line to show (exit code 2)."""


def port(text: str) -> int:
    """argparse type: a TCP port, 0 (any free port) to 65535."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port {value} out of range (0 to 65535)")
    return value


def non_negative(text: str) -> float:
    """argparse type: a finite number >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text} is not a size (a number >= 0)")
    return value


def positive(text: str) -> float:
    """argparse type: a finite number > 0."""
    value = non_negative(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"{text} is not a size (a number > 0)")
    return value


def relay_url(text: str) -> str:
    """argparse type: a ``ws://`` or ``wss://`` URL with a host."""
    parts = urlsplit(text)
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"bad relay URL {text!r}: {exc}") from None
    if parts.scheme not in {"ws", "wss"} or not parts.hostname:
        raise argparse.ArgumentTypeError(
            f"bad relay URL {text!r}: expected ws://HOST:PORT (e.g. ws://127.0.0.1:8765)"
        )
    return text


def _os_error(exc: OSError) -> str:
    if isinstance(exc, socket.gaierror):
        return f"unknown host or address ({exc.strerror}): check --host"
    if exc.errno == errno.EADDRINUSE:
        return f"address already in use ({exc.strerror}): choose another --port"
    if exc.errno in {errno.EADDRNOTAVAIL, errno.EACCES}:
        return f"cannot listen there: {exc.strerror}"
    return f"{exc.strerror or exc}"


def guarded(command: Callable[[], int]) -> int:
    """Run ``command``; a user's mistake becomes one line on stderr and an exit code."""
    try:
        return command()
    except UsageError as exc:
        _say(str(exc))
        return 2
    except MissingExtraError as exc:
        _say(str(exc))
        return 1
    except RtcError as exc:  # registration refused or relay unreachable (demo --relay)
        _say(str(exc))
        return 1
    except OSError as exc:  # an address that cannot be bound or resolved
        _say(_os_error(exc))
        return 1
    except KeyboardInterrupt:
        return 130


def _say(message: str) -> None:
    print(f"rtcstate: error: {message}", file=sys.stderr)
