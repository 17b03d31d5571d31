"""Timer booking: every timer a session's effects arm, filed under the machine that owns it.

Theory of operation
-------------------
A machine arms a timer with ``StartTimer(timer_id, deadline)`` and the adapter hands the id
back with ``Session.timer_fired(timer_id, now)``. ``timer_id`` stays a ``str`` (adapters and the
browser bridge serialise it; existing ids keep their spelling: ``session:retry``,
``call:<id>:ice``, ``presence:<contact>:offline``), but the session never takes it apart to route
an expiry. :class:`TimerBook` reads an id once, when the effect that arms it is booked, and files
it under a typed :class:`Owner` (the route and key of the child that owns it, or the session's
own :data:`SESSION_OWNER` / a contact's presence) together with the *name* the owner knows it
by. An expiry is then one dict lookup, :meth:`TimerBook.take`, which also disarms it; an id the
book does not hold (fired twice, cancelled, never armed) is stale and the session answers it
with a catalogued ``Drop``.

:meth:`TimerBook.release` cancels everything a machine left armed when it ends or
is detached: no timer outlives its machine.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs

from rtcstate.effects import CancelTimer, Effect, StartTimer

__all__ = ["PRESENCE_KIND", "SESSION_KIND", "Booking", "Owner", "TimerBook"]

SESSION_KIND = "session"
"""Kind of the session's own timers (``session:<name>``)."""
PRESENCE_KIND = "presence"
"""Kind of a contact's offline timer (``presence:<contact>:offline``)."""


@attrs.frozen(slots=True)
class Owner:
    """The machine a timer belongs to: a child under ``route``/``key``, or the session itself
    (``route`` is then :data:`SESSION_KIND` or :data:`PRESENCE_KIND`)."""

    route: str
    key: str


@attrs.frozen(slots=True)
class Booking:
    """What an armed timer id routes to: its owner and the name the owner gave it."""

    owner: Owner
    name: str


@attrs.define(slots=True, eq=False)
class TimerBook:
    """The timers a session believes armed, by id and by owner.

    ``kinds`` maps the first part of a child's timer id (``call``, ``dataChannel``, …) to the
    route its owner is registered under (the inverse of ``ROUTE_KINDS``).
    """

    kinds: Mapping[str, str]
    _by_id: dict[str, Booking] = attrs.field(factory=dict)
    _by_owner: dict[Owner, dict[str, None]] = attrs.field(factory=dict)

    def _read(self, timer_id: str) -> Booking:
        """File a new id: ``<kind>:<key>:<name>`` (``session:<name>`` for the session's own).

        Done once per arm, never on expiry."""
        prefix, _, name = timer_id.rpartition(":")
        kind, _, key = prefix.partition(":")
        return Booking(Owner(self.kinds.get(kind, kind), key), name)

    def book(self, fx: Iterable[Effect]) -> None:
        """Book the ``StartTimer`` and ``CancelTimer`` effects in ``fx`` (in order)."""
        for e in fx:
            t = type(e)
            if t is StartTimer:
                self.arm(e.timer_id)  # type: ignore[attr-defined]
            elif t is CancelTimer:
                self.disarm(e.timer_id)  # type: ignore[attr-defined]

    def arm(self, timer_id: str) -> Booking:
        booking = self._by_id.get(timer_id)
        if booking is None:
            booking = self._by_id[timer_id] = self._read(timer_id)
            self._by_owner.setdefault(booking.owner, {})[timer_id] = None
        return booking

    def disarm(self, timer_id: str) -> Booking | None:
        booking = self._by_id.pop(timer_id, None)
        if booking is not None:
            mine = self._by_owner[booking.owner]
            del mine[timer_id]
            if not mine:
                del self._by_owner[booking.owner]
        return booking

    def take(self, timer_id: str) -> Booking | None:
        """An expiry: the timer's booking (now disarmed), or None for a stale id."""
        return self.disarm(timer_id)

    def armed(self, timer_id: str) -> bool:
        return timer_id in self._by_id

    def of(self, route: str, key: str = "") -> tuple[str, ...]:
        """The ids ``route``/``key`` has armed, sorted."""
        return tuple(sorted(self._by_owner.get(Owner(route, key), ())))

    def release(self, route: str, key: str = "") -> list[Effect]:
        """Disarm every timer of ``route``/``key``; the ``CancelTimer`` effects, sorted."""
        owner = Owner(route, key)
        mine = self._by_owner.get(owner)
        if not mine:
            return []
        for timer_id in mine:
            del self._by_id[timer_id]
        del self._by_owner[owner]
        return [CancelTimer(t) for t in sorted(mine)]

    def release_kind(self, route: str) -> list[Effect]:
        """Disarm every timer whose owner is under ``route`` (every contact's presence…)."""
        owners = sorted((o for o in self._by_owner if o.route == route), key=lambda o: o.key)
        fx: list[Effect] = []
        for owner in owners:
            fx.extend(self.release(owner.route, owner.key))
        return fx

    def clear(self) -> list[Effect]:
        """Disarm everything; the ``CancelTimer`` effects, sorted."""
        fx: list[Effect] = [CancelTimer(t) for t in sorted(self._by_id)]
        self._by_id.clear()
        self._by_owner.clear()
        return fx

    def ids(self) -> frozenset[str]:
        return frozenset(self._by_id)
