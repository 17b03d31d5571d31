// apiRTC's Conversation, Conference and ReceivedConversationJoinRequest in the page.
//
//   const room = session.getConversation("team", { moderated: true });
//   room.on("contactJoined", (address) => ...);     // contactLeft, message, data, customEvent...
//   await room.join();                              // resolves once the relay admitted us
//   const n = await room.sendMessage("hello");      // the room's message number
//   session.on("conversationJoinRequest", (request) => request.accept());  // a moderator
//   const camera = await ua.createStream();         // publish it; the others subscribe:
//   await room.publish(camera);                     // room.on("streamListChanged", ...)
//   await room.subscribeToStream(streamId);         // streamAdded {streamId, callId, ...}
//
// Theory of operation: thin wrappers over the core's Conversation (the Pyodide bridge's
// `conversation:<name>` reference; its commands: bridge_rooms.py). A command calls the core at
// once: a misuse throws the core's RtcError (16 wrong state, 4 not a moderator...) and nothing
// changes. A command the relay answers returns a promise of the core's outcome for its request
// (Runtime.expect): resolved with the outcome's value, or rejected with a ConversationError
// carrying the apiRTC number (14 entry denied, 15 join cancelled, 11 timed out, 2 the session
// closed...). Queries read the core's state at the time they are asked (conversationInfo).
// The events are the core's, by its names (apiRTC's): joined, left, contactJoined,
// contactLeft, message, data, customEvent, waitingForModeratorAcceptance, entryAllowed,
// entryDenied, contactJoinedWaitingRoom, contactLeftWaitingRoom, participantEjected,
// persistentDataUpdated, moderatorConnected, closed (a conference); with media,
// streamListChanged, streamAdded, streamRemoved. A room's media are the core's conversation
// calls, carried out by the page's media backend like a 1-1 call (the remote tracks reach the
// UserAgent's onRemoteStream(callId, stream)).

import { Emitter } from "./emitter.js";

const address = (contact) => (typeof contact === "string" ? contact : contact?.getId?.() ?? contact?.id);
const reasonOf = (options) => (typeof options === "string" ? options : options?.reason ?? null);

class RoomObject extends Emitter {
  constructor(session, ref) {
    super();
    this.session = session;
    this.ref = ref.$ref;
    this.id = ref.id;
    this.info = ref;
  }
  getId() { return this.id; }
  command(name, args = {}) { return this.session.runtime.command(name, { ref: this.ref, ...args }); }
  /** A command the relay answers: the promise of its outcome. */
  request(name, args = {}) {
    const answer = this.command(name, args);
    return this.session.runtime.expect(answer?.request ?? null);
  }
}

