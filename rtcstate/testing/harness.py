"""Call scenarios over the simulated network, and the invariants every run must keep.

Part of the conformance kit. A :class:`Scenario` is plain data: a caller (``alice/default``)
calls the *user* ``bob`` (so the hub forks the call to every device ``bob`` has registered:
``bob/default`` in :func:`two_party`, ``bob/d0`` … in :func:`multi_device`) at ``call_at``, and
timed :data:`Action` values say what happens next: the callee accepts or declines, either side
hangs up, ICE breaks, the server connection drops, media acquisition fails. :func:`run` plays it
on a :class:`~rtcstate.testing.network.SimNetwork` with the scenario's faults and returns an
:class:`Outcome`. Actions that no longer apply when their time comes (accepting a call that is
not ringing, hanging up an ended one) are skipped and listed in :attr:`Outcome.skipped`; unless
``finish_at`` is None the caller hangs up at ``finish_at`` if its call is still live, so that
every scenario ends.

Invariants (each raises :class:`InvariantViolation`, an ``AssertionError``, with the context):

* :func:`check_call_ended` — every call reaches ENDED and fires ``hangup`` exactly once;
* :func:`check_hangups_agree` — the two ends of a call agree: ``hangup.from`` is ``local`` on
  one and ``remote`` on the other, with the same ``reason``;
* :func:`check_timers` / :func:`check_timer_log` — every timer started was cancelled or fired
  (none is left armed when the run settles, no ``call:`` timer in any case, and the session's
  own book of armed timers matches what was carried out);
* :func:`check_fork` — in a forked call at most one device got connected, and only the one the
  caller bound to; each device either pairs with the caller (complementary hangups) or lost the
  fork (``call take on other device`` / ``bye on other device``), or never rang;
* :func:`check_media` — every local stream acquired was released and every peer connection
  closed;
* :func:`check_no_errors` — no exception escaped a session, the hub or the script.

The checkers take plain records (:class:`CallRecord`,
:class:`~rtcstate.testing.network.TimerRecord`), so another stack's tests can build those from
their own traces and reuse them. :func:`scenarios` and :func:`fault_settings` are Hypothesis
strategies drawing scenarios (Hypothesis is a test-time dependency of this module).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs
from hypothesis import strategies as st

from rtcstate.call import Call
from rtcstate.codes import CallStatus, CallType, HangupReason
from rtcstate.effects import Effect
from rtcstate.invitation import ReceivedCallInvitationState
from rtcstate.session import SessionConfig
from rtcstate.settings import CallSettings
from rtcstate.testing.network import (
    Client,
    ErrorRecord,
    Faults,
    MediaModel,
    SimNetwork,
    TimerRecord,
)

__all__ = [
    "CALLEE",
    "CALLER",
    "Accept",
    "Action",
    "CallRecord",
    "Decline",
    "Hangup",
    "IceTrouble",
    "InvariantViolation",
    "MediaFailure",
    "Outcome",
    "Scenario",
    "ServerLoss",
    "call_records",
    "check_call_ended",
    "check_fork",
    "check_hangups_agree",
    "check_invariants",
    "check_media",
    "check_no_errors",
    "check_timer_log",
    "check_timers",
    "fault_settings",
    "media_models",
    "multi_device",
    "run",
    "scenarios",
    "two_party",
]

CALLER = "caller"
CALLEE = "callee"
_LOSER_REASONS = frozenset(
    {HangupReason.CALL_TAKE_ON_OTHER_DEVICE.value, HangupReason.BYE_ON_OTHER_DEVICE.value}
)


# --- actions ----------------------------------------------------------------------------------


@attrs.frozen(slots=True)
class Accept:
    """Callee device ``device`` accepts the ringing invitation at ``at``.

    If the invite has not arrived by then (it may be lost and retransmitted), the device
    accepts as soon as it rings, looking again every 0.25 s for ``patience`` seconds."""

    at: float
    device: int = 0
    audio_only: bool = False
    patience: float = 10.0


@attrs.frozen(slots=True)
class Decline:
    """Callee device ``device`` declines at ``at`` (``reason`` None: ``User_Refused_Call``),
    or as soon as it rings within ``patience`` seconds (as :class:`Accept`)."""

    at: float
    device: int = 0
    reason: str | None = None
    patience: float = 10.0


@attrs.frozen(slots=True)
class Hangup:
    """``party`` (:data:`CALLER`, or :data:`CALLEE` device ``device``) hangs up at ``at``."""

    at: float
    party: str = CALLER
    device: int = 0
    reason: str | None = None


@attrs.frozen(slots=True)
class IceTrouble:
    """At ``at`` ICE goes ``kind`` on ``parties``; the path heals after ``heal_after`` (or not).

    On the callee side the trouble hits device ``device``."""

    at: float
    kind: str = "failed"
    parties: tuple[str, ...] = (CALLER, CALLEE)
    device: int = 0
    heal_after: float | None = None


@attrs.frozen(slots=True)
class ServerLoss:
    """``party``'s link to the server drops at ``at`` for ``duration`` seconds.

    With ``established_only`` the loss is skipped unless both ends of the call are CONNECTED
    then (the scenario is "the server goes away during a call")."""

    at: float
    duration: float
    party: str = CALLER
    device: int = 0
    established_only: bool = True


@attrs.frozen(slots=True)
class MediaFailure:
    """The first ``count`` media acquisitions of ``party`` fail (``MediaFailed``)."""

    party: str = CALLER
    device: int = 0
    count: int = 1


Action = Accept | Decline | Hangup | IceTrouble | ServerLoss | MediaFailure
"""What may happen in a :class:`Scenario`."""


@attrs.frozen(slots=True)
class Scenario:
    """One call scenario, as data (see the module docstring)."""

    actions: tuple[Action, ...] = ()
    devices: int = 1
    faults: Faults = attrs.field(factory=Faults)
    media: MediaModel = attrs.field(factory=MediaModel)
    settings: CallSettings = attrs.field(factory=CallSettings)
    caller_settings: CallSettings | None = None
    callee_settings: CallSettings | None = None
    seed: int = 0
    call_at: float = 1.0
    call_type: CallType = CallType.MEDIA
    finish_at: float | None = 120.0
    horizon: float = 900.0
    callee_online: bool = True


# --- records and outcome ----------------------------------------------------------------------


@attrs.frozen(slots=True)
class CallRecord:
    """What one end of one call went through, as the invariant checkers need it.

    ``states`` are the machine states observed (rtcstate's :class:`~rtcstate.call.CallState`
    names; another stack maps its own onto ``RINGING``, ``CONNECTING``, ``CONNECTED``,
    ``ENDED``), ``hangups`` the payloads of every ``hangup`` event, ``bound`` the address the
    call talked to at the end (for a caller: the device whose answer it took, or the user).
    """

    party: str
    call_id: str
    outgoing: bool
    states: tuple[str, ...]
    hangups: tuple[Mapping[str, Any], ...]
    bound: str
    #: False for a call refused automatically before the application was given it (it fires
    #: no event at all, ``hangup`` included)
    surfaced: bool = True

    @property
    def ended(self) -> bool:
        return bool(self.states) and self.states[-1] == "ENDED"

    @property
    def connected(self) -> bool:
        return "CONNECTED" in self.states

    @property
    def hangup(self) -> Mapping[str, Any] | None:
        """The one ``hangup`` payload (None when there was none, or several)."""
        return self.hangups[0] if len(self.hangups) == 1 else None


def call_records(client: Client) -> dict[str, CallRecord]:
    """The :class:`CallRecord` of every call a simulated client held, by call id."""
    out: dict[str, CallRecord] = {}
    for call_id, call in client.calls.items():
        target = f"call:{call_id}"
        hangups = tuple(
            e.payload for e in client.emits if e.target == target and e.event == "hangup"
        )
        out[call_id] = CallRecord(
            party=client.address,
            call_id=call_id,
            outgoing=call.outgoing,
            states=tuple(client.call_states.get(call_id, ())),
            hangups=hangups,
            bound=call.remote,
            surfaced=call.surfaced,
        )
    return out


@attrs.define(slots=True, eq=False)
class Outcome:
    """The result of :func:`run`: the network (with every record) and the call's objects."""

    scenario: Scenario
    network: SimNetwork
    caller: Client
    devices: list[Client]
    call: Call | None = None
    settled: bool = False
    skipped: list[str] = attrs.field(factory=list)

    @property
    def callee(self) -> Client:
        """The first (in :func:`two_party`: the only) callee device."""
        return self.devices[0]

    @property
    def call_id(self) -> str | None:
        return None if self.call is None else self.call.call_id

    def device_call(self, device: int = 0) -> Call | None:
        """Device ``device``'s end of the call, if the invite ever reached it."""
        if self.call is None:
            return None
        return self.devices[device].calls.get(self.call.call_id)

    def events(self, party: str = CALLER, device: int = 0) -> list[str]:
        """The event names fired on the call object of ``party``, in order."""
        client = self.caller if party == CALLER else self.devices[device]
        if self.call is None:
            return []
        return client.events(f"call:{self.call.call_id}")

    def hangup(self, party: str = CALLER, device: int = 0) -> Mapping[str, Any] | None:
        """The payload of ``party``'s ``hangup`` event (None if not exactly one)."""
        client = self.caller if party == CALLER else self.devices[device]
        if self.call is None:
            return None
        record = call_records(client).get(self.call.call_id)
        return None if record is None else record.hangup

    def check(self, *, agree: bool = True) -> None:
        """Run every invariant (:func:`check_invariants`)."""
        check_invariants(self, agree=agree)


