"""Files: apiRTC's SentInvitation (``sendFile``), ReceivedFileTransferInvitation, their bytes.

Theory of operation
-------------------
``contact.send_file(data, name=...)`` (agent.py) returns a :class:`SentInvitation` (type
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
besides apiRTC's whitelist. When the session closes, every pending transfer's future fails
(``_abandon``).
"""

from __future__ import annotations

import abc
import asyncio
import io
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from rtcstate import filetransfer as core_ft
from rtcstate import invitation as core_inv
from rtcstate.codes import ErrorCode, ErrorNumber, InvitationStatus
from rtcstate.errors import RtcError
from rtcstate_asyncio.typed import ReceivedFileTransferInvitationEvents, SentInvitationEvents
from rtcstate_asyncio.wrapper import ReceivedInvitation, Wrapper

if TYPE_CHECKING:
    from rtcstate_asyncio.agent import Contact, Session

__all__ = [
    "FileTransferError",
    "ReadableFile",
    "ReceivedFileTransferInvitation",
    "SentInvitation",
    "WritableFile",
]

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


class FileTransferError(RtcError):
    """A file transfer did not complete: apiRTC's rejected ``sendFile`` / ``accept()`` promise.

    ``invitation_id`` is the transfer's id, ``status`` the invitation's status when it failed
    (DECLINED, CANCELLED, ...), ``error`` the error descriptor of the ``fileTransferError``
    (sender) or ``error`` (receiver) event (``errorCode``, ``errorInfo``, ``detail``) or None,
    ``error_code`` its ``errorCode`` as an :class:`~rtcstate.codes.ErrorCode`, ``reason`` the
    reason the invitation ended with (its data call's: ``User_Not_Found`` for a user nobody is
    registered as, as a call to that user says) or None. ``code`` is the number
    :func:`rtcstate.filetransfer.failure_number` gives that reason (``ERROR_NOT_FOUND`` for
    ``User_Not_Found``, else ``ERROR_OTHER``). A local cause (the file could not be read or
    written) is ``__cause__``.
    """

    def __init__(
        self,
        message: str,
        *,
        invitation_id: str,
        status: InvitationStatus,
        error: Mapping[str, Any] | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__(core_ft.failure_number(reason), message)
        self.reason = reason
        self.invitation_id = invitation_id
        self.status = status
        self.error = dict(error) if error is not None else None
        code = self.error.get("errorCode") if self.error is not None else None
        self.error_code: ErrorCode | None = None
        if isinstance(code, str) and code in ErrorCode.__members__:
            self.error_code = ErrorCode[code]


class _Source(abc.ABC):
    """A file's bytes for the runtime (``source(offset, size)``); keeps what made it fail."""

    error: BaseException | None = None

    def __call__(self, offset: int, size: int) -> bytes:
        try:
            return self.read(offset, size)
        except BaseException as exc:
            self.error = exc
            raise

    @abc.abstractmethod
    def read(self, offset: int, size: int) -> bytes:
        """``size`` bytes (fewer at the end) from ``offset``."""


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


class SentInvitation(Wrapper[core_inv.SentInvitation], SentInvitationEvents):
    """apiRTC's SentInvitation of type ``sendFile`` (``contact.send_file()`` returns it).

    ``response`` and ``statusChange`` fire as in apiRTC; the file's progress is the contact's
    ``fileTransferProgress`` (the last one is kept in :attr:`transfer_information`).
    """

    API_CLASS = "SentInvitation"

    def __init__(
        self, session: Session, invitation: core_inv.SentInvitation, source: _Source | None
    ) -> None:
        super().__init__(session, invitation)
        self._source = source
        self.transfer_information: dict[str, Any] | None = None
        self._error: dict[str, Any] | None = None
        self._future: asyncio.Future[dict[str, Any]] = session.runtime.loop.create_future()
        self._future.add_done_callback(_settle_quietly)

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
        reason = self.core.reason
        if reason and self._error is None:
            message = f"{message} ({reason})"
        exc = FileTransferError(
            message.strip(), invitation_id=self.id, status=self.status, error=self._error,
            reason=reason,
        )  # fmt: skip
        source = self._source
        if source is not None and source.error is not None:
            exc.__cause__ = source.error
        self._future.set_exception(exc)

    def _abandon(self, reason: str) -> None:
        self._fail(reason)

    def __repr__(self) -> str:
        return f"<SentInvitation {self.type} {self.id} {self.status.value}>"


class ReceivedFileTransferInvitation(
    ReceivedInvitation[core_ft.ReceivedFileTransferInvitation], ReceivedFileTransferInvitationEvents
):
    """apiRTC's ReceivedFileTransferInvitation (payload of ``fileTransferInvitation``).

    Fires ``statusChange``, ``progress`` (TransferInformation) and ``error`` as apiRTC, and
    rtcstate's ``transferComplete {fileInfo, sha256, transferInformation}`` once the file is
    verified (in ``rtcstate.codes.RTCSTATE_EVENTS``; ``accept()``'s future resolves then).
    """

    API_CLASS = "ReceivedFileTransferInvitation"

    def __init__(
        self, session: Session, invitation: core_ft.ReceivedFileTransferInvitation
    ) -> None:
        super().__init__(session, invitation)
        self._future: asyncio.Future[dict[str, Any]] | None = None
        self._sink: WritableFile | None = None
        self._buffer: bytearray | None = None
        self._received = 0
        self._error: dict[str, Any] | None = None
        self._failure: BaseException | None = None

    @property
    def status(self) -> InvitationStatus:
        return self.core.status

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

    async def done(self, timeout: float | None = None) -> dict[str, Any]:
        """Wait for the end of an accepted transfer, as the sent side's ``done()``: what
        ``accept()``'s future resolves with, or its :class:`FileTransferError`;
        :class:`TimeoutError` after ``timeout`` seconds (the transfer goes on). Raises
        ``ERROR_INVITATION_STATE_INVALID`` (10) before ``accept()``."""
        if self._future is None:
            raise RtcError(
                ErrorNumber.ERROR_INVITATION_STATE_INVALID,
                "done() before accept(): nothing to wait",
            )
        async with asyncio.timeout(timeout):
            return await asyncio.shield(self._future)

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
