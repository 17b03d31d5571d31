"""Call settings: the session-wide options of apiRTC's setters, validated, plus rtcstate's timers.

apiRTC configures calls through setters (``session.allowMultipleCalls(v)``,
``setUserAcceptOnIncomingCall(v)``, ``setMediaRoutingMode(m)``, …) whose bad arguments give
``PARAMETER_ERROR_*`` codes. Here the same options live in one frozen :class:`CallSettings`
value held by the session; :func:`validate_option` checks one ``(name, value)`` pair and
raises :class:`ParameterError` (``ERROR_BAD_PARAMETER``, carrying the apiRTC ``errorCode`` and
``errorInfo``) before anything changes. ``Session.set_option`` and ``Session.call`` use it.

Timers (seconds) that apiRTC hard-codes are settings here; their defaults are apiRTC's values
where it has one (ICE disconnection: warnings at 2 s then every 9 s, hang-up at 40 s).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from rtcstate.codes import ErrorCode, ErrorNumber, MediaRoutingMode
from rtcstate.errors import RtcError

__all__ = ["OPTION_CODES", "CallSettings", "ParameterError", "validate_option"]


class ParameterError(RtcError):
    """A setting got a bad value: ``code`` is ERROR_BAD_PARAMETER, ``error_code`` the apiRTC
    ``PARAMETER_ERROR_*`` code of that setter and ``error_info`` its ``errorInfo`` text."""

    def __init__(self, error_code: ErrorCode, name: str, value: object) -> None:
        super().__init__(ErrorNumber.ERROR_BAD_PARAMETER, f"{name}={value!r}: {error_code.info}")
        self.error_code = error_code
        self.error_info = error_code.info
        self.option = name
        self.value = value


OPTION_CODES: Mapping[str, ErrorCode] = {
    "allow_multiple_calls": ErrorCode.PARAMETER_ERROR_SETALLOWMULTIPLECALLS,
    "user_accept_on_incoming_call": ErrorCode.PARAMETER_ERROR_SETUSERACCEPTONINCOCALL,
    "user_accept_on_incoming_call_before_gum":
        ErrorCode.PARAMETER_ERROR_SETUSERACCEPTONINCOCALLBEFOREGUM,
    "user_accept_on_incoming_screen_sharing_call":
        ErrorCode.PARAMETER_ERROR_SETUSERACCEPTONINCOSCREENSHARINGCALL,
    "media_routing_mode": ErrorCode.PARAMETER_ERROR_SETMEDIAROUTINGMODE,
    "call_media_routing_mode": ErrorCode.PARAMETER_ERROR_SETCALLMEDIAROUTINGMODE,
    "unidirectional_call": ErrorCode.PARAMETER_ERROR_SETUNIDIRCALL,
    "n_to_n_conference": ErrorCode.PARAMETER_ERROR_SETNTONCONF,
    "rtp_media": ErrorCode.PARAMETER_ERROR_SETRTPMEDIA,
    "prefer_h264_codec": ErrorCode.PARAMETER_ERROR_SETPREFERH264CODEC,
    "prefer_vp9_codec": ErrorCode.PARAMETER_ERROR_SETPREFERVP9CODEC,
    "recv_media_deactivated": ErrorCode.PARAMETER_ERROR_SETRECVMEDIADEACTIVATED,
    "recorded_call": ErrorCode.PARAMETER_ERROR_SETRECORDEDCALL,
    "trickle_ice": ErrorCode.PARAMETER_ERROR_SETTRICKLEICE,
}  # fmt: skip
"""Each apiRTC-style option → the ``PARAMETER_ERROR_*`` code a bad value gives."""

_ROUTING_OPTIONS = frozenset({"media_routing_mode", "call_media_routing_mode"})

_TIMERS = (
    "no_answer_timeout",
    "connect_timeout",
    "ice_disconnection_timeout",
    "ice_warning_first",
    "ice_warning_interval",
    "ice_restart_delay",
    "server_loss_window",
    "rtx_initial",
    "rtx_max",
)


def validate_option(name: str, value: object) -> Any:
    """Check one option; return the normalised value or raise :class:`ParameterError`."""
    code = OPTION_CODES.get(name)
    if code is None:
        raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, f"unknown option {name!r}")
    if name in _ROUTING_OPTIONS:
        if isinstance(value, MediaRoutingMode):
            return value
        if isinstance(value, str):
            for mode in MediaRoutingMode:
                if mode.value == value:
                    return mode
        raise ParameterError(code, name, value)
    if type(value) is not bool:
        raise ParameterError(code, name, value)
    return value


@attrs.frozen(slots=True)
class CallSettings:
    """Options and timers of every call of a session (durations in seconds).

    ``allow_multiple_calls`` defaults to True as in apiRTC v5; with False a second media call
    is refused with ``User_Busy`` (screen sharing and data calls are exempt) and two users
    calling each other at once keep exactly one call (the one with the smaller call id).
    ``no_answer_timeout`` (None: ring forever, as apiRTC) is carried on the wire as the
    invitation's lifetime. ``rtx_*`` drive the retransmission of invite, answer, bye and
    update until acknowledged (``rtx_attempts`` sends in all).
    """

    allow_multiple_calls: bool = True
    user_accept_on_incoming_call: bool = True
    user_accept_on_incoming_call_before_gum: bool = True
    user_accept_on_incoming_screen_sharing_call: bool = False
    media_routing_mode: MediaRoutingMode = MediaRoutingMode.TURN
    call_media_routing_mode: MediaRoutingMode = MediaRoutingMode.TURN
    unidirectional_call: bool = False
    n_to_n_conference: bool = False
    rtp_media: bool = True
    prefer_h264_codec: bool = False
    prefer_vp9_codec: bool = False
    recv_media_deactivated: bool = False
    recorded_call: bool = False
    trickle_ice: bool = True
    try_audio_only_after_user_media_error: bool = True
    no_answer_timeout: float | None = None
    connect_timeout: float = 30.0
    ice_disconnection_timeout: float = 40.0
    ice_warning_first: float = 2.0
    ice_warning_interval: float = 9.0
    ice_restart_delay: float = 5.0
    ice_restart_attempts: int = 2
    server_loss_window: float = 30.0
    rtx_initial: float = 0.5
    rtx_max: float = 4.0
    rtx_attempts: int = 7

    def __attrs_post_init__(self) -> None:
        for name in OPTION_CODES:
            validate_option(name, getattr(self, name))
        for name in _TIMERS:
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, f"{name} must be > 0")
        if self.ice_restart_attempts < 0 or self.rtx_attempts < 1:
            raise RtcError(ErrorNumber.ERROR_BAD_PARAMETER, "attempt counts must be >= 0 / >= 1")

    def with_option(self, name: str, value: object) -> CallSettings:
        """A copy with one apiRTC-style option changed (validated first)."""
        return attrs.evolve(self, **{name: validate_option(name, value)})
