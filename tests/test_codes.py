"""rtcstate.codes against the apiRTC reference: completeness, exact spelling, documentation."""

from __future__ import annotations

import json
import os
import re
from enum import Enum
from functools import cache
from pathlib import Path

import pytest

import rtcstate.codes as codes
from rtcstate.codes import (
    AVAILABLE_EVENTS,
    DECLINE_REASONS,
    LOCAL_ERROR_TO_WIRE_REASON,
    RTCSTATE_ERROR_CODES,
    RTCSTATE_EVENTS,
    SDK_EVENTS,
    SDK_ONLY_ERROR_CODES,
    SDK_ONLY_HANGUP_REASONS,
    SEED_ERROR_CODES,
    SEED_EVENTS,
    SEED_HANGUP_REASONS,
    SEED_ONLY_EVENTS,
    SETS,
    WIRE_REASON_TO_DISTANT_ERROR,
    CallStatus,
    CcsConnectionStatus,
    ConversationStatus,
    DataChannelStatus,
    DataChannelType,
    DesktopCaptureEvent,
    DocIntEnum,
    ErrorCode,
    ErrorNumber,
    ExternalJsLoadingStatus,
    HangupFrom,
    HangupReason,
    InvitationStatus,
    MediaDeviceUpdateReason,
    MediaRoutingMode,
    Origin,
    PointerSharingState,
    WhiteboardMemberStatus,
    WhiteboardStatus,
    complementary,
    default_hangup_reason,
    is_known_event,
)
from rtcstate.transfer import TransferErrorCode

REPO = Path(__file__).resolve().parents[1]
#: the reference facts, kept in the repository (copies of ``../shared/reference/``)
REFERENCE = REPO / "tests" / "reference"
#: the shared folder they were copied from, beside the clone (or named by RTCSTATE_REFERENCE)
SHARED_REFERENCE = Path(os.environ.get("RTCSTATE_REFERENCE", REPO.parent / "shared" / "reference"))
SEED_PATH = REFERENCE / "apirtc-events.txt"
API_PATH = REFERENCE / "apirtc-api.md"

ALL_SETS = [cls for cls, _origin in SETS]


# ------------------------------------------------------------------------------------------------
# Reference loading and parsing helpers
# ------------------------------------------------------------------------------------------------


@cache
def _read(path: Path) -> str:
    if not path.is_file():
        pytest.fail(f"reference file missing: {path} (the reference folder must be present)")
    return path.read_text(encoding="utf-8")


def seed() -> str:
    return _read(SEED_PATH)


def api() -> str:
    return _read(API_PATH)


def api_section(number: str) -> str:
    """The text of ``### <number> ...`` up to the next ``##``/``###`` heading."""
    match = re.search(rf"^### {re.escape(number)} .*?(?=^##)", api(), re.M | re.S)
    assert match, f"section {number} not found in {API_PATH.name}"
    return match.group(0)


def table_rows(text: str) -> list[list[str]]:
    """Cells of every Markdown table row in ``text`` (header and separator rows dropped)."""
    rows = []
    for line in text.splitlines():
        if not line.startswith("|") or set(line) <= set("|-: "):
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
        rows.append(cells)
    return rows[1:] if rows else rows  # first row is the header


def backticked(text: str) -> list[str]:
    return re.findall(r"`([^`]+)`", text)


def expand_suffixes(tokens: list[str]) -> list[str]:
    """Expand ``_FAILED`` after ``A_B_DISCONNECTED`` into ``A_B_FAILED`` (last component)."""
    out: list[str] = []
    base = ""
    for token in tokens:
        if token.startswith("_"):
            assert base, f"abbreviated token {token} without a full one before it"
            out.append(base.rsplit("_", 1)[0] + token)
        else:
            base = token
            out.append(token)
    return out


def values(*classes: type[Enum]) -> set[str | int]:
    return {m.value for cls in classes for m in cls}


@cache
def seed_event_sequence() -> tuple[str, ...]:
    """Event names of the seed in document order: a name between two ``-`` separator lines
    (the separator may end the previous line, e.g. ``Contact -``), followed by a description."""
    lines = seed().splitlines()
    start = lines.index("Events")
    names = []
    for i in range(start, len(lines) - 3):
        sep_before = lines[i] == "-" or lines[i].endswith(" -")
        if (
            sep_before
            and re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", lines[i + 1])
            and lines[i + 2] == "-"
            and lines[i + 3] != "-"
        ):
            names.append(lines[i + 1])
    return tuple(names)


