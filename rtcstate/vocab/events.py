"""Event names per apiRTC class: the SDK's whitelists, the seed's lists and rtcstate's additions.

:data:`AVAILABLE_EVENTS` is each class's whitelist (the SDK's own list unioned with every name
the seed documents for that class); :func:`is_known_event` checks a name against it.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = [
    "AVAILABLE_EVENTS",
    "RTCSTATE_EVENTS",
    "SDK_EVENTS",
    "SEED_EVENTS",
    "SEED_ONLY_EVENTS",
    "is_known_event",
]


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_CONVERSATION_SDK = _words(
    """
    adaptationTriggered audioAmplitude availableStreamsUpdated bandwidthLimited callStatsUpdate
    compositeListChanged contactJoined contactJoinedWaitingRoom contactLeft contactLeftWaitingRoom
    cpuLimited customEvent data disconnectionWarning entryAllowed entryDenied error hangup joined
    left localStreamUpdated message messageNotDelivered moderatorConnected newMediaAvailable
    newWhiteboardSession participantEjected persistentDataUpdated pointerLocationChanged
    pointerSharingEnabled recordingAvailable recordingStarted recordingStopped remoteStreamUpdated
    replayListChanged roomModeChanged simulcastFeedChanged slowLink streamAdded streamListChanged
    streamRemoved streamingStarted streamingStopped transferPending transferBegun transferEnded
    transferProgress whiteboardRoomMemberUpdate videoQualityChanged waitingForModeratorAcceptance
    remoteStreamIdUpdated
    """
)


_CONVERSATION_SEED = frozenset(
    _words(
        """
        audioAmplitude availableStreamsUpdated callStatsUpdate closed contactJoined
        contactJoinedWaitingRoom contactLeft contactLeftWaitingRoom customEvent data
        disconnectionWarning entryAllowed entryDenied error hangup joined left localStreamUpdated
        message messageNotDelivered moderatorConnected newMediaAvailable newWhiteboardSession
        participantEjected persistentDataUpdated pointerLocationChanged pointerSharingEnabled
        recordingAvailable recordingStarted recordingStopped remoteStreamUpdated roomModeChanged
        simulcastFeedChanged slowLink streamAdded streamListChanged streamRemoved transferBegun
        transferEnded transferPending transferProgress waitingForModeratorAcceptance
        """
    )
)


_RECEIVED_INVITATION_SDK = _words("statusChange messageDelivered messageNotDelivered")


SDK_EVENTS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "UserAgent": _words(
            "mediaDeviceChanged externalJsLoadingStatus ccsConnectionStatus userMediaError"
        ),
        "Session": _words(
            """
            rawData whiteboardInvitation fileTransferInvitation conversationMessage
            conversationData dataChannelInvitation contactMessage contactData customEvent
            conversationInvitation incomingCall disconnect error contactListUpdate reconnecting
            reconnection conversationJoinRequest newMediaAvailableFromContact
            whiteboardRoomMemberUpdate incomingScreenSharingCall pointerSharingInvitation
            pointerLocationChanged incomingScreenSharingCallInvitation cloudEventOccurred
            remoteAccessInvitation
            """
        ),
        "Contact": _words(
            """
            message conversationInvitation data joinGroup leaveGroup whiteboardInvitation
            fileSentSuccessfully fileTransferInvitation fileTransferProgress dataChannelInvitation
            incomingCall internalApiRTCdataChannelInvitation newMediaAvailable customEvent
            fileTransferError incomingScreenSharingCall incomingScreenSharingCallInvitation
            """
        ),
        "Call": _words(
            """
            streamAdded streamRemoved response accepted declined hangup localStreamAvailable
            recordAvailable statsUpdate error disconnectionWarning userMediaError desktopCapture
            remoteStreamUpdated recordingStarted recordingStopped recordingAvailable
            remoteStreamIdUpdated
            """
        ),
        "Conversation": _CONVERSATION_SDK,
        "Conference": (*_CONVERSATION_SDK, "closed"),
        "DataChannel": _words(
            """
            response accepted declined error opened closed transferProgress transferComplete
            dataReceived ended
            """
        ),
        "SentInvitation": _words("response receive statusChange"),
        "SentRemoteAccessInvitation": _words(
            """
            response receive remoteAccessStreamAdded stop application_connection_ongoing
            application_connection_ok
            """
        ),
        "ReceivedInvitation": _RECEIVED_INVITATION_SDK,
        "ReceivedCallInvitation": _words("expired statusChange"),
        "ReceivedConversationInvitation": _RECEIVED_INVITATION_SDK,
        "ReceivedConversationJoinRequest": _RECEIVED_INVITATION_SDK,
        "ReceivedDataChannelInvitation": _words("expired statusChange"),
        "ReceivedFileTransferInvitation": _words("error progress statusChange"),
        "ReceivedPointerSharingInvitation": _RECEIVED_INVITATION_SDK,
        "ReceivedWhiteboardInvitation": _RECEIVED_INVITATION_SDK,
        "ReceivedRemoteAccessInvitation": _words(
            """
            stop messageDelivered messageNotDelivered application_connection_ongoing
            application_connection_ok
            """
        ),
        "Stream": _words(
            """
            stopped trackStopped audioAmplitude audioAmplitudeInfo muteStateChange
            activeStateChange backgroundSubstractionStopVisibilityChange
            backgroundSubstractionStopComputeTime AIESnapshot AIELog flowStatusChanged
            audioFlowStatusChanged videoFlowStatusChanged remoteAudioFlowStatusChanged
            remoteVideoFlowStatusChanged release constraintsChanged
            """
        ),
        "ConversationCall": (),
    }
)
"""Each class's ``getAvailableEvents()`` whitelist in SDK 5.0.35 (SDK order, duplicates removed)."""


