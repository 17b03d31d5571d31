"""The entry points: apiRTC's UserAgent, Session and Contact, and the routing of the core's events.

Theory of operation
-------------------
These are thin wrappers over the core objects of one :class:`~rtcstate_asyncio.runtime.Runtime`.
A command (``contact.call()``, ``contact.send_file()``, ``session.get_calls()``...) calls the
core at once through the runtime, so a misuse raises the core's
:class:`~rtcstate.errors.RtcError` unchanged and nothing changes; the effects it returns are
carried out in order by the runtime. The only coroutines are the waits: ``await
ua.register(url)`` (resolved by ``ccsConnectionStatus connected``, or raising
:class:`RegistrationError` with the apiRTC number of the session's ``error``) and ``await
ua.unregister()``.

Routing. The core's ``Emit(target, event, payload)`` reaches :meth:`Session._dispatch`, which
hands it to the wrapper its target names (``userAgent``, ``session``, ``contact:<user>``,
``call:<id>``, ``invitation:<id>``, ``dataChannel:<id>``); payloads that are core objects (an
invitation, a call, a data channel) are replaced by their wrappers (calls.py, channels.py,
files.py), one wrapper per core object. A contact's events about a file this session sends are
passed to its :class:`~rtcstate_asyncio.files.SentInvitation` too. An ``Emit`` for another kind
of target or with another payload is delivered raw to the taps added with
:meth:`Session.on_any`, and never breaks anything. Wrappers of ended calls, data channels and
invitations are forgotten soon after the event loop turn in which they ended (the application
may still hold them).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from ssl import SSLContext
from types import TracebackType
from typing import Any, Self, overload

from rtcstate import call as core_call
from rtcstate import conversation as core_conv
from rtcstate import datachannel as core_dc
from rtcstate import effects as fx
from rtcstate import filetransfer as core_ft
from rtcstate import invitation as core_inv
from rtcstate import session as core_session
from rtcstate import stream as core_stream
from rtcstate.codes import CallType, ErrorCode, ErrorNumber
from rtcstate.conversation import invitations as core_conv_inv
from rtcstate.conversation import registry as core_conv_registry
from rtcstate.errors import RtcError
from rtcstate_asyncio.backend import MediaBackend
from rtcstate_asyncio.calls import Call, ReceivedCallInvitation
from rtcstate_asyncio.channels import DataChannel, ReceivedDataChannelInvitation
from rtcstate_asyncio.conversations import (
    Conference,
    Conversation,
    ConversationError,
    Outcomes,
    ReceivedConversationInvitation,
    ReceivedConversationJoinRequest,
    SentConversationInvitation,
)
from rtcstate_asyncio.emitter import Emitter
from rtcstate_asyncio.files import (
    ReadableFile,
    ReceivedFileTransferInvitation,
    SentInvitation,
    _BufferSource,
    _FileSource,
    _Source,
)
from rtcstate_asyncio.runtime import Runtime
from rtcstate_asyncio.streams import LocalStreams, Stream
from rtcstate_asyncio.typed import ContactEvents, SessionEvents, UserAgentEvents

__all__ = [
    "Contact",
    "ContactMessageError",
    "MediaSource",
    "RegistrationError",
    "Session",
    "Tap",
    "UserAgent",
]

log = logging.getLogger("rtcstate_asyncio.api")  # the logger name docs/asyncio.md documents

Tap = Callable[[str, str, Any], object]
MediaSource = MediaBackend | Callable[[], MediaBackend]
#: what ``send_file`` sends: a buffer, or a binary file object read piece by piece
FileData = bytes | bytearray | memoryview | ReadableFile

#: the contact events about a file this session sends (routed to its SentInvitation too)
_SENDER_FILE_EVENTS = frozenset(
    {"fileTransferProgress", "fileSentSuccessfully", "fileTransferError"}
)


class RegistrationError(RtcError):
    """``ua.register()`` failed: ``code`` is the apiRTC number the session reported
    (``ERROR_APIRTC_INITIALISATION_FAILED`` when the first connection fails), ``descriptor``
    the session ``error`` event's descriptor."""

    def __init__(self, code: ErrorNumber, message: str, descriptor: Mapping[str, Any]) -> None:
        super().__init__(code, message)
        self.descriptor = dict(descriptor)