def seed_event_groups() -> list[set[str]]:
    """The seed lists each class's events alphabetically, classes in alphabetical order: a name
    sorting before its predecessor starts a new group (one or more consecutive classes)."""
    groups: list[set[str]] = []
    previous = None
    for name in seed_event_sequence():
        if previous is None or name.lower() < previous.lower():
            groups.append(set())
        groups[-1].add(name)
        previous = name
    return groups


# ------------------------------------------------------------------------------------------------
# Completeness against the seed (apirtc-events.txt)
# ------------------------------------------------------------------------------------------------


def test_reference_folder_is_present() -> None:
    assert REFERENCE.is_dir(), f"missing reference folder {REFERENCE}"
    assert seed() and api()


def test_in_repo_reference_matches_the_shared_one() -> None:
    """The copies in tests/reference/ are the shared reference, byte for byte, when the shared
    folder is beside the clone; without it only the copies themselves are checked."""
    names = sorted(p.name for p in REFERENCE.iterdir() if p.suffix in {".md", ".txt"})
    assert names == ["apirtc-api.md", "apirtc-events.txt"]
    assert "ERROR_INVITATION_STATE_INVALID" in api() and "call take on other device" in seed()
    if SHARED_REFERENCE.is_dir():
        for name in names:
            shared = (SHARED_REFERENCE / name).read_bytes()
            assert (REFERENCE / name).read_bytes() == shared, f"tests/reference/{name} is stale"


def test_seed_reason_lists_are_the_seed_hangup_reasons() -> None:
    lists = re.findall(r"^string can be (.+)$", seed(), re.M)
    assert len(lists) >= 2  # declined and hangup
    seen: set[str] = set()
    for listed in lists:
        reasons = [r.strip() for r in listed.split(",")]
        for reason in reasons:
            assert HangupReason(reason).value == reason
        seen |= set(reasons)
    assert seen == {r.value for r in SEED_HANGUP_REASONS}
    assert len(seen) == 14


def test_seed_error_codes_with_their_error_info() -> None:
    pairs = re.findall(r"^- (.+?)\s*:\s*([A-Z][A-Z0-9_]+)$", seed(), re.M)
    found = dict((code, info.strip()) for info, code in pairs)
    assert len(found) == 31
    for code, info in found.items():
        member = ErrorCode(code)
        assert member.value == code
        assert member.info == info, code
    assert set(found) == {c.value for c in SEED_ERROR_CODES}


def test_error_info_examples_from_the_brief() -> None:
    assert ErrorCode.ICE_CONNECTION_STATE_DISCONNECTED.info == "ice disconnection detected"
    assert (
        ErrorCode.NOT_MATCHING_CALLID_ON_200OK.info
        == "200OK received but callId is not matching, no process"
    )
    assert (
        ErrorCode.PARAMETER_ERROR_SETALLOWMULTIPLECALLS.info
        == "parameter error when calling function: setAllowMultipleCalls()"
    )
    assert ErrorCode("START_RECORD_MEDIA_FOUND") is ErrorCode.START_RECORD_MEDIA_FOUND
    assert ErrorCode("PARAMETER_ERROR_SETUSERACCEPTONINCOCALL").origin is Origin.SEED


def test_seed_value_lists_of_payload_fields() -> None:
    text = seed()
    desktop = re.search(r"Values can be : (.+)$", text, re.M)
    assert desktop
    assert {v.strip() for v in desktop.group(1).split(",")} == values(DesktopCaptureEvent)

    ccs = re.search(r"status of the CCS connection : (.+)$", text, re.M)
    assert ccs
    assert {v.strip() for v in ccs.group(1).split(",")} == values(CcsConnectionStatus)

    extjs = re.search(r"status of the loading : (.+)$", text, re.M)
    assert extjs
    assert {v.strip() for v in extjs.group(1).split(",")} == values(ExternalJsLoadingStatus)

    device = re.search(r"Value can be '(\w+)' or '(\w+)'", text)
    assert device
    assert set(device.groups()) == values(MediaDeviceUpdateReason)

    members = re.findall(r"^string (\w+) / (\w+)$", text, re.M)
    assert members
    for pair in members:
        assert set(pair) == values(WhiteboardMemberStatus)


