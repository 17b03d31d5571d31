"""Conversation and Conference: the client side of a room held by the relay.

Theory of operation
-------------------
A conversation is a room the relay (:mod:`rtcstate.rooms`) holds; this machine is one device's
view of it. Every command becomes a request to the relay (``Send(None, request)``, the messages
of :mod:`rtcstate.wire_conversation`), the relay decides, and its answers and notices are this
machine's wire inputs. Nothing is decided between clients.

States are apiRTC's (``getStatus()``, §3.6): NOT_JOINED -> ``join`` -> JOINING (the join sent)
-> JOINED (the relay's ``conv_joined``: ``joined``), or -> WAITING in a moderated room
(``conv_waiting``: ``waitingForModeratorAcceptance``) until a moderator allows the entry
(``entryAllowed``, JOINING, then JOINED) or denies it (``entryDenied``, NOT_JOINED, the join
rejected with 14 ERROR_NOT_ALLOWED); ``cancel_join`` leaves the waiting room (the join rejected
with 15 ERROR_OPERATION_CANCELED). JOINED -> NOT_JOINED by ``leave`` (``left``), by an ejection
of its own user (``left``, ``participantEjected {self: true}``) or by the room being closed
(:class:`Conference`: ``closed`` then ``left``; a plain :class:`Conversation` only ``left``, as
apiRTC has no ``closed`` there). While JOINED it keeps the participant list from the relay's
notices (``contactJoined`` / ``contactLeft``), the moderators, its role, the persistent data's
version, and delivers members' messages (``message``, numbered by the relay: a number already
seen is a duplicate and dropped), data (``data``), custom events (``customEvent``) and data
updates (``persistentDataUpdated``). A moderator also sees the waiting room
(``contactJoinedWaitingRoom`` / ``contactLeftWaitingRoom``) and gets a
:class:`~rtcstate.conversation.joinrequest.ReceivedConversationJoinRequest` per waiter on the
session (``conversationJoinRequest``); a waiter hears ``moderatorConnected``.

Requests are repeated. Each request keeps its ``request_id`` until answered and is sent again
every ``repeat_interval`` (5 s, as apiRTC repeats join requests and allow answers); the relay
answers a repeat without doing it twice. The join is repeated as long as the conversation
waits (a lost admission is found again); any other request gives up after ``max_repeats`` and
is rejected with 11 ERROR_TIMED_OUT (a message: ``messageNotDelivered``). Timer: ``repeat``
(``conversation:<name>:repeat``), armed while a request is unanswered. The outcome of each
request is an effect for the adapter's promise: :class:`Resolve` or :class:`Reject` (with the
apiRTC number the relay's ``conv_error`` carries). When the relay connection is lost, requests
other than membership ones are rejected (2 ERROR_NETWORK_UNAVAILABLE: whether they took effect
is unknown); when it is back, a conversation that was in the room joins again (the relay forgot
it at the disconnection), and the fresh member list it gets is diffed with the one it had.

Inputs are data: :data:`CONVERSATION_INPUTS` maps each relay message (``conv_ack`` by command,
``conv_entry`` by ``allowed``) and the timer to a trigger; :data:`CONVERSATION_VERDICTS` says
which pairs are ignored on purpose (a notice for a room it is not in, a late answer: a
:class:`ConversationDrop`) and which are illegal (a command in the wrong state raises
:class:`~rtcstate.errors.InvalidStateError` with 16 ERROR_WRONG_STATE and changes nothing).
Moderator commands from a non-moderator raise 4 ERROR_UNAUTHORIZED. Wire input never raises.
What an answer or a notice does is decided by guarded rows, tried in order, not by early
returns in the callbacks: an answer naming no pending request is stale; a notice of a contact,
waiter or data version the room holds already is a duplicate; a message is new, a replayed
history message or a repeat by its number; a pending join is rejected when the waiting room is
left (cancelled, denied, removed) and not otherwise; a version conflict forgets the data.
"""

from __future__ import annotations

import enum
from typing import Any, ClassVar

import attrs

from rtcstate import wire
from rtcstate.codes import ConversationRole, ConversationStatus, ErrorNumber
from rtcstate.conversation.call import ConversationCallSettings
from rtcstate.conversation.host import ConversationHost
from rtcstate.conversation.joinrequest import ReceivedConversationJoinRequest
from rtcstate.conversation.media import ConversationMedia
from rtcstate.conversation.outcomes import Reject, Resolve
from rtcstate.conversation.slots import ROUTE as CALL_ROUTE
from rtcstate.conversation.slots import CallSlot, RecordingSlot
from rtcstate.drops import DropReason
from rtcstate.effects import SESSION, CancelTimer, Drop, Effect, Emit, Send, StartTimer, target
from rtcstate.errors import RtcError
from rtcstate.ids import CounterIds, IdSource
from rtcstate.machine import ILLEGAL, Classify, Ignore, Inputs, machine, spec_of, stay
from rtcstate.stream import Stream
from rtcstate.wire_conversation import (
    ConvAck,
    ConvAllow,
    ConvCancelJoin,
    ConvClose,
    ConvClosed,
    ConvCommand,
    ConvContactJoined,
    ConvContactLeft,
    ConvCustomEvent,
    ConvData,
    ConvDataState,
    ConvDataUpdated,
    ConvDeny,
    ConvEject,
    ConvEjected,
    ConvEntry,
    ConvError,
    ConvGetData,
    ConvJoin,
    ConvJoined,
    ConvJoinRequest,
    ConvLeave,
    ConvMessage,
    ConvModeratorConnected,
    ConvModeratorLeft,
    ConvRequest,
    ConvSendData,
    ConvSendEvent,
    ConvSendMessage,
    ConvSetData,
    ConvUpdateData,
    ConvWaiting,
    ConvWaitingLeft,
    RoomRefusal,
)
from rtcstate.wire_streams import STREAM_RELAY_ONLY

__all__ = [
    "CONFERENCE_TRANSITIONS",
    "CONVERSATION_INPUTS",
    "CONVERSATION_TRANSITIONS",
    "CONVERSATION_VERDICTS",
    "Conference",
    "Conversation",
    "ConversationDrop",
    "ConversationSettings",
    "ConversationState",
    "ConversationTimer",
    "Reject",
    "Resolve",
    "user_of",
]


def user_of(address: str) -> str:
    """The user part of an address ``user/device``."""
    return address.partition("/")[0]


class ConversationDrop(DropReason):
    """Why a conversation ignored an input on purpose."""

    UNEXPECTED = "unexpected-input"
    """A relay message this state has no row for and no declared reason (or an undeclared
    type)."""
    OTHER_ROOM = "other-room"
    """A message naming another room reached this conversation."""
    NOT_IN_ROOM = "not-in-room"
    """A member notice (contact joined or left, message, data, ejection, close…) while this
    device is not a member (late: it has left, or not admitted yet)."""
    NOT_WAITING = "not-waiting"
    """A waiting-room notice (moderator connected or left) while not waiting."""
    STALE_ANSWER = "stale-answer"
    """An answer to a request that is no longer outstanding, or that the state has moved past
    (an entry decision once the join was cancelled, a waiting answer once joined)."""
    DUPLICATE = "duplicate"
    """A notice already applied: a message number already delivered, a contact already
    listed (or not listed, for a departure), a data version already held."""
    NOT_FOR_US = "not-for-us"
    """A notice about another user that this state does not show (another waiter's
    ejection)."""
    STALE_TIMER = "stale-timer"
    """A timer this conversation does not own."""


