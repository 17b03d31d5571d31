"""The catalogue of every vocabulary set, and its two renderings.

:data:`SETS` lists every set in documentation order with its default origin; :func:`catalogue`
gives them as plain data, :func:`render_markdown` writes ``docs/codes.md`` and
:func:`render_text` is ``rtcstate codes``.
"""

from __future__ import annotations

import textwrap

from rtcstate.vocab.base import _DEFAULT_ORIGIN, DocIntEnum, DocStrEnum, Origin
from rtcstate.vocab.errors import (
    LOCAL_ERROR_TO_WIRE_REASON,
    WIRE_REASON_TO_DISTANT_ERROR,
    ErrorCode,
    ErrorNumber,
)
from rtcstate.vocab.events import (
    AVAILABLE_EVENTS,
    RTCSTATE_EVENTS,
    SEED_EVENTS,
    SEED_ONLY_EVENTS,
)
from rtcstate.vocab.reasons import (
    DECLINE_REASONS,
    ROOM_RESTART_REASONS,
    HangupFrom,
    HangupReason,
    default_hangup_reason,
)
from rtcstate.vocab.reference import (
    CloudMediaType,
    ConversationAccess,
    ConversationRole,
    ConversationStatus,
    ConversationType,
    DataDeliveryReason,
    ExternalJsLoadingStatus,
    IceErrorContext,
    IceErrorMode,
    IceErrorStreamType,
    IceState,
    InvitationAnswer,
    InvitationConversationType,
    InvitationDirection,
    JoinAnswerCommand,
    JoinRequestCommand,
    LocalStreamUpdateCause,
    LogLevel,
    MediaDeviceUpdateReason,
    MediaType,
    MutedOption,
    PointerSharingState,
    RecordingMode,
    RecordMediaType,
    RemoteAccessAppStatus,
    RemoteAccessStopCode,
    RoomMode,
    RoomModeChangeState,
    SimulcastLevel,
    SimulcastMode,
    SlowLinkAdvice,
    StreamInfoType,
    StreamListEventType,
    StreamType,
    TrackKind,
    UpdateMediaReason,
    UpdateMediaStatus,
    WhiteboardMemberStatus,
    WhiteboardStatus,
)
from rtcstate.vocab.statuses import (
    CallStatus,
    CcsConnectionStatus,
    DataChannelStatus,
    InvitationStatus,
)
from rtcstate.vocab.values import (
    CallType,
    DataChannelErrorType,
    DataChannelOpenedType,
    DataChannelType,
    DesktopCaptureEvent,
    InvitationType,
    MediaRoutingMode,
)

__all__ = [
    "SETS",
    "catalogue",
    "render_markdown",
    "render_text",
]


_Set = type[DocStrEnum] | type[DocIntEnum]


_Member = DocStrEnum | DocIntEnum


SETS: tuple[tuple[_Set, Origin], ...] = tuple(
    (cls, _DEFAULT_ORIGIN[cls])
    for cls in (
        ErrorNumber,
        HangupReason,
        HangupFrom,
        ErrorCode,
        CallStatus,
        InvitationStatus,
        ConversationStatus,
        DataChannelStatus,
        DataChannelType,
        WhiteboardStatus,
        PointerSharingState,
        CcsConnectionStatus,
        ExternalJsLoadingStatus,
        MediaDeviceUpdateReason,
        RoomMode,
        RoomModeChangeState,
        ConversationRole,
        ConversationAccess,
        ConversationType,
        InvitationConversationType,
        InvitationType,
        InvitationDirection,
        InvitationAnswer,
        JoinAnswerCommand,
        JoinRequestCommand,
        CallType,
        MediaType,
        MutedOption,
        MediaRoutingMode,
        DesktopCaptureEvent,
        StreamListEventType,
        LocalStreamUpdateCause,
        SlowLinkAdvice,
        SimulcastLevel,
        SimulcastMode,
        StreamType,
        StreamInfoType,
        TrackKind,
        IceState,
        IceErrorContext,
        IceErrorMode,
        IceErrorStreamType,
        DataChannelOpenedType,
        DataChannelErrorType,
        DataDeliveryReason,
        WhiteboardMemberStatus,
        RemoteAccessStopCode,
        RemoteAccessAppStatus,
        RecordingMode,
        RecordMediaType,
        UpdateMediaStatus,
        UpdateMediaReason,
        LogLevel,
        CloudMediaType,
    )
)
"""Every catalogued set, in documentation order, with the origin of members that do not say."""


