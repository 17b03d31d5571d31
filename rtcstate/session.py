"""Session: the UserAgent/Session, the parent of every other machine; a thin composition.

Theory of operation
-------------------
A :class:`Session` is built pure (no effects) from a :class:`SessionConfig` plus injected id
and random sources. It composes four parts, each a module of one concern:

* :mod:`rtcstate.session_connection`: the server connection (register, keep-alive, reconnection
  backoff, unregister), a table with its inputs as data: every message the session handles
  itself and its own timers. ``register(now)`` asks the adapter to open the transport; the
  server's ``Registered`` makes it CONNECTED (``ccsConnectionStatus connected``); a lost
  transport reconnects per the retry policy; a final ``ServerError`` or giving up is FAILED;
  ``unregister(now)`` is CLOSED (final). A second ``register`` raises
  ``ERROR_APIRTC_SESSION_ALREADY_ON``.
* :mod:`rtcstate.session_router`: the children (calls, invitations, data channels, transfers,
  held data calls) by route and id (:data:`ROUTE_KINDS`), the factories of messages that open a
  new object, and the defined answer to a message naming an unknown id
  (:data:`UNKNOWN_ID_POLICY`).
* :mod:`rtcstate.session_timers`: every timer the session's effects arm, filed under its owner
  when armed, so an expiry is one lookup (no id is taken apart to route it).
* :mod:`rtcstate.session_presence`: who is online, with apiRTC's ``contactDisconnectionDelay``.

Routing: a received message whose class has ``ROUTE`` goes, once CONNECTED, to the child
registered under that id (O(1)), or to the factory for its type, or gets the unknown-id answer;
any other message is an input of the connection table. A media report goes to the child named by
its ``ROUTE`` (``Capabilities`` are kept: calls consult them); a stream-level report
(``stream_id``) to the stream the application attached, else to the room that publishes or
received that stream. A timer goes to the machine that
armed it. Whatever a child returns is booked (its timers) and a child that ended is detached, its
timers cancelled: no timer outlives its machine. Undecodable input gives ``error``
``MESSAGE_DECODE_ERROR``; nothing from the wire, the media stack or a timer raises.

Children reach the session through the narrow :class:`~rtcstate.host.Host` protocol (they never
import this module), and the connection through
:class:`~rtcstate.session_connection.ConnectionOwner`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from rtcstate import call_factory, contact_post, datachannel, filetransfer, presence_groups, wire
from rtcstate.call import Call
from rtcstate.codes import CallType, ErrorCode, ErrorNumber
from rtcstate.conversation import invitations as conversation_invitations
from rtcstate.conversation import registry as conversation_registry
from rtcstate.conversation.machine import Conference, Conversation
from rtcstate.datachannel import DataChannel
from rtcstate.effects import (
    SESSION,
    CancelTimer,
    Drop,
    Effect,
    Emit,
    ReleaseMedia,
    Send,
    StartTimer,
)
from rtcstate.errors import RtcError
from rtcstate.filetransfer import FileTransfer
from rtcstate.ids import CounterIds, IdSource, RandomSource, SplitMix64
from rtcstate.invitation import SentInvitation
from rtcstate.machine import spec_of
from rtcstate.media import Capabilities, MediaAcquired, MediaEvent
from rtcstate.presence import PresenceScope
from rtcstate.session_connection import (
    INPUTS,
    TRANSITIONS,
    SessionConfig,
    SessionConnection,
    SessionDrop,
    SessionState,
    SessionTimer,
    error_event,
)
from rtcstate.session_presence import ContactPresence
from rtcstate.session_router import (
    KIND_ROUTES,
    ROUTE_KINDS,
    UNKNOWN_ID_POLICY,
    Child,
    Factory,
    Router,
    UnknownIdAnswer,
)
from rtcstate.session_timers import PRESENCE_KIND, SESSION_KIND, TimerBook
from rtcstate.settings import CallSettings
from rtcstate.transfer import DEFAULT_CHUNK_SIZE, DEFAULT_WINDOW, TransferSettings
from rtcstate.wire_contact import RingingPeer, UserDataSet, UserDataUpdate

__all__ = [
    "ROUTE_KINDS",
    "TRANSITIONS",
    "UNKNOWN_ID_POLICY",
    "Child",
    "Factory",
    "Session",
    "SessionConfig",
    "SessionState",
    "UnknownIdAnswer",
]

_CONNECTION = spec_of(SessionConnection)
_CONNECTED = SessionState.CONNECTED
_OWN_TIMERS = {t.value.partition(":")[2]: t for t in SessionTimer}
"""The session's own timers by the name they are booked under (``session:<name>``)."""


