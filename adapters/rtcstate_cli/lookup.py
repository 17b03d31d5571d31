"""``rtcstate codes NAME``: one apiRTC code looked up, with its full meaning.

Theory of operation
-------------------
Every set of :data:`rtcstate.codes.SETS` is searched for a member whose name or value is
``NAME`` (case-insensitive; a number finds the numbered errors 0-17): a hangup reason
(``User_Busy``), an ``error`` code (``ICE_CONNECTION_STATE_FAILED``), a numbered error
(``16`` or ``ERROR_WRONG_STATE``), a status. Each match is printed with its set, name, value,
origin (seed, SDK, rtcstate) and its whole documentation, plus the ``errorInfo`` text of an
``error`` code. Nothing found is a user's mistake: :class:`~rtcstate_cli.errors.UsageError`
with the closest names.
"""

from __future__ import annotations

import difflib
import textwrap
from enum import Enum

from rtcstate import codes
from rtcstate_cli.errors import UsageError

__all__ = ["describe", "find"]


def find(name: str) -> list[Enum]:
    """The members of every code set whose name or value is ``name`` (case-insensitive)."""
    wanted = name.strip().casefold()
    found: list[Enum] = []
    for cls, _origin in codes.SETS:
        for member in cls:
            if wanted in {member.name.casefold(), str(member.value).casefold()}:
                found.append(member)
    return found


def describe(name: str) -> str:
    """The text ``rtcstate codes NAME`` prints; raises :class:`UsageError` if unknown."""
    found = find(name)
    if not found:
        known = {str(m.value) for cls, _ in codes.SETS for m in cls}
        known |= {m.name for cls, _ in codes.SETS for m in cls}
        close = difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UsageError(f"no apiRTC code named {name!r}{hint} (list them: rtcstate codes)")
    blocks = []
    for member in found:
        origin = getattr(getattr(member, "origin", None), "value", "?")
        lines = [f"{type(member).__name__}.{member.name} = {member.value!r}  [{origin}]"]
        info = getattr(member, "info", None)
        if isinstance(info, str) and info:
            lines.append(f"  errorInfo: {info}")
        doc = str(getattr(member, "doc", "") or "").strip()
        if doc:
            lines.append(textwrap.fill(doc, 96, initial_indent="  ", subsequent_indent="  "))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"