def test_every_quoted_seed_value_is_catalogued() -> None:
    all_values = {str(v) for cls in ALL_SETS for v in values(cls)}
    all_events = {e for events in AVAILABLE_EVENTS.values() for e in events}
    property_names = {"from"}
    quoted = set(re.findall(r"'([A-Za-z_]+)'", seed()))
    assert quoted
    missing = quoted - all_values - all_events - property_names
    assert not missing, f"seed values not in rtcstate.codes: {sorted(missing)}"
    assert {"local", "remote"} <= quoted
    assert values(HangupFrom) == {"local", "remote"}


def test_every_seed_event_is_available_somewhere() -> None:
    sequence = seed_event_sequence()
    names = set(sequence)
    assert len(names) > 90, "seed event parser broke"
    everywhere = {e for events in AVAILABLE_EVENTS.values() for e in events}
    missing = names - everywhere
    assert not missing, f"seed events missing from AVAILABLE_EVENTS: {sorted(missing)}"
    assert set().union(*SEED_EVENTS.values()) == names


def test_seed_event_groups_belong_to_a_class() -> None:
    for group in seed_event_groups():
        assert any(group <= set(events) for events in SEED_EVENTS.values()), sorted(group)


# ------------------------------------------------------------------------------------------------
# Completeness against the SDK catalogue (apirtc-api.md)
# ------------------------------------------------------------------------------------------------


def test_sdk_reason_table_section_2_2() -> None:
    rows = table_rows(api_section("2.2"))
    all_reasons: set[str] = set()
    sdk_only: set[str] = set()
    for cells in rows:
        reasons = backticked(cells[0])
        assert reasons, cells
        for reason in reasons:
            assert HangupReason(reason).value == reason
        all_reasons |= set(reasons)
        if "[J only]" in cells[0]:
            sdk_only |= set(reasons)
    assert all_reasons == {r.value for r in HangupReason if r.origin is not Origin.RTCSTATE}
    assert sdk_only == {r.value for r in SDK_ONLY_HANGUP_REASONS}
    from_line = re.search(r"`from` / `hangupType`: (.+)$", api(), re.M)
    assert from_line
    assert set(re.findall(r'"(\w+)"', from_line.group(1))) == values(HangupFrom)


def test_sdk_error_code_table_section_2_3() -> None:
    rows = table_rows(api_section("2.3"))
    table_codes: set[str] = set()
    sdk_only: set[str] = set()
    for cells in rows:
        tokens = [
            t.strip()
            for span in backticked(cells[0])
            for t in re.split(r"[,\s/]+", span)
            if t.strip()
        ]
        row_codes = expand_suffixes(tokens)
        assert row_codes, cells
        for code in row_codes:
            assert ErrorCode(code).value == code
        table_codes |= set(row_codes)
        if cells[0].startswith("[J"):
            sdk_only |= set(row_codes)
    assert sdk_only == {c.value for c in SDK_ONLY_ERROR_CODES}
    assert table_codes == {c.value for c in SEED_ERROR_CODES | SDK_ONLY_ERROR_CODES}


def test_numbered_errors_section_2_4() -> None:
    rows = table_rows(api_section("2.4"))
    numbered = {}
    for cells in rows:
        match = re.fullmatch(r"`(ERROR_[A-Z_]+)`.*", cells[1])
        if cells[0].isdigit() and match:
            numbered[match.group(1)] = int(cells[0])
    assert len(numbered) == 18
    for name, number in numbered.items():
        assert ErrorNumber[name] == number
        assert ErrorNumber(number).name == name
    assert {m.name: m.value for m in ErrorNumber} == numbered
    assert ErrorNumber.ERROR_OTHER == 0
    assert ErrorNumber.ERROR_ON_SAVE == 17


STATUS_FAMILIES: dict[str, type[Enum]] = {
    "CALL_STATUS": CallStatus,
    "DATACHANNEL_STATUS": DataChannelStatus,
    "DATACHANNEL_TYPE": DataChannelType,
    "CONVERSATION_STATUS": ConversationStatus,
    "CONVERSATION_WHITEBOARD": WhiteboardStatus,
    "INVITATION_STATUS": InvitationStatus,
    "STATE": PointerSharingState,
}


