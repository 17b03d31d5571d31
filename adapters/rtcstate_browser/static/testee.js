// The browser client's testee driver for the wire conformance suite (docs/conformance.md).
//
// Theory of operation: runTestee(controlUrl) connects to the conformance server's /control
// endpoint, says hello with its capabilities and carries out each command on the page's
// apiRTC-shaped API only (rtcstate.js: UserAgent.register, Contact.call, invitation.accept()...),
// the very client a page uses: the core under Pyodide, the JavaScript runtime on the page's
// WebSocket and setTimeout. Media are StubMedia (the suite checks signaling; its far side's SDPs
// are opaque strings a real RTCPeerConnection refuses). A misuse (the core's RtcError, an
// unknown id) is answered ok: false, never thrown. Every event of every object (UserAgent.onAny)
// is reported with its target and a JSON form of its payload (wrappers become {class, id} and
// the wire ids they carry). Commands run one at a time, in order; reset closes the client at
// once (unregistering it) and forgets every object. Conversations (session.getConversation):
// join_room / leave_room / send_room_message answer at once, their promise left to run (its
// outcome is the application's business: the events tell it), as the asyncio driver does.

import { boot, RtcError } from "./rtcstate.js";
import { StubMedia } from "./stubmedia.js";

export const CAPABILITIES = ["calls", "data_channels", "files", "reconnection", "conversations"];

/** The class names commands look objects up by (the core's, as the bridge names them). */
const SENT_FILE = "FileTransfer";

class CommandError extends Error {}

function jsonable(value, depth = 0) {
  if (depth > 6) return String(value).slice(0, 80);
  if (value === null || value === undefined) return null;
  if (["boolean", "number", "string"].includes(typeof value)) return value;
  if (value instanceof Uint8Array || value instanceof ArrayBuffer) return { bytes: value.byteLength };
  if (Array.isArray(value)) return value.map((v) => jsonable(v, depth + 1));
  if (value.info && typeof value.ref === "string") { // a wrapper of a core object
    const shown = { class: value.info.class, id: value.id };
    if (value.info.callId) shown.call_id = value.info.callId;
    if (value.info.channelId) shown.channel_id = value.info.channelId;
    if (value.info.transferId) shown.transfer_id = value.info.transferId;
    return shown;
  }
  if (typeof value === "object" && !(value instanceof EventTarget)) {
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = jsonable(v, depth + 1);
    return out;
  }
  return String(value).slice(0, 200);
}

const wrappersIn = (payload) => {
  if (payload && payload.info && typeof payload.ref === "string") return [payload];
  if (payload && typeof payload === "object" && !Array.isArray(payload))
    return Object.values(payload).filter((v) => v && v.info && typeof v.ref === "string");
  return [];
};

export class Testee {
  constructor(rtc, control, { log = () => {} } = {}) {
    this.rtc = rtc;
    this.control = control;
    this.log = log;
    this.ua = null;
    this.objects = new Map(); // ids (the object's, its call's, channel's, transfer's) -> wrapper
  }

  send(message) {
    if (this.control.readyState === WebSocket.OPEN) this.control.send(JSON.stringify(message));
  }

  remember(obj, primary = true) {
    if (primary) this.objects.set(obj.id, obj);
    for (const key of [obj.info.callId, obj.info.channelId, obj.info.transferId]) {
      if (key && !this.objects.has(key)) this.objects.set(key, obj);
    }
    return obj;
  }

  tap(target, event, payload) {
    for (const obj of wrappersIn(payload)) this.remember(obj);
    this.send({ type: "event", target, event, payload: jsonable(payload) });
  }

  find(id, ...classes) {
    const obj = typeof id === "string" ? this.objects.get(id) : undefined;
    if (!obj || (classes.length && !classes.includes(obj.info.class)))
      throw new CommandError(`no ${classes.join(" or ") || "object"} ${JSON.stringify(id)}`);
    return obj;
  }

  get session() {
    if (!this.ua || !this.ua.session) throw new CommandError("not registered");
    return this.ua.session;
  }

  async do(name, args) {
    const handler = this[`cmd_${name}`];
    if (typeof handler !== "function") throw new CommandError(`unknown command ${JSON.stringify(name)}`);
    return await handler.call(this, args);
  }

  // --- the commands -----------------------------------------------------------------------
  async cmd_register(args) {
    if (this.ua) throw new CommandError("already registered");
    const config = {
      retry: { initial: 0.2, maximum: 1.0, max_elapsed: 30.0 },
      calls: { ice_disconnection_timeout: 5.0, connect_timeout: 30.0 },
    };
    for (const key of ["keepalive_interval", "keepalive_timeout"])
      if (key in args) config[key] = Number(args[key]);
    const ua = new this.rtc.UserAgent(String(args.user), {
      device: String(args.device ?? "default"), config, log: this.log,
      media: (options) => new StubMedia(options),
    });
    ua.onAny((t, e, p) => this.tap(t, e, p));
    this.ua = ua;
    try {
      await ua.register(String(args.url), 10000);
    } catch (err) {
      this.ua = null;
      ua.close();
      throw err;
    }
    return {};
  }

