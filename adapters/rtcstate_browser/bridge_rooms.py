"""The bridge's conversation commands: apiRTC's Conversation / Conference for JavaScript.

Theory of operation
-------------------
The page's ``session.getConversation(name, {moderated, password})`` asks the core's session for
its :class:`~rtcstate.conversation.Conversation` (or :class:`~rtcstate.conversation.Conference`)
and gets a reference to it (``{"$ref": "conversation:<name>", ...}``, the target of its events),
as for a call. Every other command names that reference. The commands the relay answers (join,
leave, a message, data, a custom event, the persistent data, a moderator's allow / deny /
eject, a conference's close) answer ``{"request": <id>}``: the core's request id (its
``last_request``), or ``None`` when the command sent no request (nothing to wait for). The
outcome comes later as a ``Resolve`` / ``Reject`` effect naming that id, which the JavaScript
runtime turns into the settlement of the command's promise. A moderator's
:class:`~rtcstate.conversation.ReceivedConversationJoinRequest` (the payload of
``conversationJoinRequest``) is a reference too: ``accept`` / ``decline`` go through the
bridge's usual commands. So are conversation invitations: ``sendInvitation`` answers the
sender's :class:`~rtcstate.conversation.invitations.SentConversationInvitation`, and the
invitee's :class:`~rtcstate.conversation.invitations.ReceivedConversationInvitation` (the
payload of ``conversationInvitation``) is accepted through ``accept``, which answers the
conversation it joins and the request of that join. A misuse raises the core's error, and
nothing changes, as elsewhere.

A room's media (publish, subscribe) and the local streams they need:
:mod:`rtcstate_browser.bridge_streams`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from rtcstate.conversation import Conference, Conversation, ReceivedConversationJoinRequest
from rtcstate.conversation.invitations import ReceivedConversationInvitation, send_invitation
from rtcstate.effects import Effect

if TYPE_CHECKING:
    from rtcstate_browser.bridge import Bridge

__all__ = [
    "ROOM_COMMANDS",
    "accept_invitation",
    "close_conference",
    "join_request",
    "room_info",
    "send_room_data",
]

_Result = tuple[Any, list[Effect]]


def room_info(conv: Conversation) -> dict[str, Any]:
    """What a reference to ``conv`` carries (and ``conversationInfo`` answers): its state."""
    return {
        "name": conv.name,
        "status": conv.status.value,
        "joined": conv.joined,
        "contacts": conv.get_contacts(),
        "role": conv.get_role(),
        "moderator": conv.get_moderator(),
        "waitingRoom": conv.get_waiting_room_contacts(),
        "data": conv.data,
        "dataVersion": conv.data_version,
    }


def _room(b: Bridge, args: Mapping[str, Any]) -> Conversation:
    obj = b._object(args)
    if not isinstance(obj, Conversation):
        raise TypeError(f"{type(obj).__name__} is not a conversation")
    return obj


def _requested(conv: Conversation, run: Callable[[], list[Effect]]) -> _Result:
    """Run a request command; its result names the request the outcome will settle."""
    before = conv.last_request
    effects = run()
    request = conv.last_request
    return {"request": request if request != before else None}, effects


def join_request(
    request: ReceivedConversationJoinRequest, run: Callable[[], list[Effect]]
) -> _Result:
    """A moderator's ``accept`` / ``decline`` of a waiter: the allow / deny request it sends."""
    conv = request.conversation
    if isinstance(conv, Conversation):
        return _requested(conv, run)
    return None, run()


def accept_invitation(invitation: ReceivedConversationInvitation, now: float) -> _Result:
    """Accept an invitation to a room: ``{conversation, request}`` (the join it sent, if any)."""
    held = invitation.conversation()
    before = None if held is None else held.last_request
    effects = invitation.accept(now)
    conv = invitation.conversation()
    request = None if conv is None or conv.last_request == before else conv.last_request
    return {"conversation": conv, "request": request}, effects


def _send_invitation(b: Bridge, args: Mapping[str, Any], now: float) -> _Result:
    conv = _room(b, args)
    expiration = args.get("expiration")
    seconds = None if expiration is None else float(expiration)
    return send_invitation(b.session, conv, args["contact"], now, seconds)