def _extra(member: _Member) -> dict[str, str | int]:
    extra: dict[str, str | int] = {"name": member.name, "origin": member.origin.value}
    if isinstance(member, ErrorCode):
        extra["info"] = member.info
    if isinstance(member, MediaRoutingMode):
        extra["number"] = member.number
    return extra


def catalogue() -> dict[str, list[tuple[str | int, str, dict[str, str | int]]]]:
    """Every set as plain data: set name -> list of ``(value, doc, extra)``.

    ``extra`` holds the member ``name`` and ``origin``, plus ``info`` (ErrorCode) or ``number``
    (MediaRoutingMode). Event whitelists appear as ``AVAILABLE_EVENTS.<Class>`` with the origin
    of each name (``seed`` = documented and whitelisted, ``SDK-only``, ``seed-only``)."""
    result: dict[str, list[tuple[str | int, str, dict[str, str | int]]]] = {}
    for cls, _origin in SETS:
        result[cls.__name__] = [(m.value, m.doc, _extra(m)) for m in cls]
    for cls_name, events in AVAILABLE_EVENTS.items():
        result[f"AVAILABLE_EVENTS.{cls_name}"] = [
            (event, _event_doc(cls_name, event), {"origin": _event_origin(cls_name, event).value})
            for event in events
        ]
    return result


def _event_origin(cls_name: str, event: str) -> Origin:
    if event in SEED_ONLY_EVENTS.get(cls_name, frozenset()):
        return Origin.SEED_ONLY
    if event in SEED_EVENTS.get(cls_name, frozenset()):
        return Origin.SEED
    return Origin.SDK_ONLY


def _event_doc(cls_name: str, event: str) -> str:
    origin = _event_origin(cls_name, event)
    if origin is Origin.SEED_ONLY:
        return f"Documented by the seed for {cls_name} but not whitelisted by SDK 5.0.35."
    if origin is Origin.SEED:
        return f"Documented by the seed and whitelisted by the SDK for {cls_name}."
    return f"Whitelisted by the SDK for {cls_name}; not documented by the seed."


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _code(value: str | int) -> str:
    return f"`{value}`"


def _first_line(text: str | None) -> str:
    return " ".join((text or "").split()).replace("``", "`")


_INTRO = """\
This file is generated from `rtcstate/vocab/` (re-exported by `rtcstate.codes`) by
`rtcstate.codes.render_markdown()`; do not edit it by hand (regenerate with `make docs`).
`rtcstate codes` prints a compact listing. The sets the machines produce are in
`rtcstate.vocab.errors`, `.reasons`, `.statuses` and `.values`; sets kept as a reference only
(no machine produces them yet) are in `rtcstate.vocab.reference`.

Every value below is spelled exactly as apiRTC spells it: string sets are `StrEnum`s whose
members equal their string, numbered errors are `IntEnum`s. Each member's `.doc` (the *meaning*
column) says when it is produced and by which machine: **Session**, **Call**,
**ReceivedCallInvitation**, **SentInvitation**, **Conversation**, **DataChannel**,
**FileTransfer**, **Hub** (the relay), or the application / an adapter.

## Origins

| origin | meaning |
|---|---|
{origins}

## Where the seed and the SDK disagree, and what rtcstate follows

rtcstate follows the seed (the apiRTC event documentation) wherever it names something that must
exist, and the SDK (@apirtc/apirtc 5.0.35) where the seed is silent or evidently wrong.

- **Hangup reasons.** The seed lists 14 reasons; the SDK lacks `call take on other device` and
  `bye on other device`. rtcstate keeps them and produces them through its multi-device support
  (the Hub rings every device of a user and ends the others when one answers or hangs up). The
  SDK adds 9 reasons (`Call_Cancelled`, `Local_Description_Failure`, ...); rtcstate accepts all
  of them on the wire and sends those that fit a 1-1 call.
- **`declined`.** The seed says "contact decline call"; the SDK emits `declined{reason}` for any
  remote bye while the outgoing call is still WAITING_FOR_CALLEE, so `DECLINE_REASONS` is every
  reason.
- **Error codes.** The seed lists 31 `errorCode` values (with their odd spellings, e.g.
  `START_RECORD_MEDIA_FOUND`); the SDK adds 14. rtcstate adds 5 codes of its own for protocol
  errors from the wire, clearly marked `rtcstate`.
- **Local errors vs wire reasons.** apiRTC uses two vocabularies; rtcstate keeps them apart and
  maps them explicitly (`LOCAL_ERROR_TO_WIRE_REASON`, `WIRE_REASON_TO_DISTANT_ERROR`).
- **Payload shapes.** Call `statsUpdate`: the seed says `CallStats` (its description is a copy of
  `recordAvailable`), the SDK sends `{stats}`; rtcstate follows the SDK. Call `response`: the
  seed says Void, the SDK sends `"accepted"`/`"declined"`; rtcstate follows the SDK.
  DataChannel `opened` / `error`: the seed says Void, the SDK sends `{type}` /
  a string (`DataChannelOpenedType`, `DataChannelErrorType`); rtcstate follows the SDK.
  `moderatorConnected` / `waitingForModeratorAcceptance`: the seed says `{moderator}`, the SDK
  emits the Contact itself; rtcstate follows the seed.
- **Event whitelists.** The SDK refuses listeners for names outside a class's list. Where the
  seed documents an event the SDK does not list (Conversation `closed`, the remote-access
  invitations' `statusChange`) rtcstate allows it (`SEED_ONLY_EVENTS`).
- **Numbers and statuses.** The seed gives no numbers and no status names; they come from the SDK
  (`ErrorNumber`, `CallStatus`, `InvitationStatus`, ...). Status values are the SDK Symbols'
  names.
- **Delivery timeout.** The SDK checks `timeoutReached` but maps `timerReached`, so a delivery
  timeout rejects with ERROR_OTHER; the catalogue records the intended ERROR_TIMED_OUT.
"""


