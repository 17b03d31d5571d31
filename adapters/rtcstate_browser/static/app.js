// The page: register, who is online, call with camera and microphone, answer, chat over a data
// channel, send a file with a progress bar, hang up, every apiRTC event in the log pane.
// It uses only the apiRTC-shaped API of rtcstate.js; `window.rtcstatePage` exposes it to tests.

import { boot } from "./rtcstate.js";

const $ = (id) => document.getElementById(id);
const page = { events: [], ua: null, session: null, call: null, chat: null, peer: null, received: [] };
window.rtcstatePage = page;

function log(text, cls = "") {
  const li = document.createElement("li");
  li.textContent = `${(performance.now() / 1000).toFixed(2)} ${text}`;
  if (cls) li.className = cls;
  $("log").append(li);
  $("log").scrollTop = $("log").scrollHeight;
}

function brief(payload) {
  if (payload === null || payload === undefined) return "";
  if (typeof payload !== "object") return String(payload);
  const keys = ["status", "from", "reason", "type", "errorCode", "streamId", "label", "data", "sha256"];
  const shown = Object.fromEntries(keys.filter((k) => k in payload).map((k) => [k, payload[k]]));
  if (payload.transferInformation) shown.percentage = payload.transferInformation.percentage;
  if (payload.id && payload.session) shown.id = payload.id.slice(0, 13);
  return JSON.stringify(shown).slice(0, 120);
}

function say(who, text) {
  const p = document.createElement("div");
  p.textContent = `${who}: ${text}`;
  $("messages").append(p);
  $("messages").scrollTop = $("messages").scrollHeight;
}

function refreshContacts() {
  const session = page.session;
  const list = $("contacts");
  list.replaceChildren();
  const others = session.getOnlineContacts().filter((c) => c.id !== page.ua.id);
  if (!others.length) list.innerHTML = '<li class="muted">nobody else yet</li>';
  for (const contact of others) {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.textContent = "Call";
    button.onclick = () => startCall(contact.id);
    li.append(contact.id, button);
    list.append(li);
  }
}

function setCall(call, peer) {
  page.call = call;
  page.peer = peer;
  $("remote-name").textContent = peer;
  $("call-state").textContent = `call with ${peer}`;
  $("hangup").disabled = false;
  $("file-input").disabled = $("file-send").disabled = false;
  call.on("accepted", () => {
    $("call-state").textContent = `in a call with ${peer}`;
    if (call.info.outgoing) openChat(peer);
  });
  call.on("hangup", (info) => {
    $("call-state").textContent = `call ended (${info?.reason ?? ""})`;
    $("hangup").disabled = true;
    $("remote").srcObject = null;
    $("local").srcObject = null;
    if (page.call === call) page.call = null;
    page.chat?.status !== "closed" && page.chat?.close?.();
  });
}

function startCall(peer) {
  const call = page.session.getContact(peer).call();
  setCall(call, peer);
  return call;
}

function openChat(peer) {
  bindChat(page.session.getContact(peer).startDataChannel("chat"));
}

function bindChat(channel) {
  page.chat = channel;
  channel.on("opened", () => { $("chat-input").disabled = $("chat-send").disabled = false; });
  channel.on("dataReceived", (info) => say(channel.info.contact, info.data));
  channel.on("ended", () => { $("chat-input").disabled = $("chat-send").disabled = true; channel.status = "closed"; });
}

function sendFile(name, type, bytes) {
  const contact = page.session.getContact(page.peer);
  $("file-state").textContent = `sending ${name}`;
  const sent = contact.sendFile({ name, type }, bytes);
  sent.done(300000).then(
    () => { $("file-state").textContent = `${name} sent`; $("file-progress").value = 100; },
    (err) => { $("file-state").textContent = `failed: ${err.message}`; });
  return sent;
}

/** Register as `name`; `urls`: the relays (a list: the others are where the session moves
 *  when one is lost or drains), `config`: session settings (the UserAgent's). */
async function register(name, callOptions = {}, { urls, config = {} } = {}) {
  page.ua = new page.rtc.UserAgent(name, {
    callOptions, config,
    onLocalStream: (_id, stream) => { $("local").srcObject = stream; },
    onRemoteStream: (_id, stream) => { $("remote").srcObject = stream; },
  });
  page.ua.onAny((target, event, payload) => {
    page.events.push({ target, event, payload: typeof payload === "object" && payload && !payload.session ? payload : String(payload) });
    if (event === "fileTransferProgress" || event === "progress") {
      const info = payload?.transferInformation ?? payload;
      if (info?.percentage !== undefined) $("file-progress").value = info.percentage;
      if (page.events.length % 20) return;
    }
    log(`${target.split("-")[0].slice(0, 24)} ${event} ${brief(payload)}`);
  });
  const session = await page.ua.register(urls);
  page.session = session;
  $("status").textContent = `registered as ${name}`;
  session.on("contactListUpdate", refreshContacts);
  session.on("incomingCall", (invitation) => {
    page.invitation = invitation;
    if (page.autoAnswer) return page.autoAnswer(invitation);
    $("incoming-from").textContent = invitation.info.sender;
    $("incoming").hidden = false;
  });
  session.on("dataChannelInvitation", (invitation) => bindChat(invitation.accept()));
  session.on("fileTransferInvitation", async (invitation) => {
    $("file-state").textContent = `receiving ${invitation.info.fileInfo.name}`;
    invitation.on("progress", (info) => { $("file-progress").value = info?.percentage ?? 0; });
    const file = await invitation.accept();
    page.received.push(file);
    $("file-progress").value = 100;
    $("file-state").textContent = `${file.name}: ${file.size} bytes, sha256 ${file.sha256.slice(0, 12)}…`;
  });
  refreshContacts();
  return session;
}

$("register").onsubmit = (ev) => {
  ev.preventDefault();
  $("register-btn").disabled = true;
  register($("name").value).catch((err) => { $("status").textContent = `registration failed: ${err.message}`; $("register-btn").disabled = false; });
};
$("answer").onclick = () => {
  $("incoming").hidden = true;
  const invitation = page.invitation;
  setCall(invitation.accept(), invitation.info.sender);
};
$("decline").onclick = () => { $("incoming").hidden = true; page.invitation.decline(); };
$("hangup").onclick = () => page.call?.hangUp();
$("chat-form").onsubmit = (ev) => {
  ev.preventDefault();
  const text = $("chat-input").value;
  if (!text || !page.chat) return;
  page.chat.sendData(text);
  say("me", text);
  $("chat-input").value = "";
};
$("file-send").onclick = async () => {
  const file = $("file-input").files[0];
  if (file && page.peer) sendFile(file.name, file.type, new Uint8Array(await file.arrayBuffer()));
};

Object.assign(page, { register, startCall, setCall, openChat, sendFile, say });
boot({ log }).then((rtc) => {
  page.rtc = rtc;
  page.bootMs = rtc.bootMs;
  page.pyodideMs = rtc.pyodideMs;
  $("status").textContent = `core ready in ${(rtc.bootMs / 1000).toFixed(2)} s (Pyodide ${rtc.py.version})`;
  $("register-btn").disabled = false;
  page.ready = true;
}, (err) => { $("status").textContent = `could not start: ${err}`; page.error = String(err); });
