"""Real media in: the application's own tracks and media files as the sources of a stream.

Theory of operation
-------------------
A *media source* is what the backend asks for the content of a stream: a callable given the
stream's call type (``media``, ``screenSharing``, ``data``...) that returns aiortc tracks
(at most one per kind), or an aiortc ``MediaPlayer``. :func:`file_source` is one reading a
media file (one player per stream, so every stream plays the file from its start; the player
is stopped when its stream is released); :func:`tracks_source` hands out the application's
own tracks (relayed to every stream; they stay the application's to stop). :func:`feeds_of`
turns what a source returned into the ``{kind: track}`` that feeds a
:class:`~rtcstate_aiortc.sources.SyntheticStream`; a kind given twice, or not ``audio`` /
``video``, is a ``ValueError`` (the application's mistake, raised to it at once).
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable, Iterable
from typing import Any

from aiortc.contrib.media import MediaPlayer
from aiortc.mediastreams import MediaStreamTrack

__all__ = ["MediaSource", "feeds_of", "file_source", "tracks_source"]

#: ``source(call_type)``: the tracks (or a ``MediaPlayer``) feeding a newly acquired stream
MediaSource = Callable[[str], "Iterable[MediaStreamTrack] | MediaPlayer"]


def feeds_of(source: Iterable[MediaStreamTrack] | MediaPlayer) -> dict[str, MediaStreamTrack]:
    """``{kind: track}`` of ``source`` (a ``MediaPlayer``: its audio and video tracks)."""
    if isinstance(source, MediaPlayer):
        tracks: list[Any] = [source.audio, source.video]
    else:
        tracks = list(source)
    feeds: dict[str, MediaStreamTrack] = {}
    for track in tracks:
        if track is None:
            continue
        kind = getattr(track, "kind", None)
        if kind not in ("audio", "video"):
            raise ValueError(f"not an audio or video track: {track!r}")
        if kind in feeds:
            raise ValueError(f"two {kind} tracks for one stream")
        feeds[kind] = track
    return feeds


def file_source(
    path: str | pathlib.Path, *, loop: bool = False, **options: Any
) -> Callable[[str], MediaPlayer]:
    """A media source playing ``path`` (any format FFmpeg reads) for each stream, in real time;
    ``loop`` replays it (a seekable file only); ``options`` go to ``MediaPlayer``. The file
    is checked at once (``FileNotFoundError``)."""
    file = pathlib.Path(path)
    if not file.is_file():
        raise FileNotFoundError(str(file))

    def open_player(call_type: str) -> MediaPlayer:
        return MediaPlayer(str(file), loop=loop, **options)

    return open_player


def tracks_source(*tracks: MediaStreamTrack) -> Callable[[str], list[MediaStreamTrack]]:
    """A media source handing out the application's ``tracks`` for each stream (the same
    tracks each time: every stream relays them)."""
    feeds_of(tracks)  # checked at once

    def give(call_type: str) -> list[MediaStreamTrack]:
        return list(tracks)

    return give
