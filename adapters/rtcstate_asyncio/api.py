"""The application API: apiRTC's UserAgent / Session / Contact / Call / DataChannel, on asyncio.

Theory of operation
-------------------
These are thin wrappers over the core objects of one :class:`~rtcstate_asyncio.runtime.Runtime`.
A command (``contact.call()``, ``invitation.accept()``, ``call.hangup()``...) calls the core at
once through the runtime, so a misuse raises the core's :class:`~rtcstate.errors.RtcError`
unchanged and nothing changes; the effects it returns are carried out in order by the runtime.
The only coroutines are the waits: ``await ua.register(url)`` (resolved by
``ccsConnectionStatus connected``, or raising :class:`RegistrationError` with the apiRTC number
of the session's ``error``), ``await ua.unregister()`` and ``await obj.wait_for(event)``.

Events. Every wrapper is an emitter: ``obj.on(name, handler)`` / ``obj.off(name, handler)``.
The name must be in the class's apiRTC whitelist (:data:`rtcstate.codes.AVAILABLE_EVENTS`),
else :class:`~rtcstate.settings.ParameterError` is raised (``ERROR_BAD_PARAMETER``, 9, with
``error_code`` ``UNKNOWN_EVENT_ON_ADDLISTENER``): apiRTC logs the same refusal and does not add
the listener; here it is an exception. The core's ``Emit(target, event, payload)`` reaches the
wrapper its target names (``userAgent``, ``session``, ``contact:<user>``, ``call:<id>``,
``invitation:<id>``, ``dataChannel:<id>``); payloads that are core objects (an invitation, a
call, a data channel) are replaced by their wrappers, one wrapper per core object. An ``Emit``
for another kind of target (a file transfer, say) or with another payload is delivered raw to
the taps added with :meth:`Session.on_any`, and never breaks anything. A handler that raises is
logged; a handler that returns an awaitable has it run as a task, awaited at ``unregister``.
Each wrapper keeps its last events in :attr:`Emitter.history`.

Wrappers of ended calls, data channels and invitations are forgotten soon after the event loop
turn in which they ended (the application may still hold them).

Files. ``contact.send_file(data, name=...)`` returns a :class:`SentInvitation` (type
``sendFile``) whose ``await done()`` is apiRTC's ``sendFile`` promise: it resolves with the
contact's ``fileSentSuccessfully`` payload, or raises :class:`FileTransferError` on the
contact's ``fileTransferError`` for it or when the invitation ends otherwise (DECLINED,
CANCELLED, EXPIRED). The bytes come from a :data:`~rtcstate_asyncio.runtime.DataSource` the
runtime reads on each ``NeedData`` (a buffer is sliced, a file object read piece by piece).
``fileTransferInvitation`` delivers a :class:`ReceivedFileTransferInvitation`; its
``accept()`` returns a future that is apiRTC's ``accept()`` promise: it resolves on the core's
``transferComplete`` (the bytes were verified) with ``{file, name, type, size, sha256}`` and
fails with :class:`FileTransferError` when the invitation ends CANCELLED (after an ``error`` or
not) or the data could not be stored. ``transferComplete`` (rtcstate's) may also be listened to
on the received invitation: ``rtcstate.codes.RTCSTATE_EVENTS`` lists the names a class accepts
besides apiRTC's whitelist.
"""

from __future__ import annotations

import asyncio
import inspect
import io
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar, Protocol, Self

from rtcstate import call as core_call
from rtcstate import datachannel as core_dc
from rtcstate import effects as fx
from rtcstate import filetransfer as core_ft
from rtcstate import invitation as core_inv
from rtcstate import session as core_session
from rtcstate.codes import (
    CallStatus,
    CallType,
    DataChannelStatus,
    ErrorCode,
    ErrorNumber,
    HangupReason,
    InvitationStatus,
    is_known_event,
)
from rtcstate.errors import RtcError
from rtcstate.settings import ParameterError
from rtcstate_asyncio.backend import MediaBackend
from rtcstate_asyncio.runtime import Runtime

__all__ = [
    "Call",
    "Contact",
    "DataChannel",
    "Emitter",
    "FileTransferError",
    "ReadableFile",
    "ReceivedCallInvitation",
    "ReceivedDataChannelInvitation",
    "ReceivedFileTransferInvitation",
    "RegistrationError",
    "SentInvitation",
    "Session",
    "UserAgent",
    "WritableFile",
]

