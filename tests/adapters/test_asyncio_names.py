"""apiRTC's method names and rtcstate's: the table of docs/asyncio.md holds, and the
deliberate differences (hang_up / hangup, sendFile's argument order, accept and done) work."""

from __future__ import annotations

import asyncio
import contextlib
import re
from pathlib import Path
from typing import Any

import adaptertools
import pytest
import rtcstate_asyncio
from adaptertools import World, run, until
from rtcstate_asyncio import (
    FakeMediaNetwork,
    ReceivedCallInvitation,
    ReceivedFileTransferInvitation,
)

from rtcstate.codes import ErrorNumber
from rtcstate.errors import RtcError

WAIT = 5.0
ROOT = Path(__file__).resolve().parents[2]
REFERENCE = (ROOT / "tests" / "reference" / "apirtc-api.md").read_text(encoding="utf-8")
OBSERVABLE = [rtcstate_asyncio.Call, rtcstate_asyncio.Session, rtcstate_asyncio.UserAgent]


def table() -> list[list[str]]:
    text = (ROOT / "docs" / "asyncio.md").read_text(encoding="utf-8")
    section = text.split("## apiRTC methods and their rtcstate names", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    return [[c.strip() for c in row.strip("|").split(" | ")] for row in rows[1:]]


def _member(cell: str) -> str | None:
    match = re.match(r"`(?:await )?([A-Za-z_]+)", cell)
    return match.group(1) if match else None


def test_the_table_names_members_that_exist_and_methods_apirtc_has() -> None:
    rows = table()
    assert len(rows) >= 50
    classes = {row[0] for row in rows}
    assert {"UserAgent", "Session", "Contact", "Call", "DataChannel", "SentInvitation"} <= classes
    for api_class, apirtc, ours, _ in rows:
        for method in re.findall(r"`(?:static )?(?:new )?([A-Za-z]+)\(", apirtc):
            assert method in REFERENCE, f"{api_class}.{method} is not an apiRTC method"
        name = _member(ours)
        if ours == "—":
            continue
        assert name is not None, ours
        owners = OBSERVABLE if api_class == "Observable" else [getattr(rtcstate_asyncio, api_class)]
        for owner in owners:
            if name == api_class:  # the constructor
                continue
            has = hasattr(owner, name) or name in ("id", "ua")  # set in __init__
            assert has, f"{api_class}: no {name}"


def test_the_table_covers_every_method_of_the_implemented_classes() -> None:
    """Every method apiRTC's catalogue lists for Call, DataChannel and the received
    invitations is in a row (implemented, or said not to be)."""
    listed = " ".join(row[1] for row in table())
    for section in ("1.7 Call", "1.11 DataChannel"):
        body = REFERENCE.split(f"### {section}", 1)[1].split("Events [J]", 1)[0]
        for method in re.findall(r"`([a-z][A-Za-z]+)\(", body):
            if method in {"constructor", "destroy", "setStatus"}:
                continue
            assert method in listed, f"{section}: {method} missing from the table"


def test_hang_up_and_its_alias_are_one_method() -> None:
    assert rtcstate_asyncio.Call.hangup is rtcstate_asyncio.Call.hang_up
    assert rtcstate_asyncio.UserAgent.remove_listener is not None


def world() -> contextlib.AbstractAsyncContextManager[World]:
    return adaptertools.world(FakeMediaNetwork().backend)


def test_hang_up_by_its_python_name_and_aliases() -> None:
    async def test() -> None:
        async with world() as w:
            alice, bob = await w.pair()
            ua = w.uas["alice"]
            assert ua.is_registered
            bob.once("incomingCall", lambda inv: inv.accept())
            call = alice.get_contact("bob").call()
            await call.wait_for("accepted", WAIT)
            seen: list[Any] = []
            call.on("hangup", seen.append).remove_listener("hangup", seen.append)
            ended = call.wait_for("hangup", WAIT)
            call.hang_up()
            assert (await ended)["from"] == "local" and seen == []
            with pytest.raises(RtcError) as info:
                call.hangup()  # the alias: the same refusal once ended
            assert info.value.code is ErrorNumber.ERROR_WRONG_STATE
            await ua.unregister()
            assert not ua.is_registered

    run(test)


def test_send_file_in_apirtc_order_and_done_on_both_sides() -> None:
    async def test() -> None:
        async with world() as w:
            alice, bob = await w.pair()
            invitations = bob.events("fileTransferInvitation")
            contact = alice.get_contact("bob")
            data = b"0123456789" * 10_000
            for wrong in (
                lambda: contact.send_file({"name": "x"}, data, name="y"),  # type: ignore[call-overload]
                lambda: contact.send_file({"name": "x"}),  # type: ignore[call-overload]
                lambda: contact.send_file(data, data, name="x"),  # type: ignore[call-overload]
                lambda: contact.send_file({"type": "text/plain"}, data),
            ):
                with pytest.raises(RtcError) as info:
                    wrong()
                assert info.value.code is ErrorNumber.ERROR_BAD_PARAMETER
            sent = contact.send_file({"name": "n.txt", "type": "text/plain"}, data)
            invitation = (await invitations.next(WAIT)).payload
            assert isinstance(invitation, ReceivedFileTransferInvitation)
            assert invitation.file_info == {"name": "n.txt", "type": "text/plain", "size": 100_000}
            with pytest.raises(RtcError) as early:
                await invitation.done(WAIT)  # nothing to wait for before accept()
            assert early.value.code is ErrorNumber.ERROR_INVITATION_STATE_INVALID
            promise = invitation.accept()
            got, sent_info = await asyncio.gather(invitation.done(WAIT), sent.done(WAIT))
            assert got == await promise and got["file"] == data and got["name"] == "n.txt"
            assert sent_info["fileInfo"]["name"] == "n.txt"
            invitations.close()

    run(test)


def test_accept_returns_the_object_at_once() -> None:
    async def test() -> None:
        async with world() as w:
            alice, bob = await w.pair()
            incoming = bob.wait_for("incomingCall", WAIT)
            call = alice.get_contact("bob").call()
            invitation = await incoming
            assert isinstance(invitation, ReceivedCallInvitation)
            theirs = invitation.accept()  # the Call, at once (apiRTC: a promise of it)
            assert isinstance(theirs, rtcstate_asyncio.Call) and theirs.id == call.id
            await until(lambda: bool(call.fired("accepted")))
            call.hang_up()
            await theirs.wait_for("hangup", WAIT)

    run(test)