# --- running ----------------------------------------------------------------------------------


def _config(user: str, device: str, settings: CallSettings) -> SessionConfig:
    # no keep-alive: a settled run has an empty event queue (link loss is reported directly)
    return SessionConfig(user, device=device, keepalive_interval=None, calls=settings)


def run(scenario: Scenario, prepare: Callable[[Outcome], object] | None = None) -> Outcome:
    """Play ``scenario`` on a fresh :class:`SimNetwork` until it settles or hits the horizon.

    ``prepare(outcome)`` runs before the first event: it may script more on the network
    (:meth:`SimNetwork.lose_messages`, :meth:`SimNetwork.at`, ...)."""
    net = SimNetwork(scenario.faults, scenario.media, seed=scenario.seed)
    caller_settings = scenario.caller_settings or scenario.settings
    callee_settings = scenario.callee_settings or scenario.settings
    caller = net.add_client(_config("alice", "default", caller_settings))
    names = ["default"] if scenario.devices == 1 else [f"d{i}" for i in range(scenario.devices)]
    register_at = 0.0 if scenario.callee_online else None
    devices = [
        net.add_client(_config("bob", name, callee_settings), register_at=register_at)
        for name in names
    ]
    out = Outcome(scenario, net, caller, devices)

    def place(now: float) -> list[Effect]:
        call, fx = caller.session.call("bob", now, call_type=scenario.call_type)
        out.call = call
        return fx

    net.command(caller, scenario.call_at, place, "call")
    for action in scenario.actions:
        _schedule(out, action)
    if scenario.finish_at is not None:
        net.at(scenario.finish_at, lambda now: _finish(out), "finish")
    if prepare is not None:
        prepare(out)
    out.settled = net.run(scenario.horizon)
    return out