log = logging.getLogger(__name__)

Handler = Callable[[Any], object]
Tap = Callable[[str, str, Any], object]
MediaSource = MediaBackend | Callable[[], MediaBackend]

_HISTORY = 256

#: the contact events about a file this session sends (routed to its SentInvitation too)
_SENDER_FILE_EVENTS = frozenset(
    {"fileTransferProgress", "fileSentSuccessfully", "fileTransferError"}
)
#: final statuses of an invitation
_FINAL = frozenset(
    {
        InvitationStatus.INVITATION_STATUS_DECLINED,
        InvitationStatus.INVITATION_STATUS_EXPIRED,
        InvitationStatus.INVITATION_STATUS_CANCELLED,
        InvitationStatus.INVITATION_STATUS_ENDED,
    }
)


class ReadableFile(Protocol):
    """A binary file-like object ``send_file`` reads (``seek`` only if asked to go back)."""

    def read(self, size: int, /) -> bytes: ...

    def seek(self, offset: int, whence: int = ..., /) -> int: ...


class WritableFile(Protocol):
    """A binary file-like object a received file is written to."""

    def write(self, data: bytes | memoryview, /) -> object: ...


class RegistrationError(RtcError):
    """``ua.register()`` failed: ``code`` is the apiRTC number the session reported
    (``ERROR_APIRTC_INITIALISATION_FAILED`` when the first connection fails), ``descriptor``
    the session ``error`` event's descriptor."""

    def __init__(self, code: ErrorNumber, message: str, descriptor: Mapping[str, Any]) -> None:
        super().__init__(code, message)
        self.descriptor = dict(descriptor)