class ContactMessageError(RtcError):
    """A contact message, data or custom event was not delivered: ``code`` is its apiRTC
    number (8 ERROR_NOT_FOUND: the contact is not online; 0 ERROR_OTHER: the relay refused it,
    over its rate limit, at once; 11 ERROR_TIMED_OUT: no acknowledgement within 10 s; 2
    ERROR_NETWORK_UNAVAILABLE: the relay was lost first),
    ``command`` what was sent (``message``, ``data``, ``customEvent``)."""

    def __init__(self, code: ErrorNumber, message: str, command: str) -> None:
        super().__init__(code, message)
        self.command = command


class UserAgent(UserAgentEvents):
    """apiRTC's UserAgent: who we are, and the entry point (``register``)."""

    API_CLASS = "UserAgent"

    def __init__(
        self,
        user: str,
        *,
        device: str = "default",
        media: MediaSource | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        """``media``: a backend or a factory of backends (one per registration); ``options``:
        more :class:`~rtcstate.session.SessionConfig` fields (timers, retry policy, calls)."""
        super().__init__()
        self.user = user
        self.device = device
        self._media = media
        self.options: dict[str, Any] = dict(options or {})
        self._session: Session | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._media_closed = False  # the backend given as an instance was closed

    @property
    def session(self) -> Session | None:
        """The registered session (``getCurrentSession()``), None when not registered."""
        return self._session

    @property
    def is_registered(self) -> bool:
        """``isRegistered()``."""
        return self._session is not None

    async def register(
        self,
        server_url: str | Sequence[str] = "ws://127.0.0.1:8765",
        *,
        timeout: float | None = None,
        token: str | None = None,
        ssl: SSLContext | None = None,
    ) -> Session:
        """Connect to the relay at ``server_url`` and register; returns the :class:`Session`.

        ``server_url`` may be a list of relays (``[url1, url2]``, failover, docs/operations.md):
        the first registration tries them in order; after a loss (a relay that dies, or drains
        with close 1012) each reconnection attempt goes to the next one, round robin.

        Resolves on ``ccsConnectionStatus connected``. Raises :class:`RegistrationError` when the
        session reports it could not connect, :class:`TimeoutError` after ``timeout`` seconds,
        and the core's ``ERROR_APIRTC_SESSION_ALREADY_ON`` (6) when already registered.
        """
        if self._session is not None:
            raise RtcError(ErrorNumber.ERROR_APIRTC_SESSION_ALREADY_ON, "already registered")
        if self._media_closed:
            raise RtcError(
                ErrorNumber.ERROR_WRONG_STATE,
                "the media backend given to this UserAgent was closed by unregister(): give a "
                "factory (media=AiortcMedia) to register again",
            )
        options = dict(self.options)
        if token is not None:
            options["token"] = token
        urls = [server_url] if isinstance(server_url, str) else list(server_url)
        if not urls:
            raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, "register: no relay URL")
        config = core_session.SessionConfig(
            self.user, server_url=urls[0], fallback_urls=tuple(urls[1:]), device=self.device,
            **options,
        )  # fmt: skip
        session = Session(self)
        backend = _backend(self._media)
        # a backend the application gave serves every attempt until unregister() closes it;
        # one made by a factory belongs to this registration
        runtime = Runtime(
            config, media=backend, on_emit=session._dispatch,
            close_media=backend is not self._media, ssl=ssl,
        )  # fmt: skip
        session._attach(runtime)
        done: asyncio.Future[None] = runtime.loop.create_future()

        def watch(target: str, event: str, payload: Any) -> None:
            if done.done() or not isinstance(payload, dict):
                return
            if target == fx.USER_AGENT and payload.get("status") == "connected":
                done.set_result(None)
            elif (
                target == fx.SESSION
                and event == "error"
                and payload.get("errorCode") == ErrorCode.SERVER_CONNECTION_FAILED.value
            ):
                descriptor = payload.get("descriptor") or {}
                number = ErrorNumber(descriptor.get("errorNumber", 0))
                why = (
                    descriptor.get("reason") or descriptor.get("cause") or payload.get("errorInfo")
                )
                text = f"could not register on {', '.join(urls)}: {why}"
                done.set_exception(RegistrationError(number, text, descriptor))

        session._hooks.append(watch)
        try:
            runtime.run(runtime.session.register)
            async with asyncio.timeout(timeout):
                await done
        except BaseException:
            await session._close()
            raise
        finally:
            session._hooks.remove(watch)
        self._session = session
        return session

    async def __aenter__(self) -> Self:
        """``async with UserAgent(...) as ua:``; leaving the block unregisters (if registered)."""
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self.unregister()

    async def create_stream(
        self,
        *,
        audio: bool = True,
        video: bool = True,
        call_type: str = "media",
        timeout: float | None = 10.0,
    ) -> Stream:
        """``createStream()``: a local stream from the media backend (the aiortc backend:
        synthetic audio and video), to publish in conversations (``conversation.publish``) or
        send in a call (``contact.call(stream_id=stream.stream_id)``). Needs a registered
        session (the backend belongs to the registration): 16 ERROR_WRONG_STATE otherwise."""
        session = self._session
        if session is None:
            raise RtcError(
                ErrorNumber.ERROR_WRONG_STATE, "create_stream needs a registered session"
            )
        return await session._local_streams.create(
            audio=audio, video=video, call_type=call_type, timeout=timeout
        )

    async def unregister(self) -> None:
        """Leave the relay: calls end, the connection closes, every task is awaited.

        Raises ``ERROR_OTHER`` (0) when not registered, as apiRTC rejects.
        """
        session = self._session
        if session is None:
            raise RtcError(ErrorNumber.ERROR_OTHER, "UserAgent.unregister: no session")
        self._session = None
        try:
            session.runtime.run(session.core.unregister)
        finally:
            await session._close(unregistering=True)
            media = session.runtime.media
            if media is not None and not session.runtime.close_media:
                self._media_closed = True
                await media.close()

    def _spawn(self, awaitable: Awaitable[Any]) -> None:
        async def run() -> None:
            try:
                await awaitable
            except Exception:
                log.exception("an asynchronous event handler raised")

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _drain_tasks(self, timeout: float = 2.0) -> None:
        current = asyncio.current_task()
        tasks = {t for t in self._tasks if t is not current}
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)