def two_party(
    actions: Iterable[Action] = (),
    *,
    prepare: Callable[[Outcome], object] | None = None,
    **kw: Any,
) -> Outcome:
    """Run a call from ``alice`` to ``bob``'s only device (keywords: :class:`Scenario` fields;
    ``prepare`` as in :func:`run`)."""
    return run(Scenario(actions=tuple(actions), devices=1, **kw), prepare)


def multi_device(
    devices: int = 2,
    actions: Iterable[Action] = (),
    *,
    prepare: Callable[[Outcome], object] | None = None,
    **kw: Any,
) -> Outcome:
    """Run a call from ``alice`` to ``bob``, who has ``devices`` devices (a forked call)."""
    if devices < 1:
        raise ValueError("devices must be >= 1")
    return run(Scenario(actions=tuple(actions), devices=devices, **kw), prepare)


def _finish(out: Outcome) -> None:
    call = out.call
    if call is not None and _live(call):
        out.network.run_command(out.caller, call.hangup, "finish")


def _client(out: Outcome, party: str, device: int) -> Client:
    return out.caller if party == CALLER else out.devices[device % len(out.devices)]


def _live(call: Call | None) -> bool:
    return call is not None and call.status is not CallStatus.CALL_STATUS_ENDED


def _schedule(out: Outcome, action: Action) -> None:
    net = out.network
    if isinstance(action, MediaFailure):
        net.fail_media(_client(out, action.party, action.device), action.count)
        return

    def skip(why: str) -> None:
        out.skipped.append(f"t={net.now:.3f} {action!r}: {why}")

    def device_call(device: int) -> Call | None:
        return out.device_call(device % len(out.devices))

    def fire(now: float) -> None:
        if isinstance(action, Accept | Decline):
            call = device_call(action.device)
            client = _client(out, CALLEE, action.device)
            inv = None if call is None else call.invitation
            if call is None or inv is None:
                if now + 0.25 <= action.at + action.patience and _live(out.call):
                    net.at(now + 0.25, fire, repr(action))
                    return None
                return skip("no incoming call")
            if inv.state is not ReceivedCallInvitationState.STANDBY:
                return skip(f"invitation {inv.state.name}")
            if isinstance(action, Accept):
                audio_only = action.audio_only
                net.run_command(client, lambda t: inv.accept(t, audio_only=audio_only), "accept")
            else:
                reason = action.reason
                net.run_command(
                    client,
                    lambda t: inv.decline(t) if reason is None else inv.decline(t, reason),
                    "decline",
                )
        elif isinstance(action, Hangup):
            call = out.call if action.party == CALLER else device_call(action.device)
            if not _live(call):
                return skip("no live call")
            assert call is not None
            reason = action.reason
            client = _client(out, action.party, action.device)
            net.run_command(client, lambda t: call.hangup(t, reason), "hangup")
        elif isinstance(action, IceTrouble):
            if out.call is None:
                return skip("no call")
            parties = [_client(out, p, action.device) for p in action.parties]
            net.ice_trouble(out.call.call_id, action.kind, parties, action.heal_after)
        else:
            if action.established_only:
                ends = [out.call, device_call(action.device)]
                if not all(c is not None and c.state.name == "CONNECTED" for c in ends):
                    return skip("the call is not established")
            net.lose_server(_client(out, action.party, action.device), action.duration)
        return None

    net.at(action.at, fire, repr(action))