class FileTransferError(RtcError):
    """A file transfer did not complete: apiRTC's rejected ``sendFile`` / ``accept()`` promise.

    ``invitation_id`` is the transfer's id, ``status`` the invitation's status when it failed
    (DECLINED, CANCELLED, ...), ``error`` the error descriptor of the ``fileTransferError``
    (sender) or ``error`` (receiver) event (``errorCode``, ``errorInfo``, ``detail``) or None,
    ``error_code`` its ``errorCode`` as an :class:`~rtcstate.codes.ErrorCode`. ``code`` is
    ``ERROR_OTHER``. A local cause (the file could not be read or written) is ``__cause__``.
    """

    def __init__(
        self,
        message: str,
        *,
        invitation_id: str,
        status: InvitationStatus,
        error: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(ErrorNumber.ERROR_OTHER, message)
        self.invitation_id = invitation_id
        self.status = status
        self.error = dict(error) if error is not None else None
        code = self.error.get("errorCode") if self.error is not None else None
        self.error_code: ErrorCode | None = None
        if isinstance(code, str) and code in ErrorCode.__members__:
            self.error_code = ErrorCode[code]


class Emitter:
    """apiRTC's Observable: ``on`` / ``off`` with the class's event whitelist, plus waits."""

    API_CLASS: ClassVar[str] = ""

    def __init__(self) -> None:
        self._listeners: dict[str, list[Handler]] = {}
        self._waiters: dict[str, list[asyncio.Future[Any]]] = {}
        self.history: deque[tuple[str, Any]] = deque(maxlen=_HISTORY)

    def on(self, event: str, handler: Handler) -> Self:
        """Call ``handler(payload)`` every time ``event`` fires; returns ``self``.

        Raises :class:`~rtcstate.settings.ParameterError` (``ERROR_BAD_PARAMETER``,
        ``UNKNOWN_EVENT_ON_ADDLISTENER``) for a name outside the class's whitelist.
        """
        self._check(event)
        self._listeners.setdefault(event, []).append(handler)
        return self

    def off(self, event: str, handler: Handler | None = None) -> Self:
        """Remove ``handler`` (every listener of ``event`` when None); returns ``self``."""
        self._check(event)
        if handler is None:
            self._listeners.pop(event, None)
        else:
            handlers = self._listeners.get(event, [])
            if handler in handlers:
                handlers.remove(handler)
        return self

    def wait_for(self, event: str, timeout: float | None = None) -> asyncio.Future[Any]:
        """A future resolved with the payload of the next ``event`` (listening starts now).

        With ``timeout`` (seconds) it fails with :class:`TimeoutError` if the event does not
        fire in time. Unknown names raise at once, as for :meth:`on`.
        """
        self._check(event)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        waiters = self._waiters.setdefault(event, [])
        waiters.append(future)
        handle: asyncio.TimerHandle | None = None
        if timeout is not None:

            def expire() -> None:
                if not future.done():
                    future.set_exception(
                        TimeoutError(f"{self.API_CLASS} {event!r} not fired within {timeout} s")
                    )

            handle = loop.call_later(timeout, expire)

        def done(_: asyncio.Future[Any]) -> None:
            if handle is not None:
                handle.cancel()
            if future in waiters:
                waiters.remove(future)

        future.add_done_callback(done)
        return future

    def events(self, name: str | None = None) -> list[Any]:
        """The payloads of the remembered events named ``name`` (every event's name if None)."""
        if name is None:
            return [e for e, _ in self.history]
        return [p for e, p in self.history if e == name]

    def _check(self, event: str) -> None:
        if not is_known_event(self.API_CLASS, event):  # apiRTC's names and rtcstate's
            raise ParameterError(ErrorCode.UNKNOWN_EVENT_ON_ADDLISTENER, "event", event)

    def _fire(self, event: str, payload: Any, spawn: Callable[[Awaitable[Any]], None]) -> None:
        self.history.append((event, payload))
        for handler in list(self._listeners.get(event, ())):
            try:
                result = handler(payload)
            except Exception:
                log.exception("%s %r handler %r raised", self.API_CLASS, event, handler)
                continue
            if inspect.isawaitable(result):
                spawn(result)
        for future in list(self._waiters.get(event, ())):
            if not future.done():
                future.set_result(payload)


class UserAgent(Emitter):
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

    async def register(
        self, server_url: str = "ws://127.0.0.1:8765", *, timeout: float | None = None
    ) -> Session:
        """Connect to the relay at ``server_url`` and register; returns the :class:`Session`.

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
        config = core_session.SessionConfig(
            self.user, server_url=server_url, device=self.device, **self.options
        )
        session = Session(self)
        backend = _backend(self._media)
        # a backend the application gave serves every attempt until unregister() closes it;
        # one made by a factory belongs to this registration
        runtime = Runtime(
            config, media=backend, on_emit=session._dispatch,
            close_media=backend is not self._media,
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
                text = f"could not register on {server_url}: {payload.get('errorInfo')}"
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
            await session._close()
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
    if media is None or hasattr(media, "apply"):
        return media  # type: ignore[return-value]
    return media()


class Session(Emitter):
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

    def get_online_contacts(self) -> list[Contact]:
        """The contacts the relay says are online (sorted by id)."""
        return [self.get_contact(c) for c in sorted(self.core.contacts)]

    def get_calls(self) -> list[Call]:
        """``getCalls()``."""
        return [self._wrap_call(c) for c in self.core.calls().values()]

    def on_any(self, tap: Tap) -> None:
        """Call ``tap(target, event, payload)`` for every event (raw targets included)."""
        self._taps.append(tap)

    # --- internals ----------------------------------------------------------------------------

    def _attach(self, runtime: Runtime) -> None:
        self._runtime = runtime

    async def _close(self) -> None:
        for handle in self._prune:
            handle.cancel()
        self._prune.clear()
        for obj in list(self._objects.values()):
            if isinstance(obj, SentInvitation | ReceivedFileTransferInvitation):
                obj._abandon("the session closed")
        await self.runtime.aclose()
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
        core = self.core
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
            if self._objects.get(target) is obj:
                del self._objects[target]

        handle = asyncio.get_running_loop().call_soon(prune)
        self._prune.add(handle)


class Contact(Emitter):
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

    def start_data_channel(self, label: str = "data") -> DataChannel:
        """``contact.startDataChannel()``: open a data channel; ``opened`` fires when usable."""
        runtime = self.session.runtime
        core = self.session.core
        channel = runtime.command(lambda now: core.start_data_channel(self.id, now, label=label))
        return self.session._wrap_channel(channel)

    def send_file(
        self,
        data: bytes | bytearray | memoryview | ReadableFile,
        *,
        name: str,
        type: str = "application/octet-stream",
        size: int | None = None,
        chunk_size: int | None = None,
        window: int | None = None,
    ) -> SentInvitation:
        """``contact.sendFile({name, type}, data)``: offer a file; returns its SentInvitation.

        ``data`` is a buffer (``size`` is its length) or a binary file object with ``read`` (and
        ``seek``) plus ``size``: it is read from its current position, exactly the pieces the
        transfer asks for, never whole (reads block the event loop: use a local file). ``await
        sent.done()`` resolves with ``fileSentSuccessfully`` or raises
        :class:`FileTransferError`. Raises the core's errors (ERROR_BAD_PARAMETER for a bad
        argument, ERROR_WRONG_STATE when not connected, ...) and nothing is sent then.
        """
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


class Call(Emitter):
    """apiRTC's Call."""

    API_CLASS = "Call"

    def __init__(self, session: Session, call: core_call.Call) -> None:
        super().__init__()
        self.session = session
        self.core = call

    @property
    def id(self) -> str:
        return self.core.call_id

    @property
    def status(self) -> CallStatus:
        """``getStatus()``."""
        return self.core.status

    @property
    def contact(self) -> Contact:
        """``getContact()``: the far side."""
        return self.session.get_contact(self.core.contact)

    @property
    def is_outgoing(self) -> bool:
        return self.core.outgoing

    def hangup(self, reason: str | HangupReason | None = None) -> None:
        """``hangUp()``; ``hangup {from: "local"}`` fires when the far side acknowledges."""
        self.session.runtime.run(lambda now: self.core.hangup(now, reason))

    def mute(self, kind: str = "audio") -> None:
        self.session.runtime.run(lambda now: self.core.mute(now, kind))

    def unmute(self, kind: str = "audio") -> None:
        self.session.runtime.run(lambda now: self.core.unmute(now, kind))

    def _ended(self) -> bool:
        return self.core.ended

    def __repr__(self) -> str:
        return f"<Call {self.id} {self.status.value}>"


