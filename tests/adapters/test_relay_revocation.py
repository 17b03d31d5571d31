"""Token revocation on a real relay (attacker's tests): ``--revoked-tokens`` is re-read when it
changes, a revoked token cannot register, a live connection holding one is cut with a final
close and an error naming the cause, and honest users are unaffected."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from adaptertools import run, until
from rtcstate_asyncio import UserAgent, serve
from rtcstate_asyncio.agent import RegistrationError
from rtcstate_asyncio.auth import TokenVerifier, issue_token
from rtcstate_asyncio.revocation import RevocationFile, parse_revocations
from securitytools import SECRET, WAIT
from websockets.asyncio.client import connect

from rtcstate import wire
from rtcstate.hub import CloseCode, Hub

FAST = {"register_timeout": 2.0, "keepalive_interval": None}


def token(user: str, jti: str) -> str:
    return issue_token(SECRET, user, jti=jti)


def test_the_file_format() -> None:
    revocations, problems = parse_revocations(
        "# revoked\n\njti: t1\nsub:bob\n  jti:t2  \nnonsense\nsub:\n"
    )
    assert revocations.token_ids == {"t1", "t2"} and revocations.users == {"bob"}
    assert problems == ["line 6: expected 'jti:<id>' or 'sub:<user>'",
                        "line 7: expected 'jti:<id>' or 'sub:<user>'"]  # fmt: skip


def test_a_live_connection_is_cut_a_revoked_token_refused_honest_users_unaffected(
    tmp_path: Path,
) -> None:
    path = tmp_path / "revoked"
    path.write_text("# nothing revoked yet\n")
    revocations = RevocationFile(path)
    hub = Hub(verifier=TokenVerifier.from_secret(SECRET))

    async def test() -> None:
        async with await serve("127.0.0.1", 0, hub=hub, revocations=revocations) as relay:
            relay.tick_interval = 0.05
            alice, bob = UserAgent("alice", options=FAST), UserAgent("bob", options=FAST)
            a = await alice.register(relay.url, token=token("alice", "ta"), timeout=WAIT)
            b = await bob.register(relay.url, token=token("bob", "tb"), timeout=WAIT)
            errors: list[Any] = []
            b.on("error", errors.append)
            accepted = relay.accepted
            path.write_text("jti:tb\n")  # the watched file changes: bob's token is revoked
            await until(lambda: b.core.state.name == "FAILED", WAIT)
            assert errors and "token revoked" in repr(errors[0])
            await asyncio.sleep(0.5)  # no reconnection loop
            assert relay.accepted == accepted
            assert hub.devices("bob") == ()
            # a revoked token cannot register: refused with the cause, once
            again = UserAgent("bob", options=FAST)
            with pytest.raises(RegistrationError) as info:
                await again.register(relay.url, token=token("bob", "tb"), timeout=WAIT)
            assert "token revoked" in str(info.value)
            # on the wire: ServerError(token_revoked) then the final close code 4403
            async with connect(relay.url, proxy=None) as ws:
                await ws.send(wire.encode(wire.Register("bob", "x", token("bob", "tb"))))
                answer = wire.decode(await asyncio.wait_for(ws.recv(), WAIT)).message
                assert answer == wire.ServerError("token_revoked", "token revoked")
                await asyncio.wait_for(ws.wait_closed(), WAIT)
                assert ws.close_code == CloseCode.REVOKED
            # honest users: alice stayed connected; bob's new token works
            assert a.core.state.name == "CONNECTED" and hub.devices("alice") == ("alice/default",)
            fresh = UserAgent("bob", options=FAST)
            await fresh.register(relay.url, token=token("bob", "tb2"), timeout=WAIT)
            # revoking the user (SIGHUP path: a forced re-read) cuts every token of his
            path.write_text("jti:tb\nsub:bob\n")
            relay.reload_revocations(force=True)
            await until(lambda: fresh.session is not None
                        and fresh.session.core.state.name == "FAILED", WAIT)  # fmt: skip
            assert a.core.state.name == "CONNECTED"
            # a file that disappears keeps the revocations in force
            path.unlink()
            await asyncio.sleep(0.2)
            assert hub.revocations.users == {"bob"}
            await alice.unregister()

    run(test, limit=30)


def test_serve_refuses_a_revoked_tokens_file_it_cannot_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import rtcstate_cli

    missing = tmp_path / "nowhere"
    code = rtcstate_cli.main(["serve", "--port", "0", "--revoked-tokens", str(missing)])
    assert code == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"rtcstate: error: --revoked-tokens {missing}")