# --- invariants -------------------------------------------------------------------------------


class InvariantViolation(AssertionError):
    """A run broke one of the invariants of this module."""


def _fail(what: str, *context: object) -> InvariantViolation:
    lines = [what, *(f"  {c!r}" for c in context)]
    return InvariantViolation("\n".join(lines))


def check_call_ended(record: CallRecord) -> None:
    """The call reached ENDED and fired exactly one ``hangup`` (none if never surfaced)."""
    if not record.ended:
        raise _fail(f"call {record.call_id} on {record.party} did not end", record)
    if len(record.hangups) != (1 if record.surfaced else 0):
        raise _fail(f"call {record.call_id} on {record.party}: hangup fired "
                    f"{len(record.hangups)} times", record)  # fmt: skip


def _complementary(a: CallRecord, b: CallRecord) -> bool:
    ha, hb = a.hangup, b.hangup
    if ha is None or hb is None:
        return False
    return {ha.get("from"), hb.get("from")} == {"local", "remote"} and ha.get("reason") == hb.get(
        "reason"
    )


def check_hangups_agree(caller: CallRecord, callee: CallRecord) -> None:
    """Both ends ended; ``from`` is ``local`` on one and ``remote`` on the other; same reason."""
    check_call_ended(caller)
    check_call_ended(callee)
    if not callee.surfaced:  # refused unseen: only the caller hears it, from the far side
        if caller.hangup is None or caller.hangup.get("from") != "remote":
            raise _fail(f"call {caller.call_id} refused unseen: {caller.hangup}", caller, callee)
        return
    if not _complementary(caller, callee):
        raise _fail(
            f"the ends of call {caller.call_id} disagree: {caller.hangup} vs {callee.hangup}",
            caller,
            callee,
        )


