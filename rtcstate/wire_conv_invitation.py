"""Wire messages of conversation invitations (client -> client, through the relay).

A conversation's member invites a user (``Conversation.sendInvitation``): ``conv_invitation``
goes to the user (every device of it), each device that gets it answers ``conv_invitation_received``
(the sender's ``receive`` event), and the invitee's decision is the ``invite_answer`` every
invitation uses (:class:`rtcstate.wire.InviteAnswer`). Both messages route by
``invitation_id``. Registered with :func:`rtcstate.wire.register` on import.
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from rtcstate.codes import InvitationType
from rtcstate.wire import Message, register

__all__ = ["ConvInvitation", "ConvInvitationReceived"]


@register
@attrs.frozen(slots=True)
class ConvInvitation(Message):
    """inviter -> invitee: join ``room`` (a ``conversation`` or a ``conference``)."""

    TYPE: ClassVar[str] = "conv_invitation"
    ROUTE: ClassVar[str | None] = "invitation_id"
    invitation_id: str
    room: str
    kind: InvitationType = InvitationType.CONVERSATION
    password: str | None = None


@register
@attrs.frozen(slots=True)
class ConvInvitationReceived(Message):
    """invitee -> inviter: the invitation reached a device (the sender's ``receive``)."""

    TYPE: ClassVar[str] = "conv_invitation_received"
    ROUTE: ClassVar[str | None] = "invitation_id"
    invitation_id: str
