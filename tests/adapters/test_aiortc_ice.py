"""ICE servers for deployments: specs parsed and checked, the configured servers in every
connection's RTCConfiguration, none (loopback only) by default, the CLI refusing bad ones."""

from __future__ import annotations

from typing import Any

import pytest
from adaptertools import until
from aiortc import RTCConfiguration, RTCPeerConnection
from rtcstate_aiortc import AiortcMedia, connection
from rtcstate_aiortc.ice import ice_servers_from
from rtcstate_cli import main
from test_aiortc_backend import Net, run

from rtcstate import effects as fx


def test_specs_become_ice_servers() -> None:
    servers = ice_servers_from(["stun:stun.example.org:3478", "turn:t.example.org,u,p"])
    assert [s.urls for s in servers] == ["stun:stun.example.org:3478", "turn:t.example.org"]
    assert (servers[0].username, servers[1].username, servers[1].credential) == (None, "u", "p")
    assert ice_servers_from([]) == []


@pytest.mark.parametrize(
    "spec",
    ["http://x", "stun:", "turn:t.example.org", "turns:t.example.org,u", "stun:s,u,", "x,y,z"],
)
def test_a_bad_spec_is_refused_by_name(spec: str) -> None:
    with pytest.raises(ValueError, match="ICE server"):
        ice_servers_from([spec])


def configuration(options: dict[str, object], monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The ICE servers in the RTCConfiguration a connection of a backend made with ``options``
    was created with (aiortc does not read it back)."""
    seen: list[RTCConfiguration | None] = []

    class Seen(RTCPeerConnection):
        def __init__(self, configuration: RTCConfiguration | None = None) -> None:
            seen.append(configuration)
            super().__init__(configuration)

    monkeypatch.setattr(connection, "RTCPeerConnection", Seen)

    async def scenario(net: Net) -> None:
        backend = AiortcMedia(**options)  # type: ignore[arg-type]
        backend.bind(lambda event: None)
        try:
            backend.apply(fx.CreatePeerConnection("c1"))
            await until(lambda: backend.peer_connection("c1") is not None)
            assert isinstance(backend.peer_connection("c1"), Seen)
        finally:
            await backend.close()

    run(scenario)
    (config,) = seen
    assert config is not None
    return list(config.iceServers or [])


def test_configured_servers_reach_every_connection_and_loopback_has_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    servers = ice_servers_from(["stun:127.0.0.1:3478", "turn:127.0.0.1:3478,u,p"])
    got = configuration({"loopback_only": False, "ice_servers": servers}, monkeypatch)
    assert [(s.urls, s.username, s.credential) for s in got] == [
        ("stun:127.0.0.1:3478", None, None),
        ("turn:127.0.0.1:3478", "u", "p"),
    ]
    monkeypatch.undo()
    assert (
        configuration({}, monkeypatch) == []
    )  # tests and the demo: loopback, no server (DESIGN.md §8)
    with pytest.raises(ValueError, match="loopback_only"):
        AiortcMedia(ice_servers=servers)


def test_the_agent_command_refuses_a_bad_ice_server_or_media_file(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["agent", "--ice-server", "turn:t.example.org"]) == 2
    assert "USERNAME,CREDENTIAL" in capsys.readouterr().err
    assert main(["agent", "--media-file", "/nonexistent/clip.webm"]) == 2
    assert "no media file" in capsys.readouterr().err