def check_fork(caller: CallRecord, devices: Sequence[CallRecord]) -> None:
    """The forked-call invariant over the caller's record and those of the devices that rang.

    At most one device reached CONNECTED, and only the device the caller bound to; if the
    caller got connected, its device did reach CONNECTING or CONNECTED. Every device's call
    ended, and either agrees with the caller's (:func:`check_hangups_agree`) or ended from
    ``remote`` with ``call take on other device`` / ``bye on other device``; when any device
    rang, at least one agrees with the caller.
    """
    check_call_ended(caller)
    connected = [d for d in devices if d.connected]
    if len(connected) > 1:
        raise _fail(f"call {caller.call_id}: several devices connected", *connected)
    if connected and connected[0].party != caller.bound:
        raise _fail(
            f"call {caller.call_id}: {connected[0].party} connected, caller bound to "
            f"{caller.bound}",
            caller,
            connected[0],
        )
    if caller.connected:
        winner = [d for d in devices if d.party == caller.bound]
        if not winner or not {"CONNECTING", "CONNECTED"} & set(winner[0].states):
            raise _fail(f"call {caller.call_id}: caller connected to a device that never "
                        "answered", caller, *winner)  # fmt: skip
    partners = 0
    for d in devices:
        check_call_ended(d)
        if not d.surfaced:  # refused unseen (busy): ended, no event to agree on
            continue
        if _complementary(caller, d):
            partners += 1
            continue
        h = d.hangup
        assert h is not None
        if h.get("from") != "remote" or h.get("reason") not in _LOSER_REASONS:
            raise _fail(
                f"call {caller.call_id}: device {d.party} neither agrees with the caller nor "
                "lost the fork",
                caller,
                d,
            )
    if devices and not partners:
        raise _fail(f"call {caller.call_id}: no device agrees with the caller", caller, *devices)


def check_timer_log(
    log: Sequence[TimerRecord], *, settled: bool = True, prefix: str = "call:"
) -> set[str]:
    """Replay a timer log; every timer must end cancelled or fired.

    Returns the ids still armed at the end. Those must not start with ``prefix``, and there
    must be none at all when ``settled`` (the run's event queue emptied).
    """
    armed: set[str] = set()
    for r in log:
        if r.action == "start":
            armed.add(r.timer_id)
        elif r.action in ("cancel", "fire"):
            if r.timer_id not in armed:
                raise _fail(f"timer {r.timer_id} {r.action} while not armed", r)
            armed.discard(r.timer_id)
        else:
            raise _fail(f"unknown timer action {r.action!r}", r)
    left = sorted(t for t in armed if settled or t.startswith(prefix))
    if left:
        raise _fail("timers left armed at the end", *left)
    return armed


def check_timers(client: Client, *, settled: bool = True) -> None:
    """:func:`check_timer_log` on a simulated client, plus the session's own bookkeeping."""
    armed = check_timer_log(client.timers, settled=settled)
    booked = set(client.session.armed_timers())
    calls = sorted(t for t in booked if t.startswith("call:"))
    if calls:
        raise _fail(f"{client.address}: the session still books call timers", *calls)
    if booked != armed or armed != set(client.armed):
        raise _fail(
            f"{client.address}: armed timers disagree (session / log / wheel)",
            sorted(booked),
            sorted(armed),
            sorted(client.armed),
        )


def check_media(
    acquired: Iterable[str],
    released: Iterable[str],
    open_connections: Mapping[str, str],
    *,
    who: str = "",
) -> None:
    """Every local stream acquired was released, and no peer connection is left open
    (``open_connections``: call id -> ICE state)."""
    leaked = sorted(set(acquired) - set(released))
    if leaked:
        raise _fail(f"{who}: media acquired and never released", *leaked)
    if open_connections:
        raise _fail(f"{who}: peer connections left open", dict(open_connections))


def check_no_errors(errors: Sequence[ErrorRecord]) -> None:
    """No exception escaped an input."""
    if errors:
        first = errors[0]
        raise InvariantViolation(
            f"{len(errors)} exception(s) escaped; first at t={first.time:.3f} on {first.where} "
            f"({first.what}): {first.error}\n{first.trace}"
        )