def test_status_symbols_section_2_1() -> None:
    rows = table_rows(api_section("2.1"))
    found: dict[type[Enum], set[str]] = {cls: set() for cls in STATUS_FAMILIES.values()}
    for cells in rows:
        tokens = re.findall(r"_?[A-Z][A-Z0-9_]*[A-Z0-9]", cells[1])
        family = None
        for token in tokens:
            if not token.startswith("_"):
                family = next(
                    p
                    for p in sorted(STATUS_FAMILIES, key=len, reverse=True)
                    if token.startswith(p + "_")
                )
                name = token
            else:
                assert family, cells
                name = family + token
            found[STATUS_FAMILIES[family]].add(name)
    for cls, names in found.items():
        assert names == {m.value for m in cls}, cls.__name__


def test_every_status_symbol_mentioned_anywhere_is_catalogued() -> None:
    pattern = (
        r"\b(?:INVITATION_STATUS|CALL_STATUS|DATACHANNEL_STATUS|CONVERSATION_STATUS)_[A-Z_]*[A-Z]\b"
    )
    mentioned = set(re.findall(pattern, api() + seed()))
    assert len(mentioned) >= 5
    catalogued = values(CallStatus, InvitationStatus, DataChannelStatus, ConversationStatus)
    assert mentioned <= catalogued, sorted(mentioned - catalogued)


def test_status_values_are_their_symbol_names() -> None:
    for cls in set(STATUS_FAMILIES.values()):
        for member in cls:
            assert member.value == member.name


SECTION_2_6: dict[str, tuple[type[Enum], ...]] = {
    "ccsConnectionStatus.status": (codes.CcsConnectionStatus,),
    "Conversation access / roles": (codes.ConversationAccess, codes.ConversationRole),
    "Conversation types [J]": (codes.ConversationType,),
    "Invitation conversationTypes in `conv_invite` [J]": (codes.InvitationConversationType,),
    "room mode (JoinResult.mode, roomModeChanged)": (codes.RoomMode, codes.RoomModeChangeState),
    "simulcast quality / framerate": (codes.SimulcastLevel, codes.SimulcastMode),
    "localStreamUpdated.cause": (codes.LocalStreamUpdateCause,),
    "slowLink.advice": (codes.SlowLinkAdvice,),
    "StreamInfo.listEventType": (codes.StreamListEventType,),
    "StreamInfo.type [J]": (codes.StreamInfoType,),
    "Call types (ReceivedCallInvitation.getCallType / callType) [J]": (codes.CallType,),
    "mediaTypeForOutgoingCall / mediaTypeForIncomingCall [J]": (codes.MediaType,),
    "`muted` option [J]": (codes.MutedOption,),
    "mediaRoutingMode [J]": (codes.MediaRoutingMode,),
    "Invitation `type` field [J]": (codes.InvitationType,),
    "Invitation answer (wire)": (
        codes.InvitationAnswer,
        codes.JoinAnswerCommand,
        codes.JoinRequestCommand,
    ),
    "Remote-access StopReason.code [J]": (
        codes.RemoteAccessStopCode,
        codes.RemoteAccessAppStatus,
    ),
    "RecordingOptions.mode [J]": (codes.RecordingMode, codes.RecordMediaType),
    "updateMedia result [J]": (codes.UpdateMediaStatus, codes.UpdateMediaReason),
}


def test_string_sets_section_2_6() -> None:
    rows = table_rows(api_section("2.6"))
    assert {cells[0] for cells in rows} == set(SECTION_2_6), "a §2.6 set is not mapped"
    for cells in rows:
        classes = SECTION_2_6[cells[0]]
        listed = {v.strip() for span in backticked(cells[1]) for v in span.split(",")}
        assert listed, cells
        assert listed == values(*classes), cells[0]


def test_media_routing_mode_numbers() -> None:
    row = next(c for c in table_rows(api_section("2.6")) if c[0] == "mediaRoutingMode [J]")
    numbers = {name: int(n) for name, n in re.findall(r"`(\w+)`\((\d)", row[1])}
    assert len(numbers) == 5
    assert {m.value: m.number for m in MediaRoutingMode} == numbers
    assert MediaRoutingMode("turn") is MediaRoutingMode.TURN


def test_ice_descriptor_values_section_2_5() -> None:
    quoted = set(re.findall(r'"(\w+)"', api_section("2.5")))
    ice = values(codes.IceState, codes.IceErrorContext, codes.IceErrorMode)
    assert quoted == ice | values(codes.IceErrorStreamType)


