"""Issue 16 point 3: a call refused automatically is never shown to the application.

A call refused before any ``incomingCall`` (busy, glare loser, missing capabilities) emits
nothing on that call or its invitation on the refusing side, while the far side still hears the
refusal's reason.
"""

from __future__ import annotations

from calltools import Net

from rtcstate.codes import HangupReason
from rtcstate.effects import target

A = "alice/d1"
B = "bob/d1"


def _silent_on(net: Net, device: str, call_id: str) -> None:
    hidden = {target("call", call_id), target("invitation", call_id)}
    assert [e for e in net[device].emitted() if e.target in hidden] == []
    assert all(getattr(e.payload, "call_id", None) != call_id for e in net[device].emitted())


def test_busy_refusal_emits_nothing_on_the_refused_call_or_its_invitation() -> None:
    net = Net(A, B, "carol/d1")
    net[B].session.set_option("allow_multiple_calls", False)
    first = net.call("carol/d1", "bob")
    theirs = net[B].session.get_call(first.call_id)
    assert theirs is not None and theirs.invitation is not None
    net.run(B, theirs.invitation.accept(net.now))
    a = net.call(A, "bob")
    assert net[A].payloads("hangup", target("call", a.call_id)) == [
        {"from": "remote", "reason": HangupReason.USER_BUSY.value}
    ]
    _silent_on(net, B, a.call_id)