def child_key(child: object) -> str:
    """The id a child is registered under (its ``id`` attribute)."""
    key: str = getattr(child, "id")  # noqa: B009
    return key


@attrs.define(slots=True, eq=False)
class Session:
    """The connection to the signaling server and the registry of every child machine."""

    config: SessionConfig
    ids: IdSource = attrs.field(
        default=attrs.Factory(
            lambda self: CounterIds(f"{self.config.user}/{self.config.device}"), takes_self=True
        )
    )
    rand: RandomSource = attrs.field(factory=SplitMix64)
    capabilities: Capabilities = attrs.field(factory=Capabilities)
    #: the contacts and groups this session hears and the groups it is seen in (resent to the
    #: relay after each registration)
    presence_scope: PresenceScope = attrs.field(factory=PresenceScope)
    settings: CallSettings = attrs.field(
        default=attrs.Factory(lambda self: self.config.calls, takes_self=True)
    )
    _timers: TimerBook = attrs.field(init=False, factory=lambda: TimerBook(KIND_ROUTES))
    _router: Router = attrs.field(init=False, factory=Router)
    _presence: ContactPresence = attrs.field(init=False)
    connection: SessionConnection = attrs.field(init=False)
    #: the number of the last contact message sent (apiRTC's ``uuid``, what sendMessage gives)
    _message_uuid: int = attrs.field(init=False, default=0)
    #: this user's data (apiRTC ``setUserData``), sent again after each registration
    _user_data: dict[str, Any] | None = attrs.field(init=False, default=None)
    #: the contacts' user data as the relay last told it
    _contact_user_data: dict[str, dict[str, Any]] = attrs.field(init=False, factory=dict)

    def __attrs_post_init__(self) -> None:
        self._presence = ContactPresence(self._timers, self.config.contact_disconnection_delay)
        self.connection = SessionConnection(self.config, owner=self, rand=self.rand)
        # the factories of calls, data channels and file transfers (the children reach this
        # session through the narrow rtcstate.host.Host; they never import this module)
        call_factory.install(self)
        datachannel.install(self)
        filetransfer.install(self)
        conversation_registry.install(self)
        conversation_invitations.install(self)
        contact_post.install(self)

    # --- the connection's state, read through ------------------------------------------------

    @property
    def state(self) -> SessionState:
        """The connection's state (:class:`SessionState`)."""
        return self.connection.state

    @state.setter
    def state(self, value: SessionState) -> None:
        self.connection.state = value

    @property
    def session_id(self) -> str | None:
        """The server's id of this registration (None before the first)."""
        return self.connection.session_id

    @property
    def attempt(self) -> int:
        """Reconnection attempts since the connection was lost."""
        return self.connection.attempt

    @property
    def lost_at(self) -> float | None:
        return self.connection.lost_at

    @property
    def ping_seq(self) -> int:
        return self.connection.ping_seq

    @property
    def contacts(self) -> dict[str, tuple[str, ...]]:
        """The contacts online, user -> its devices."""
        return self._presence.contacts

    @property
    def timers(self) -> TimerBook:
        """The timer book (:class:`~rtcstate.session_timers.TimerBook`)."""
        return self._timers

    # --- public: application commands ---------------------------------------------------------

    @property
    def address(self) -> str:
        """This device's address on the relay (``user/device``)."""
        return f"{self.config.user}/{self.config.device}"

    @property
    def connected(self) -> bool:
        """Whether the session is registered with the server (CONNECTED)."""
        return self.state is SessionState.CONNECTED

    def register(self, now: float) -> list[Effect]:
        """Connect and register; a second call raises ERROR_APIRTC_SESSION_ALREADY_ON."""
        return self._command("register", now)

    def unregister(self, now: float) -> list[Effect]:
        """Leave the server and close the transport; the session becomes CLOSED (final)."""
        return self._command("unregister", now)

    def set_option(self, name: str, value: object) -> None:
        """Change one apiRTC-style call option (``allow_multiple_calls``, …).

        A bad value raises :class:`~rtcstate.settings.ParameterError` carrying the option's
        ``PARAMETER_ERROR_*`` code; the settings are then unchanged.
        """
        self.settings = self.settings.with_option(name, value)

    def subscribe_presence(
        self, now: float, contacts: Iterable[str] = (), groups: Iterable[str] = ()
    ) -> list[Effect]:
        """Hear the presence of these users and of the members of these groups.

        Raises ERROR_WRONG_STATE unless CONNECTED, ERROR_BAD_PARAMETER for a bad or empty
        name or for no name at all; the scope is then unchanged. A relay refusal (too many
        subscriptions) comes back as an ``error`` event.
        """
        self._presence_ready("subscribe_presence")
        return [Send(None, self.presence_scope.subscribe(contacts, groups))]

    def unsubscribe_presence(
        self, now: float, contacts: Iterable[str] = (), groups: Iterable[str] = ()
    ) -> list[Effect]:
        """Stop hearing these users and groups (same errors as :meth:`subscribe_presence`)."""
        self._presence_ready("unsubscribe_presence")
        return [Send(None, self.presence_scope.unsubscribe(contacts, groups))]

    def subscribe_to_group(self, now: float, group: str) -> list[Effect]:
        """apiRTC ``subscribeToGroup``: hear the presence of ``group``'s members."""
        return self.subscribe_presence(now, groups=[group])

    def unsubscribe_to_group(self, now: float, group: str) -> list[Effect]:
        """apiRTC ``unsubscribeToGroup``: stop hearing ``group``."""
        return self.unsubscribe_presence(now, groups=[group])

    def join_group(self, now: float, group: str) -> list[Effect]:
        """apiRTC ``joinGroup``: be seen in ``group`` (by whoever subscribed to it)."""
        self._presence_ready("join_group")
        return [Send(None, self.presence_scope.join(group))]

    def leave_group(self, now: float, group: str) -> list[Effect]:
        """apiRTC ``leaveGroup``: stop being seen in ``group``."""
        self._presence_ready("leave_group")
        return [Send(None, self.presence_scope.leave(group))]

    def _presence_ready(self, command: str) -> None:
        if self.state is not _CONNECTED:
            raise RtcError(ErrorNumber.ERROR_WRONG_STATE, f"{command} in state {self.state.name}")

    def call(
        self,
        contact: str,
        now: float,
        *,
        call_type: CallType | str = CallType.MEDIA,
        audio_only: bool = False,
        stream_id: str | None = None,
        nickname: str | None = None,
        data: dict[str, Any] | None = None,
        media_routing_mode: object = None,
    ) -> tuple[Call, list[Effect]]:
        """``contact.call()``: start a call to user ``contact`` (or one device ``user/device``).

        Returns the new :class:`~rtcstate.call.Call` (WAITING_FOR_CALLEE) and the effects of
        starting it. Raises ERROR_WRONG_STATE unless CONNECTED, ERROR_BAD_PARAMETER for a bad
        argument (``ParameterError`` with PARAMETER_ERROR_SETCALLMEDIAROUTINGMODE for a bad
        media routing mode).
        """
        return call_factory.outgoing_call(
            self, contact, now, call_type=call_type, audio_only=audio_only,
            stream_id=stream_id, nickname=nickname, data=data,
            media_routing_mode=media_routing_mode,
        )  # fmt: skip

    def start_data_channel(
        self, contact: str, now: float, *, label: str = "data"
    ) -> tuple[DataChannel, list[Effect]]:
        """``contact.startDataChannel()``: open a data channel ``label`` to ``contact``.

        Returns the new :class:`~rtcstate.datachannel.DataChannel` (SEND, WAITING) and the
        effects of starting it: the ``data_channel_invite`` and the data call carrying it.
        Raises ERROR_WRONG_STATE unless CONNECTED, ERROR_BAD_PARAMETER for a bad argument,
        ERROR_OTHER when the adapter reported no data channels.
        """
        return datachannel.start_data_channel(self, contact, now, label=label)

    def send_file(
        self,
        contact: str,
        now: float,
        file_info: Mapping[str, Any],
        *,
        chunk_size: int | None = None,
        window: int | None = None,
        settings: TransferSettings | None = None,
    ) -> tuple[FileTransfer, list[Effect]]:
        """``contact.sendFile(fileInfo, data)``: offer a file ``{name, type, size}`` to ``contact``.

        Returns the :class:`~rtcstate.filetransfer.FileTransfer` (its ``invitation`` is apiRTC's
        SentInvitation of type sendFile, whose id is the transfer's) and the effects: the
        ``file_offer`` and the data call carrying the file. The bytes are asked for later with
        ``NeedData`` effects and given with ``FileTransfer.feed``. Raises ERROR_WRONG_STATE
        unless CONNECTED, ERROR_BAD_PARAMETER for a bad argument, ERROR_OTHER when the adapter
        reported no data channels; nothing changes then.
        """
        return filetransfer.send_file(
            self, contact, now, file_info,
            chunk_size=DEFAULT_CHUNK_SIZE if chunk_size is None else chunk_size,
            window=DEFAULT_WINDOW if window is None else window, settings=settings,
        )  # fmt: skip

    # --- contact messaging (held under the ``post_id`` route: rtcstate.contact_post) ---------

    def send_message(
        self, contact: str, now: float, content: str
    ) -> tuple[contact_post.OutgoingPost, list[Effect]]:
        """``contact.sendMessage(msg)``: send a text to ``contact`` (a user: all its devices;
        ``user/device``: that one). Returns the post (its ``value`` is the message's ``uuid``,
        what the promise resolves with) and the effects; ``Resolve`` on the contact's
        acknowledgement, ``Reject`` + ``messageNotDelivered`` on failure. Raises
        ERROR_BAD_PARAMETER for an empty or non-string message, ERROR_WRONG_STATE unless
        CONNECTED (nothing sent then)."""
        uuid = self._message_uuid + 1
        out = contact_post.post(
            self, self.ids("post"), contact, now, contact_post.PostCommand.MESSAGE, content,
            uuid=uuid,
        )  # fmt: skip
        self._message_uuid = uuid
        return out

    def send_data(
        self, contact: str, now: float, data: dict[str, Any]
    ) -> tuple[contact_post.OutgoingPost, list[Effect]]:
        """``contact.sendData(data)``: send a JSON object (``contactData`` / ``data`` there);
        acknowledged like :meth:`send_message`."""
        return contact_post.post(
            self, self.ids("post"), contact, now, contact_post.PostCommand.DATA, data
        )

    def send_custom_event(
        self, contact: str, now: float, event: str, content: dict[str, Any] | None = None
    ) -> tuple[contact_post.OutgoingPost, list[Effect]]:
        """``contact.sendCustomEvent(event, content)``: ``customEvent`` there; acknowledged
        like :meth:`send_message`."""
        return contact_post.post(
            self, self.ids("post"), contact, now, contact_post.PostCommand.CUSTOM_EVENT,
            content, event=event,
        )  # fmt: skip

    # --- user data (apiRTC's UserData) ---------------------------------------------------------

    @property
    def user_data(self) -> dict[str, Any] | None:
        """``getUserData()``: this user's data as last set (None: never set)."""
        return None if self._user_data is None else dict(self._user_data)

    def set_user_data(self, now: float, data: Mapping[str, Any]) -> list[Effect]:
        """``setUserData(data)`` / ``UserData.setToSession()``: publish ``data`` (a JSON
        object) to whoever hears this user's presence; kept and sent again after each
        registration. Raises ERROR_BAD_PARAMETER for data that is not a JSON object (nothing
        changes then). Before registration it is only kept. The relay refuses data over its
        size limit with a ``server_error`` (the session's ``error`` event)."""
        if not isinstance(data, Mapping) or not all(isinstance(k, str) for k in data):
            raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, "user data is a JSON object")
        message = UserDataSet(dict(data))
        try:
            wire.encode(message)
        except wire.EncodeError as exc:
            raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, f"user data: {exc}") from None
        self._user_data = dict(data)
        return [Send(None, message)] if self.connected else []

    def contact_user_data(self, user: str) -> dict[str, Any] | None:
        """``contact.getUserData()``: the data ``user`` published, as the relay told it."""
        data = self._contact_user_data.get(user)
        return None if data is None else dict(data)

    # --- conversations (held under the ``room`` route: rtcstate.conversation.registry) --------

    def get_conversation(self, name: str, **options: Any) -> Conversation:
        """apiRTC's ``getConversation`` / ``getOrCreateConversation`` (no effect until join)."""
        return conversation_registry.get_conversation(self, name, **options)

    def get_conference(self, name: str, **options: Any) -> Conference:
        """apiRTC's ``getConference`` / ``getOrCreateConference``."""
        return conversation_registry.get_conference(self, name, **options)

    def calls(self) -> Mapping[str, Call]:
        """The calls this session holds, by id (``getCalls()``)."""
        return {k: c for k, c in self._router.routes["call_id"].items() if isinstance(c, Call)}

    def get_call(self, call_id: str) -> Call | None:
        """``getCall(id)`` (O(1))."""
        child = self._router.routes["call_id"].get(call_id)
        return child if isinstance(child, Call) else None

    def track_invitation(self, invitation: SentInvitation, now: float) -> list[Effect]:
        """Hold a :class:`~rtcstate.invitation.SentInvitation` its owner has just sent."""
        invitation.session = self
        self.attach("invitation_id", invitation.id, invitation)
        fx = invitation.start(now)
        self._timers.book(fx)
        return fx

    def child_output(self, child: Child, fx: list[Effect], key: str | None = None) -> list[Effect]:
        """Book-keep the effects of a command a child ran (timers; detach once ended)."""
        self._timers.book(fx)
        if child.ended:
            fx.extend(self._detach_child(child, key if key is not None else child_key(child)))
        return fx

    def timer_armed(self, timer_id: str) -> bool:
        """Whether ``timer_id`` is armed (as far as this session's effects say)."""
        return self._timers.armed(timer_id)

    def watch_peer(self, call: Call) -> None:
        """Index a ringing callee ``call`` under its contact: the contact's presence reaches it.

        An intrusive doubly linked list per contact (two slots on the call, one dict entry per
        contact), so that a presence message costs O(ringing calls of that contact)."""
        self._presence.watch(call)

    def unwatch_peer(self, call: Call) -> None:
        """Drop ``call`` from the index of ringing callee calls (O(1); no-op if absent)."""
        self._presence.unwatch(call)

    def ringing_from(self, contact: str) -> list[Call]:
        """The ringing callee calls of ``contact``, newest first (O(their number))."""
        return self._presence.ringing_from(contact)

    def recently_ended(self, call_id: str) -> bool:
        """Whether ``call_id`` ended (or was refused) lately: late duplicates are ignored."""
        return self._router.recently_ended(call_id)

    def remember_ended(self, call_id: str, reason: str | None = None) -> None:
        """Keep ``call_id`` among the recently ended calls (bounded, oldest forgotten first).

        ``reason``: the caller's own reason of a call it ended locally. A callee ``bye`` that
        crossed the caller's and comes again (the ``Ack`` carrying the winning reason was lost,
        and the caller's call ended meanwhile) is acknowledged with it, so both ends still agree.
        """
        self._router.remember_ended(call_id, reason)

    # --- public: transport reports ------------------------------------------------------------

    def connection_made(self, now: float) -> list[Effect]:
        """The transport asked for by ``OpenTransport`` is open."""
        return self._report("transport_open", now)

    def connection_failed(self, now: float, reason: str = "") -> list[Effect]:
        """The transport asked for by ``OpenTransport`` could not be opened."""
        return self._report("transport_failed", now, reason)

    def connection_lost(self, now: float, reason: str = "") -> list[Effect]:
        """An open transport closed without ``unregister``."""
        return self._report("transport_lost", now, reason)

    def connection_moved(self, now: float, reason: str = "") -> list[Effect]:
        """The relay closed the open transport to move its clients (it is draining: websocket
        close 1012): reconnect at once, to the next of ``SessionConfig.targets``."""
        return self._report("transport_moved", now, reason)

    # --- public: the three other inputs -------------------------------------------------------

    def receive(self, data: bytes | str, now: float) -> list[Effect]:
        """Handle one signaling message from the wire; never raises."""
        try:
            env = wire.decode(data, max_size=self.config.max_message_size)
        except wire.DecodeError as exc:
            return [
                error_event(
                    ErrorCode.MESSAGE_DECODE_ERROR,
                    {"reason": exc.reason.value, "detail": exc.detail},
                )
            ]
        # the hot path (a message for a child that holds its id), inlined; anything else is
        # receive_envelope's
        msg = env.message
        route = msg.ROUTE
        if route is not None and self.connection.state is _CONNECTED:
            key = getattr(msg, route)
            children = self._router.routes.get(route)
            child = None if children is None else children.get(key)
            if child is not None:
                fx = child.receive(env, now)
                for e in fx:
                    t = type(e)
                    if t is StartTimer or t is CancelTimer:
                        self._timers.book(fx)
                        break
                if child.ended:
                    fx.extend(self._detach_child(child, key))
                return fx
        return self.receive_envelope(env, now)

    def receive_envelope(self, env: wire.Envelope, now: float) -> list[Effect]:
        """Handle an already decoded message (the relay and tests use this); never raises."""
        msg = env.message
        route = msg.ROUTE
        if route is None:  # the session's own: an input of the connection table
            fx: list[Effect] = []
            _CONNECTION.deliver(
                self.connection, type(msg), env, fx, now, msg=msg, sender=env.sender
            )
            self._timers.book(fx)
            return fx
        if self.connection.state is not _CONNECTED:
            # the relay routes nothing to a session that is not registered (and nothing is
            # meaningful after the transport closed)
            detail = f"{msg.TYPE} received in state {self.connection.state.name}"
            return [Drop(SessionDrop.NOT_CONNECTED, detail)]
        key = getattr(msg, route)
        children = self._router.routes.get(route)
        child = None if children is None else children.get(key)
        if child is None:
            child = self._router.find(route, key)
            if child is None:
                factory = self._router.factories.get(type(msg))
                if factory is not None:
                    made = factory(self, env, now)
                    self._timers.book(made)
                    return made
                return self._router.unknown_id(env)
        # the hot path, inlined: the child's answer, its timers booked, detached once ended
        fx = child.receive(env, now)
        for e in fx:
            t = type(e)
            if t is StartTimer or t is CancelTimer:
                self._timers.book(fx)
                break
        if child.ended:
            fx.extend(self._detach_child(child, key))
        return fx

    def media_event(self, event: MediaEvent, now: float) -> list[Effect]:
        """Handle one media-stack report; never raises."""
        route = event.ROUTE
        if not route:
            if isinstance(event, Capabilities):
                self.capabilities = event  # calls consult it (DataChannel_Not_Supported, ...)
                return []
            return [Drop(SessionDrop.UNEXPECTED_REPORT, type(event).__name__)]
        key = getattr(event, route)
        children = self._router.routes.get(route)
        child = None if children is None else children.get(key)
        if child is None and route == "call_id":  # a conversation's call (its slot)
            child = self._router.routes["ccall_id"].get(key)
            route = "ccall_id" if child is not None else route
        if child is None and route == "stream_id":  # a stream published or received in a room
            for name, room in self._router.routes["room"].items():
                holds = getattr(room, "holds_stream", None)
                if holds is not None and holds(key):
                    child, route, key = room, "room", name
                    break
        if child is None:
            detail = f"{type(event).__name__} for unknown {route} {key}"
            drop = Drop(SessionDrop.UNKNOWN_ID, detail)
            if isinstance(event, MediaAcquired):
                # media that arrived after its call ended: release it, or the camera stays on
                return [ReleaseMedia(event.stream_id), drop]
            return [drop]
        return self._from_child(route, key, child, child.media_event(event, now))

    def timer_fired(self, timer_id: str, now: float) -> list[Effect]:
        """Handle the expiry of a timer started by one of this session's effects.

        One lookup: the booking made when the timer was armed names its owner (a child's
        route and id, the connection, or a contact's presence) and the name it knows it by.
        """
        booking = self._timers.take(timer_id)
        if booking is None:
            return [Drop(SessionDrop.STALE_TIMER, timer_id)]
        owner = booking.owner
        if owner.route == SESSION_KIND:
            timer = _OWN_TIMERS.get(booking.name)
            if timer is None:
                return [Drop(SessionDrop.STALE_TIMER, timer_id)]
            return self._connection_input(INPUTS.timers[timer], timer, now)
        if owner.route == PRESENCE_KIND:
            fx = self._presence.expired(owner.key)
            self._timers.book(fx)
            return fx
        children = self._router.routes.get(owner.route)
        child = None if children is None else children.get(owner.key)
        if child is None:
            return [Drop(SessionDrop.STALE_TIMER, timer_id)]
        return self._from_child(owner.route, owner.key, child, child.timer_fired(booking.name, now))

    # --- public: the child registry ----------------------------------------------------------

    def attach(self, route: str, key: str, child: Child) -> None:
        """Register ``child`` to receive messages whose ``route`` field equals ``key``."""
        self._router.attach(route, key, child)

    def detach(self, route: str, key: str) -> list[Effect]:
        """Forget a child and cancel every timer it left armed."""
        self._router.routes.get(route, {}).pop(key, None)
        return self._timers.release(route, key)

    def child(self, route: str, key: str) -> Child | None:
        """The child registered under ``route``/``key``, if any."""
        return self._router.routes.get(route, {}).get(key)

    def children(self, route: str) -> Mapping[str, Child]:
        """A read-only view of the children registered under ``route``."""
        return dict(self._router.routes.get(route, {}))

    def child_count(self, route: str) -> int:
        """How many children are registered under ``route`` (O(1))."""
        return len(self._router.routes.get(route, ()))

    def set_factory(self, message_type: type[wire.Message], factory: Factory) -> None:
        """Install the creator of children for messages that open a new object."""
        self._router.factories[message_type] = factory

    def armed_timers(self) -> frozenset[str]:
        """Every timer id this session believes is armed (for invariants in tests)."""
        return self._timers.ids()

    # --- ConnectionOwner: what the connection tells the session ------------------------------

    def registered(self, fx: list[Effect], now: float, resumed: bool) -> None:
        """Registered (again): restore the presence scope; children renegotiate if resumed."""
        fx.extend(Send(None, m) for m in self.presence_scope.resend())
        if self._user_data is not None:
            fx.append(Send(None, UserDataSet(dict(self._user_data))))
        if resumed:
            fx.extend(self._each_child("on_reconnected", now))

    def lost(self, fx: list[Effect], now: float) -> None:
        """The server is lost: contacts go offline, children are told."""
        fx.extend(self._presence.all_offline())
        self.presence_scope.heard.clear()
        fx.extend(self._each_child("on_disconnected", now))

    def closing(self, fx: list[Effect], now: float) -> None:
        """``unregister``: close the calls, forget every child, cancel every timer."""
        routes = self._router.routes
        for child in [*routes["call_id"].values(), *routes["ccall_id"].values()]:
            close = getattr(child, "close", None)
            if close is not None:
                fx.extend(close(now))
        for route, children in routes.items():
            for key in list(children):
                fx.extend(self.detach(route, key))
        fx.extend(self._timers.clear())
        self._presence.contacts.clear()

    def group_batch(self, msg: wire.PresenceBatch, fx: list[Effect], now: float) -> None:
        """A coalesced presence batch: contacts per group (:mod:`rtcstate.presence_groups`)."""
        fx.extend(presence_groups.group_batch(self, msg, now))

    def presence_refused(self, request: Mapping[str, Any]) -> None:
        """The relay refused a presence request (the scope stops asking for it) or this
        user's data (oversize: not sent again after reconnection)."""
        if request.get("type") == UserDataSet.TYPE:
            self._user_data = None
            return
        self.presence_scope.refuse(request)

    def message_refused(self, msg: wire.ServerError, fx: list[Effect], now: float) -> None:
        """The relay refused one of this session's messages, named by its route id
        (``ServerError.refused``, e.g. ``{"type": "contact_text", "post_id": ...}``): a contact
        post waiting for it settles at once (not delivered) instead of at its timeout."""
        refused = msg.refused or {}
        key = refused.get(contact_post.ROUTE)
        if not isinstance(key, str):
            return
        child = self._router.routes[contact_post.ROUTE].get(key)
        if child is not None:
            route = contact_post.ROUTE
            fx.extend(self._from_child(route, key, child, child.receive(wire.Envelope(msg), now)))

    def user_data_update(self, msg: UserDataUpdate, fx: list[Effect], now: float) -> None:
        """A contact's user data: kept, and ``contactListUpdate.userDataChanged`` when new."""
        if msg.user == self.config.user or self._contact_user_data.get(msg.user) == msg.data:
            return
        self._contact_user_data[msg.user] = dict(msg.data)
        fx.append(
            Emit(SESSION, "contactListUpdate",
                 {"joinedGroup": {}, "leftGroup": {}, "userDataChanged": [msg.user]})
        )  # fmt: skip

    def ringing_peer(self, msg: RingingPeer, fx: list[Effect], now: float) -> None:
        """The relay's device list of a contact whose calls ring here, for a session that does
        not hear that contact's presence (:mod:`rtcstate.hub.ringwatch`): its ringing callee
        calls only (the contacts online are unchanged)."""
        devices = tuple(msg.devices)
        for call in self._presence.ringing_from(msg.contact):
            fx.extend(self._from_child("call_id", call.call_id, call,
                                       call.peer_presence(devices, now)))  # fmt: skip

    def presence(self, msg: wire.Presence, fx: list[Effect], now: float) -> None:
        """The server's presence of one contact; its ringing callee calls hear the devices."""
        changes = self._presence.update(msg, now)
        self._timers.book(changes)
        fx.extend(changes)
        if msg.contact in self._presence.ringing:
            devices = tuple(msg.devices) if msg.online else ()
            for call in self._presence.ringing_from(msg.contact):
                fx.extend(self._from_child("call_id", call.call_id, call,
                                           call.peer_presence(devices, now)))  # fmt: skip

    # --- internals ----------------------------------------------------------------------------

    def _command(self, trigger: str, now: float) -> list[Effect]:
        fx: list[Effect] = []
        _CONNECTION.fire(self.connection, trigger, fx, now)  # raises before any mutation
        self._timers.book(fx)
        return fx

    def _report(self, trigger: str, now: float, reason: str = "") -> list[Effect]:
        connection = self.connection
        if not _CONNECTION.allowed(connection.state, trigger):
            return [_CONNECTION.refusal(connection.state, trigger)]
        # the retry policy is asked once, before firing, and its answer passed to the
        # conditions and callbacks (None: give up)
        delay = connection.next_delay(trigger, now)
        fx: list[Effect] = []
        _CONNECTION.fire(connection, trigger, fx, now, reason=reason, delay=delay)
        self._timers.book(fx)
        return fx

    def _connection_input(self, trigger: str, timer: SessionTimer, now: float) -> list[Effect]:
        connection = self.connection
        allowed = _CONNECTION.allowed(connection.state, trigger)
        delay = connection.next_delay(trigger, now) if allowed else None
        fx: list[Effect] = []
        _CONNECTION.deliver(connection, timer, timer, fx, now, delay=delay)
        self._timers.book(fx)
        return fx

    def _from_child(self, route: str, key: str, child: Child, fx: list[Effect]) -> list[Effect]:
        self._timers.book(fx)
        if child.ended:
            fx.extend(self._detach_child(child, key))
        return fx

    def _detach_child(self, child: Child, key: str) -> list[Effect]:
        fx: list[Effect] = []
        for route in self._router.routes_of(child, key):
            self._router.ended(child, route, key)
            fx.extend(self.detach(route, key))
        return fx

    def _each_child(self, method: str, now: float) -> list[Effect]:
        fx: list[Effect] = []
        for route, key, child in self._router.each_child():
            fx.extend(self._from_child(route, key, child, getattr(child, method)(now)))
        return fx
