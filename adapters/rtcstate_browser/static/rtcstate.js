// rtcstate in the browser: boot Pyodide with the core, and an apiRTC-shaped API over it.
//
//   const rtc = await boot();                       // Pyodide + the core, served by the relay
//   const ua = new rtc.UserAgent("alice");
//   const session = await ua.register();            // ws://<this host>/
//   session.on("incomingCall", (inv) => inv.accept());
//   const call = session.getContact("bob").call();  // call.on("accepted" | "hangup" | ...)
//   const room = session.getConversation("room");   // await room.join(); room.on("message", f)
//
// Objects are thin wrappers: a command calls the core at once through the runtime (a misuse
// throws the core's RtcError, nothing changes); the core's Emit(target, event, payload) reaches
// the wrapper its target names, payload references to core objects become wrappers.

import { Runtime, RtcError, ConversationError } from "./runtime.js";
import { BrowserMedia } from "./media.js";
import { Emitter } from "./emitter.js";
import {
  Conversation, Conference, ReceivedConversationJoinRequest, ReceivedConversationInvitation,
  SentConversationInvitation, Stream,
} from "./conversation.js";

export {
  Emitter, RtcError, ConversationError, Conversation, Conference, ReceivedConversationJoinRequest,
  ReceivedConversationInvitation, SentConversationInvitation, Stream,
};

/** Load Pyodide and the core from the relay (or `base`); returns {UserAgent, py, bootMs,
 *  pyodideMs} (bootMs: until the core is imported, pyodideMs: of which loadPyodide). */
export async function boot({ base = new URL("/", location.href).href, log = () => {} } = {}) {
  const started = performance.now();
  const packages = fetch(new URL("packages.zip", base)).then((r) => r.arrayBuffer());
  const { loadPyodide } = await import(new URL("pyodide/pyodide.mjs", base).href);
  const py = await loadPyodide({ indexURL: new URL("pyodide/", base).href });
  const pyodideMs = performance.now() - started;
  const purelib = py.runPython("import sysconfig; sysconfig.get_paths()['purelib']");
  py.unpackArchive(await packages, "zip", { extractDir: purelib });
  py.runPython("import importlib; importlib.invalidate_caches(); import rtcstate_browser.bridge");
  const Bridge = py.pyimport("rtcstate_browser.bridge").Bridge;
  const bootMs = performance.now() - started;
  log(`core ready in ${bootMs.toFixed(0)} ms (Pyodide ${pyodideMs.toFixed(0)} ms)`);
  const wsUrl = new URL("/", base.replace(/^http/, "ws")).href;
  class BoundUserAgent extends UserAgent {
    constructor(id, options = {}) { super(id, { Bridge, wsUrl, log, ...options }); }
  }
  return { UserAgent: BoundUserAgent, py, bootMs, pyodideMs };
}

export class UserAgent extends Emitter {
  /** options: {onLocalStream, onRemoteStream, callOptions: {allow_multiple_calls: false, ...},
   *  device (a fresh id by default), config: session settings ({keepalive_interval,
   *  keepalive_timeout, register_timeout, retry: {initial, maximum, ...}, calls: {...}}),
   *  media: (mediaOptions) => a media backend (BrowserMedia by default)} */
  constructor(id, { Bridge, wsUrl, log = () => {}, onLocalStream, onRemoteStream, callOptions = {},
                    device = null, config = {}, media = (o) => new BrowserMedia(o) }) {
    super();
    this.id = id;
    this.callOptions = callOptions;
    this.device = device;
    this.config = config;
    this.makeMedia = media;
    this.Bridge = Bridge;
    this.wsUrl = wsUrl;
    this.log = log;
    this.mediaOptions = { onLocalStream, onRemoteStream, log };
    this.session = null;
    this.taps = [];
  }

  /** Every event of every object, from registration on: tap(target, event, payload). */
  onAny(tap) { this.taps.push(tap); return this; }