def test_module_constants_section_0() -> None:
    text = api()
    for prefix, cls in (("LOG_LEVEL", codes.LogLevel), ("MEDIA_TYPE", codes.CloudMediaType)):
        match = re.search(rf"`{prefix}_([A-Z/]+)` \| ([\d/]+)", text)
        assert match, prefix
        names = match.group(1).split("/")
        numbers = [int(n) for n in match.group(2).split("/")]
        assert {f"{prefix}_{n}": v for n, v in zip(names, numbers, strict=True)} == {
            m.name: m.value for m in cls
        }
    stream = re.search(r"`STREAM_TYPE_.*?\| (.+) \|$", text, re.M)
    assert stream
    assert set(re.findall(r'"(\w+)"', stream.group(1))) == values(codes.StreamType)
    assert codes.CONVERSATION_WAITING_ROOM_PREFIX == "waiting-room-"
    assert '`"waiting-room-"`' in text


def test_data_channel_and_delivery_payload_values() -> None:
    text = api()
    opened = re.search(r"^\| `opened` \|(.+)$", text, re.M)
    error = re.search(r"^\| `error` \| \[J\] string (.+)$", text, re.M)
    delivery = re.search(r"^Peer data delivery callback reasons \[J\]: (.+)$", text, re.M)
    assert opened and error and delivery
    assert set(re.findall(r'"(\w+)"', opened.group(1))) == values(codes.DataChannelOpenedType)
    assert set(re.findall(r'"(\w+)"', error.group(1))) == values(codes.DataChannelErrorType)
    assert set(re.findall(r'"(\w+)"', delivery.group(1))) == values(codes.DataDeliveryReason)


def _sdk_whitelists_from_reference() -> dict[str, set[str]]:
    """Parse the per-class ``Events [J]: ...`` lines and the §1.12 invitation table."""
    found: dict[str, set[str]] = {}
    current = None
    for line in api().splitlines():
        heading = re.match(r"^### 1\.\d+ (\w+)", line)
        if heading:
            current = heading.group(1)
            continue
        events = re.match(r"^Events \[J\](?: \(\d+\))?: (.+)$", line)
        if events and current:
            text = events.group(1)
            cuts = [i for i in (text.find("`."), text.find("` (")) if i >= 0]
            text = text[: min(cuts)] if cuts else text
            names = {n.strip() for n in text.replace("`", "").split(",")}
            found[current] = names
    invitations = table_rows(api_section("1.12"))
    received = None
    for cells in invitations:
        name = backticked(cells[0])[0]
        if "inherits" in cells[2]:
            continue
        found[name] = {n.strip() for n in backticked(cells[2])[0].split(",")}
        if name == "ReceivedInvitation":
            received = found[name]
    assert received
    for cells in invitations:
        if "inherits" in cells[2]:
            found[backticked(cells[0])[0]] = set(received)
    return found


EVENT_CLASSES = frozenset(
    {
        "UserAgent",
        "Session",
        "Contact",
        "Call",
        "Conversation",
        "Conference",
        "DataChannel",
        "SentInvitation",
        "SentRemoteAccessInvitation",
        "ReceivedInvitation",
        "ReceivedCallInvitation",
        "ReceivedConversationInvitation",
        "ReceivedConversationJoinRequest",
        "ReceivedDataChannelInvitation",
        "ReceivedFileTransferInvitation",
        "ReceivedPointerSharingInvitation",
        "ReceivedWhiteboardInvitation",
        "ReceivedRemoteAccessInvitation",
        "Stream",
        "ConversationCall",
    }
)
# classes whose SDK whitelist §1 lists explicitly (the others are checked separately)
WHITELISTED_IN_SECTION_1 = EVENT_CLASSES - {"Conference", "Stream", "ConversationCall"}


def test_sdk_whitelists_match_section_1() -> None:
    parsed = _sdk_whitelists_from_reference()
    expected_classes = WHITELISTED_IN_SECTION_1
    assert expected_classes <= set(parsed)
    for cls_name in expected_classes:
        assert set(SDK_EVENTS[cls_name]) == parsed[cls_name], cls_name
    assert len(SDK_EVENTS["Conversation"]) == 51
    assert set(SDK_EVENTS["Conference"]) == set(SDK_EVENTS["Conversation"]) | {"closed"}
    assert SDK_EVENTS["ConversationCall"] == ()
    assert "closed" not in SDK_EVENTS["Conversation"]


