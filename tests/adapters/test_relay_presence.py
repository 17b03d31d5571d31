"""Scoped presence through a real relay: contact and group subscriptions, kept across a restart."""

from __future__ import annotations

from adaptertools import FAST, WAIT, run, until
from rtcstate_asyncio import Session, UserAgent, serve

from rtcstate.hub import Hub


def test_alice_hears_her_contact_and_her_group_only_and_keeps_them_across_a_relay_restart() -> None:
    async def main() -> None:
        relay = await serve("127.0.0.1", 0, hub=Hub(presence_group=None))
        port = relay.port
        uas = {u: UserAgent(u, options=FAST) for u in ("alice", "bob", "carol", "dave", "erin")}
        sessions: dict[str, Session] = {}
        try:
            for user, ua in uas.items():
                sessions[user] = await ua.register(relay.url, timeout=WAIT)
            alice = sessions["alice"]
            alice.subscribe_to_contacts(["bob"])
            await until(lambda: alice.get_contact("bob").is_online)
            sessions["dave"].join_group("team")
            alice.subscribe_to_group("team")
            await until(lambda: alice.get_contact("dave").is_online)
            # carol (not a contact) and erin (in no group) are never heard
            assert sorted(alice.core.contacts) == ["bob", "dave"]
            # the relay restarts (a fresh hub): every scope is re-sent on re-registration
            back = [s.wait_for("reconnection", WAIT) for s in sessions.values()]
            await relay.close()
            relay = await serve("127.0.0.1", port, hub=Hub(presence_group=None))
            for waiting in back:
                await waiting
            await until(lambda: sorted(alice.core.contacts) == ["bob", "dave"])
            # dave leaves the group: alice stops hearing him (after the disconnection delay)
            sessions["dave"].leave_group("team")
            await until(lambda: sorted(alice.core.contacts) == ["bob"])
            assert not alice.get_contact("carol").is_online
        finally:
            for ua in uas.values():
                if ua.session is not None:
                    await ua.unregister()
            await relay.close()

    run(main, limit=30.0)
