"""File transfer through the asyncio API: ``contact.send_file`` and ``fileTransferInvitation``.

Over a real websocket relay on 127.0.0.1 with the fake media backend (the bytes travel on the
fake data channels, peer to peer). Each test runs its own loop (``asyncio.run``), bounds every
wait and checks that no task is left pending.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import logging
import random
from pathlib import Path
from typing import Any

import adaptertools
import pytest
from adaptertools import World, run, until
from rtcstate_asyncio import FakeMediaNetwork, Session
from rtcstate_asyncio.api import (
    FileTransferError,
    ReceivedFileTransferInvitation,
    SentInvitation,
)

from rtcstate.codes import ErrorCode, ErrorNumber, HangupReason, InvitationStatus
from rtcstate.errors import RtcError
from rtcstate.settings import ParameterError

WAIT = 5.0  # every single wait, seconds
STATUS = InvitationStatus


def world() -> contextlib.AbstractAsyncContextManager[World]:
    """A relay and user agents on one fake media network, without keep-alive."""
    return adaptertools.world(FakeMediaNetwork().backend, {"keepalive_interval": None})


def blob(size: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(size)


async def offered(bob: Session) -> ReceivedFileTransferInvitation:
    invitation = await bob.wait_for("fileTransferInvitation", WAIT)
    assert isinstance(invitation, ReceivedFileTransferInvitation)
    return invitation


class Reader(io.BytesIO):
    """A file object that records every read."""

    def __init__(self, data: bytes, fail_after: int | None = None) -> None:
        super().__init__(data)
        self.reads: list[int | None] = []
        self.fail_after = fail_after

    def read(self, size: int | None = -1, /) -> bytes:
        self.reads.append(size)
        if self.fail_after is not None and self.tell() >= self.fail_after:
            raise OSError("disk on fire")
        return super().read(size)


# --- the file arrives -----------------------------------------------------------------------


def test_a_2mb_buffer_arrives_byte_identical_with_progress_on_both_sides() -> None:
    data = blob(2_000_000)

    async def test() -> None:
        async with world() as w:
            alice, bob = await w.pair()
            invited = offered(bob)
            contact = alice.get_contact("bob")
            succeeded = contact.wait_for("fileSentSuccessfully", WAIT)
            sent = contact.send_file(data, name="photo.jpg", type="image/jpeg")
            assert isinstance(sent, SentInvitation)
            assert sent.type == "sendFile" and sent.status is STATUS.INVITATION_STATUS_STANDBY
            invitation = await invited
            assert invitation.id == sent.id and invitation.sender.id == "alice"
            assert invitation.file_info == {
                "name": "photo.jpg", "type": "image/jpeg", "size": len(data)
            }  # fmt: skip
            assert bob.get_contact("alice").fired("fileTransferInvitation") == [invitation]
            completes: list[Any] = []
            invitation.on("transferComplete", completes.append)  # rtcstate's extension
            result = await asyncio.wait_for(invitation.accept(), WAIT)
            digest = hashlib.sha256(data).hexdigest()
            assert result["file"] == data and isinstance(result["file"], bytes)
            assert (result["name"], result["type"]) == ("photo.jpg", "image/jpeg")
            assert (result["size"], result["sha256"]) == (len(data), digest)
            assert completes[0]["sha256"] == digest
            success = await sent.done(WAIT)
            assert success == await succeeded
            assert success["fileInfo"]["name"] == "photo.jpg"
            assert success["transferInformation"]["percentage"] == 100
            # progress on both sides, the last at 100 %
            theirs = invitation.fired("progress")
            mine = contact.fired("fileTransferProgress")
            assert len(theirs) > 1 and theirs[-1]["percentage"] == 100
            assert len(mine) > 1 and mine[-1]["transferInformation"]["percentage"] == 100
            assert sent.transfer_information == success["transferInformation"]
            assert invitation.status is STATUS.INVITATION_STATUS_ENDED
            await until(lambda: sent.status is STATUS.INVITATION_STATUS_ENDED)
            assert sent.fired("statusChange")[-1]["status"] == "INVITATION_STATUS_ENDED"
            assert not contact.fired("fileTransferError")
            assert not alice.runtime._sources and not bob.runtime._sinks  # forgotten

    run(test)


def test_a_file_object_is_read_in_pieces_never_whole() -> None:
    data = blob(300_000, seed=2)

    async def test() -> None:
        async with world() as w:
            alice, bob = await w.pair()
            bob.on("fileTransferInvitation", lambda inv: results.append(inv.accept()))
            results: list[asyncio.Future[dict[str, Any]]] = []
            reader = Reader(data)
            with pytest.raises(RtcError) as no_size:
                alice.get_contact("bob").send_file(reader, name="f.bin")
            assert no_size.value.code is ErrorNumber.ERROR_BAD_PARAMETER
            sent = alice.get_contact("bob").send_file(
                reader, name="f.bin", size=len(data), chunk_size=16_384, window=65_536
            )
            await sent.done(WAIT)
            result = await asyncio.wait_for(results[0], WAIT)
            assert result["file"] == data and result["type"] == "application/octet-stream"
            assert reader.reads and all(
                size is not None and 0 < size <= 16_384 for size in reader.reads
            )
            assert len(reader.reads) == -(-len(data) // 16_384)  # exactly what was asked

    run(test)


def test_a_sink_on_the_receiver_gets_the_bytes_instead_of_memory() -> None:
    data = blob(500_000, seed=3)

    async def test() -> None:
        async with world() as w:
            alice, bob = await w.pair()
            invited = offered(bob)
            sent = alice.get_contact("bob").send_file(bytearray(data), name="big.bin")
            invitation = await invited
            sink = io.BytesIO()
            result = await asyncio.wait_for(invitation.accept(sink=sink), WAIT)
            assert result == {
                "file": None, "name": "big.bin", "type": "application/octet-stream",
                "size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
            }  # fmt: skip
            assert sink.getvalue() == data and invitation.received == len(data)
            await sent.done(WAIT)
            with pytest.raises(RtcError) as twice:
                invitation.accept()
            assert twice.value.code is ErrorNumber.ERROR_INVITATION_STATE_INVALID

    run(test)


def test_two_files_at_once() -> None:
    one, two = blob(700_000, seed=4), blob(900_000, seed=5)

    async def test() -> None:
        async with world() as w:
            alice, bob = await w.pair()
            accepted: dict[str, asyncio.Future[dict[str, Any]]] = {}
            bob.on(
                "fileTransferInvitation",
                lambda inv: accepted.__setitem__(inv.file_info["name"], inv.accept()),
            )
            contact = alice.get_contact("bob")
            sent = [contact.send_file(one, name="one"), contact.send_file(two, name="two")]
            assert sent[0].id != sent[1].id
            await asyncio.gather(*(s.done(WAIT) for s in sent))
            await until(lambda: len(accepted) == 2)
            results = await asyncio.wait_for(asyncio.gather(*accepted.values()), WAIT)
            assert {r["name"]: r["file"] for r in results} == {"one": one, "two": two}
            assert len(contact.fired("fileSentSuccessfully")) == 2

    run(test)


# --- it does not --------------------------------------------------------------------------------


def test_decline_makes_the_senders_done_raise_declined() -> None:
    async def test() -> None:
        async with world() as w:
            alice, bob = await w.pair()
            bob.on("fileTransferInvitation", lambda inv: inv.decline())
            sent = alice.get_contact("bob").send_file(b"no thanks", name="spam.txt")
            with pytest.raises(FileTransferError) as info:
                await sent.done(WAIT)
            assert info.value.status is STATUS.INVITATION_STATUS_DECLINED
            assert info.value.invitation_id == sent.id and info.value.error is None
            assert sent.fired("response") == ["INVITATION_STATUS_DECLINED"]
            invitation = bob.fired("fileTransferInvitation")[0]
            assert invitation.status is STATUS.INVITATION_STATUS_DECLINED

    run(test)


def test_a_file_to_an_offline_user_fails_user_not_found_as_a_call_does() -> None:
    async def test() -> None:
        async with world() as w:
            alice = await w.join("alice")
            carol = alice.get_contact("carol")  # nobody is registered as carol
            sent = carol.send_file(b"hello", name="hi.txt")
            with pytest.raises(FileTransferError) as info:
                await sent.done(WAIT)
            assert info.value.status is STATUS.INVITATION_STATUS_DECLINED
            assert info.value.reason == HangupReason.USER_NOT_FOUND.value
            assert info.value.code is ErrorNumber.ERROR_NOT_FOUND
            assert "User_Not_Found" in str(info.value)
            call = carol.call()
            hangup = await call.wait_for("hangup", WAIT)
            assert hangup == {"from": "remote", "reason": info.value.reason}

    run(test)


def test_the_sender_cancels_midway_and_the_receivers_accept_fails() -> None:
    data = blob(4_000_000, seed=6)

    async def test() -> None:
        async with world() as w:
            alice, bob = await w.pair()
            invited = offered(bob)
            contact = alice.get_contact("bob")
            sent = contact.send_file(data, name="movie.mkv", chunk_size=16_384, window=65_536)

            def cancel_once(_: Any) -> None:
                if sent.status is STATUS.INVITATION_STATUS_ACCEPTED:
                    sent.cancel()

            contact.on("fileTransferProgress", cancel_once)
            invitation = await invited
            future = invitation.accept()
            with pytest.raises(FileTransferError) as mine:
                await sent.done(WAIT)
            assert mine.value.status is STATUS.INVITATION_STATUS_CANCELLED
            with pytest.raises(FileTransferError) as theirs:
                await asyncio.wait_for(future, WAIT)
            assert theirs.value.status is STATUS.INVITATION_STATUS_CANCELLED
            assert 0 < invitation.received < len(data)
            assert not contact.fired("fileTransferError")  # we asked for it
            assert not contact.fired("fileSentSuccessfully")

    run(test)


def test_max_size_too_small_fails_both_sides() -> None:
    async def test() -> None:
        async with world() as w:
            alice, bob = await w.pair()
            invited = offered(bob)
            sent = alice.get_contact("bob").send_file(blob(5000), name="too-big")
            invitation = await invited
            future = invitation.accept(max_size=1000)
            with pytest.raises(FileTransferError) as theirs:
                await asyncio.wait_for(future, WAIT)
            assert theirs.value.error_code is ErrorCode.TRANSFER_TOO_LARGE
            assert theirs.value.status is STATUS.INVITATION_STATUS_CANCELLED
            assert invitation.fired("error")[0]["errorCode"] == "TRANSFER_TOO_LARGE"
            with pytest.raises(FileTransferError) as mine:
                await sent.done(WAIT)
            assert mine.value.error_code is ErrorCode.TRANSFER_DECLINED
            error = alice.get_contact("bob").fired("fileTransferError")[0]
            assert error["invitationId"] == sent.id and mine.value.error == error["error"]

    run(test)


def test_a_read_error_cancels_the_transfer_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    data = blob(200_000, seed=7)

    async def test() -> None:
        async with world() as w:
            alice, bob = await w.pair()
            bob.on("fileTransferInvitation", lambda inv: futures.append(inv.accept()))
            futures: list[asyncio.Future[dict[str, Any]]] = []
            reader = Reader(data, fail_after=50_000)
            sent = alice.get_contact("bob").send_file(
                reader, name="bad.bin", size=len(data), chunk_size=16_384
            )
            with pytest.raises(FileTransferError) as mine:
                await sent.done(WAIT)
            assert mine.value.status is STATUS.INVITATION_STATUS_CANCELLED
            assert isinstance(mine.value.__cause__, OSError)
            with pytest.raises(FileTransferError) as theirs:
                await asyncio.wait_for(futures[0], WAIT)
            assert theirs.value.status is STATUS.INVITATION_STATUS_CANCELLED
            # a file shorter than announced: cancelled too
            short = alice.get_contact("bob").send_file(io.BytesIO(b"abc"), name="s", size=10)
            with pytest.raises(FileTransferError) as truncated:
                await short.done(WAIT)
            assert truncated.value.status is STATUS.INVITATION_STATUS_CANCELLED

    with caplog.at_level(logging.ERROR):
        run(test)
    assert any("disk on fire" in (r.exc_text or "") for r in caplog.records)
    assert any("shorter" in r.getMessage() or "ended at" in r.getMessage() for r in caplog.records)


def test_event_names_follow_apirtc_plus_transfer_complete() -> None:
    async def test() -> None:
        async with world() as w:
            alice, bob = await w.pair()
            invited = offered(bob)
            contact = alice.get_contact("bob")
            for name in ("fileTransferProgress", "fileSentSuccessfully", "fileTransferError"):
                contact.on(name, print).off(name, print)
            sent = contact.send_file(b"x", name="x")
            for name in ("response", "receive", "statusChange"):
                sent.on(name, print).off(name, print)
            invitation = await invited
            for name in ("error", "progress", "statusChange", "transferComplete"):
                invitation.on(name, print).off(name, print)
            for obj, name in ((sent, "progress"), (sent, "transferComplete"), (invitation, "x")):
                with pytest.raises(ParameterError) as info:
                    obj.on(name, print)
                assert info.value.error_code is ErrorCode.UNKNOWN_EVENT_ON_ADDLISTENER
            invitation.decline()
            with pytest.raises(FileTransferError):
                await sent.done(WAIT)

    run(test)


def test_unregister_settles_what_is_pending() -> None:
    async def test() -> None:
        async with world() as w:
            alice, bob = await w.pair()
            invited = offered(bob)
            sent = alice.get_contact("bob").send_file(b"later", name="later.txt")
            await invited  # bob never answers
            await w.uas["alice"].unregister()
            with pytest.raises(FileTransferError):
                await sent.done(WAIT)

    run(test)


def test_the_example_in_docs_asyncio_md_runs(capsys: pytest.CaptureFixture[str]) -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "asyncio.md").read_text("utf-8")
    section = text.split("## File transfer", 1)[1]
    example = section.split("```python\n", 1)[1].split("```", 1)[0]
    exec(compile(example, "docs/asyncio.md", "exec"), {"__name__": "docs_example"})
    out = capsys.readouterr().out.split()
    assert float(out[-2]) == 100 and out[-1] == "INVITATION_STATUS_DECLINED"