class ReceivedCallInvitation(Emitter):
    """apiRTC's ReceivedCallInvitation (payload of ``incomingCall``)."""

    API_CLASS = "ReceivedCallInvitation"

    def __init__(self, session: Session, invitation: core_inv.ReceivedCallInvitation) -> None:
        super().__init__()
        self.session = session
        self.core = invitation

    @property
    def id(self) -> str:
        return self.core.id

    @property
    def status(self) -> InvitationStatus:
        return self.core.status

    @property
    def sender(self) -> Contact:
        """``getSender()``: the caller."""
        return self.session.get_contact(self.core.sender)

    @property
    def call_type(self) -> str:
        return self.core.call_type

    def accept(self, *, audio_only: bool = False) -> Call:
        """Accept: the :class:`Call` (ONGOING); raises ``ERROR_INVITATION_STATE_INVALID``
        (10) when the invitation is not pending."""
        self.session.runtime.run(lambda now: self.core.accept(now, audio_only=audio_only))
        return self.session._wrap_call(self.core.call)

    def decline(self, reason: str | HangupReason = HangupReason.USER_REFUSED_CALL) -> None:
        """Refuse the call (ignored when not pending, as apiRTC)."""
        self.session.runtime.run(lambda now: self.core.decline(now, reason))

    def _ended(self) -> bool:
        return self.core.call.ended

    def __repr__(self) -> str:
        return f"<ReceivedCallInvitation {self.id} {self.status.value}>"


class ReceivedDataChannelInvitation(Emitter):
    """apiRTC's ReceivedDataChannelInvitation (payload of ``dataChannelInvitation``)."""

    API_CLASS = "ReceivedDataChannelInvitation"

    def __init__(self, session: Session, invitation: core_dc.ReceivedDataChannelInvitation) -> None:
        super().__init__()
        self.session = session
        self.core = invitation

    @property
    def id(self) -> str:
        return self.core.id

    @property
    def status(self) -> InvitationStatus:
        return self.core.status

    @property
    def sender(self) -> Contact:
        return self.session.get_contact(self.core.sender)

    @property
    def label(self) -> str:
        return self.core.label

    def accept(self) -> DataChannel:
        """Accept: the :class:`DataChannel`; ``opened`` fires when the channel is usable."""
        channel = self.session.runtime.command(self.core.accept)
        return self.session._wrap_channel(channel)

    def decline(self, reason: str | HangupReason = HangupReason.USER_REFUSED_CALL) -> None:
        self.session.runtime.run(lambda now: self.core.decline(now, reason))

    def _ended(self) -> bool:
        return self.core.call.ended

    def __repr__(self) -> str:
        return f"<ReceivedDataChannelInvitation {self.id} {self.status.value}>"


