"""Calls: what mutation testing found untested (docs/testing.md, "Mutation testing").

A candidate reaching a call that is ending is dropped; a stream the application published in
place of the call's own is never released by the call; candidates buffered before the remote
description are applied with their own arguments, in order, once it is."""

from __future__ import annotations

from calltools import PEER_CALL, callee_in, caller_in, from_peer

from rtcstate import media, wire
from rtcstate.effects import AddIceCandidate, Effect, ReleaseMedia

HOST = "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host"
OTHER = "candidate:2 1 udp 2122260222 127.0.0.1 50001 typ host"


def added(fx: list[Effect]) -> list[AddIceCandidate]:
    return [e for e in fx if isinstance(e, AddIceCandidate)]


def test_a_candidate_for_an_ending_call_is_dropped() -> None:
    for sc in (caller_in("ENDING"), callee_in("ENDING")):
        cid = sc.call.call_id
        fx = sc.session.receive_envelope(from_peer(wire.Candidate(cid, HOST, "0", 0)), sc.now)
        assert added(fx) == []
        # the same candidate on a live call is applied: the drop is the state's
        live = caller_in("CONNECTED")
        lid = live.call.call_id
        fx = live.session.receive_envelope(from_peer(wire.Candidate(lid, HOST, "0", 0)), live.now)
        assert added(fx) == [AddIceCandidate(lid, HOST, "0", 0)]


def test_an_application_stream_is_never_released_by_the_call() -> None:
    sc = caller_in("CONNECTED")
    fx = sc.call.replace_published_stream(sc.now, "app-stream")
    assert ReleaseMedia("my-cam") in fx  # the call's own stream, replaced, is released
    assert sc.call.owns_stream is False
    fx = sc.call.hangup(sc.now + 1)
    fx += sc.session.receive_envelope(from_peer(wire.Ack(sc.call.call_id, "bye")), sc.now + 2)
    assert [e for e in fx if isinstance(e, ReleaseMedia)] == []


def test_candidates_buffered_before_the_offer_is_applied_keep_their_arguments() -> None:
    sc = callee_in("RINGING")
    for cand, mid, index in ((HOST, "audio", 3), (OTHER, None, None)):
        msg = wire.Candidate(PEER_CALL, cand, mid, index)
        assert added(sc.session.receive_envelope(from_peer(msg), sc.now)) == []
    fx = sc.call.invitation.accept(sc.now)  # type: ignore[union-attr]
    fx += sc.session.media_event(media.MediaAcquired(PEER_CALL, "my-cam"), sc.now)
    assert added(fx) == [
        AddIceCandidate(PEER_CALL, HOST, "audio", 3),
        AddIceCandidate(PEER_CALL, OTHER, None, None),
    ]


def test_candidates_buffered_before_the_answer_keep_their_arguments() -> None:
    sc = caller_in("INVITING")
    cid = sc.call.call_id
    msg = wire.Candidate(cid, HOST, "video", 1)
    assert added(sc.session.receive_envelope(from_peer(msg), sc.now)) == []
    fx = sc.session.receive_envelope(from_peer(wire.Answer(cid, "their-answer")), sc.now)
    assert added(fx) == [AddIceCandidate(cid, HOST, "video", 1)]
