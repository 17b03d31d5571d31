"""Re-stamping a routed frame: the received text with the sender's ``from`` spliced in.

Theory of operation
-------------------
A message routed from one client to another leaves the hub as the same message with ``from``
stamped with the sender's verified address (:mod:`rtcstate.hub.routing`). The hub still decodes
and validates every frame in full (size, JSON, shape, every field); what this module saves is
the second half: encoding the stamped envelope again, field by field, for each frame routed.

:func:`restamped` gives the frame to send: the received bytes with ``"from":"<sender>",``
inserted right after the canonical head ``{"v":1,"type":"<type>","to":"<to>",`` (what
:func:`rtcstate.wire.encode` writes, and so what every rtcstate client sends). A canonical
frame in gives exactly ``wire.encode_envelope`` of the stamped envelope out; a frame that
lists its fields in another order or with spaces after that head gives the same message, as
the recipient decodes it. It declines (None: the adapter encodes the envelope as before)
unless both hold:

* the frame carried no ``from`` of its own: the parsed object (``wire.decode_keys``: keys as
  written, escapes resolved, ``"fr\\u006fm"`` is ``from`` too) has no ``from`` key, not even
  ``null`` or shadowed by a duplicate. A spoofed ``from`` never reaches the splice, where a
  later duplicate would win;
* the frame starts with the canonical head, and ``to`` holds no quote or backslash (so the
  head written from the decoded ``to`` is the one in the text).

:func:`with_frames` attaches the frame to the hub's :class:`~rtcstate.hub.effects.Deliver`
effects that carry exactly that message re-stamped: the very message object decoded from the
frame, the same ``to``, ``from`` the sender. Anything else the hub sends (forks' byes, errors,
presence, notices) is encoded by the adapter as before. Cost: a key lookup, a prefix
comparison and a concatenation per routed frame (an encoding is several times that).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rtcstate import wire
from rtcstate.hub.effects import Deliver, HubEffect

__all__ = ["restamped", "with_frames"]

#: the slot's own setter: the hub's fresh ``Deliver`` gets its frame without being copied
_set_frame = Deliver.__dict__["frame"].__set__


def restamped(
    data: bytes | str, env: wire.Envelope, keys: Mapping[str, Any], sender: str
) -> bytes | None:
    """``data`` (the frame ``env`` and the object ``keys`` were decoded from) with ``from`` =
    ``sender``, or None when the text does not allow a splice (see the module docstring)."""
    to = env.to
    if to is None or "from" in keys or '"' in to or "\\" in to:
        return None
    raw = data.encode() if type(data) is str else data
    if type(raw) is not bytes:
        return None
    head = f'{{"v":1,"type":"{env.message.TYPE}","to":"{to}",'.encode()
    if not raw.startswith(head):
        return None
    return b"".join((head, b'"from":"', sender.encode(), b'",', raw[len(head) :]))


def with_frames(
    fx: list[HubEffect],
    env: wire.Envelope,
    keys: Mapping[str, Any],
    sender: str,
    data: bytes | str,
) -> list[HubEffect]:
    """``fx`` with the re-stamped frame attached to each ``Deliver`` of ``env``'s message
    routed from ``sender`` (unchanged when there is none, or when the text allows no splice)."""
    msg, to = env.message, env.to
    frame: bytes | None = None
    stamped: wire.Envelope | None = None  # the one envelope routing built (one per frame)
    for e in fx:
        if type(e) is not Deliver:
            continue
        out = e.envelope
        if out is not stamped:
            if out.message is not msg or out.to != to or out.sender != sender:
                continue
            if frame is None:
                frame = restamped(data, env, keys, sender)
                if frame is None:
                    return fx
            stamped = out
        _set_frame(e, frame)
    return fx