class DataChannel(Emitter):
    """apiRTC's DataChannel."""

    API_CLASS = "DataChannel"

    def __init__(self, session: Session, channel: core_dc.DataChannel) -> None:
        super().__init__()
        self.session = session
        self.core = channel

    @property
    def id(self) -> str:
        return self.core.id

    @property
    def label(self) -> str:
        return self.core.label

    @property
    def status(self) -> DataChannelStatus:
        return self.core.status

    @property
    def contact(self) -> Contact:
        return self.session.get_contact(self.core.contact)

    def send_data(self, data: str | bytes) -> str:
        """``sendData(data)``: send ``data``; returns the transfer's uuid (raises
        ``ERROR_OTHER`` unless the channel is open)."""
        return self.session.runtime.command(lambda now: self.core.send_data(now, data))

    def close(self) -> None:
        """``close()``; ``ended {from: "local"}`` fires when the far side acknowledges."""
        self.session.runtime.run(self.core.close)

    def _ended(self) -> bool:
        return self.core.ended

    def __repr__(self) -> str:
        return f"<DataChannel {self.id} {self.status.value}>"


# --- files -----------------------------------------------------------------------------------


class _Source:
    """A file's bytes for the runtime (``source(offset, size)``); keeps what made it fail."""

    error: BaseException | None = None

    def __call__(self, offset: int, size: int) -> bytes:
        try:
            return self.read(offset, size)
        except BaseException as exc:
            self.error = exc
            raise

    def read(self, offset: int, size: int) -> bytes:
        raise NotImplementedError


class _BufferSource(_Source):
    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        try:
            self.view = memoryview(data).cast("B")
        except TypeError as exc:  # not contiguous
            raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, f"cannot send {data!r}") from exc
        self.size = self.view.nbytes

    def read(self, offset: int, size: int) -> bytes:
        return bytes(self.view[offset : offset + size])


class _FileSource(_Source):
    """Reads a file object from its current position (offset 0), piece by piece."""

    def __init__(self, file: ReadableFile) -> None:
        self.file = file
        self.position = 0  # bytes read since the start

    def read(self, offset: int, size: int) -> bytes:
        if offset != self.position:  # the core never asks again for what it had; be safe
            self.file.seek(offset - self.position, io.SEEK_CUR)
            self.position = offset
        pieces: list[bytes] = []
        got = 0
        while got < size:
            piece = self.file.read(size - got)
            if not piece:
                break  # the end of the file: too short (the runtime cancels the transfer)
            pieces.append(piece)
            got += len(piece)
        self.position += got
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)


def _settle_quietly(future: asyncio.Future[Any]) -> None:
    """Mark a failed future's exception as retrieved: nobody has to await it."""
    if not future.cancelled():
        future.exception()