def test_available_events_is_sdk_union_seed() -> None:
    expected_classes = EVENT_CLASSES
    assert set(AVAILABLE_EVENTS) == expected_classes
    assert set(SEED_EVENTS) == expected_classes
    for cls_name, events in AVAILABLE_EVENTS.items():
        assert len(events) == len(set(events)), cls_name
        assert set(events) == set(SDK_EVENTS[cls_name]) | SEED_EVENTS[cls_name], cls_name
        assert SEED_ONLY_EVENTS.get(cls_name, frozenset()) == (
            SEED_EVENTS[cls_name] - set(SDK_EVENTS[cls_name])
        )
    assert SEED_ONLY_EVENTS["Conversation"] == {"closed"}
    assert SEED_ONLY_EVENTS["ReceivedRemoteAccessInvitation"] == {"statusChange"}
    assert AVAILABLE_EVENTS["ConversationCall"] == ()
    # rtcstate's own events are outside apiRTC's whitelist, and accepted beside it
    for cls_name, extra in RTCSTATE_EVENTS.items():
        assert not set(extra) & set(AVAILABLE_EVENTS[cls_name]), cls_name
        assert all(is_known_event(cls_name, e) for e in extra)
    assert not is_known_event("ReceivedCallInvitation", "transferComplete")
    # the reference's own summary of seed-only names (§5)
    summary = re.search(r"^- In \[S\] but not whitelisted: (.+)$", api(), re.M)
    assert summary
    assert "Conversation `closed`" in summary.group(1)
    assert "ReceivedRemoteAccessInvitation `statusChange`" in summary.group(1)


def test_is_known_event() -> None:
    assert is_known_event("Call", "hangup")
    assert is_known_event("Conversation", "closed")
    assert is_known_event("ReceivedRemoteAccessInvitation", "statusChange")
    assert is_known_event("DataChannel", "opened")
    assert not is_known_event("Call", "closed")
    assert not is_known_event("ConversationCall", "hangup")
    assert not is_known_event("NoSuchClass", "hangup")


# ------------------------------------------------------------------------------------------------
# Shape of the catalogue itself
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", ALL_SETS, ids=lambda c: c.__name__)
def test_every_member_is_documented_and_unique(cls: type[Enum]) -> None:
    assert cls.__doc__ and cls.__doc__.strip()
    members = list(cls)
    assert members
    # an Enum silently turns a repeated value into an alias: no aliases allowed
    assert len(cls.__members__) == len(members)
    assert len({m.value for m in members}) == len(members)
    for member in members:
        doc = getattr(member, "doc", "")
        assert isinstance(doc, str) and doc.strip(), f"{cls.__name__}.{member.name} has no .doc"
        assert isinstance(member.origin, Origin)  # type: ignore[attr-defined]
        assert member.name.isupper() and " " not in member.name
        if issubclass(cls, DocIntEnum):
            assert isinstance(member.value, int)
        else:
            assert isinstance(member, str) and member == member.value


def test_error_codes_have_info_and_are_partitioned() -> None:
    for code in ErrorCode:
        assert code.info.strip(), code
        assert code.value == code.name
    assert len(SEED_ERROR_CODES) == 31
    assert len(RTCSTATE_ERROR_CODES) == 16
    assert set(ErrorCode) == SEED_ERROR_CODES | SDK_ONLY_ERROR_CODES | RTCSTATE_ERROR_CODES
    assert not SEED_ERROR_CODES & SDK_ONLY_ERROR_CODES
    assert not RTCSTATE_ERROR_CODES & (SEED_ERROR_CODES | SDK_ONLY_ERROR_CODES)
    assert {c.value for c in RTCSTATE_ERROR_CODES} == {
        "MESSAGE_DECODE_ERROR",
        "MESSAGE_FOR_UNKNOWN_ID",
        "UNEXPECTED_MESSAGE",
        "SERVER_ERROR",
        "SERVER_CONNECTION_FAILED",
        *(c.value for c in TransferErrorCode if c.name.startswith("TRANSFER_")),
    }
    # every errorCode a transfer fires is catalogued, with the same errorInfo
    assert {c.value for c in TransferErrorCode} <= {c.value for c in ErrorCode}
    for code in RTCSTATE_ERROR_CODES:
        assert "not apiRTC" in code.doc