class ConversationState(enum.Enum):
    NOT_JOINED = ConversationStatus.CONVERSATION_STATUS_NOT_JOINED.value
    JOINING = ConversationStatus.CONVERSATION_STATUS_JOINING.value
    WAITING = ConversationStatus.CONVERSATION_STATUS_WAITING.value
    JOINED = ConversationStatus.CONVERSATION_STATUS_JOINED.value


class ConversationTimer(enum.Enum):
    """The timers a conversation owns; the adapter sees ``conversation:<name>:<value>``."""

    REPEAT = "repeat"  # unanswered requests are sent again


_TIMER_BY_NAME: dict[str, ConversationTimer] = {t.value: t for t in ConversationTimer}


@attrs.frozen(slots=True)
class ConversationSettings:
    """Timing of a conversation's requests."""

    #: seconds between repeats of an unanswered request (apiRTC: 5 s)
    repeat_interval: float = 5.0
    #: repeats before a request (other than a waiting join) is given up (ERROR_TIMED_OUT)
    max_repeats: int = 6
    #: timing of the room's media calls (restart backoff, CALL_ABORTED bound, setup timeout)
    call: ConversationCallSettings = attrs.field(factory=ConversationCallSettings)

    def __attrs_post_init__(self) -> None:
        if not self.repeat_interval > 0 or self.max_repeats < 0:
            raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, "repeat_interval > 0, max_repeats >= 0")


@attrs.define(slots=True, eq=False)
class _Pending:
    request: ConvRequest
    repeats: int = 0


_ALL = ["NOT_JOINED", "JOINING", "WAITING", "JOINED"]
_IN = ["JOINING", "WAITING", "JOINED"]
_REQUESTS = (
    "send_message",
    "send_data",
    "send_custom_event",
    "get_data",
    "set_data",
    "update_data",
    "allow_entry",
    "deny_entry",
    "eject",
)


