"""Contact messages on the wire: messages, data and custom events from one user to another,
outside any conversation, acknowledged by the receiver; and the user data a session publishes.

Theory of operation
-------------------
A *post* (:class:`ContactText`, :class:`ContactPayload`, :class:`ContactEvent`) goes from a
device to a user (``to`` a bare user: every device of it, or ``"user/device"``: that one)
through the relay like call signaling: the relay stamps ``from`` with the sender's verified
address and routes it inside the sender's tenant only. Each post names itself with
``post_id`` (its ``ROUTE``), chosen by the sender and unique per sending device. Every
receiving device answers :class:`ContactAck` with the same ``post_id``; the sender's post is
delivered at the first one (later ones are dropped). When nobody is at the destination (an
offline user, or a user of another tenant: the relay cannot tell them apart) the relay answers
``user_not_found`` with ``ref_id`` = ``post_id``, and the post is not delivered.

User data (apiRTC's ``UserData``): :class:`UserDataSet` (client -> relay, no ``to``) publishes
this user's data; the relay keeps the last one per user (bounded in bytes: over it the request
is refused with ``server_error`` ``oversize`` naming it in ``refused``) and tells everyone who
hears the user's presence with :class:`UserDataUpdate` (relay only), including each new
subscriber.

The messages are registered with :func:`rtcstate.wire.register` when this module is imported
(``import rtcstate`` does it). docs/wire.md lists them.
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from rtcstate.wire import Message, register

__all__ = [
    "POSTS",
    "RELAY_ONLY",
    "ContactAck",
    "ContactEvent",
    "ContactPayload",
    "ContactText",
    "RingingPeer",
    "UserDataSet",
    "UserDataUpdate",
]


@register
@attrs.frozen(slots=True)
class ContactText(Message):
    """user -> contact: a text message (``contact.sendMessage``; ``uuid``: the sender's message
    number, what its promise resolves with)."""

    TYPE: ClassVar[str] = "contact_text"
    ROUTE: ClassVar[str | None] = "post_id"
    post_id: str
    uuid: int
    content: str


@register
@attrs.frozen(slots=True)
class ContactPayload(Message):
    """user -> contact: application data (``contact.sendData``)."""

    TYPE: ClassVar[str] = "contact_payload"
    ROUTE: ClassVar[str | None] = "post_id"
    post_id: str
    content: dict[str, Any]


@register
@attrs.frozen(slots=True)
class ContactEvent(Message):
    """user -> contact: a custom event (``contact.sendCustomEvent(event, content)``)."""

    TYPE: ClassVar[str] = "contact_event"
    ROUTE: ClassVar[str | None] = "post_id"
    post_id: str
    event: str
    content: dict[str, Any] | None = None


@register
@attrs.frozen(slots=True)
class ContactAck(Message):
    """receiver -> sender: the post ``post_id`` arrived."""

    TYPE: ClassVar[str] = "contact_ack"
    ROUTE: ClassVar[str | None] = "post_id"
    post_id: str


@register
@attrs.frozen(slots=True)
class UserDataSet(Message):
    """client -> relay: this user's data (apiRTC ``setUserData`` / ``UserData.setToSession``)."""

    TYPE: ClassVar[str] = "user_data_set"
    ROUTE: ClassVar[str | None] = None
    data: dict[str, Any]


@register
@attrs.frozen(slots=True)
class UserDataUpdate(Message):
    """relay -> client: the data ``user`` published (to whoever hears its presence)."""

    TYPE: ClassVar[str] = "user_data_update"
    ROUTE: ClassVar[str | None] = None
    user: str
    data: dict[str, Any]


@register
@attrs.frozen(slots=True)
class RingingPeer(Message):
    """relay -> client: the online devices of ``contact``, whose call this device rings for
    and whose presence it does not hear (scoped presence: :mod:`rtcstate.hub.ringwatch`);
    only that contact's ringing callee calls take it."""

    TYPE: ClassVar[str] = "ringing_peer"
    ROUTE: ClassVar[str | None] = None
    contact: str
    devices: list[str]


POSTS: tuple[type[Message], ...] = (ContactText, ContactPayload, ContactEvent)
"""The messages a sender posts to a contact (each answered by a :class:`ContactAck`)."""

RELAY_ONLY: frozenset[type[Message]] = frozenset({UserDataUpdate, RingingPeer})
"""Sent by the relay only: a client that routes one to another client is refused."""