def check_invariants(out: Outcome, *, agree: bool = True) -> None:
    """Every invariant of the module docstring on one :class:`Outcome`.

    ``agree`` False skips the agreement of the two ends (for scenarios where the protocol
    cannot give it, such as a server loss longer than ``server_loss_window``: the far end
    learns about it only from ICE).
    """
    net = out.network
    check_no_errors(net.errors())
    if not out.settled:
        raise _fail(
            f"the run did not settle by t={out.scenario.horizon}",
            f"{net.pending} events pending",
            {c.address: sorted(c.armed) for c in net.clients.values()},
        )
    for client in net.clients.values():
        check_timers(client, settled=True)
        for record in call_records(client).values():
            check_call_ended(record)
        opened = net.peer_connections(client)
        check_media(client.streams, client.released, opened, who=client.address)
    if out.call is None:
        return
    call_id = out.call.call_id
    caller = call_records(out.caller)[call_id]
    devices = [r for d in out.devices if (r := call_records(d).get(call_id)) is not None]
    if not agree:
        return
    if len(out.devices) == 1:
        if devices:
            check_hangups_agree(caller, devices[0])
    else:
        check_fork(caller, devices)


# --- Hypothesis strategies --------------------------------------------------------------------


def fault_settings(*, max_delay: float = 0.1) -> st.SearchStrategy[Faults]:
    """Faults with drop, duplication and reordering each off or on, within the fair-loss bound.

    ``max_delay`` should keep the round trip ``4 * max_delay`` below ``rtx_initial`` (0.5 s).
    """
    return st.builds(
        Faults,
        drop=st.sampled_from([0.0, 0.1, 0.3]),
        duplicate=st.sampled_from([0.0, 0.1, 0.3]),
        reorder=st.sampled_from([0.0, 0.2, 0.5]),
        min_delay=st.just(0.001),
        max_delay=st.sampled_from(sorted({0.01, 0.05, max_delay})),
        max_consecutive_drops=st.integers(0, 3),
        max_drops_per_message=st.integers(0, 3),
    )


def media_models() -> st.SearchStrategy[MediaModel]:
    """Media stacks fast and slow: media acquisition, ICE connection and failure detection
    times, how soon a closed peer connection is noticed (or never), trickled candidates."""
    return st.builds(
        MediaModel,
        acquire_delay=st.sampled_from([0.02, 0.02, 0.8, 2.5]),
        ice_connect_delay=st.sampled_from([0.1, 0.1, 1.0]),
        ice_check_timeout=st.sampled_from([0.5, 2.0]),
        peer_gone_delay=st.sampled_from([5.0, 5.0, 0.3, None]),
        candidates=st.integers(0, 2),
    )


def _times(low: float, high: float) -> st.SearchStrategy[float]:
    return st.floats(low, high, allow_nan=False, allow_infinity=False).map(lambda t: round(t, 3))


@st.composite
def _call_settings(draw: st.DrawFn, timeouts: Sequence[float | None]) -> CallSettings:
    return CallSettings(
        no_answer_timeout=draw(st.sampled_from(timeouts)),
        user_accept_on_incoming_call=draw(st.sampled_from([True, True, True, False])),
        ice_restart_attempts=draw(st.sampled_from([2, 2, 0, 1])),
    )


@st.composite
def _callee_decisions(draw: st.DrawFn, device: int, base: float) -> list[Action]:
    kind = draw(st.sampled_from(["accept", "accept", "decline", "none"]))
    at = base + draw(_times(0.0, 0.05))
    if kind == "accept":
        return [Accept(at, device, audio_only=draw(st.booleans()))]
    if kind == "decline":
        return [Decline(at, device)]
    return []


@st.composite
def _ice_trouble(draw: st.DrawFn, device: int = 0) -> IceTrouble:
    return IceTrouble(
        draw(st.sampled_from([3.0, 6.0]) | _times(1.5, 15.0)),
        draw(st.sampled_from(["disconnected", "failed"])),
        draw(st.sampled_from([(CALLER,), (CALLEE,), (CALLER, CALLEE)])),
        device,
        heal_after=draw(st.sampled_from([None, 0.5, 3.0, 12.0])),
    )