  /** Register on the relay; resolves with the Session once connected. `url` may be a list of
   *  relays: the first is tried first, the others are where the session moves when one is lost
   *  or drains (close 1012), in turn (the core's SessionConfig.fallback_urls). */
  register(url = this.wsUrl, timeoutMs = 10000) {
    const [first, ...others] = Array.isArray(url) ? url : [url];
    const config = others.length ? { ...this.config, fallback_urls: others } : this.config;
    const bridge = this.Bridge(this.id, first, this.device, JSON.stringify(this.callOptions),
      JSON.stringify(config));
    const session = new Session(this, bridge);
    this.lastSession = session; // the one registering (closed by close())
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("registration timed out")), timeoutMs);
      session.hooks.push((target, event, payload) => {
        if (target === "userAgent" && event === "ccsConnectionStatus" && payload?.status === "connected") {
          clearTimeout(timer);
          this.session = session;
          resolve(session);
        } else if (target === "session" && event === "error") {
          clearTimeout(timer);
          reject(new Error(payload?.errorInfo ?? "registration failed"));
        }
      });
      session.runtime.command("register");
    });
  }

  unregister() {
    const session = this.session;
    this.session = null;
    if (!session) return;
    session.runtime.command("unregister");
    setTimeout(() => session.runtime.close(), 500);
  }

  /** Stop at once: unregister when registered, close the transport, timers and media. */
  close() {
    const session = this.lastSession;
    this.session = this.lastSession = null;
    if (!session || session.runtime.closed) return;
    try { session.runtime.command("unregister"); } catch (err) { this.log("unregister: " + err.message); }
    session.runtime.close();
  }

  getCurrentSession() { return this.session; }

  /** createStream({audio, video, callType}): the page's camera and microphone (or the screen,
   *  callType "screenSharing"), to publish in conversations; resolves with a Stream. */
  createStream({ audio = true, video = true, callType = "media" } = {}) {
    const session = this.session;
    if (!session) throw new RtcError({ number: 16, name: "ERROR_WRONG_STATE", message: "createStream needs a registered session" });
    const answer = session.runtime.command("createStream", { audio, video, callType });
    return session.runtime.expect(answer.request).then((info) => new Stream(session, info));
  }
}

const CLASSES = {
  Call: (s, ref) => new Call(s, ref),
  ReceivedCallInvitation: (s, ref) => new ReceivedInvitation(s, ref),
  ReceivedDataChannelInvitation: (s, ref) => new ReceivedInvitation(s, ref),
  ReceivedFileTransferInvitation: (s, ref) => new ReceivedFileInvitation(s, ref),
  DataChannel: (s, ref) => new DataChannel(s, ref),
  FileTransfer: (s, ref) => new SentInvitation(s, ref),
  Conversation: (s, ref) => new Conversation(s, ref),
  Conference: (s, ref) => new Conference(s, ref),
  ReceivedConversationJoinRequest: (s, ref) => new ReceivedConversationJoinRequest(s, ref),
  ReceivedConversationInvitation: (s, ref) => new ReceivedConversationInvitation(s, ref),
  SentConversationInvitation: (s, ref) => new SentConversationInvitation(s, ref),
};

export class Session extends Emitter {
  constructor(ua, bridge) {
    super();
    this.ua = ua;
    this.hooks = [];
    this.taps = [...ua.taps];
    this.objects = new Map(); // emit target -> wrapper
    this.contacts = new Map();
    this.media = ua.makeMedia(ua.mediaOptions);
    this.runtime = new Runtime(bridge, { onEmit: (t, e, p) => this.dispatch(t, e, p), media: this.media, log: ua.log });
    this.media.bind(
      (kind, fields) => this.runtime.mediaReport(kind, fields),
      (id, data) => this.runtime.report((t) => bridge.channel_message(id, data, t)),
    );
  }

  getContact(id) {
    if (!this.contacts.has(id)) this.contacts.set(id, new Contact(this, id));
    return this.contacts.get(id);
  }
  getOnlineContacts() { return this.runtime.command("onlineContacts").map((id) => this.getContact(id)); }
  getCalls() { return [...this.objects.values()].filter((o) => o instanceof Call && !o.ended); }
  /** The conversation `name` (made when new; nothing sent before join()): options
   *  {moderated, password} (the room's, if this device's join creates it). */
  getConversation(name, { moderated = false, password = null } = {}) {
    return this.wrap(this.runtime.command("getConversation", { name, moderated, password }));
  }
  getOrCreateConversation(name, options) { return this.getConversation(name, options); }
  /** A conference: a conversation its moderator may close() for everyone. */
  getConference(name, { moderated = false, password = null } = {}) {
    return this.wrap(this.runtime.command("getConversation", { name, moderated, password, conference: true }));
  }
  getOrCreateConference(name, options) { return this.getConference(name, options); }
  /** Every event of every object: tap(target, event, payload). */
  onAny(tap) { this.taps.push(tap); return this; }

  wrap(value) {
    if (Array.isArray(value)) return value.map((v) => this.wrap(v));
    if (!value || typeof value !== "object" || value instanceof Uint8Array) return value;
    if (typeof value.$ref === "string") {
      let obj = this.objects.get(value.$ref);
      if (!obj) { obj = CLASSES[value.class](this, value); this.objects.set(value.$ref, obj); }
      return obj;
    }
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = this.wrap(v);
    return out;
  }