def _backend(media: MediaSource | None) -> MediaBackend | None:
    """A backend given as such, or made by a factory (a fresh one per registration)."""
    if media is None or (not isinstance(media, type) and hasattr(media, "apply")):
        return media  # type: ignore[return-value]
    return media()


class Session(SessionEvents):
    """apiRTC's Session: contacts, incoming calls and data channels, connection events."""

    API_CLASS = "Session"

    def __init__(self, ua: UserAgent) -> None:
        super().__init__()
        self.ua = ua
        self._runtime: Runtime | None = None
        self._objects: dict[str, Emitter] = {}
        self._contacts: dict[str, Contact] = {}
        self._taps: list[Tap] = []
        self._hooks: list[Tap] = []
        self._prune: set[asyncio.Handle] = set()
        self._outcomes = Outcomes()  # the futures of conversation requests
        self._local_streams = LocalStreams(self)  # the streams the application created (streams.py)

    @property
    def runtime(self) -> Runtime:
        assert self._runtime is not None
        return self._runtime

    @property
    def core(self) -> core_session.Session:
        """The core :class:`rtcstate.session.Session`."""
        return self.runtime.session

    @property
    def id(self) -> str | None:
        """The relay's session id (``getId()``)."""
        return self.core.session_id

    @property
    def user_id(self) -> str:
        return self.core.config.user

    def get_contact(self, user: str) -> Contact:
        """``getContact(id)``: the :class:`Contact` for user ``user`` (one object per user)."""
        contact = self._contacts.get(user)
        if contact is None:
            contact = self._contacts[user] = Contact(self, user)
        return contact

    def get_or_create_contact(self, user: str) -> Contact:
        """``getOrCreateContact(id)``: the same as :meth:`get_contact` (one object per user,
        made on first use)."""
        return self.get_contact(user)

    def get_contacts_array(self, group: str | None = None) -> list[Contact]:
        """``getContactsArray(group)``: the contacts heard in presence group ``group`` (None:
        every contact online), sorted by id."""
        if group is None:
            return self.get_online_contacts()
        core = self.core
        members = set(core.presence_scope.members(group))
        if group == "default":  # presence told one contact at a time is the default group's
            heard = core.presence_scope.heard
            members.update(c for c in core.contacts if c not in heard)
        return [self.get_contact(c) for c in sorted(members)]

    # --- user data (apiRTC's UserData) --------------------------------------------------------

    def set_user_data(self, data: Mapping[str, Any]) -> None:
        """``setUserData(data)``: publish ``data`` (a JSON object) to whoever hears this user's
        presence (``contactListUpdate.userDataChanged`` there); kept and sent again after each
        reconnection. Raises ERROR_BAD_PARAMETER for data that is not a JSON object."""
        self.runtime.run(lambda now: self.core.set_user_data(now, data))

    def get_user_data(self) -> dict[str, Any] | None:
        """``getUserData()``: this user's data as last set (None: never set)."""
        return self.core.user_data

    def get_online_contacts(self) -> list[Contact]:
        """The contacts the relay says are online (sorted by id)."""
        return [self.get_contact(c) for c in sorted(self.core.contacts)]

    def get_calls(self) -> list[Call]:
        """``getCalls()``."""
        return [self._wrap_call(c) for c in self.core.calls().values()]

    # --- conversations (conversations.py) -------------------------------------------------------

    def get_conversation(
        self, name: str, *, moderated: bool = False, password: str | None = None
    ) -> Conversation:
        """``getConversation(name)`` / ``getOrCreateConversation``: one object per room name;
        ``moderated`` / ``password``: the settings of a room this device's join creates."""
        room = self.core.get_conversation(name, moderated=moderated, password=password)
        wrapper = self._wrap_room(room)
        assert isinstance(wrapper, Conversation)
        return wrapper

    def get_conference(
        self, name: str, *, moderated: bool = False, password: str | None = None
    ) -> Conference:
        """``getConference(name)`` / ``getOrCreateConference``: a conversation its moderator
        may ``close()``."""
        room = self.core.get_conference(name, moderated=moderated, password=password)
        wrapper = self._wrap_room(room)
        assert isinstance(wrapper, Conference)
        return wrapper

    # --- presence groups (apiRTC joinGroup / subscribeToGroup) and contact subscriptions ----

    def join_group(self, group: str) -> None:
        """``joinGroup(group)``: be seen in ``group`` by whoever subscribed to it."""
        self.runtime.run(lambda now: self.core.join_group(now, group))

    def leave_group(self, group: str) -> None:
        """``leaveGroup(group)``: stop being seen in ``group``."""
        self.runtime.run(lambda now: self.core.leave_group(now, group))

    def subscribe_to_group(self, group: str) -> None:
        """``subscribeToGroup(group)``: hear the presence of ``group``'s members."""
        self.runtime.run(lambda now: self.core.subscribe_to_group(now, group))

    def unsubscribe_to_group(self, group: str) -> None:
        """``unsubscribeToGroup(group)``: stop hearing ``group``."""
        self.runtime.run(lambda now: self.core.unsubscribe_to_group(now, group))

    def subscribe_to_contacts(self, users: Iterable[str]) -> None:
        """Hear the presence of these users (the relay's contact-level scope; apiRTC has
        groups only, so this is the one rtcstate addition, named after ``subscribeToGroup``)."""
        names = users if isinstance(users, str) else list(users)  # a str: the core refuses it
        self.runtime.run(lambda now: self.core.subscribe_presence(now, contacts=names))

    def unsubscribe_to_contacts(self, users: Iterable[str]) -> None:
        """Stop hearing these users."""
        names = users if isinstance(users, str) else list(users)  # a str: the core refuses it
        self.runtime.run(lambda now: self.core.unsubscribe_presence(now, contacts=names))

    def on_any(self, tap: Tap) -> None:
        """Call ``tap(target, event, payload)`` for every event (raw targets included)."""
        self._taps.append(tap)

    # --- internals ----------------------------------------------------------------------------

    def _attach(self, runtime: Runtime) -> None:
        self._runtime = runtime
        runtime.on_outcome = self._outcomes.settle
        runtime.intercept = self._local_streams.intercept

    async def _close(self, *, unregistering: bool = False) -> None:
        for handle in self._prune:
            handle.cancel()
        self._prune.clear()
        for obj in list(self._objects.values()):
            if isinstance(obj, SentInvitation | ReceivedFileTransferInvitation):
                obj._abandon("the session closed")
        await self.runtime.aclose()
        self._outcomes.abandon("the session closed")
        # the last events are queued: streams end (a task reading one finishes), then tasks
        ended: list[Emitter] = [*self._objects.values(), *self._contacts.values(), self]
        for emitter in [*ended, self.ua] if unregistering else ended:
            emitter._end_streams()
        await self.ua._drain_tasks()

    def _dispatch(self, emit: fx.Emit) -> None:
        payload = self._wrap(emit.payload)
        for hook in list(self._hooks):
            hook(emit.target, emit.event, payload)
        obj = self._target(emit.target)
        if obj is None:
            log.debug("%s %r for %s delivered raw", emit.event, payload, emit.target)
        else:
            obj._fire(emit.event, payload, self.ua._spawn)
            self._maybe_prune(emit.target, obj)
            if emit.event in _SENDER_FILE_EVENTS and isinstance(obj, Contact):
                self._sent_file_event(emit.event, payload)
        for tap in list(self._taps):
            try:
                result = tap(emit.target, emit.event, payload)
            except Exception:
                log.exception("a tap raised on %s %r", emit.target, emit.event)
                continue
            if inspect.isawaitable(result):
                self.ua._spawn(result)

    def _target(self, target: str) -> Emitter | None:
        if target == fx.USER_AGENT:
            return self.ua
        if target == fx.SESSION:
            return self
        kind, _, ident = target.partition(":")
        if kind == "contact":
            return self.get_contact(ident)
        obj = self._objects.get(target)
        if obj is not None:
            return obj
        if kind == "stream":  # a remote stream first heard of (its conversation holds it)
            for held in core_conv_registry.conversations(self.core).values():
                found = held.media.remote_streams.get(ident) or held.media.published.get(ident)
                if found is not None:
                    return self._wrap_stream(found)
            return None
        core = self.core
        if kind == "conversation":
            room = core.child("room", ident)
            return self._wrap_room(room) if isinstance(room, core_conv.Conversation) else None
        if kind == "call":
            call = core.get_call(ident)
            return None if call is None else self._wrap_call(call)
        if kind == "dataChannel":
            child = core.child("channel_id", ident)
            return self._wrap_channel(child) if isinstance(child, core_dc.DataChannel) else None
        if kind == "invitation":
            child = core.child("transfer_id", ident)
            if isinstance(child, core_ft.ReceivedFileTransferInvitation):
                return self._wrap_file_invitation(child)
            if isinstance(child, core_ft.FileTransfer):
                return self._wrap_sent(child.invitation)
            call = core.get_call(ident)
            if call is None:
                return None
            if call.invitation is not None:
                return self._wrap_invitation(call.invitation)
            if isinstance(call.owner, core_dc.ReceivedDataChannelInvitation):
                return self._wrap_dc_invitation(call.owner)
        return None

    def _wrap(self, payload: Any) -> Any:
        if isinstance(payload, core_conv.ReceivedConversationJoinRequest):
            return self._wrap_join_request(payload)
        if isinstance(payload, core_conv_inv.ReceivedConversationInvitation):
            key = payload.target
            found = self._objects.get(key)
            if not isinstance(found, ReceivedConversationInvitation) or found.core is not payload:
                found = self._objects[key] = ReceivedConversationInvitation(self, payload)
            return found
        if isinstance(payload, core_inv.ReceivedCallInvitation):
            return self._wrap_invitation(payload)
        if isinstance(payload, core_dc.ReceivedDataChannelInvitation):
            return self._wrap_dc_invitation(payload)
        if isinstance(payload, core_ft.ReceivedFileTransferInvitation):
            return self._wrap_file_invitation(payload)
        if isinstance(payload, core_call.Call):
            return self._wrap_call(payload)
        if isinstance(payload, core_dc.DataChannel):
            return self._wrap_channel(payload)
        return payload

    def _wrap_stream(self, stream: core_stream.Stream) -> Stream:
        key = stream.target
        obj = self._objects.get(key)
        if not isinstance(obj, Stream) or obj.core is not stream:
            obj = self._objects[key] = Stream(self, stream)
        return obj

    def _wrap_room(self, room: core_conv.Conversation) -> Conversation | Conference:
        key = room.target
        obj = self._objects.get(key)
        kind = Conference if isinstance(room, core_conv.Conference) else Conversation
        if not isinstance(obj, kind) or obj.core is not room:
            obj = self._objects[key] = kind(self, room)
        return obj

    def _wrap_join_request(
        self, request: core_conv.ReceivedConversationJoinRequest
    ) -> ReceivedConversationJoinRequest:
        key = fx.target("invitation", request.id)
        obj = self._objects.get(key)
        if not isinstance(obj, ReceivedConversationJoinRequest) or obj.core is not request:
            obj = self._objects[key] = ReceivedConversationJoinRequest(self, request)
        return obj

    def _wrap_sent_conversation(
        self, sent: core_conv_inv.SentConversationInvitation
    ) -> SentConversationInvitation:
        key = fx.target("invitation", sent.id)
        obj = self._objects.get(key)
        if not isinstance(obj, SentConversationInvitation) or obj.core is not sent:
            obj = self._objects[key] = SentConversationInvitation(self, sent)
        return obj

    def _wrap_call(self, call: core_call.Call) -> Call:
        obj = self._objects.get(call.target)
        if not isinstance(obj, Call):
            obj = self._objects[call.target] = Call(self, call)
        return obj

    def _wrap_channel(self, channel: core_dc.DataChannel) -> DataChannel:
        obj = self._objects.get(channel.target)
        if not isinstance(obj, DataChannel):
            obj = self._objects[channel.target] = DataChannel(self, channel)
        return obj

    def _wrap_invitation(self, inv: core_inv.ReceivedCallInvitation) -> ReceivedCallInvitation:
        key = fx.target("invitation", inv.id)
        obj = self._objects.get(key)
        if not isinstance(obj, ReceivedCallInvitation):
            obj = self._objects[key] = ReceivedCallInvitation(self, inv)
        return obj

    def _wrap_dc_invitation(
        self, inv: core_dc.ReceivedDataChannelInvitation
    ) -> ReceivedDataChannelInvitation:
        obj = self._objects.get(inv.target)
        if not isinstance(obj, ReceivedDataChannelInvitation):
            obj = self._objects[inv.target] = ReceivedDataChannelInvitation(self, inv)
        return obj

    def _wrap_file_invitation(
        self, inv: core_ft.ReceivedFileTransferInvitation
    ) -> ReceivedFileTransferInvitation:
        obj = self._objects.get(inv.target)
        if not isinstance(obj, ReceivedFileTransferInvitation):
            obj = self._objects[inv.target] = ReceivedFileTransferInvitation(self, inv)
        return obj

    def _wrap_sent(
        self, inv: core_inv.SentInvitation, source: _Source | None = None
    ) -> SentInvitation:
        key = fx.target("invitation", inv.id)
        obj = self._objects.get(key)
        if not isinstance(obj, SentInvitation):
            obj = self._objects[key] = SentInvitation(self, inv, source)
        elif source is not None and obj._source is None:
            obj._source = source
        return obj

    def _sent_file_event(self, event: str, payload: Any) -> None:
        """A contact's event about a file we send: tell its SentInvitation."""
        if not isinstance(payload, dict):
            return
        if event == "fileTransferError":
            ident = payload.get("invitationId")
        else:
            info = payload.get("transferInformation")
            ident = info.get("uuid") if isinstance(info, dict) else None
        if isinstance(ident, str):
            obj = self._objects.get(fx.target("invitation", ident))
            if isinstance(obj, SentInvitation):
                obj._file_event(event, payload)

    def _maybe_prune(self, target: str, obj: Emitter) -> None:
        ended = getattr(obj, "_ended", None)
        if ended is None or not ended():
            return

        def prune() -> None:
            self._prune.discard(handle)
            obj._end_streams()  # after every event of the turn in which it ended
            if self._objects.get(target) is obj:
                del self._objects[target]

        handle = asyncio.get_running_loop().call_soon(prune)
        self._prune.add(handle)