class SentInvitation(Emitter):
    """apiRTC's SentInvitation of type ``sendFile`` (``contact.send_file()`` returns it).

    ``response`` and ``statusChange`` fire as in apiRTC; the file's progress is the contact's
    ``fileTransferProgress`` (the last one is kept in :attr:`transfer_information`).
    """

    API_CLASS = "SentInvitation"

    def __init__(
        self, session: Session, invitation: core_inv.SentInvitation, source: _Source | None
    ) -> None:
        super().__init__()
        self.session = session
        self.core = invitation
        self._source = source
        self.transfer_information: dict[str, Any] | None = None
        self._error: dict[str, Any] | None = None
        self._future: asyncio.Future[dict[str, Any]] = session.runtime.loop.create_future()
        self._future.add_done_callback(_settle_quietly)

    @property
    def id(self) -> str:
        """The invitation's id (the transfer's and its data call's)."""
        return self.core.id

    @property
    def status(self) -> InvitationStatus:
        """``getStatus()``."""
        return self.core.status

    @property
    def type(self) -> str:
        """``getType()``: ``sendFile``."""
        return self.core.kind.value

    @property
    def contact(self) -> Contact:
        return self.session.get_contact(self.core.contact)

    def cancel(self) -> None:
        """``cancel()``: withdraw the file (CANCELLED; ``done()`` raises). Raises
        ``ERROR_INVITATION_STATE_INVALID`` (10) once decided otherwise and ``ERROR_WRONG_STATE``
        (16) once every byte and the digest were sent."""
        self.session.runtime.run(self.core.cancel)

    async def done(self, timeout: float | None = None) -> dict[str, Any]:
        """Wait for the end: the ``fileSentSuccessfully`` payload (``{fileInfo,
        transferInformation}``), or :class:`FileTransferError` (``fileTransferError``, DECLINED,
        CANCELLED...); :class:`TimeoutError` after ``timeout`` seconds (the transfer goes on)."""
        async with asyncio.timeout(timeout):
            return await asyncio.shield(self._future)

    # --- internals ----------------------------------------------------------------------------

    def _fire(self, event: str, payload: Any, spawn: Callable[[Awaitable[Any]], None]) -> None:
        if event == "statusChange" and self.status in _FINAL:
            self.session.runtime.forget_transfer(self.id)
            self._fail(f"the file transfer ended {self.status.value}")  # unless settled
        super()._fire(event, payload, spawn)

    def _file_event(self, event: str, payload: dict[str, Any]) -> None:
        if event == "fileTransferProgress":
            self.transfer_information = payload.get("transferInformation")
        elif event == "fileSentSuccessfully":
            self.transfer_information = payload.get("transferInformation")
            if not self._future.done():
                self._future.set_result(payload)
        elif event == "fileTransferError":
            error = payload.get("error")
            self._error = dict(error) if isinstance(error, dict) else {}
            code = self._error.get("errorCode", "?")
            self._fail(f"the file transfer failed: {code} {self._error.get('detail', '')}")

    def _fail(self, message: str) -> None:
        if self._future.done():
            return
        exc = FileTransferError(
            message.strip(), invitation_id=self.id, status=self.status, error=self._error
        )
        source = self._source
        if source is not None and source.error is not None:
            exc.__cause__ = source.error
        self._future.set_exception(exc)

    def _abandon(self, reason: str) -> None:
        self._fail(reason)

    def _ended(self) -> bool:
        return self.core.ended

    def __repr__(self) -> str:
        return f"<SentInvitation {self.type} {self.id} {self.status.value}>"