def _get_conversation(b: Bridge, args: Mapping[str, Any], now: float) -> _Result:
    name = str(args["name"])
    password = args.get("password")
    options: dict[str, Any] = {
        "moderated": bool(args.get("moderated", False)),
        "password": None if password is None else str(password),
    }
    if args.get("conference"):
        return b.session.get_conference(name, **options), []
    return b.session.get_conversation(name, **options), []


def _info(b: Bridge, args: Mapping[str, Any], now: float) -> _Result:
    return room_info(_room(b, args)), []


def _join(b: Bridge, args: Mapping[str, Any], now: float) -> _Result:
    conv = _room(b, args)
    password = args.get("password")
    secret = None if password is None else str(password)
    return _requested(conv, lambda: conv.join(now, password=secret))


def _cancel_join(b: Bridge, args: Mapping[str, Any], now: float) -> _Result:
    return None, _room(b, args).cancel_join(now)


def _leave(b: Bridge, args: Mapping[str, Any], now: float) -> _Result:
    conv = _room(b, args)
    return _requested(conv, lambda: conv.leave(now))


def _send_message(b: Bridge, args: Mapping[str, Any], now: float) -> _Result:
    conv = _room(b, args)
    return _requested(conv, lambda: conv.send_message(now, args["content"]))


def send_room_data(b: Bridge, args: Mapping[str, Any], now: float) -> _Result:
    """``sendData`` on a conversation (the bridge's ``sendData`` on a data channel otherwise)."""
    conv = _room(b, args)
    return _requested(conv, lambda: conv.send_data(now, args["data"]))


def _send_custom_event(b: Bridge, args: Mapping[str, Any], now: float) -> _Result:
    conv = _room(b, args)
    event, content = args["event"], args.get("content")
    return _requested(conv, lambda: conv.send_custom_event(now, event, content))


def _get_data(b: Bridge, args: Mapping[str, Any], now: float) -> _Result:
    conv = _room(b, args)
    return _requested(conv, lambda: conv.get_data(now))


def _set_data(b: Bridge, args: Mapping[str, Any], now: float) -> _Result:
    conv = _room(b, args)
    return _requested(conv, lambda: conv.set_data(now, args["data"]))


def _update_data(b: Bridge, args: Mapping[str, Any], now: float) -> _Result:
    conv = _room(b, args)
    return _requested(conv, lambda: conv.update_data(now, args["changes"]))


def _reason(args: Mapping[str, Any]) -> str | None:
    reason = args.get("reason")
    return None if reason is None else str(reason)


def _allow_entry(b: Bridge, args: Mapping[str, Any], now: float) -> _Result:
    conv = _room(b, args)
    return _requested(conv, lambda: conv.allow_entry(now, str(args["contact"])))


def _deny_entry(b: Bridge, args: Mapping[str, Any], now: float) -> _Result:
    conv = _room(b, args)
    return _requested(conv, lambda: conv.deny_entry(now, str(args["contact"]), _reason(args)))


def _eject(b: Bridge, args: Mapping[str, Any], now: float) -> _Result:
    conv = _room(b, args)
    return _requested(conv, lambda: conv.eject(now, str(args["contact"]), _reason(args)))


def close_conference(b: Bridge, args: Mapping[str, Any], now: float) -> _Result:
    """``close`` on a conference (moderator; the bridge's ``close`` of a data channel else)."""
    conv = _room(b, args)
    if not isinstance(conv, Conference):
        raise TypeError("only a conference has close()")
    return _requested(conv, lambda: conv.close(now))


ROOM_COMMANDS: dict[str, Callable[[Bridge, Mapping[str, Any], float], _Result]] = {
    "getConversation": _get_conversation,
    "conversationInfo": _info,
    "join": _join,
    "cancelJoin": _cancel_join,
    "leave": _leave,
    "sendMessage": _send_message,
    "sendCustomEvent": _send_custom_event,
    "getData": _get_data,
    "setData": _set_data,
    "updateData": _update_data,
    "allowEntry": _allow_entry,
    "denyEntry": _deny_entry,
    "eject": _eject,
    "sendInvitation": _send_invitation,
}
"""The conversation commands by name (``sendData`` and ``close`` are shared with data
channels: the bridge's own handlers hand a conversation to :func:`send_room_data` and
:func:`close_conference`)."""