def _table(closed_callback: str, extra: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [
        # application commands
        {"trigger": "join", "source": "NOT_JOINED", "dest": "JOINING", "after": "_send_join"},
        {"trigger": "cancel_join", "source": "WAITING", "dest": "NOT_JOINED",
         "conditions": "_join_pending",
         "after": ["_send_cancel", "_reject_join_cancelled", "_out_of_waiting_room"]},
        {"trigger": "cancel_join", "source": "WAITING", "dest": "NOT_JOINED",
         "after": ["_send_cancel", "_out_of_waiting_room"]},
        {"trigger": "leave", "source": "JOINED", "dest": "NOT_JOINED", "after": "_send_leave"},
    ]  # fmt: skip
    for trigger in _REQUESTS:
        rows += stay(trigger, "JOINED", after="_send_request")
    rows += extra
    rows += [
        # the relay's answers
        {"trigger": "joined_answer", "source": "JOINING", "dest": "JOINED",
         "conditions": "_rejoining", "after": "_rejoined"},
        {"trigger": "joined_answer", "source": ["JOINING", "WAITING"], "dest": "JOINED",
         "after": "_joined"},
        *stay("joined_answer", "JOINED", after="_resync"),
        *stay("joined_answer", "NOT_JOINED", after="_unwanted_join"),
        # back from a disconnection into a moderated room's waiting room: out of the room first
        {"trigger": "waiting_answer", "source": "JOINING", "dest": "WAITING",
         "conditions": "_rejoining", "after": ["_out_of_room", "_waiting"]},
        {"trigger": "waiting_answer", "source": "JOINING", "dest": "WAITING", "after": "_waiting"},
        *stay("waiting_answer", "WAITING", after="_still_waiting"),
        {"trigger": "entry_allowed", "source": "WAITING", "dest": "JOINING", "after": "_allowed"},
        {"trigger": "entry_denied", "source": "WAITING", "dest": "NOT_JOINED",
         "conditions": "_join_pending",
         "after": ["_denied", "_reject_join_denied", "_out_of_waiting_room"]},
        {"trigger": "entry_denied", "source": "WAITING", "dest": "NOT_JOINED",
         "after": ["_denied", "_out_of_waiting_room"]},
        {"trigger": "join_acked", "source": "WAITING", "dest": "NOT_JOINED",
         "conditions": "_join_pending",
         "after": ["_denied", "_reject_join_removed", "_out_of_waiting_room"]},
        {"trigger": "join_acked", "source": "WAITING", "dest": "NOT_JOINED",
         "after": ["_denied", "_out_of_waiting_room"]},
        # an answer settles the request it names; one naming no pending request is stale
        *stay("acked", _ALL, conditions="_answers_a_request", after="_settle"),
        *stay("acked", _ALL, after="_stale_ack"),
        {"trigger": "refused", "source": ["JOINING", "WAITING"], "dest": "NOT_JOINED",
         "conditions": "_refuses_join", "after": "_join_refused"},
        *stay("refused", _ALL, conditions=["_answers_a_request", "_version_conflict"],
              after=["_data_unknown", "_refused"]),
        *stay("refused", _ALL, conditions="_answers_a_request", after="_refused"),
        *stay("refused", _ALL, after="_stale_refusal"),
        *stay("data_state", _ALL, conditions=["_answers_a_request", "_state_current"],
              after=["_data_known", "_data_state"]),
        *stay("data_state", _ALL, conditions="_answers_a_request", after="_data_state"),
        *stay("data_state", _ALL, after="_stale_data_state"),
        # the relay's notices to members (a notice of what this room knows already is a
        # duplicate: the relay repeats itself across a resync)
        *stay("contact_joined", "JOINED", conditions="_contact_listed", after="_listed_already"),
        *stay("contact_joined", "JOINED", conditions="_joins_as_moderator",
              after=["_moderator_joined", "_contact_joined"]),
        *stay("contact_joined", "JOINED", after="_contact_joined"),
        *stay("contact_left", "JOINED", conditions="_contact_in_room", after="_contact_left"),
        *stay("contact_left", "JOINED", after="_not_listed"),
        *stay("join_request", "JOINED", conditions="_contact_waits", after="_waits_already"),
        *stay("join_request", "JOINED", after="_join_request"),
        *stay("waiting_left", "JOINED", conditions="_contact_waits", after="_waiting_left"),
        *stay("waiting_left", "JOINED", after="_not_waiting"),
        *stay("message", "JOINED", conditions=["_from_history", "_history_unseen"],
              after=["_history_seen", "_history_message"]),
        *stay("message", "JOINED", conditions="_from_history", after="_history_replayed"),
        *stay("message", "JOINED", conditions="_live_unseen", after=["_live_seen", "_message"]),
        *stay("message", "JOINED", after="_message_seen"),
        *stay("data", "JOINED", after="_data"),
        *stay("custom_event", "JOINED", after="_custom_event"),
        *stay("data_updated", "JOINED", conditions="_data_newer", after="_data_updated"),
        *stay("data_updated", "JOINED", after="_data_held"),
        {"trigger": "ejected", "source": _IN, "dest": "NOT_JOINED", "conditions": "_self_ejected",
         "after": "_ejected_self"},
        *stay("ejected", "JOINED", after="_other_ejected"),
        *stay("ejected", ["JOINING", "WAITING"], after="_not_for_us"),
        {"trigger": "room_closed", "source": _IN, "dest": "NOT_JOINED",
         "after": closed_callback},
        # ... and to waiters
        *stay("moderator_connected", "WAITING", after="_moderator_connected"),
        *stay("moderator_left", "WAITING", conditions="_our_moderator", after="_moderator_left"),
        *stay("moderator_left", "WAITING"),  # another moderator: the one we wait for stays
        # the repeat timer and the relay connection
        {"trigger": "repeat_timer", "source": "JOINING", "dest": "NOT_JOINED",
         "conditions": "_join_overdue", "after": "_join_timed_out"},
        *stay("repeat_timer", _ALL, after="_repeat"),
        *stay("disconnected", _ALL, after="_disconnected"),
        {"trigger": "reconnected", "source": "JOINED", "dest": "JOINING", "after": "_rejoin"},
        *stay("reconnected", ["JOINING", "WAITING"], after="_rejoin"),
    ]  # fmt: skip
    return rows


CONVERSATION_TRANSITIONS: list[dict[str, Any]] = _table("_closed_quietly", [])
"""The Conversation's table (a closed room: ``left`` only)."""

CONFERENCE_TRANSITIONS: list[dict[str, Any]] = _table(
    "_closed", stay("close", "JOINED", after="_send_request")
)
"""The Conference's table: the Conversation's, plus ``close`` and the ``closed`` event."""

_D = ConversationDrop

CONVERSATION_INPUTS = Inputs(
    unexpected=_D.UNEXPECTED,
    wire={
        ConvJoined: "joined_answer",
        ConvWaiting: "waiting_answer",
        ConvEntry: Classify("allowed", {True: "entry_allowed", False: "entry_denied"}),
        ConvAck: Classify("command", {ConvCommand.JOIN: "join_acked"}, otherwise="acked"),
        ConvError: "refused",
        ConvDataState: "data_state",
        ConvContactJoined: "contact_joined",
        ConvContactLeft: "contact_left",
        ConvJoinRequest: "join_request",
        ConvWaitingLeft: "waiting_left",
        ConvMessage: "message",
        ConvData: "data",
        ConvCustomEvent: "custom_event",
        ConvDataUpdated: "data_updated",
        ConvEjected: "ejected",
        ConvClosed: "room_closed",
        ConvModeratorConnected: "moderator_connected",
        ConvModeratorLeft: "moderator_left",
    },
    timers={ConversationTimer.REPEAT: "repeat_timer"},
)
"""How each relay message and timer becomes a trigger."""

_COMMANDS = ("join", "cancel_join", "leave", *_REQUESTS)
_NOT_IN_ROOM = Ignore(_D.NOT_IN_ROOM)
_STALE = Ignore(_D.STALE_ANSWER)

CONVERSATION_VERDICTS: dict[str | tuple[str, str], Any] = {
    **dict.fromkeys(_COMMANDS, ILLEGAL),
    **dict.fromkeys(("waiting_answer", "entry_allowed", "entry_denied", "join_acked"), _STALE),
    **dict.fromkeys(
        (
            "contact_joined",
            "contact_left",
            "join_request",
            "waiting_left",
            "message",
            "data",
            "custom_event",
            "data_updated",
            "ejected",
            "room_closed",
            "reconnected",
        ),
        _NOT_IN_ROOM,
    ),
    **dict.fromkeys(("moderator_connected", "moderator_left"), Ignore(_D.NOT_WAITING)),
}
"""The verdict of every (state, trigger) pair without a row: commands are illegal (16), relay
messages ignored with a reason."""

CONFERENCE_VERDICTS: dict[str | tuple[str, str], Any] = {**CONVERSATION_VERDICTS, "close": ILLEGAL}

_MODERATOR_ONLY = frozenset({"allow_entry", "deny_entry", "eject", "close"})


@attrs.define(slots=True, eq=False)
class _Room:
    """What Conversation and Conference share: fields, commands, inputs and callbacks."""

    KIND: ClassVar[str] = "conversation"

    name: str
    address: str
    settings: ConversationSettings = attrs.field(factory=ConversationSettings)
    ids: IdSource | None = attrs.field(default=None, repr=False)
    host: ConversationHost | None = attrs.field(default=None, repr=False)
    #: settings of a room this join creates (the relay keeps the first joiner's)
    moderated: bool = False
    password: str | None = attrs.field(default=None, repr=False)
    state: ConversationState = ConversationState.NOT_JOINED
    role: ConversationRole | None = None
    #: the other members (address -> role), in the relay's order
    contacts: dict[str, ConversationRole] = attrs.field(factory=dict)
    moderators: dict[str, None] = attrs.field(factory=dict)
    #: moderator: waiting addresses -> their join request
    waiting_room: dict[str, ReceivedConversationJoinRequest] = attrs.field(factory=dict)
    #: while waiting: a moderator's address, if the relay named one
    moderator: str | None = None
    last_seq: int = 0
    data_version: int = 0
    data: dict[str, Any] | None = None
    last_request: str | None = None
    _pending: dict[str, _Pending] = attrs.field(factory=dict)
    _join_id: str | None = None
    _resyncing: bool = False
    _history_seq: int = 0
    _timer_armed: bool = False
    _serial: int = 0
    #: the room's media: stream list, publications, subscriptions, calls (built from the above)
    media: ConversationMedia = attrs.field(init=False, repr=False)
    #: ids of the calls whose slot is registered with the host (route ``ccall_id``)
    _slots: dict[str, None] = attrs.field(init=False, factory=dict, repr=False)

    def __attrs_post_init__(self) -> None:
        if self.ids is None:
            self.ids = CounterIds(self.address)
        self.media = ConversationMedia(
            self.name, self.address, ids=self.ids, settings=self.settings.call
        )

    # --- public: queries -----------------------------------------------------------------------

    @property
    def target(self) -> str:
        """The :class:`~rtcstate.effects.Emit` target of this conversation's events."""
        return target("conversation", self.name)

    @property
    def status(self) -> ConversationStatus:
        """``getStatus()``."""
        return ConversationStatus(self.state.value)

    @property
    def joined(self) -> bool:
        """``isJoined()``."""
        return self.state is ConversationState.JOINED

    @property
    def ended(self) -> bool:
        """Never: a conversation lives as long as its session holds it (Child protocol)."""
        return False

    @property
    def is_moderator(self) -> bool:
        return self.role is ConversationRole.MODERATOR

    def get_contacts(self) -> list[str]:
        """``getContacts()``: the other members' addresses."""
        return list(self.contacts)

    def get_role(self) -> str | None:
        """``getRole()``: this device's role once joined, else None."""
        return None if self.role is None else self.role.value

    def get_moderator(self) -> str | None:
        """``getModerator()``: a moderator's address (this device's, if it is one)."""
        if self.is_moderator:
            return self.address
        if self.moderators:
            return next(iter(self.moderators))
        return self.moderator

    def get_waiting_room_contacts(self) -> list[str]:
        """``getWaitingRoomContacts()`` (moderator): the waiting addresses."""
        return list(self.waiting_room)

    def outstanding(self) -> tuple[str, ...]:
        """The request ids not answered yet (repeated every ``repeat_interval``)."""
        return tuple(self._pending)

    # --- public: commands (raise, change nothing, when refused) -------------------------------

    def join(self, now: float, *, password: str | None = None) -> list[Effect]:
        """Join the room (NOT_JOINED only); ``password`` for a private room."""
        self._check("join")
        if password is not None:
            self.password = password
        return self._command("join", now)

    def cancel_join(self, now: float) -> list[Effect]:
        """Leave the waiting room (WAITING only): the join is rejected with 15."""
        return self._command("cancel_join", now)

    def leave(self, now: float) -> list[Effect]:
        """Leave the room (JOINED only, else 16 ERROR_WRONG_STATE)."""
        return self._command("leave", now)

    def send_message(self, now: float, content: str) -> list[Effect]:
        """A text message to every other member (acknowledged by the relay with its number)."""
        self._check("send_message")
        _text("content", content)
        return self._request("send_message", now, ConvSendMessage(self.name, self._rid(), content))

    def send_data(self, now: float, content: dict[str, Any]) -> list[Effect]:
        """Application data to every other member (``data`` there)."""
        self._check("send_data")
        _payload("content", content)
        return self._request("send_data", now, ConvSendData(self.name, self._rid(), content))

    def send_custom_event(
        self, now: float, event: str, content: dict[str, Any] | None = None
    ) -> list[Effect]:
        """A custom event to every other member (``customEvent`` there)."""
        self._check("send_custom_event")
        _text("event", event)
        body = {} if content is None else content
        _payload("content", body)
        request = ConvSendEvent(self.name, self._rid(), event, body)
        return self._request("send_custom_event", now, request)

    def get_data(self, now: float) -> list[Effect]:
        """Read the persistent data (resolved with ``{data, version}``)."""
        self._check("get_data")
        return self._request("get_data", now, ConvGetData(self.name, self._rid()))

    def set_data(self, now: float, data: dict[str, Any]) -> list[Effect]:
        """Replace the persistent data, if nobody changed it since the version this device
        holds (else rejected with 17 ERROR_ON_SAVE and the current version)."""
        self._check("set_data")
        _payload("data", data)
        request = ConvSetData(self.name, self._rid(), self.data_version, data)
        return self._request("set_data", now, request)

    def update_data(self, now: float, changes: dict[str, Any]) -> list[Effect]:
        """Merge ``changes`` (``None`` removes a key) into the persistent data, compare-and-set
        as :meth:`set_data`."""
        self._check("update_data")
        _payload("changes", changes)
        request = ConvUpdateData(self.name, self._rid(), self.data_version, changes)
        return self._request("update_data", now, request)

    def allow_entry(self, now: float, contact: str) -> list[Effect]:
        """Moderator: admit the waiting user ``contact`` (a user, or an address of it)."""
        self._check("allow_entry")
        request = ConvAllow(self.name, self._rid(), user_of(contact))
        return self._request("allow_entry", now, request)

    def deny_entry(self, now: float, contact: str, reason: str | None = None) -> list[Effect]:
        """Moderator: refuse the waiting user ``contact`` (its join is rejected with 14)."""
        self._check("deny_entry")
        request = ConvDeny(self.name, self._rid(), user_of(contact), reason)
        return self._request("deny_entry", now, request)

    def eject(self, now: float, contact: str, reason: str | None = None) -> list[Effect]:
        """Moderator: remove user ``contact`` from the room (the relay bans it for a while)."""
        self._check("eject")
        if user_of(contact) == user_of(self.address):
            raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, "a moderator cannot eject itself")
        request = ConvEject(self.name, self._rid(), user_of(contact), reason)
        return self._request("eject", now, request)

    # --- public: inputs (never raise) ------------------------------------------------------------

    def receive(self, env: wire.Envelope, now: float) -> list[Effect]:
        """One relay message for this room."""
        msg = env.message
        if getattr(msg, "room", None) != self.name:
            return [Drop(_D.OTHER_ROOM, f"{msg.TYPE} for {getattr(msg, 'room', None)!r}")]
        fx: list[Effect] = []
        kind = type(msg)
        if kind in STREAM_RELAY_ONLY or (
            (kind is ConvAck or kind is ConvError) and self.media.owns_answer(msg.request_id)  # type: ignore[attr-defined]
        ):
            if self.state is not ConversationState.JOINED:
                fx.append(Drop(_D.NOT_IN_ROOM, f"{msg.TYPE} while {self.state.name}"))
            else:
                fx.extend(self.media.receive(env, now))
        else:
            spec_of(self).deliver(self, kind, msg, fx, now, msg=msg, sender=env.sender)
        self._media_sync(fx, now)
        return fx

    def timer_fired(self, name: str, now: float) -> list[Effect]:
        timer = _TIMER_BY_NAME.get(name)
        if timer is None or not self._timer_armed:
            return [Drop(_D.STALE_TIMER, f"{self._tid()}:{name}")]
        self._timer_armed = False
        fx: list[Effect] = []
        spec_of(self).deliver(self, timer, None, fx, now)
        self._media_sync(fx, now)
        return fx

    def media_event(self, event: object, now: float) -> list[Effect]:
        """A media report for one of this room's streams or calls (the session routes a call's
        reports to its :class:`~rtcstate.conversation.slots.CallSlot`); never raises."""
        if getattr(event, "call_id", None) is None and getattr(event, "stream_id", None) is None:
            return [Drop(_D.UNEXPECTED, f"{type(event).__name__}: names no stream or call")]
        fx = self.media.media_event(event, now)
        self._media_sync(fx, now)
        return fx

    def on_disconnected(self, now: float) -> list[Effect]:
        fx: list[Effect] = []
        spec_of(self).fire(self, "disconnected", fx, now)
        # the relay forgets this member and its streams: every call ends; the streams
        # published here are published again once the room is joined again
        fx.extend(self.media.suspend(now))
        self._sync_slots(fx)
        return fx

    def on_reconnected(self, now: float) -> list[Effect]:
        fx: list[Effect] = []
        spec_of(self).fire(self, "reconnected", fx, now)
        self._media_sync(fx, now)
        return fx

    # --- public: media (publish / subscribe: rtcstate.conversation.media) ------------------------

    def holds_stream(self, stream_id: str) -> bool:
        """Whether ``stream_id`` is a stream this device publishes here or received here (the
        session routes a stream-level report no created stream takes to the room holding it)."""
        media = self.media
        return stream_id in media.published or stream_id in media.remote_streams

    def get_available_stream_list(self) -> list[dict[str, Any]]:
        """``getAvailableStreamList()``: the room's streams (StreamInfo), this device's too."""
        return self.media.get_available_stream_list()

    def listen(self, event: str, now: float) -> list[Effect]:
        """The application attached its first listener for ``event``: a buffered
        ``streamListChanged`` queue is replayed (apiRTC buffers it until then)."""
        return self.media.listen(event, now)

    def publish(
        self, now: float, stream: Stream, context: dict[str, Any] | None = None
    ) -> list[Effect]:
        """Publish local ``stream`` in the room (JOINED only, else 16); resolved on the relay's
        acknowledgement."""
        return self._media_command(
            now, lambda: self.media.publish(now, stream, joined=self.joined, context=context)
        )

    def unpublish(self, now: float, stream_id: str) -> list[Effect]:
        """Withdraw a published stream (8 ERROR_NOT_FOUND if it is not); its calls end."""
        return self._media_command(now, lambda: self.media.unpublish(now, stream_id))

    def replace_published_stream(self, now: float, old_id: str, new: Stream) -> list[Effect]:
        """Publish ``new`` in place of ``old_id``: the calls carry on with its tracks."""
        return self._media_command(
            now, lambda: self.media.replace_published_stream(now, old_id, new)
        )

    def subscribe_to_stream(
        self, now: float, stream_id: str, *, audio: bool = True, video: bool = True
    ) -> list[Effect]:
        """Receive the listed remote stream ``stream_id`` (JOINED only): one call."""
        self._check_joined("subscribe_to_stream")
        return self._media_command(
            now, lambda: self.media.subscribe_to_stream(now, stream_id, audio=audio, video=video)
        )

    def unsubscribe_to_stream(self, now: float, stream_id: str) -> list[Effect]:
        """Stop receiving ``stream_id`` (8 ERROR_NOT_FOUND if not subscribed)."""
        return self._media_command(now, lambda: self.media.unsubscribe_to_stream(now, stream_id))

    def hangup_stream(self, now: float, stream_id: str, reason: str | None = None) -> list[Effect]:
        """Hang up the call carrying ``stream_id`` (a bye to the far end, ``hangup`` here)."""
        call = self.media.get_conversation_call(stream_id)
        if call is None:
            raise RtcError(ErrorNumber.ERROR_NOT_FOUND, f"no call carries {stream_id!r}")
        if reason is None:
            return self._media_command(now, lambda: call.hangup(now))
        return self._media_command(now, lambda: call.hangup(now, reason))

    def start_recording(
        self,
        now: float,
        stream_id: str | None = None,
        *,
        audio_only: bool = False,
        video_only: bool = False,
    ) -> list[Effect]:
        """``startRecording`` (``stream_id`` None: the conversation, i.e. the first stream
        published here; else ``startRecordingPublishedStream`` of that stream). 12 when nothing
        is published or it is already recorded; settled by a ``RecordingOutcome``."""
        return self._media_command(
            now,
            lambda: self.media.start_recording(
                now, stream_id, audio_only=audio_only, video_only=video_only
            ),
        )

    def stop_recording(self, now: float, stream_id: str | None = None) -> list[Effect]:
        """``stopRecording`` (12 when not recording, 16 while it is still starting)."""
        return self._media_command(now, lambda: self.media.stop_recording(now, stream_id))

    def call_ids(self) -> tuple[str, ...]:
        """The ids of this room's live calls (their slots are registered with the host)."""
        return tuple(self.media.calls)

    # --- internals: media ----------------------------------------------------------------------

    def _check_joined(self, command: str) -> None:
        if self.state is not ConversationState.JOINED:
            raise RtcError(ErrorNumber.ERROR_WRONG_STATE, f"{command} needs a joined conversation")

    def _media_command(self, now: float, run: Any) -> list[Effect]:
        fx: list[Effect] = run()  # raises (nothing changed) when refused
        self._sync_slots(fx)
        return fx if self.host is None else self.host.child_output(self, fx)

    def _media_sync(self, fx: list[Effect], now: float) -> None:
        """After any input: the media book follows the membership (JOINED: the room's mode is
        announced and kept streams republished; out of the room: everything ends), then the
        calls' slots follow the calls."""
        media = self.media
        if self.state is ConversationState.JOINED:
            if media.mode is None or media.resuming:
                fx.extend(media.joined(now))
        elif (self.state is not ConversationState.JOINING or not self._resyncing) and (
            media.mode is not None or media.calls or media.published or media.pending
        ):
            fx.extend(media.left(now))
        self._sync_slots(fx)

    def _sync_slots(self, fx: list[Effect]) -> None:
        media = self.media
        live = {sid: r for sid, r in media.recordings.items() if r.recording}
        for key in [c for c in self._slots if c not in media.calls and c not in live]:
            del self._slots[key]
            if self.host is not None:
                fx.extend(e for e in self.host.detach(CALL_ROUTE, key) if e not in fx)
        for call_id, call in media.calls.items():
            if call_id not in self._slots:
                self._slots[call_id] = None
                if self.host is not None:
                    self.host.attach(CALL_ROUTE, call_id, CallSlot(media, call))
        for sid, recording in live.items():
            # a recording's slot may have been detached by the session (it ended on its own
            # report) while its key stayed here: a new recording of the stream attaches again
            if sid not in self._slots or (
                self.host is not None and self.host.child(CALL_ROUTE, sid) is None
            ):
                self._slots[sid] = None
                if self.host is not None:
                    self.host.attach(CALL_ROUTE, sid, RecordingSlot(media, recording))

    # --- internals: commands ---------------------------------------------------------------------

    def _check(self, trigger: str) -> None:
        spec = spec_of(self)
        if not spec.allowed(self.state, trigger):
            raise spec.invalid(self, trigger)
        if trigger in _MODERATOR_ONLY and not self.is_moderator:
            raise RtcError(ErrorNumber.ERROR_UNAUTHORIZED, f"{trigger} needs the moderator role")

    def _command(self, trigger: str, now: float, **kw: Any) -> list[Effect]:
        self._check(trigger)
        fx: list[Effect] = []
        spec_of(self).fire(self, trigger, fx, now, **kw)
        self._media_sync(fx, now)
        return fx if self.host is None else self.host.child_output(self, fx)

    def _request(self, trigger: str, now: float, request: ConvRequest) -> list[Effect]:
        return self._command(trigger, now, request=request)

    def _rid(self) -> str:
        if self.ids is None:
            self.ids = CounterIds(self.address)
        return self.ids("conv")

    def _tid(self) -> str:
        return f"conversation:{self.name}"

    def _send(self, fx: list[Effect], now: float, request: ConvRequest) -> None:
        self._pending[request.request_id] = _Pending(request)
        self.last_request = request.request_id
        fx.append(Send(None, request))
        self._arm(fx, now)

    def _arm(self, fx: list[Effect], now: float) -> None:
        if self._pending and not self._timer_armed:
            self._timer_armed = True
            deadline = now + self.settings.repeat_interval
            fx.append(StartTimer(f"{self._tid()}:{ConversationTimer.REPEAT.value}", deadline))

    def _disarm(self, fx: list[Effect]) -> None:
        if not self._pending and self._timer_armed:
            self._timer_armed = False
            fx.append(CancelTimer(f"{self._tid()}:{ConversationTimer.REPEAT.value}"))

    def _emit(self, fx: list[Effect], event: str, payload: Any = None) -> None:
        fx.append(Emit(self.target, event, payload))

    def _resolve(self, fx: list[Effect], request: ConvRequest, value: Any = None) -> None:
        fx.append(Resolve(self.target, request.request_id, request.COMMAND.value, value))

    def _reject(
        self,
        fx: list[Effect],
        request: ConvRequest,
        code: int,
        info: str,
        version: int | None = None,
    ) -> None:
        fx.append(
            Reject(self.target, request.request_id, request.COMMAND.value, code, info, version)
        )
        if type(request) is ConvSendMessage:
            error = {"code": code, "message": info}
            self._emit(
                fx, "messageNotDelivered", {"error": error, "contact": None, "command": "message"}
            )

    def _take(self, request_id: str) -> ConvRequest | None:
        pending = self._pending.pop(request_id, None)
        return None if pending is None else pending.request

    def _drop_join(self) -> ConvRequest | None:
        join_id, self._join_id = self._join_id, None
        return None if join_id is None else self._take(join_id)

    def _reset_room(self) -> None:
        self.role = None
        self.contacts = {}
        self.moderators = {}
        self.waiting_room = {}
        self.moderator = None
        self._resyncing = False

    # --- callbacks: commands -------------------------------------------------------------------
    # (signature: fx, now, then keywords: request for commands, msg/sender for relay messages)

    def _send_join(self, fx: list[Effect], now: float, **_: Any) -> None:
        self.last_seq = 0
        # a leave or cancel not answered yet must not be repeated after this join (it would
        # undo it): it is either done already or lost, and the join supersedes it
        for request_id, pending in list(self._pending.items()):
            if type(pending.request) in (ConvLeave, ConvCancelJoin):
                del self._pending[request_id]
                self._resolve(fx, pending.request)
        request = ConvJoin(self.name, self._rid(), self.password, self.moderated)
        self._join_id = request.request_id
        self._send(fx, now, request)

    def _send_cancel(self, fx: list[Effect], now: float, **_: Any) -> None:
        self._send(fx, now, ConvCancelJoin(self.name, self._rid()))

    def _join_pending(self, fx: list[Effect], now: float, **_: Any) -> bool:
        return self._join_id in self._pending

    def _pending_join(self) -> ConvRequest:
        join_id = self._join_id
        assert join_id is not None  # _join_pending
        return self._pending[join_id].request

    def _reject_join_cancelled(self, fx: list[Effect], now: float, **_: Any) -> None:
        join = self._pending_join()
        self._reject(fx, join, ErrorNumber.ERROR_OPERATION_CANCELED, "cancelJoin")

    def _out_of_waiting_room(self, fx: list[Effect], now: float, **_: Any) -> None:
        """The join is given up (cancelled, denied, removed): back to NOT_JOINED."""
        self._drop_join()
        self._reset_room()
        self._disarm(fx)

    def _send_leave(self, fx: list[Effect], now: float, **_: Any) -> None:
        self._drop_join()
        self._reset_room()
        self._send(fx, now, ConvLeave(self.name, self._rid()))
        self._emit(fx, "left")

    def _send_request(
        self, fx: list[Effect], now: float, request: ConvRequest | None = None, **_: Any
    ) -> None:
        if request is not None:
            self._send(fx, now, request)

    # --- callbacks: answers --------------------------------------------------------------------

    def _apply_joined(self, msg: ConvJoined) -> dict[str, ConversationRole]:
        before = self.contacts
        moderators = dict.fromkeys(msg.moderators)
        self.role = msg.role
        self.moderators = moderators
        self.contacts = {
            a: ConversationRole.MODERATOR if a in moderators else ConversationRole.CONTRIBUTOR
            for a in msg.members
            if a != self.address
        }
        # the room's message number now: later live messages are above it, and its history
        # (replayed right after, flagged) at or below it; a new room starts again from 0
        self.last_seq = msg.seq
        self._history_seq = 0
        self.data_version = msg.data_version
        self.moderator = None
        return before

    def _settle_join(self, fx: list[Effect], msg: ConvJoined) -> None:
        join = self._drop_join()
        if join is not None:
            self._resolve(fx, join, {"role": msg.role.value})
        self._disarm(fx)

    def _joined(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        assert isinstance(msg, ConvJoined)
        self._apply_joined(msg)
        self._settle_join(fx, msg)
        self._emit(fx, "joined")

    def _rejoining(self, fx: list[Effect], now: float, **_: Any) -> bool:
        return self._resyncing

    def _rejoined(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        self._resyncing = False
        self._resync(fx, now, msg=msg)

    def _resync(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        assert isinstance(msg, ConvJoined)
        before = self._apply_joined(msg)
        for address in before:
            if address not in self.contacts:
                self._emit(fx, "contactLeft", address)
        for address in self.contacts:
            if address not in before:
                self._emit(fx, "contactJoined", address)
        self._settle_join(fx, msg)

    def _unwanted_join(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        # admitted after this device gave the join up (an allow crossing a cancel): leave
        self._send(fx, now, ConvLeave(self.name, self._rid()))

    def _out_of_room(self, fx: list[Effect], now: float, **_: Any) -> None:
        for address in self.contacts:
            self._emit(fx, "contactLeft", address)
        self._emit(fx, "left")

    def _waiting(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        assert isinstance(msg, ConvWaiting)
        self._reset_room()
        self.moderator = msg.moderator
        self._emit(fx, "waitingForModeratorAcceptance", {"moderator": msg.moderator})

    def _still_waiting(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        assert isinstance(msg, ConvWaiting)
        self.moderator = msg.moderator

    def _allowed(self, fx: list[Effect], now: float, **_: Any) -> None:
        self._emit(fx, "entryAllowed")

    def _denied(self, fx: list[Effect], now: float, **_: Any) -> None:
        self._emit(fx, "entryDenied")

    def _reject_join_denied(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        info = getattr(msg, "reason", None) or "entry denied by the moderator"
        self._reject(fx, self._pending_join(), ErrorNumber.ERROR_NOT_ALLOWED, info)

    def _reject_join_removed(self, fx: list[Effect], now: float, **_: Any) -> None:
        info = "no longer in the waiting room"
        self._reject(fx, self._pending_join(), ErrorNumber.ERROR_NOT_ALLOWED, info)

    def _answers_a_request(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> bool:
        return getattr(msg, "request_id", None) in self._pending

    def _stale_ack(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        fx.append(Drop(_D.STALE_ANSWER, f"ack of {getattr(msg, 'request_id', None)}"))

    def _stale_refusal(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        fx.append(Drop(_D.STALE_ANSWER, f"refusal of {getattr(msg, 'request_id', None)}"))

    def _stale_data_state(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        fx.append(Drop(_D.STALE_ANSWER, f"data state for {getattr(msg, 'request_id', None)}"))

    def _settle(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        assert isinstance(msg, ConvAck)
        request = self._pending.pop(msg.request_id).request  # _answers_a_request
        value: Any = None
        if msg.seq is not None:
            value = msg.seq
        if msg.version is not None and msg.version > self.data_version:
            if type(request) is ConvSetData:
                self.data = dict(request.data)
            elif type(request) is ConvUpdateData and self.data is not None:
                merged = dict(self.data)
                for key, item in request.changes.items():
                    if item is None:
                        merged.pop(key, None)
                    else:
                        merged[key] = item
                self.data = merged
            else:
                self.data = None  # unknown: get_data reads it again
            self.data_version = msg.version
            value = msg.version
        self._resolve(fx, request, value)
        self._disarm(fx)

    def _refuses_join(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> bool:
        return isinstance(msg, ConvError) and msg.request_id == self._join_id

    def _join_refused(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        assert isinstance(msg, ConvError)
        join = self._drop_join()
        self._reset_room()
        if join is not None:
            self._reject(fx, join, msg.code, msg.info)
        self._disarm(fx)

    def _version_conflict(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> bool:
        """Refused for a version conflict naming a version this room does not hold."""
        version = getattr(msg, "version", None)
        return (
            getattr(msg, "reason", None) is RoomRefusal.VERSION_CONFLICT
            and version is not None
            and version != self.data_version
        )

    def _data_unknown(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        self.data_version = msg.version
        self.data = None  # get_data reads it again

    def _refused(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        assert isinstance(msg, ConvError)
        request = self._pending.pop(msg.request_id).request  # _answers_a_request
        self._reject(fx, request, msg.code, msg.info, msg.version)
        self._disarm(fx)

    def _state_current(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> bool:
        """The data state read is not older than the data this room holds."""
        return bool(msg.version >= self.data_version)

    def _data_known(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        self.data_version = msg.version
        self.data = dict(msg.data)

    def _data_state(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        assert isinstance(msg, ConvDataState)
        request = self._pending.pop(msg.request_id).request  # _answers_a_request
        self._resolve(fx, request, {"data": dict(msg.data), "version": msg.version})
        self._disarm(fx)

    # --- callbacks: notices --------------------------------------------------------------------

    def _contact_listed(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> bool:
        contact = getattr(msg, "contact", None)
        return contact == self.address or contact in self.contacts

    def _contact_in_room(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> bool:
        return getattr(msg, "contact", None) in self.contacts

    def _listed_already(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        fx.append(Drop(_D.DUPLICATE, f"{getattr(msg, 'contact', None)} is listed already"))

    def _not_listed(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        fx.append(Drop(_D.DUPLICATE, f"{getattr(msg, 'contact', None)} is not listed"))

    def _contact_joined(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        assert isinstance(msg, ConvContactJoined)
        self.contacts[msg.contact] = msg.role
        self._emit(fx, "contactJoined", msg.contact)

    def _joins_as_moderator(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> bool:
        return getattr(msg, "role", None) is ConversationRole.MODERATOR

    def _moderator_joined(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        self.moderators[msg.contact] = None

    def _contact_left(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        assert isinstance(msg, ConvContactLeft)
        del self.contacts[msg.contact]  # _contact_in_room
        self.moderators.pop(msg.contact, None)
        self._emit(fx, "contactLeft", msg.contact)

    def _contact_waits(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> bool:
        return getattr(msg, "contact", None) in self.waiting_room

    def _waits_already(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        fx.append(Drop(_D.DUPLICATE, f"{getattr(msg, 'contact', None)} is waiting already"))

    def _not_waiting(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        fx.append(Drop(_D.DUPLICATE, f"{getattr(msg, 'contact', None)} is not waiting"))

    def _join_request(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        assert isinstance(msg, ConvJoinRequest)
        request = ReceivedConversationJoinRequest(
            f"{self.name}:{msg.contact}", self.name, msg.contact, self
        )
        self.waiting_room[msg.contact] = request
        self._emit(fx, "contactJoinedWaitingRoom", msg.contact)
        fx.append(Emit(SESSION, "conversationJoinRequest", request))

    def _waiting_left(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        assert isinstance(msg, ConvWaitingLeft)
        request = self.waiting_room.pop(msg.contact)  # _contact_waits
        request.withdrawn(fx, now, msg.reason)
        self._emit(fx, "contactLeftWaitingRoom", msg.contact)

    # a live message above the last number held is new; a history message (the replay after a
    # join) is new when above the last replayed and at or below the number at the join

    def _from_history(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> bool:
        return bool(getattr(msg, "history", False))

    def _history_unseen(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> bool:
        return bool(self._history_seq < msg.seq <= self.last_seq)

    def _live_unseen(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> bool:
        return bool(msg.seq > self.last_seq)

    def _history_seen(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        self._history_seq = msg.seq

    def _live_seen(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        self.last_seq = msg.seq

    def _history_replayed(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        seq = getattr(msg, "seq", None)
        fx.append(Drop(_D.DUPLICATE, f"history message {seq} replayed already"))

    def _message_seen(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        seq = getattr(msg, "seq", None)
        fx.append(Drop(_D.DUPLICATE, f"message {seq} (held up to {self.last_seq})"))

    def _message(self, fx: list[Effect], now: float, msg: Any = None, sender: Any = None,
                 **_: Any) -> None:  # fmt: skip
        assert isinstance(msg, ConvMessage)
        self._message_event(fx, now, msg, sender, {})

    def _history_message(self, fx: list[Effect], now: float, msg: Any = None, sender: Any = None,
                         **_: Any) -> None:  # fmt: skip
        assert isinstance(msg, ConvMessage)
        self._message_event(fx, now, msg, sender, {"history": True})

    def _message_event(
        self, fx: list[Effect], now: float, msg: ConvMessage, sender: Any, flag: dict[str, Any]
    ) -> None:
        body: dict[str, Any] = {"content": msg.content, "sender": sender, "time": now, **flag}
        self._emit(fx, "message", body)
        session = {"sender": sender, "content": msg.content, "conversation": self.name}
        fx.append(Emit(SESSION, "conversationMessage", session))

    def _data(self, fx: list[Effect], now: float, msg: Any = None, sender: Any = None,
              **_: Any) -> None:  # fmt: skip
        assert isinstance(msg, ConvData)
        self._emit(fx, "data", {"content": msg.content, "sender": sender})
        session = {"sender": sender, "content": msg.content, "conversation": self.name}
        fx.append(Emit(SESSION, "conversationData", session))

    def _custom_event(self, fx: list[Effect], now: float, msg: Any = None, sender: Any = None,
                      **_: Any) -> None:  # fmt: skip
        assert isinstance(msg, ConvCustomEvent)
        body = {"event": msg.event, "sender": sender, "content": msg.content}
        self._emit(fx, "customEvent", body)
        fx.append(Emit(SESSION, "customEvent", {**body, "conversation": self.name}))

    def _data_newer(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> bool:
        return bool(msg.version > self.data_version)

    def _data_held(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        version = getattr(msg, "version", None)
        fx.append(Drop(_D.DUPLICATE, f"data version {version} (held {self.data_version})"))

    def _data_updated(self, fx: list[Effect], now: float, msg: Any = None, sender: Any = None,
                      **_: Any) -> None:  # fmt: skip
        assert isinstance(msg, ConvDataUpdated)
        self.data_version = msg.version
        self.data = dict(msg.data)
        body = {"data": dict(msg.data), "version": msg.version, "sender": sender}
        self._emit(fx, "persistentDataUpdated", body)

    def _self_ejected(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> bool:
        return isinstance(msg, ConvEjected) and msg.contact == user_of(self.address)

    def _ejected_self(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        assert isinstance(msg, ConvEjected)
        was_member = self.role is not None
        join = self._drop_join()
        self._reset_room()
        if was_member:
            self._emit(fx, "left")
        self._emit(fx, "participantEjected", {"self": True, "contact": msg.contact})
        if join is not None:
            self._reject(fx, join, ErrorNumber.ERROR_NOT_ALLOWED, "ejected by a moderator")
        self._disarm(fx)

    def _other_ejected(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        assert isinstance(msg, ConvEjected)
        self._emit(fx, "participantEjected", {"self": False, "contact": msg.contact})

    def _not_for_us(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        fx.append(Drop(_D.NOT_FOR_US, "another user's ejection while not a member"))

    def _closed(self, fx: list[Effect], now: float, **_: Any) -> None:
        was_member = self.role is not None
        self._emit(fx, "closed")
        self._closed_quietly(fx, now, was_member=was_member)

    def _closed_quietly(self, fx: list[Effect], now: float, was_member: bool | None = None,
                        **_: Any) -> None:  # fmt: skip
        member = self.role is not None if was_member is None else was_member
        join = self._drop_join()
        self._reset_room()
        if member:
            self._emit(fx, "left")
        if join is not None:
            self._reject(fx, join, ErrorNumber.ERROR_NOT_ALLOWED, "the room was closed")
        self._disarm(fx)

    def _moderator_connected(self, fx: list[Effect], now: float, msg: Any = None,
                             **_: Any) -> None:  # fmt: skip
        assert isinstance(msg, ConvModeratorConnected)
        self.moderator = msg.moderator
        self._emit(fx, "moderatorConnected", {"moderator": msg.moderator})

    def _moderator_left(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> None:
        self.moderator = None

    def _our_moderator(self, fx: list[Effect], now: float, msg: Any = None, **_: Any) -> bool:
        return isinstance(msg, ConvModeratorLeft) and self.moderator == msg.moderator

    # --- callbacks: the timer and the connection -------------------------------------------------

    def _join_overdue(self, fx: list[Effect], now: float, **_: Any) -> bool:
        pending = None if self._join_id is None else self._pending.get(self._join_id)
        return pending is not None and pending.repeats >= self.settings.max_repeats

    def _join_timed_out(self, fx: list[Effect], now: float, **_: Any) -> None:
        join = self._drop_join()
        assert join is not None  # _join_overdue: the join is pending
        self._reset_room()
        self._reject(fx, join, ErrorNumber.ERROR_TIMED_OUT, "the relay did not answer")
        self._repeat(fx, now)

    def _repeat(self, fx: list[Effect], now: float, **_: Any) -> None:
        waiting = self.state is ConversationState.WAITING
        for request_id, pending in list(self._pending.items()):
            if waiting and request_id == self._join_id:
                fx.append(Send(None, pending.request))  # repeated as long as it waits
                continue
            if pending.repeats >= self.settings.max_repeats:
                del self._pending[request_id]
                if request_id == self._join_id:
                    self._join_id = None
                info = f"no answer after {pending.repeats} repeats"
                self._reject(fx, pending.request, ErrorNumber.ERROR_TIMED_OUT, info)
                continue
            pending.repeats += 1
            fx.append(Send(None, pending.request))
        self._timer_armed = False
        self._arm(fx, now)

    def _disconnected(self, fx: list[Effect], now: float, **_: Any) -> None:
        # the relay forgets this address: requests other than the join may or may not have
        # taken effect, so they are rejected; the membership is restored on reconnection
        for request_id, pending in list(self._pending.items()):
            if request_id == self._join_id:
                continue
            del self._pending[request_id]
            request = pending.request
            if type(request) in (ConvLeave, ConvCancelJoin):
                self._resolve(fx, request)  # the disconnection did it
            else:
                info = "the relay connection was lost"
                self._reject(fx, request, ErrorNumber.ERROR_NETWORK_UNAVAILABLE, info)
        if self._timer_armed:
            self._timer_armed = False
            fx.append(CancelTimer(f"{self._tid()}:{ConversationTimer.REPEAT.value}"))

    def _rejoin(self, fx: list[Effect], now: float, **_: Any) -> None:
        if self.state is ConversationState.JOINING and self.role is not None:
            self._resyncing = True  # was JOINED: the answer is diffed, not announced
        for address in list(self.waiting_room):
            self.waiting_room.pop(address).withdrawn(fx, now)
        pending = None if self._join_id is None else self._pending.get(self._join_id)
        if pending is not None:  # the same request again: the relay forgot it at disconnection
            pending.repeats = 0
            self.last_request = pending.request.request_id
            fx.append(Send(None, pending.request))
            self._arm(fx, now)
            return
        request = ConvJoin(self.name, self._rid(), self.password, self.moderated)
        self._join_id = request.request_id
        self._send(fx, now, request)


def _text(name: str, value: object) -> None:
    if not isinstance(value, str) or not value:
        raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, f"{name} must be a non-empty string")


def _payload(name: str, value: object) -> None:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, f"{name} must be a dict with str keys")


@machine(
    ConversationState,
    CONVERSATION_TRANSITIONS,
    initial=ConversationState.NOT_JOINED,
    inputs=CONVERSATION_INPUTS,
    verdicts=CONVERSATION_VERDICTS,
)
@attrs.define(slots=True, eq=False)
class Conversation(_Room):
    """apiRTC's Conversation: one device's membership of a room held by the relay.

    Commands raise (and change nothing) when refused; relay messages (:meth:`receive`), the
    timer (:meth:`timer_fired`) and connection reports never raise."""


@machine(
    ConversationState,
    CONFERENCE_TRANSITIONS,
    initial=ConversationState.NOT_JOINED,
    inputs=CONVERSATION_INPUTS,
    verdicts=CONFERENCE_VERDICTS,
)
@attrs.define(slots=True, eq=False)
class Conference(Conversation):
    """apiRTC's Conference: a Conversation its moderator may :meth:`close` for everyone
    (``closed`` on every member, then ``left``)."""

    KIND: ClassVar[str] = "conference"

    def close(self, now: float) -> list[Effect]:
        """Moderator: close the room for everyone (JOINED and moderator only)."""
        self._check("close")
        return self._request("close", now, ConvClose(self.name, self._rid()))