SEED_EVENTS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "UserAgent": frozenset(
            _words("ccsConnectionStatus externalJsLoadingStatus mediaDeviceChanged")
        ),
        "Session": frozenset(
            _words(
                """
                contactData contactListUpdate contactMessage conversationData
                conversationInvitation conversationJoinRequest conversationMessage customEvent
                dataChannelInvitation disconnect error fileTransferInvitation incomingCall
                incomingScreenSharingCall incomingScreenSharingCallInvitation
                newMediaAvailableFromContact pointerLocationChanged pointerSharingInvitation
                rawData reconnecting reconnection whiteboardInvitation whiteboardRoomMemberUpdate
                """
            )
        ),
        "Contact": frozenset(
            _words(
                """
                conversationInvitation customEvent data dataChannelInvitation
                fileSentSuccessfully fileTransferError fileTransferInvitation
                fileTransferProgress incomingCall incomingScreenSharingCall
                incomingScreenSharingCallInvitation joinGroup leaveGroup message
                newMediaAvailable whiteboardInvitation
                """
            )
        ),
        "Call": frozenset(
            _words(
                """
                accepted declined desktopCapture disconnectionWarning error hangup
                localStreamAvailable recordAvailable recordingAvailable recordingStarted
                recordingStopped remoteStreamIdUpdated remoteStreamUpdated response statsUpdate
                streamAdded streamRemoved userMediaError
                """
            )
        ),
        "Conversation": _CONVERSATION_SEED,
        "Conference": _CONVERSATION_SEED,
        "DataChannel": frozenset(
            _words(
                """
                accepted closed dataReceived declined ended error opened response
                transferComplete transferProgress
                """
            )
        ),
        "SentInvitation": frozenset(_words("receive response statusChange")),
        "SentRemoteAccessInvitation": frozenset(_words("receive response statusChange")),
        "ReceivedInvitation": frozenset({"statusChange"}),
        "ReceivedCallInvitation": frozenset(_words("expired statusChange")),
        "ReceivedConversationInvitation": frozenset({"statusChange"}),
        "ReceivedConversationJoinRequest": frozenset({"statusChange"}),
        "ReceivedDataChannelInvitation": frozenset(_words("expired statusChange")),
        "ReceivedFileTransferInvitation": frozenset(_words("error progress statusChange")),
        "ReceivedPointerSharingInvitation": frozenset({"statusChange"}),
        "ReceivedWhiteboardInvitation": frozenset({"statusChange"}),
        "ReceivedRemoteAccessInvitation": frozenset({"statusChange"}),
        "Stream": frozenset(SDK_EVENTS["Stream"]),
        "ConversationCall": frozenset(),
    }
)
"""Event names the seed documents for each class (attribution reconstructed from the seed's
alphabetical class order, cross-checked with the SDK whitelists)."""


SEED_ONLY_EVENTS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        cls: frozenset(SEED_EVENTS[cls] - set(sdk))
        for cls, sdk in SDK_EVENTS.items()
        if SEED_EVENTS[cls] - set(sdk)
    }
)
"""Events the seed documents that the SDK does not whitelist for that class (Conversation
``closed``, remote-access ``statusChange``); rtcstate follows the seed and allows them."""


AVAILABLE_EVENTS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        cls: (*sdk, *sorted(SEED_ONLY_EVENTS.get(cls, frozenset())))
        for cls, sdk in SDK_EVENTS.items()
    }
)
"""Each class's event whitelist in rtcstate: the SDK's list followed by the seed-only names."""


RTCSTATE_EVENTS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        # the sans-I/O form of accept()'s promise resolving: {fileInfo, sha256,
        # transferInformation}, fired (before statusChange ENDED) once the file is verified
        "ReceivedFileTransferInvitation": ("transferComplete",),
        # a message, data or custom event sent to the contact was not delivered (the payload
        # of Conversation's messageNotDelivered: {error, contact, command, event?})
        "Contact": ("messageNotDelivered",),
    }
)
"""Events rtcstate fires beyond apiRTC's, per class (documented in ``docs/codes.md``)."""


def is_known_event(cls_name: str, event: str) -> bool:
    """Whether ``event`` may be listened to on class ``cls_name`` (False for unknown classes):
    apiRTC's whitelist (:data:`AVAILABLE_EVENTS`) plus rtcstate's (:data:`RTCSTATE_EVENTS`)."""
    return event in AVAILABLE_EVENTS.get(cls_name, ()) or event in RTCSTATE_EVENTS.get(cls_name, ())