def test_hangup_reasons_exact_strings() -> None:
    expected = {
        "HANGUP_FROM_CALLER": "Hangup_From_Caller",
        "HANGUP_FROM_CALLEE": "Hangup_From_Callee",
        "USER_REFUSED_CALL": "User_Refused_Call",
        "USER_BUSY": "User_Busy",
        "USER_MEDIA_ERROR": "User_Media_Error",
        "USER_NOT_FOUND": "User_Not_Found",
        "ICE_DISCONNECTED": "Ice_disconnected",
        "ICE_FAILED": "Ice_failed",
        "DISCONNECTED": "disconnected",
        "STOP_SCREEN_SHARING": "stop_ScreenSharing",
        "WEBRTC_PLUGIN_INSTALLATION_NEEDED": "WebRTC_Plugin_Installation_needed",
        "DATACHANNEL_NOT_SUPPORTED": "DataChannel_Not_Supported",
        "CALL_TAKE_ON_OTHER_DEVICE": "call take on other device",
        "BYE_ON_OTHER_DEVICE": "bye on other device",
        "CALL_CANCELLED": "Call_Cancelled",
        "CALL_NOT_FOUND": "Call_not_found",
        "LOCAL_DESCRIPTION_FAILURE": "Local_Description_Failure",
        "REMOTE_DESCRIPTION_FAILURE": "Remote_Description_Failure",
        "MEDIA_ERROR": "Media_Error",
        "RESTARTED": "restarted",
        "BROKEN_BY_MCU": "Broken_by_MCU",
        "RTC_SETUP_TIMEOUT": "RTC_Setup_Timeout",
        "UNABLE_TO_ESTABLISH": "Unable_to_establish",
        "NO_ANSWER": "No_Answer",
    }
    assert {m.name: m.value for m in HangupReason} == expected
    assert len(SEED_HANGUP_REASONS) == 14
    assert len(SDK_ONLY_HANGUP_REASONS) == 9
    assert set(HangupReason) == (
        SEED_HANGUP_REASONS | SDK_ONLY_HANGUP_REASONS | {HangupReason.NO_ANSWER}
    )
    assert HangupReason.NO_ANSWER.origin is Origin.RTCSTATE
    assert not SEED_HANGUP_REASONS & SDK_ONLY_HANGUP_REASONS
    assert HangupReason.CALL_TAKE_ON_OTHER_DEVICE.origin is Origin.SEED_ONLY
    assert HangupReason.BYE_ON_OTHER_DEVICE.origin is Origin.SEED_ONLY


def test_values_behave_as_plain_strings_and_ints() -> None:
    assert HangupReason.ICE_FAILED == "Ice_failed"
    assert HangupReason("call take on other device") is HangupReason.CALL_TAKE_ON_OTHER_DEVICE
    assert f"{HangupReason.USER_BUSY}" == "User_Busy"
    assert json.dumps({"reason": HangupReason.USER_BUSY}) == '{"reason": "User_Busy"}'
    assert ErrorNumber.ERROR_WRONG_STATE == 16
    assert ErrorNumber(10) is ErrorNumber.ERROR_INVITATION_STATE_INVALID
    assert json.dumps(ErrorNumber.ERROR_TIMED_OUT) == "11"
    assert codes.LogLevel.LOG_LEVEL_TRACE == 5
    with pytest.raises(ValueError):
        HangupReason("ice_failed")


def test_mapping_tables() -> None:
    assert dict(LOCAL_ERROR_TO_WIRE_REASON) == {
        ErrorCode.ICE_CONNECTION_STATE_FAILED: HangupReason.ICE_FAILED,
        ErrorCode.ICE_CONNECTION_STATE_DISCONNECTED: HangupReason.ICE_DISCONNECTED,
        ErrorCode.SET_LOCAL_DESCRIPTION_FAILURE: HangupReason.LOCAL_DESCRIPTION_FAILURE,
        ErrorCode.SET_REMOTE_DESCRIPTION_FAILURE: HangupReason.REMOTE_DESCRIPTION_FAILURE,
        ErrorCode.USER_MEDIA_ERROR: HangupReason.USER_MEDIA_ERROR,
        ErrorCode.MEDIA_UPDATE_ERROR: HangupReason.MEDIA_ERROR,
        ErrorCode.CALL_ABORTED: HangupReason.UNABLE_TO_ESTABLISH,
    }
    assert dict(WIRE_REASON_TO_DISTANT_ERROR) == {
        HangupReason.ICE_FAILED: ErrorCode.DISTANT_ICE_CONNECTION_STATE_FAILED,
        HangupReason.ICE_DISCONNECTED: ErrorCode.DISTANT_ICE_CONNECTION_STATE_DISCONNECTED,
    }
    for error, reason in LOCAL_ERROR_TO_WIRE_REASON.items():
        assert type(error) is ErrorCode and type(reason) is HangupReason
    for reason, error in WIRE_REASON_TO_DISTANT_ERROR.items():
        assert type(reason) is HangupReason and type(error) is ErrorCode
        # the far side of a local ICE error reports its DISTANT_ twin
        local = next(e for e, r in LOCAL_ERROR_TO_WIRE_REASON.items() if r is reason)
        assert error.value == "DISTANT_" + local.value
    assert all(type(r) is HangupReason for r in DECLINE_REASONS)
    assert frozenset(HangupReason) == DECLINE_REASONS
    assert all(type(r) is HangupReason for r in codes.ROOM_RESTART_REASONS)
    with pytest.raises(TypeError):
        LOCAL_ERROR_TO_WIRE_REASON[ErrorCode.SERVER_ERROR] = HangupReason.USER_BUSY  # type: ignore[index]