  async cmd_unregister() {
    const ua = this.ua;
    this.ua = null;
    if (!ua || !ua.session) throw new CommandError("not registered");
    ua.unregister();
    return {};
  }

  async cmd_reset() {
    const ua = this.ua;
    this.ua = null;
    ua?.close();
    this.objects.clear();
    return {};
  }

  async cmd_call(args) {
    const call = this.session.getContact(String(args.contact)).call({ callType: String(args.call_type ?? "media") });
    this.remember(call);
    return { call_id: call.id };
  }

  async cmd_accept(args) {
    const call = this.find(args.call_id, "ReceivedCallInvitation").accept();
    this.remember(call);
    return { call_id: call.id };
  }

  async cmd_decline(args) { this.find(args.call_id, "ReceivedCallInvitation").decline(); return {}; }

  async cmd_hangup(args) { this.find(args.call_id, "Call").hangUp(); return {}; }

  async cmd_open_channel(args) {
    const channel = this.session.getContact(String(args.contact)).startDataChannel(String(args.label ?? "data"));
    this.remember(channel);
    return { channel_id: channel.id };
  }

  async cmd_accept_channel(args) {
    const channel = this.find(args.channel_id, "ReceivedDataChannelInvitation").accept();
    this.remember(channel);
    return { channel_id: channel.id };
  }

  async cmd_close_channel(args) { this.find(args.channel_id, "DataChannel").close(); return {}; }

  async cmd_send_file(args) {
    const size = Number(args.size ?? 1024);
    const name = String(args.name ?? "file.bin");
    const sent = this.session.getContact(String(args.contact)).sendFile({ name, type: "" }, new Uint8Array(size));
    this.remember(sent);
    return { transfer_id: sent.id };
  }

  async cmd_accept_file(args) {
    const done = this.find(args.transfer_id, "ReceivedFileTransferInvitation").accept();
    done.catch((err) => this.log(`file ${args.transfer_id}: ${err.message}`));
    return {};
  }

  async cmd_decline_file(args) { this.find(args.transfer_id, "ReceivedFileTransferInvitation").decline(); return {}; }

  async cmd_cancel_file(args) { this.find(args.transfer_id, SENT_FILE).cancel(); return {}; }

  room(args) { return this.session.getConversation(String(args.room)); }

  async cmd_join_room(args) { this.background(this.room(args).join()); return {}; }

  async cmd_leave_room(args) { this.background(this.room(args).leave()); return {}; }

  async cmd_send_room_message(args) {
    this.background(this.room(args).sendMessage(String(args.text)));
    return {};
  }

  background(request) {
    request.catch((err) => this.log(`a room request failed: ${err.number} ${err.message}`));
  }
}

/** Serve the conformance server at `controlUrl` until it says done; resolves with
 *  {ok, commands} (ok: it said done) or rejects when the control connection fails. */
export async function runTestee(controlUrl, { rtc, name = "rtcstate-browser", log = () => {} } = {}) {
  rtc = rtc ?? await boot({ log });
  const control = new WebSocket(controlUrl);
  const testee = new Testee(rtc, control, { log });
  let commands = 0;
  let chain = Promise.resolve();
  return await new Promise((resolve, reject) => {
    let finished = false;
    const finish = (ok) => {
      if (finished) return;
      finished = true;
      testee.cmd_reset().then(() => resolve({ ok, commands }));
    };
    control.onerror = () => { if (!finished) { finished = true; reject(new Error(`cannot reach ${controlUrl}`)); } };
    control.onopen = () => testee.send({ type: "hello", name, capabilities: CAPABILITIES });
    control.onclose = () => finish(false);
    control.onmessage = (ev) => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch { return; }
      if (msg?.type === "done") { finish(true); control.close(1000); return; }
      if (msg?.type !== "command") return;
      commands += 1;
      chain = chain.then(async () => {
        const reply = { type: "result", id: msg.id };
        try {
          reply.result = await testee.do(String(msg.command), msg.args ?? {});
          reply.ok = true;
        } catch (err) {
          const kind = err instanceof RtcError ? `RtcError ${err.number}` : err.constructor.name;
          reply.ok = false;
          reply.error = `${kind}: ${err.message}`;
        }
        testee.send(reply);
      });
    };
  });
}