class Contact(ContactEvents):
    """apiRTC's Contact: a user we can call or open a data channel to."""

    API_CLASS = "Contact"

    def __init__(self, session: Session, user: str) -> None:
        super().__init__()
        self.session = session
        self.id = user

    @property
    def is_online(self) -> bool:
        """Whether the relay says this user is online (``isOnline()``)."""
        return self.id in self.session.core.contacts

    def call(
        self,
        *,
        call_type: CallType | str = CallType.MEDIA,
        audio_only: bool = False,
        stream_id: str | None = None,
        nickname: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> Call:
        """``contact.call()``: start a call (the core's errors are raised unchanged)."""
        runtime = self.session.runtime
        core = self.session.core
        call = runtime.command(
            lambda now: core.call(
                self.id, now, call_type=call_type, audio_only=audio_only,
                stream_id=stream_id, nickname=nickname, data=data,
            )
        )  # fmt: skip
        return self.session._wrap_call(call)

    # --- messaging outside conversations (rtcstate.contact_post) ------------------------------

    async def send_message(self, content: str) -> int:
        """``contact.sendMessage(msg)``: ``message`` on the contact's devices (and
        ``contactMessage`` on their session); resolves with the message's ``uuid`` at the first
        device's acknowledgement. Raises :class:`ContactMessageError` (and
        ``messageNotDelivered`` fires here) when not delivered; ERROR_BAD_PARAMETER for an
        empty message and ERROR_WRONG_STATE when not registered, nothing sent then."""
        core = self.session.core
        uuid: int = await self._post(lambda now: core.send_message(self.id, now, content))
        return uuid

    async def send_data(self, data: dict[str, Any]) -> None:
        """``contact.sendData(data)``: ``data`` there (``contactData`` on its session);
        acknowledged like :meth:`send_message`."""
        core = self.session.core
        await self._post(lambda now: core.send_data(self.id, now, data))

    async def send_custom_event(self, event: str, content: dict[str, Any] | None = None) -> None:
        """``contact.sendCustomEvent(event, content)``: ``customEvent`` there; acknowledged
        like :meth:`send_message`."""
        core = self.session.core
        await self._post(lambda now: core.send_custom_event(self.id, now, event, content))

    def get_user_data(self) -> dict[str, Any] | None:
        """``getUserData()``: the data this contact published (None: none heard)."""
        return self.session.core.contact_user_data(self.id)

    async def _post(self, fn: Callable[[float], tuple[Any, list[fx.Effect]]]) -> Any:
        session = self.session
        post = session.runtime.command(fn)
        try:
            return await session._outcomes.expect(post.id)
        except ConversationError as exc:
            raise ContactMessageError(exc.code, exc.message, exc.command) from None

    def start_data_channel(self, label: str = "data") -> DataChannel:
        """``contact.startDataChannel()``: open a data channel; ``opened`` fires when usable."""
        runtime = self.session.runtime
        core = self.session.core
        channel = runtime.command(lambda now: core.start_data_channel(self.id, now, label=label))
        return self.session._wrap_channel(channel)

    @overload
    def send_file(
        self,
        file_info: Mapping[str, Any],
        data: FileData,
        /,
        *,
        chunk_size: int | None = None,
        window: int | None = None,
    ) -> SentInvitation: ...

    @overload
    def send_file(
        self,
        data: FileData,
        /,
        *,
        name: str,
        type: str = "application/octet-stream",
        size: int | None = None,
        chunk_size: int | None = None,
        window: int | None = None,
    ) -> SentInvitation: ...

    def send_file(
        self,
        first: Mapping[str, Any] | FileData,
        second: FileData | None = None,
        /,
        *,
        name: str | None = None,
        type: str = "application/octet-stream",
        size: int | None = None,
        chunk_size: int | None = None,
        window: int | None = None,
    ) -> SentInvitation:
        """``contact.sendFile(fileInfo, data)``: offer a file; returns its SentInvitation.

        Two spellings: apiRTC's order, ``send_file({"name": ..., "type": ..., "size": ...},
        data)``, or ``send_file(data, name=..., type=..., size=...)``. ``data`` is a buffer
        (``size`` is its length) or a binary file object with ``read`` (and ``seek``) plus
        ``size``: it is read from its current position, exactly the pieces the transfer asks
        for, never whole (reads block the event loop: use a local file). ``await sent.done()``
        resolves with ``fileSentSuccessfully`` or raises :class:`FileTransferError`. Raises the
        core's errors (ERROR_BAD_PARAMETER for a bad argument, ERROR_WRONG_STATE when not
        connected, ...) and nothing is sent then.
        """
        if isinstance(first, Mapping):
            if second is None or name is not None:
                raise RtcError(
                    ErrorNumber.ERROR_BAD_PARAMETER,
                    "send_file(file_info, data): the data is the second argument, the name in "
                    "file_info",
                )
            name, type = first.get("name"), first.get("type", type)
            size = first.get("size", size)
            data: FileData = second
        elif second is not None:
            raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, "send_file(data, name=...): one data")
        else:
            data = first
        if not isinstance(name, str):
            raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, "a file needs a name (a string)")
        source: _Source
        if isinstance(data, bytes | bytearray | memoryview):
            source = _BufferSource(data)
            if size is not None and size != source.size:
                raise RtcError(
                    ErrorNumber.ERROR_BAD_PARAMETER,
                    f"size={size} but the buffer holds {source.size} bytes",
                )
            size = source.size
        elif callable(getattr(data, "read", None)):
            if size is None:
                raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, "a file object needs size=")
            source = _FileSource(data)
        else:
            raise RtcError(
                ErrorNumber.ERROR_BAD_PARAMETER, f"cannot send a {data.__class__.__name__}"
            )
        info = {"name": name, "type": type, "size": size}
        runtime = self.session.runtime
        transfer = runtime.send_file(self.id, info, source, chunk_size=chunk_size, window=window)
        return self.session._wrap_sent(transfer.invitation, source)

    def __repr__(self) -> str:
        return f"<Contact {self.id}>"