def test_complementary_and_default_reason() -> None:
    for f in HangupFrom:
        assert complementary(complementary(f)) is f
        assert complementary(f) is not f
    assert complementary(HangupFrom.LOCAL) is HangupFrom.REMOTE
    assert default_hangup_reason(True) is HangupReason.HANGUP_FROM_CALLER
    assert default_hangup_reason(False) is HangupReason.HANGUP_FROM_CALLEE


def test_catalogue_is_plain_data() -> None:
    data = codes.catalogue()
    for cls in ALL_SETS:
        entries = data[cls.__name__]
        assert [value for value, _doc, _extra in entries] == [m.value for m in cls]
        for value, doc, extra in entries:
            assert type(value) in (str, int) and type(doc) is str and doc
            assert extra["origin"] in values(Origin)
    assert data["ErrorCode"][0][2]["info"] == "ice disconnection detected"
    assert {e[2]["number"] for e in data["MediaRoutingMode"]} == {1, 2, 3, 4, 5}
    closed = dict((e[0], e[2]) for e in data["AVAILABLE_EVENTS.Conversation"])["closed"]
    assert closed["origin"] == "seed-only"
    json.dumps(data)  # plain, serialisable


def test_render_markdown_is_deterministic_and_complete() -> None:
    text = codes.render_markdown()
    assert text == codes.render_markdown()
    for cls in ALL_SETS:
        assert f"\n## {cls.__name__}\n" in text
        for member in cls:
            assert f"`{member.value}`" in text, member
    for code in ErrorCode:
        assert code.info in text
    for origin in ("seed", "SDK-only", "rtcstate", "seed-only"):
        assert f"| {origin} |" in text
    assert "call take on other device" in text and "statsUpdate" in text


def test_render_text_lists_every_value() -> None:
    text = codes.render_text()
    for cls in ALL_SETS:
        assert cls.__name__ in text
        for member in cls:
            assert str(member.value) in text
    assert "closed*" in text


def test_docs_codes_md_is_up_to_date() -> None:
    path = REPO / "docs" / "codes.md"
    assert path.is_file(), "docs/codes.md is missing: run `make docs`"
    assert path.read_text(encoding="utf-8") == codes.render_markdown(), (
        'docs/codes.md is stale: run `make docs` (or `python -c "import rtcstate.codes as c; '
        "open('docs/codes.md','w').write(c.render_markdown())\"`)"
    )


def _upper_snake(value: str) -> str:
    split = re.sub(r"(?<=[a-z])(?=[A-Z])", "_", value)
    return re.sub(r"[^A-Za-z0-9]+", "_", split).strip("_").upper()


NAMES_GIVEN_BY_HAND = {
    HangupReason.WEBRTC_PLUGIN_INSTALLATION_NEEDED,  # not WEB_RTC_...
    HangupReason.DATACHANNEL_NOT_SUPPORTED,  # not DATA_CHANNEL_...
}


@pytest.mark.parametrize(
    "cls", [c for c in ALL_SETS if not issubclass(c, DocIntEnum)], ids=lambda c: c.__name__
)
def test_member_names_are_upper_snake_of_values(cls: type[Enum]) -> None:
    for member in cls:
        if member in NAMES_GIVEN_BY_HAND:
            continue
        assert member.name == _upper_snake(member.value), member