def _origins_table() -> str:
    return "\n".join(f"| `{o.value}` | {_cell(o.doc)} |" for o in Origin)


def _set_table(cls: _Set) -> list[str]:
    members: list[_Member] = list(cls)
    is_int = issubclass(cls, DocIntEnum)
    head = ["value"]
    if is_int:
        head.append("constant")
    if cls is ErrorCode:
        head.append("errorInfo")
    if cls is MediaRoutingMode:
        head.append("number")
    head += ["meaning / when produced", "origin"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for m in members:
        row = [_code(m.value)]
        if is_int:
            row.append(_code(m.name))
        if isinstance(m, ErrorCode):
            row.append(_cell(m.info))
        if isinstance(m, MediaRoutingMode):
            row.append(str(m.number))
        row += [_cell(m.doc), m.origin.value]
        lines.append("| " + " | ".join(row) + " |")
    return lines


def _mapping_sections() -> list[str]:
    out = ["## Mappings between local errors and wire reasons", ""]
    out.append("### LOCAL_ERROR_TO_WIRE_REASON")
    out.append("")
    out.append(_first_line(_DOC_LOCAL_TO_WIRE))
    out.append("")
    out.append("| local `errorCode` | `reason` sent in the bye |")
    out.append("|---|---|")
    for code, reason in LOCAL_ERROR_TO_WIRE_REASON.items():
        out.append(f"| {_code(code.value)} | {_code(reason.value)} |")
    out += ["", "### WIRE_REASON_TO_DISTANT_ERROR", ""]
    out.append(_first_line(_DOC_WIRE_TO_DISTANT))
    out.append("")
    out.append("| `reason` received in a bye | `errorCode` emitted by the far side |")
    out.append("|---|---|")
    for reason, code in WIRE_REASON_TO_DISTANT_ERROR.items():
        out.append(f"| {_code(reason.value)} | {_code(code.value)} |")
    out += ["", "### DECLINE_REASONS", ""]
    out.append(
        "A bye arriving while an outgoing Call is still `CALL_STATUS_WAITING_FOR_CALLEE` produces "
        "`declined{reason}` then `hangup{from: remote, reason}`. apiRTC does this for any "
        f"remote bye, so the set holds all {len(DECLINE_REASONS)} reasons."
    )
    out += ["", "### ROOM_RESTART_REASONS", ""]
    out.append(
        "Transient room reasons: a Conversation stream ended with one of "
        + ", ".join(_code(r.value) for r in HangupReason if r in ROOM_RESTART_REASONS)
        + " is restarted with backoff and no Conversation `hangup` is emitted."
    )
    out += ["", "### default_hangup_reason", ""]
    out.append(
        f"A plain local hangup sends {_code(default_hangup_reason(True).value)} on the caller "
        f"side and {_code(default_hangup_reason(False).value)} on the callee side; "
        "`complementary()` turns the `from` of one side into the other's "
        "(`local` <-> `remote`)."
    )
    out.append("")
    return out


_DOC_LOCAL_TO_WIRE = (
    "When a side ends a call because of a local error it first emits `error{errorCode}` and then "
    "sends a bye with the matching reason."
)


_DOC_WIRE_TO_DISTANT = (
    "When a bye carries one of these reasons the receiving side emits `error{errorCode}` before "
    "its `hangup{from: remote}`."
)


def _events_section() -> list[str]:
    out = ["## Event whitelists (AVAILABLE_EVENTS)", ""]
    out.append(
        "Per class: names both documented by the seed and whitelisted by the SDK, names only the "
        "SDK whitelists, and names only the seed documents (allowed by rtcstate)."
    )
    out.append("")
    out.append("| class | seed and SDK | SDK-only | seed-only |")
    out.append("|---|---|---|---|")
    for cls_name, events in AVAILABLE_EVENTS.items():
        groups: dict[Origin, list[str]] = {
            Origin.SEED: [],
            Origin.SDK_ONLY: [],
            Origin.SEED_ONLY: [],
        }
        for event in events:
            groups[_event_origin(cls_name, event)].append(event)
        cells = [
            ", ".join(_code(e) for e in sorted(groups[o], key=str.lower)) or "—"
            for o in (Origin.SEED, Origin.SDK_ONLY, Origin.SEED_ONLY)
        ]
        out.append(f"| {cls_name} | " + " | ".join(cells) + " |")
    out.append("")
    out.append(
        "rtcstate extensions (RTCSTATE_EVENTS), also accepted by `on()` in the adapters: "
        + "; ".join(
            f"{cls_name}: " + ", ".join(_code(e) for e in events)
            for cls_name, events in RTCSTATE_EVENTS.items()
        )
        + "."
    )
    out.append("")
    return out


def render_markdown() -> str:
    """The catalogue as Markdown (the content of ``docs/codes.md``); deterministic."""
    out = ["# rtcstate codes: the apiRTC vocabulary", ""]
    out.append(_INTRO.replace("{origins}", _origins_table()))
    out.append("## Contents")
    out.append("")
    for cls, _origin in SETS:
        out.append(f"- [{cls.__name__}](#{cls.__name__.lower()}): {_first_line(cls.__doc__)}")
    out.append("- [Mappings](#mappings-between-local-errors-and-wire-reasons)")
    out.append("- [Event whitelists](#event-whitelists-available_events)")
    out.append("")
    for cls, _origin in SETS:
        out += [f"## {cls.__name__}", "", _first_line(cls.__doc__), ""]
        out += _set_table(cls)
        out.append("")
    out += _mapping_sections()
    out += _events_section()
    return "\n".join(out).rstrip("\n") + "\n"


def _shorten(text: str, width: int) -> str:
    text = _first_line(text).replace("`", "")
    return text if len(text) <= width else text[: width - 3].rstrip() + "..."


def render_text() -> str:
    """A compact terminal listing of every set (``rtcstate codes``)."""
    lines: list[str] = []
    for cls, _origin in SETS:
        members: list[_Member] = list(cls)
        lines.append(f"{cls.__name__}  ({len(members)}) - {_shorten(cls.__doc__ or '', 70)}")
        width = max(len(str(m.value)) for m in members)
        for m in members:
            if isinstance(m, ErrorCode):
                note = m.info
            elif isinstance(m, DocIntEnum):
                note = m.name
            else:
                note = m.doc
            value = str(m.value).ljust(width)
            tag = f"[{m.origin.value}]".ljust(11)
            lines.append(f"  {value}  {tag}  {_shorten(note, 60)}")
        lines.append("")
    lines.append("Event whitelists (* = seed-only)")
    for cls_name, events in AVAILABLE_EVENTS.items():
        marked = [
            e + ("*" if _event_origin(cls_name, e) is Origin.SEED_ONLY else "") for e in events
        ]
        lines.append(
            textwrap.fill(
                f"{cls_name}: " + (", ".join(marked) or "-"),
                width=100,
                initial_indent="  ",
                subsequent_indent="      ",
                break_on_hyphens=False,
            )
        )
    return "\n".join(lines) + "\n"