export class Conversation extends RoomObject {
  state() { return this.command("conversationInfo"); }
  getName() { return this.id; }
  getStatus() { return this.state().status; }
  isJoined() { return this.state().joined; }
  /** The other members' addresses (user/device), not Contact objects. */
  getContacts() { return this.state().contacts; }
  getRole() { return this.state().role; }
  getModerator() { return this.state().moderator; }
  getWaitingRoomContacts() { return this.state().waitingRoom; }
  getData() { return this.request("getData"); }
  /** Join (a password for a private room); resolves once in the room. */
  join({ password = null } = {}) { return this.request("join", password === null ? {} : { password }); }
  /** Leave the waiting room of a moderated room (the join is rejected with 15). */
  cancelJoin() { this.command("cancelJoin"); }
  leave() { return this.request("leave"); }
  /** Resolves with the room's number for the message. */
  sendMessage(content) { return this.request("sendMessage", { content }); }
  sendData(data) { return this.request("sendData", { data }); }
  sendCustomEvent(event, content = {}) { return this.request("sendCustomEvent", { event, content }); }
  /** The persistent data: replace, or merge changes (null removes a key); resolve with the
   *  new version, reject with 17 and the current version when someone changed it first. */
  setData(data) { return this.request("setData", { data }); }
  updateData(changes) { return this.request("updateData", { changes }); }
  // a moderator's commands (4 ERROR_UNAUTHORIZED otherwise)
  allowEntry(contact) { return this.request("allowEntry", { contact: address(contact) }); }
  denyEntry(contact, options) { return this.request("denyEntry", { contact: address(contact), reason: reasonOf(options) }); }
  eject(contact, options) { return this.request("eject", { contact: address(contact), reason: reasonOf(options) }); }
  // --- media (the core's conversation calls) ----------------------------------------------------
  /** Publish a stream of ua.createStream() (or its id): resolves with it once listed. */
  publish(stream, { context = null } = {}) {
    const streamId = typeof stream === "string" ? stream : stream.getId();
    return this.request("publish", { streamId, context }).then(() => stream);
  }
  unpublish(stream) { return this.request("unpublish", { streamId: typeof stream === "string" ? stream : stream.getId() }); }
  /** Receive a listed stream: resolves once the relay has the subscription; streamAdded when
   *  media arrive. */
  subscribeToStream(streamId, { audioOnly = false, videoOnly = false } = {}) {
    return this.request("subscribeToStream", { streamId, audioOnly, videoOnly });
  }
  unsubscribeToStream(streamId) { return this.request("unsubscribeToStream", { streamId }); }
  /** StreamInfo of the room's streams, this device's own included (isRemote false). */
  getAvailableStreamList() { return this.command("streamList").streams; }
  /** The ids of the room's live calls (one per published stream and subscriber). */
  getConversationCallIds() { return this.command("streamList").calls; }

  /** Invite a user (an id or a Contact): the SentConversationInvitation (statusChange,
   *  response, receive); `expirationTime` in ms as apiRTC (EXPIRED without an answer). */
  sendInvitation(contact, { expirationTime = null } = {}) {
    const expiration = expirationTime === null ? null : expirationTime / 1000;
    return this.session.wrap(this.command("sendInvitation", { contact: address(contact), expiration }));
  }
}

export class Conference extends Conversation {
  /** Moderator: close the room for everyone (closed, then left, on every member). */
  close() { return this.request("close"); }
}

/** The sender's invitation to a room: fires statusChange {status, id}, response, receive. */
export class SentConversationInvitation extends RoomObject {
  getContact() { return this.session.getContact(this.info.contact); }
}

/** An invitation to a room, the payload of conversationInvitation (session and contact). */
export class ReceivedConversationInvitation extends RoomObject {
  getSender() { return this.info.sender; }
  getConversationName() { return this.info.conversation; }
  /** Answer and join: resolves with the Conversation once in the room. */
  accept() {
    const answer = this.command("accept"); // a misuse throws at once
    const conversation = this.session.wrap(answer.conversation);
    const joined = this.session.runtime.expect(answer.request).then(() => conversation);
    joined.catch(() => {}); // as every request: unawaited, no page error
    return joined;
  }
  decline(reason = null) { this.command("decline", reason === null ? {} : { reason }); }
}

/** A local stream made by ua.createStream(): its id and the page's MediaStream. */
export class Stream {
  constructor(session, info) {
    this.session = session;
    this.id = info.streamId;
    this.info = info;
  }
  getId() { return this.id; }
  hasAudio() { return this.info.audio; }
  hasVideo() { return this.info.video; }
  /** The MediaStream the page's media backend acquired (BrowserMedia), if any. */
  getMediaStream() { return this.session.media.streams?.get(this.id) ?? null; }
}

/** A waiter in a moderated room, the payload of the moderator's conversationJoinRequest. */
export class ReceivedConversationJoinRequest extends RoomObject {
  /** The waiting device's address. */
  getSender() { return this.info.sender; }
  getConversation() { return this.session.objects.get(`conversation:${this.info.conversation}`) ?? null; }
  accept() { return this.request("accept"); }
  decline(reason = null) { return this.request("decline", reason === null ? {} : { reason }); }
}