  dispatch(target, event, raw) {
    const payload = this.wrap(raw);
    for (const hook of [...this.hooks]) hook(target, event, payload);
    let obj = this.objects.get(target);
    if (target === "userAgent") obj = this.ua;
    else if (target === "session") obj = this;
    else if (target.startsWith("contact:")) obj = this.getContact(target.slice(8));
    if (obj) obj.fire(event, payload);
    if (target.startsWith("contact:") && event.startsWith("file")) {
      const id = payload?.transferInformation?.uuid ?? payload?.invitationId;
      this.objects.get("transfer:" + id)?.fire(event, payload);
    }
    for (const tap of this.taps) {
      try { tap(target, event, payload); } catch (err) { this.ua.log("a tap raised: " + err); }
    }
  }
}

export class Contact extends Emitter {
  constructor(session, id) { super(); this.session = session; this.id = id; }
  getId() { return this.id; }
  /** contact.call(): a media call (camera and microphone) unless callType says otherwise. */
  call({ callType, audioOnly = false } = {}) {
    const args = { contact: this.id, audioOnly };
    if (callType) args.callType = callType;
    return this.session.wrap(this.session.runtime.command("call", args));
  }
  startDataChannel(label = "data") {
    return this.session.wrap(this.session.runtime.command("startDataChannel", { contact: this.id, label }));
  }
  /** contact.sendFile({name, type}, data): data is an ArrayBuffer or Uint8Array. */
  sendFile(fileInfo, data) {
    const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
    const ref = this.session.runtime.command("sendFile",
      { contact: this.id, name: fileInfo.name, type: fileInfo.type, size: bytes.length });
    this.session.runtime.sources.set(ref.id, bytes);
    return this.session.wrap(ref);
  }
}

class Wrapper extends Emitter {
  constructor(session, ref) {
    super();
    this.session = session;
    this.ref = ref.$ref;
    this.id = ref.id;
    Object.assign(this, { info: ref });
  }
  getId() { return this.id; }
  command(name, args = {}) { return this.session.runtime.command(name, { ref: this.ref, ...args }); }
}

export class Call extends Wrapper {
  constructor(session, ref) {
    super(session, ref);
    this.ended = false;
    this.on("hangup", () => { this.ended = true; });
  }
  getContact() { return this.session.getContact(this.info.contact); }
  hangUp(reason) { this.command("hangUp", reason ? { reason } : {}); }
  mute(kind = "audio") { this.command("mute", { kind, muted: true }); }
  unmute(kind = "audio") { this.command("mute", { kind, muted: false }); }
  frames() { return this.session.media.frames(this.id); }
}

export class ReceivedInvitation extends Wrapper {
  getSender() { return this.session.getContact(this.info.sender); }
  /** Accept: the Call (call invitation) or the DataChannel (data channel invitation). */
  accept(options = {}) { return this.session.wrap(this.command("accept", options)); }
  decline(reason) { this.command("decline", reason ? { reason } : {}); }
}

export class ReceivedFileInvitation extends ReceivedInvitation {
  /** Accept the file: resolves with {file: Uint8Array, name, type, size, sha256}. */
  accept({ maxSize } = {}) {
    const parts = [];
    let size = 0;
    this.session.runtime.sinks.set(this.id, (_offset, data) => { parts.push(data.slice()); size += data.length; });
    const done = new Promise((resolve, reject) => {
      this.on("transferComplete", (info) => {
        const file = new Uint8Array(size);
        let at = 0;
        for (const p of parts) { file.set(p, at); at += p.length; }
        this.session.runtime.sinks.delete(this.id);
        resolve({ file, name: this.info.fileInfo.name, type: this.info.fileInfo.type, size, sha256: info.sha256 });
      });
      this.on("error", (err) => reject(new Error(JSON.stringify(err))));
    });
    this.command("accept", maxSize ? { maxSize } : {});
    return done;
  }
  cancel() { this.command("cancel"); }
}

export class DataChannel extends Wrapper {
  getContact() { return this.session.getContact(this.info.contact); }
  sendData(data) { return this.command("sendData", { data }); }
  close() { this.command("close"); }
}

/** The SentInvitation of a file: fires fileTransferProgress, fileSentSuccessfully, fileTransferError. */
export class SentInvitation extends Wrapper {
  cancel() { this.command("cancel"); }
  done(timeoutMs = 120000) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("file not sent in time")), timeoutMs);
      this.on("fileSentSuccessfully", (p) => { clearTimeout(timer); this.session.runtime.sources.delete(this.id); resolve(p); });
      this.on("fileTransferError", (p) => { clearTimeout(timer); reject(new Error(JSON.stringify(p))); });
    });
  }
}
