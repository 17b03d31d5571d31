"""Typed errors for application misuse.

rtcstate separates the two sides of an error (DESIGN.md §2):

* the **application** asking for something the machine cannot do in its current state
  (accept an invitation that is not pending, register twice, hang up an ended call) gets a
  raised :class:`RtcError` carrying the apiRTC error number (``ERROR_INVITATION_STATE_INVALID``
  = 10, ``ERROR_WRONG_STATE`` = 16, ...). It is raised *before* any mutation: the machine is
  exactly as it was.
* anything from the **wire or the media stack** never raises: it becomes effects (an ``error``
  event with the documented ``errorCode``, a reply where the protocol has one, or a
  :class:`~rtcstate.effects.Drop`).
"""

from __future__ import annotations

from rtcstate.codes import ErrorNumber

__all__ = ["InvalidStateError", "RtcError"]


class RtcError(Exception):
    """An application command was refused; ``code`` is the apiRTC error number."""

    code: ErrorNumber

    def __init__(self, code: ErrorNumber, message: str) -> None:
        super().__init__(f"{code.name} ({int(code)}): {message}")
        self.code = code
        self.message = message


class InvalidStateError(RtcError):
    """A command (trigger) is not allowed in the machine's current state."""

    def __init__(
        self, code: ErrorNumber, machine: str, trigger: str, state: str, message: str = ""
    ) -> None:
        text = message or f"{machine}.{trigger} is not allowed in state {state}"
        super().__init__(code, text)
        self.machine = machine
        self.trigger = trigger
        self.state = state
