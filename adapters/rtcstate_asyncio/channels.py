"""apiRTC's DataChannel and ReceivedDataChannelInvitation (payload of ``dataChannelInvitation``).

Theory of operation
-------------------
Thin wrappers over a core :class:`rtcstate.datachannel.DataChannel` and
:class:`rtcstate.datachannel.ReceivedDataChannelInvitation`, made by the :class:`Session` (one
per core object). ``contact.start_data_channel()`` or ``invitation.accept()`` return the
channel at once; ``opened`` fires when it is usable, then ``send_data()`` sends and ``close()``
ends it (``ended {from: "local"}`` once the far side acknowledges). Commands call the core
through the session's runtime, so a misuse raises the core's :class:`~rtcstate.errors.RtcError`
and nothing changes. ``_ended`` tells the session when it may forget the wrapper.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rtcstate import datachannel as core_dc
from rtcstate.codes import DataChannelStatus, InvitationStatus
from rtcstate_asyncio.typed import DataChannelEvents, ReceivedDataChannelInvitationEvents
from rtcstate_asyncio.wrapper import ReceivedInvitation, Wrapper

if TYPE_CHECKING:
    from rtcstate_asyncio.agent import Contact

__all__ = ["DataChannel", "ReceivedDataChannelInvitation"]


class ReceivedDataChannelInvitation(
    ReceivedInvitation[core_dc.ReceivedDataChannelInvitation], ReceivedDataChannelInvitationEvents
):
    """apiRTC's ReceivedDataChannelInvitation (payload of ``dataChannelInvitation``)."""

    API_CLASS = "ReceivedDataChannelInvitation"

    @property
    def status(self) -> InvitationStatus:
        return self.core.status

    @property
    def label(self) -> str:
        return self.core.label

    def accept(self) -> DataChannel:
        """Accept: the :class:`DataChannel`; ``opened`` fires when the channel is usable."""
        channel = self.session.runtime.command(self.core.accept)
        return self.session._wrap_channel(channel)


class DataChannel(Wrapper[core_dc.DataChannel], DataChannelEvents):
    """apiRTC's DataChannel."""

    API_CLASS = "DataChannel"

    @property
    def label(self) -> str:
        return self.core.label

    @property
    def status(self) -> DataChannelStatus:
        return self.core.status

    @property
    def contact(self) -> Contact:
        return self.session.get_contact(self.core.contact)

    @property
    def is_outgoing(self) -> bool:
        """``getType()``: True for apiRTC's SEND channel (we opened it), False for RECEIVE."""
        return self.core.outgoing

    def send_data(self, data: str | bytes) -> str:
        """``sendData(data)``: send ``data``; returns the transfer's uuid (raises
        ``ERROR_OTHER`` unless the channel is open)."""
        return self.session.runtime.command(lambda now: self.core.send_data(now, data))

    def close(self) -> None:
        """``close()``; ``ended {from: "local"}`` fires when the far side acknowledges."""
        self.session.runtime.run(self.core.close)
