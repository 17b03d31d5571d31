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


def test_a_refused_subscription_is_not_asked_again_after_reconnections() -> None:
    async def main() -> None:
        hub = Hub(presence_group=None, max_subscriptions=2)
        relay = await serve("127.0.0.1", 0, hub=hub)
        port = relay.port
        ua = UserAgent("alice", options=FAST)
        try:
            alice = await ua.register(relay.url, timeout=WAIT)
            errors: list[object] = []
            alice.on("error", errors.append)
            alice.subscribe_to_contacts(["bob"])
            alice.subscribe_to_contacts(["carol", "dave"])  # over the limit: refused
            await until(lambda: len(errors) == 1)
            assert "too_many_subscriptions" in repr(errors[0])
            for _ in range(3):  # relay restarts: alice re-registers, asks for bob only
                back = alice.wait_for("reconnection", WAIT)
                await relay.close()
                hub = Hub(presence_group=None, max_subscriptions=2)
                relay = await serve("127.0.0.1", port, hub=hub)
                await back
                await until(lambda h=hub: h.held_state()["connections"] == 1)  # type: ignore[misc]
                conn = next(iter(hub._conns.values()))
                await until(lambda c=conn: list(c.presence.contacts) == ["bob"])  # type: ignore[misc]
            assert len(errors) == 1  # no refusal after any reconnection
            # asked again by the application: asked, refused again (the limit holds)
            alice.subscribe_to_contacts(["carol", "dave"])
            await until(lambda: len(errors) == 2)
        finally:
            if ua.session is not None:
                await ua.unregister()
            await relay.close()

    run(main, limit=30.0)