@st.composite
def _two_party(draw: st.DrawFn) -> Scenario:
    actions: list[Action] = []
    actions += draw(_callee_decisions(0, draw(_times(1.05, 4.0))))
    hang = draw(st.sampled_from(["none", "caller", "callee", "both"]))
    at = draw(_times(1.0, 25.0))
    if hang in ("caller", "both"):
        actions.append(Hangup(at, CALLER))
    if hang in ("callee", "both"):
        delta = draw(_times(0.0, 0.08)) if hang == "both" else 0.0
        actions.append(Hangup(at + delta, CALLEE))
    for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2]))):
        actions.append(draw(_ice_trouble()))
    if draw(st.integers(0, 3)) == 0:
        party = draw(st.sampled_from([CALLER, CALLEE]))
        actions.append(MediaFailure(party, 0, draw(st.integers(1, 2))))
    return Scenario(
        actions=tuple(actions),
        faults=draw(fault_settings()),
        media=draw(media_models()),
        settings=draw(_call_settings([None, None, 3.0, 8.0])),
        call_type=draw(st.sampled_from([CallType.MEDIA] * 3 + [CallType.AUDIO, CallType.DATA])),
        seed=draw(st.integers(0, 2**32 - 1)),
    )


@st.composite
def _server_loss(draw: st.DrawFn) -> Scenario:
    loss_at = draw(_times(10.0, 14.0))
    duration = draw(_times(0.3, 8.0))
    party = draw(st.sampled_from([CALLER, CALLEE]))
    if draw(st.booleans()):  # the lost side hangs up after it is back
        hangup = Hangup(loss_at + 30.0 + draw(_times(0.0, 5.0)), party)
    else:  # the other side hangs up while it is away
        other = CALLEE if party == CALLER else CALLER
        hangup = Hangup(loss_at + draw(_times(0.0, duration)), other)
    actions: list[Action] = [
        Accept(draw(_times(1.05, 1.5))),
        ServerLoss(loss_at, duration, party),
        hangup,
    ]
    return Scenario(
        actions=tuple(actions),
        faults=draw(fault_settings()),
        media=draw(media_models()),
        seed=draw(st.integers(0, 2**32 - 1)),
    )


@st.composite
def _multi_device(draw: st.DrawFn, devices: tuple[int, int]) -> Scenario:
    n = draw(st.integers(*devices))
    base = draw(_times(1.05, 3.0))
    actions: list[Action] = []
    for d in range(n):
        actions += draw(_callee_decisions(d, base))
    hang = draw(st.sampled_from(["none", "caller", "callee"]))
    at = draw(st.one_of(_times(1.0, 3.0), _times(3.0, 20.0)))
    if hang == "caller":
        actions.append(Hangup(at, CALLER))
    elif hang == "callee":
        actions.append(Hangup(at, CALLEE, draw(st.integers(0, n - 1))))
    if draw(st.integers(0, 3)) == 0:
        actions.append(draw(_ice_trouble(draw(st.integers(0, n - 1)))))
    return Scenario(
        actions=tuple(actions),
        devices=n,
        faults=draw(fault_settings()),
        media=draw(media_models()),
        settings=draw(_call_settings([None, None, 4.0])),
        seed=draw(st.integers(0, 2**32 - 1)),
    )


def scenarios(
    kind: str = "two_party", *, devices: tuple[int, int] = (2, 4)
) -> st.SearchStrategy[Scenario]:
    """Scenarios of ``kind``, each with drawn faults, media timings and call settings.

    ``two_party``: accept or decline, hang-ups on either side (possibly crossing), ICE trouble
    on one or both sides, media failure, no-answer timeout, auto-accept, media/audio/data
    calls. ``server_loss``: an established call whose one side loses the server for less than
    ``server_loss_window``; either that side hangs up once back, or the other side hangs up
    while it is away. ``multi_device``: ``devices`` devices, several answering or declining at
    nearly the same time, possibly ICE trouble on one of them.

    Not drawn, because the protocol cannot promise agreement there: both sides ending while one
    of them is away from the server (the away side announces its hangup at once), and a peer
    away longer than the retransmissions of an ``update`` last (double faults).
    """
    if kind == "two_party":
        return _two_party()
    if kind == "server_loss":
        return _server_loss()
    if kind == "multi_device":
        return _multi_device(devices)
    raise ValueError(f"unknown scenario kind {kind!r}")
