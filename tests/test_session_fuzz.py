"""Nothing from the wire or the media stack raises out of the session, in any state."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from rtcstate import media, wire
from rtcstate.effects import Effect
from rtcstate.session import Session, SessionConfig, SessionState
from rtcstate.testing.strategies import envelopes

STATES = st.sampled_from(list(SessionState))


def _session(state: SessionState) -> Session:
    s = Session(SessionConfig("alice", device="d1"))
    s.state = state
    return s


def _mutate(data: bytes, cut: int, garbage: bytes) -> bytes:
    cut = cut % (len(data) + 1)
    return data[:cut] + garbage + data[cut:]


WIRE_INPUT = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200),
    envelopes().map(wire.encode_envelope),
    st.builds(
        _mutate,
        envelopes().map(wire.encode_envelope),
        st.integers(0, 10_000),
        st.binary(min_size=1, max_size=8),
    ),
    envelopes().map(lambda e: wire.encode_envelope(e).replace(b'"v":1', b'"v":2')),
)


@settings(max_examples=600, deadline=None)
@given(state=STATES, data=st.lists(WIRE_INPUT, min_size=1, max_size=5))
def test_receive_never_raises(state: SessionState, data: list[Any]) -> None:
    s = _session(state)
    for item in data:
        fx = s.receive(item, 1.0)
        assert isinstance(fx, list) and all(isinstance(e, Effect) for e in fx)
        assert isinstance(s.state, SessionState)


MEDIA = st.one_of(
    st.builds(media.IceStateChanged, st.text(max_size=5), st.text(max_size=8)),
    st.builds(media.TrackEnded, st.text(max_size=5), st.text(max_size=5), st.text(max_size=5)),
    st.builds(media.DataChannelOpened, st.text(max_size=5)),
    st.builds(media.MediaFailed, st.text(max_size=5), st.text(max_size=5)),
    st.builds(media.Capabilities),
)


@settings(max_examples=200, deadline=None)
@given(state=STATES, events=st.lists(MEDIA, max_size=5), timers=st.lists(st.text(max_size=12)))
def test_media_reports_and_timers_never_raise(
    state: SessionState, events: list[media.MediaEvent], timers: list[str]
) -> None:
    s = _session(state)
    before = s.state
    for event in events:
        assert all(isinstance(e, Effect) for e in s.media_event(event, 1.0))
    for timer_id in timers:  # none of these was armed: each is a stale timer
        assert all(isinstance(e, Effect) for e in s.timer_fired(timer_id, 2.0))
    assert s.state is before


@settings(max_examples=100, deadline=None)
@given(state=STATES)
def test_transport_reports_never_raise(state: SessionState) -> None:
    for report in ("connection_made", "connection_failed", "connection_lost"):
        s = _session(state)
        fx = getattr(s, report)(1.0)
        assert all(isinstance(e, Effect) for e in fx)
