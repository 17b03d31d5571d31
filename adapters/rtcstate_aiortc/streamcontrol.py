"""Stream commands on the aiortc backend: enable/disable a kind, release a track, constraints.

Theory of operation
-------------------
The core's stream commands name a local stream the backend holds (a
:class:`~rtcstate_aiortc.sources.SyntheticStream`, acquired or added); :func:`carry_out`
changes that stream and returns what to report, if anything. Every call publishing the stream
sees the change at its next frame (its tracks read the stream through their
:class:`~rtcstate_aiortc.sources.SourceControl`); nothing is renegotiated.

* :class:`~rtcstate.stream.SetStreamTrackEnabled`: a disabled kind keeps its track *live* and
  sends **silence / black frames** (as a disabled browser track does: the far side's track
  stays, its frame counters go on); enabling it brings the content back. Nothing reported (the
  core already fired ``flowStatusChanged``).
* :class:`~rtcstate.stream.ReleaseTrack`: the kind is stopped for good (silence / black from
  then on; a feed the backend owns, a file's player, is stopped) and
  :class:`~rtcstate.stream.StreamTrackEnded` is reported (``trackStopped`` on the stream).
* :class:`~rtcstate.stream.ApplyConstraints`: ``width``, ``height`` and ``frameRate`` (a
  number, or a mapping with ``exact``, ``ideal``, ``max`` or ``min``) of the synthetic video;
  width and height are rounded down to even, at least 2 and at most 4096, the rate kept in
  [1, 60] frames a second. :class:`~rtcstate.stream.ConstraintsApplied` reports what now
  applies (the keys applied, as applied); other keys are not applied and not reported. A
  stream fed by the application's own video keeps the feed's size (only the synthetic frames
  follow).

*Audio levels* (the backend's ``audio_level_interval``): :func:`audio_level` is the level of a
stream's synthetic audio as a meter of 60 dB range would show its peak (``(dBFS + 60) / 60``,
clamped to [0, 1]): the tone's peak (3000 of 32768, about -21 dBFS) reads about 0.65,
silence 0.0; a stream whose audio is the application's feed is not measured (None).

A command for a stream the backend does not hold (released, never acquired) does nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from rtcstate.media import MediaEvent
from rtcstate.stream import (
    ApplyConstraints,
    ConstraintsApplied,
    ReleaseTrack,
    SetStreamTrackEnabled,
    StreamTrackEnded,
)
from rtcstate_aiortc.sources import TONE_PEAK, SyntheticStream

__all__ = ["STREAM_COMMANDS", "audio_level", "carry_out", "constraint_value"]

STREAM_COMMANDS = (SetStreamTrackEnabled, ReleaseTrack, ApplyConstraints)
"""The effect classes :func:`carry_out` handles."""

_MAX_SIDE = 4096
_METER_RANGE_DB = 60.0


def audio_level(stream: SyntheticStream) -> float | None:
    """The meter's level of ``stream``'s synthetic audio (None: no audio, or a fed one)."""
    if not stream.has("audio") or "audio" in stream.feeds:
        return None
    if not stream.sends("audio"):
        return 0.0
    dbfs = 20.0 * math.log10(TONE_PEAK / 32768.0)
    return max(0.0, min(1.0, (dbfs + _METER_RANGE_DB) / _METER_RANGE_DB))


def constraint_value(value: Any) -> float | None:
    """A constraint's number: itself, or its ``exact``/``ideal``/``max``/``min`` (None: none)."""
    if isinstance(value, Mapping):
        for key in ("exact", "ideal", "max", "min"):
            if key in value:
                return constraint_value(value[key])
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if number == number and number > 0 else None  # NaN, <= 0: none


def _side(value: Any) -> int | None:
    number = constraint_value(value)
    if number is None or number == float("inf"):
        return None
    return max(2, min(_MAX_SIDE, int(number) // 2 * 2))


def _constrain(stream: SyntheticStream, constraints: Mapping[str, Any]) -> dict[str, Any]:
    applied: dict[str, Any] = {}
    width, height = _side(constraints.get("width")), _side(constraints.get("height"))
    if width is not None:
        stream.width = applied["width"] = width
    if height is not None:
        stream.height = applied["height"] = height
    rate = constraint_value(constraints.get("frameRate"))
    if rate is not None and rate != float("inf"):
        stream.fps = applied["frameRate"] = max(1.0, min(rate, 60.0))
    return applied


def carry_out(streams: Mapping[str, SyntheticStream], effect: object) -> MediaEvent | None:
    """Carry out one stream command on ``streams``; the report to make, if any."""
    if isinstance(effect, SetStreamTrackEnabled):
        stream = streams.get(effect.stream_id)
        if stream is not None and stream.has(effect.kind):
            stream.set_enabled(effect.kind, effect.enabled)
        return None
    if isinstance(effect, ReleaseTrack):
        stream = streams.get(effect.stream_id)
        if stream is None or not stream.has(effect.kind) or effect.kind in stream.stopped:
            return None
        stream.stop_track(effect.kind)
        return StreamTrackEnded(effect.stream_id, effect.kind, f"{effect.stream_id}-{effect.kind}")
    if isinstance(effect, ApplyConstraints):
        stream = streams.get(effect.stream_id)
        if stream is None or not isinstance(effect.constraints, Mapping):
            return None
        return ConstraintsApplied(effect.stream_id, _constrain(stream, effect.constraints))
    return None
