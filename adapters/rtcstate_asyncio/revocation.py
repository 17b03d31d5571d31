"""Token revocation for the relay: a file of revoked token ids and users, re-read when it changes.

Theory of operation
-------------------
``rtcstate serve --revoked-tokens PATH`` names a text file, one entry a line: ``jti:<id>``
revokes the token whose ``jti`` claim is ``<id>``; ``sub:<user>`` revokes every token of
``<user>``; blank lines and lines starting with ``#`` are ignored; any other line is an error
reported once per read (the rest of the file still applies). :class:`RevocationFile` reads it
into a :class:`~rtcstate.identity.Revocations` and tells when it changed (its modification
time, size or inode, read with one ``stat``); the relay checks it on each tick and on
``SIGHUP`` and hands new revocations to :meth:`rtcstate.hub.Hub.revoke`, which refuses them at
registration and closes the live connections they cover (close code 4403). A file that
disappears or cannot be read keeps the last revocations in force (revocation never lapses by
accident) and is logged.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from rtcstate.identity import Revocations

__all__ = ["RevocationFile", "parse_revocations"]

log = logging.getLogger(__name__)


def parse_revocations(text: str) -> tuple[Revocations, list[str]]:
    """The revocations ``text`` holds, and a description of each line it could not read."""
    jtis: set[str] = set()
    users: set[str] = set()
    problems: list[str] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        kind, sep, value = line.partition(":")
        value = value.strip()
        if sep and value and kind.strip() == "jti":
            jtis.add(value)
        elif sep and value and kind.strip() == "sub":
            users.add(value)
        else:
            problems.append(f"line {number}: expected 'jti:<id>' or 'sub:<user>'")
    return Revocations(frozenset(jtis), frozenset(users)), problems


class RevocationFile:
    """The revocations held in ``path``; :meth:`reload` re-reads it when it changed."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.current = Revocations()
        self._stamp: tuple[int, int, int] | None = None
        self.reload(force=True)

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def reload(self, force: bool = False) -> Revocations | None:
        """Re-read the file if it changed (or ``force``); the new revocations, or None when
        nothing changed or it could not be read (the last ones stay in force)."""
        stamp = self._stat()
        if not force and stamp == self._stamp:
            return None
        self._stamp = stamp
        try:
            text = self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            log.warning("revoked tokens file %s unreadable (%s): last revocations kept",
                        self.path, exc)  # fmt: skip
            return None
        revocations, problems = parse_revocations(text)
        for problem in problems:
            log.warning("revoked tokens file %s: %s", self.path, problem)
        self.current = revocations
        log.info("revoked tokens file %s: %d token ids, %d users", self.path,
                 len(revocations.token_ids), len(revocations.users))  # fmt: skip
        return revocations