class ReceivedFileTransferInvitation(Emitter):
    """apiRTC's ReceivedFileTransferInvitation (payload of ``fileTransferInvitation``).

    Fires ``statusChange``, ``progress`` (TransferInformation) and ``error`` as apiRTC, and
    rtcstate's ``transferComplete {fileInfo, sha256, transferInformation}`` once the file is
    verified (in ``rtcstate.codes.RTCSTATE_EVENTS``; ``accept()``'s future resolves then).
    """

    API_CLASS = "ReceivedFileTransferInvitation"

    def __init__(
        self, session: Session, invitation: core_ft.ReceivedFileTransferInvitation
    ) -> None:
        super().__init__()
        self.session = session
        self.core = invitation
        self._future: asyncio.Future[dict[str, Any]] | None = None
        self._sink: WritableFile | None = None
        self._buffer: bytearray | None = None
        self._received = 0
        self._error: dict[str, Any] | None = None
        self._failure: BaseException | None = None

    @property
    def id(self) -> str:
        return self.core.id

    @property
    def status(self) -> InvitationStatus:
        return self.core.status

    @property
    def sender(self) -> Contact:
        """``getSender()``: who offers the file."""
        return self.session.get_contact(self.core.sender)

    @property
    def file_info(self) -> dict[str, Any]:
        """``getFileInfo()``: ``{name, type}`` plus the announced ``size``."""
        return self.core.file_info

    @property
    def received(self) -> int:
        """How many bytes arrived so far (discard them unless the transfer completes)."""
        return self._received

    def accept(
        self, *, sink: WritableFile | None = None, max_size: int | None = None
    ) -> asyncio.Future[dict[str, Any]]:
        """``accept()``: take the file; returns a future (apiRTC's promise).

        It resolves once the core verified size and sha256 with ``{"file": bytes, "name",
        "type", "size", "sha256"}``; with ``sink`` (a binary file object) the bytes are written
        to it as they arrive and ``file`` is None (on failure the sink holds a partial file:
        discard it). It fails with :class:`FileTransferError` if the transfer ends otherwise.
        ``max_size``: the largest file taken (a larger one fails on both sides with
        ``TRANSFER_TOO_LARGE``). Raises ``ERROR_INVITATION_STATE_INVALID`` (10) unless pending
        and ``ERROR_BAD_PARAMETER`` for a bad argument; nothing changes then.
        """
        if sink is not None and not callable(getattr(sink, "write", None)):
            raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, "sink must have a write() method")
        future: asyncio.Future[dict[str, Any]] = self.session.runtime.loop.create_future()
        future.add_done_callback(_settle_quietly)
        previous = self._future, self._sink, self._buffer
        self._future, self._sink = future, sink
        self._buffer = bytearray() if sink is None else None
        try:
            self.session.runtime.accept_file(self.core, self._store, max_size=max_size)
        except BaseException:
            self._future, self._sink, self._buffer = previous
            raise
        return future

    def decline(self, reason: str | HangupReason = HangupReason.USER_REFUSED_CALL) -> None:
        """``decline(reason)``: refuse the file (ignored when not pending, as apiRTC)."""
        self.session.runtime.run(lambda now: self.core.decline(now, reason))

    def cancel(self, reason: str = "cancelled") -> None:
        """Abandon an accepted transfer (rtcstate extension; CANCELLED, ``accept()``'s future
        fails); raises ``ERROR_INVITATION_STATE_INVALID`` (10) unless ACCEPTED."""
        self.session.runtime.run(lambda now: self.core.cancel(now, reason))

    # --- internals ----------------------------------------------------------------------------

    def _store(self, offset: int, data: bytes | memoryview) -> None:
        """The runtime's sink: keep (a copy of) the bytes, or write them out."""
        try:
            if offset != self._received:
                raise ValueError(f"bytes at {offset}, {self._received} expected")
            if self._buffer is not None:
                self._buffer.extend(data)
            elif self._sink is not None:
                view = memoryview(data).cast("B")
                while view:
                    written = self._sink.write(view)
                    if not isinstance(written, int) or written >= len(view):
                        break
                    view = view[written:]
            self._received += len(data)
        except BaseException as exc:
            self._failure = exc
            self._buffer = None
            raise

    def _fire(self, event: str, payload: Any, spawn: Callable[[Awaitable[Any]], None]) -> None:
        if event == "error" and isinstance(payload, dict):
            self._error = dict(payload)
        elif event == "transferComplete" and isinstance(payload, dict):
            self._complete(payload)
        elif event == "statusChange" and self.status in _FINAL:
            self.session.runtime.forget_transfer(self.id)
            if self.status is not InvitationStatus.INVITATION_STATUS_ENDED:
                self._fail(f"the file transfer ended {self.status.value}")
            else:  # the core fires transferComplete first: the future is settled already
                self._fail("ended without transferComplete")
        super()._fire(event, payload, spawn)

    def _complete(self, payload: dict[str, Any]) -> None:
        future = self._future
        if future is None or future.done():
            return
        if self._failure is not None:
            self._fail("the file could not be stored")
            return
        info = self.file_info
        data = self._buffer
        self._buffer = None
        future.set_result(
            {
                "file": bytes(data) if data is not None else None,
                "name": info["name"],
                "type": info["type"],
                "size": self._received,
                "sha256": payload.get("sha256"),
            }
        )

    def _fail(self, message: str) -> None:
        future = self._future
        self._buffer = None
        if future is None or future.done():
            return
        if self._error is not None:
            message = f"{message}: {self._error.get('errorCode')} {self._error.get('detail', '')}"
        exc = FileTransferError(
            message.strip(), invitation_id=self.id, status=self.status, error=self._error
        )
        if self._failure is not None:
            exc.__cause__ = self._failure
        future.set_exception(exc)

    def _abandon(self, reason: str) -> None:
        self._fail(reason)

    def _ended(self) -> bool:
        return self.status in _FINAL

    def __repr__(self) -> str:
        return f"<ReceivedFileTransferInvitation {self.id} {self.status.value}>"
