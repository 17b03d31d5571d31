// The browser media backend: the core's media effects on RTCPeerConnection, getUserMedia and
// RTCDataChannel, every browser report sent back as the core's media events (rtcstate.media).
//
// Theory of operation: like rtcstate_aiortc. Local media is acquired for a request id (a call
// asks with its call id) and reported as MediaAcquired; a call's connection sends the stream
// acquired for it (or the one PublishStream named). A call's effects run one after another on
// its own promise chain; a failure becomes a report (DescriptionFailed, IceStateChanged
// "failed", DataChannelClosed), never an exception. Descriptions are signaled once ICE
// gathering is complete (no trickle, as aiortc does), so no IceCandidateFound is reported.
// A media-less (data) call's first offer gets a negotiated, never-used channel (id 1023) so that
// it carries an SCTP section. A data channel's id travels as its `protocol`. Buffered amounts:
// above HIGH bytes queued BufferedAmountHigh, at LOW or below BufferedAmountLow.

const BOOTSTRAP_CHANNEL_ID = 1023;
const HIGH = 1 << 20;
const LOW = 256 << 10;
const ICE = { connecting: "checking", connected: "connected", disconnected: "disconnected", failed: "failed" };
const SCREEN = new Set(["screenSharing", "screenSharingWithAudio"]); // apiRTC CallType values

export class BrowserMedia {
  constructor({ onLocalStream = () => {}, onRemoteStream = () => {}, log = () => {} } = {}) {
    this.report = null; // (kind, fields) => void, set by bind()
    this.reportData = null; // (channelId, data) => void
    this.onLocalStream = onLocalStream;
    this.onRemoteStream = onRemoteStream;
    this.log = log;
    this.calls = new Map(); // call id -> {pc, chain, streamId, ice, channels:Set}
    this.streams = new Map(); // stream id -> MediaStream
    this.byRequest = new Map(); // request id -> stream id
    this.channels = new Map(); // channel id -> {dc, callId, high}
  }

  bind(report, reportData) {
    this.report = report;
    this.reportData = reportData;
    report("Capabilities", { data_channels: true, webrtc: true, restart_ice: true });
  }

  apply(e) {
    switch (e.k) {
      case "AcquireMedia": return this.acquire(e);
      case "ReleaseMedia": {
        const stream = this.streams.get(e.stream_id);
        this.streams.delete(e.stream_id);
        stream?.getTracks().forEach((t) => t.stop());
        return;
      }
      case "SetTrackEnabled": {
        const call = this.calls.get(e.call_id);
        call?.pc?.getSenders().forEach((s) => { if (s.track?.kind === e.kind) s.track.enabled = e.enabled; });
        return;
      }
      case "StartRecording":
        return queueMicrotask(() => this.report("RecordingReport",
          { call_id: e.call_id, status: "failed", info: { error: "no recording in the browser" } }));
      case "StopRecording": return;
      case "SendData": return this.send(e.channel_id, e.data);
      case "CloseDataChannel": return this.channels.get(e.channel_id)?.dc?.close();
      default: return this.queue(e);
    }
  }

  // --- local media --------------------------------------------------------------------------
  async acquire(e) {
    try {
      const constraints = { audio: e.audio, video: e.video };
      const stream = SCREEN.has(e.call_type)
        ? await navigator.mediaDevices.getDisplayMedia(constraints)
        : await navigator.mediaDevices.getUserMedia(constraints);
      this.streams.set(stream.id, stream);
      this.byRequest.set(e.request_id, stream.id);
      this.onLocalStream(e.request_id, stream);
      this.report("MediaAcquired", { request_id: e.request_id, stream_id: stream.id, audio: e.audio, video: e.video });
    } catch (err) {
      this.report("MediaFailed", { request_id: e.request_id, error: String(err) });
    }
  }

  // --- per call, in order ---------------------------------------------------------------------
  queue(e) {
    let call = this.calls.get(e.call_id);
    if (!call) {
      if (e.k !== "CreatePeerConnection" && e.k !== "PublishStream" && e.k !== "OpenDataChannel") {
        if (["CreateOffer", "CreateAnswer", "SetRemoteDescription"].includes(e.k))
          queueMicrotask(() => this.report("DescriptionFailed",
            { call_id: e.call_id, local: e.k !== "SetRemoteDescription", error: "no peer connection" }));
        return;
      }
      call = { id: e.call_id, pc: null, chain: Promise.resolve(), streamId: null, ice: "new", channels: new Set() };
      this.calls.set(e.call_id, call);
    }
    call.chain = call.chain.then(() => this.carry(call, e)).catch((err) => this.failed(call, e, err));
  }

  failed(call, e, err) {
    this.log(`${e.k} on ${call.id} failed: ${err}`);
    if (e.k === "CreateOffer" || e.k === "CreateAnswer")
      this.report("DescriptionFailed", { call_id: call.id, local: true, error: String(err) });
    else if (e.k === "SetRemoteDescription")
      this.report("DescriptionFailed", { call_id: call.id, local: false, error: String(err) });
    else if (e.k === "OpenDataChannel") this.report("DataChannelClosed", { channel_id: e.channel_id });
    else if (e.k === "CreatePeerConnection") this.report("IceStateChanged", { call_id: call.id, state: "failed" });
  }

  async carry(call, e) {
    switch (e.k) {
      case "CreatePeerConnection": if (!call.pc) call.pc = this.newPc(call); return;
      case "PublishStream": return this.publish(call, e.stream_id);
      case "ClosePeerConnection": {
        this.calls.delete(call.id);
        for (const id of call.channels) this.channels.delete(id);
        call.pc?.close();
        call.pc = null;
        return;
      }
      case "CreateOffer": {
        const pc = call.pc;
        if (!pc.getTransceivers().length && !pc.sctp && !call.bootstrap) {
          call.bootstrap = pc.createDataChannel("rtcstate-sctp", { negotiated: true, id: BOOTSTRAP_CHANNEL_ID });
        }
        await pc.setLocalDescription(await pc.createOffer({ iceRestart: e.ice_restart }));
        if (e.ice_restart) this.restarting(call);
        return this.described(call, "offer");
      }
      case "CreateAnswer":
        await call.pc.setLocalDescription(await call.pc.createAnswer());
        return this.described(call, "answer");
      case "SetRemoteDescription":
        return call.pc.setRemoteDescription({ type: e.sdp_type, sdp: e.sdp });
      case "AddIceCandidate":
        if (!e.candidate || e.candidate.includes(".local")) return;
        return call.pc.addIceCandidate({ candidate: e.candidate, sdpMid: e.sdp_mid, sdpMLineIndex: e.sdp_mline_index });
      case "RestartIce": call.pc?.restartIce(); return;
      case "OpenDataChannel": {
        const dc = call.pc.createDataChannel(e.label, { protocol: e.channel_id, ordered: true });
        return this.attach(call, e.channel_id, dc);
      }
    }
  }

  newPc(call) {
    const pc = new RTCPeerConnection({ iceServers: [] });
    const stream = this.streams.get(call.streamId ?? this.byRequest.get(call.id));
    stream?.getTracks().forEach((t) => pc.addTrack(t, stream));
    pc.onconnectionstatechange = () => {
      const state = ICE[pc.connectionState];
      if (!state || state === call.ice || this.calls.get(call.id) !== call) return;
      call.ice = state;
      this.report("IceStateChanged", { call_id: call.id, state });
    };
    pc.ontrack = (ev) => {
      const track = ev.track;
      const streamId = ev.streams[0]?.id ?? "";
      this.report("TrackAdded", { call_id: call.id, track_id: track.id, kind: track.kind, stream_id: streamId });
      this.onRemoteStream(call.id, ev.streams[0] ?? new MediaStream([track]));
      track.onended = () => this.report("TrackEnded", { call_id: call.id, track_id: track.id, kind: track.kind, remote: true });
    };
    pc.ondatachannel = (ev) => this.attach(call, ev.channel.protocol || ev.channel.label, ev.channel);
    return pc;
  }

  // An ICE restart keeps Chromium's connectionState "connected" while the new credentials are
  // checked: report "checking" when the restart offer is made, and "connected" once a candidate
  // pair of the new generation is selected (or the connection state changes on its own).
  restarting(call) {
    const pc = call.pc;
    const transport = pc.sctp?.transport?.iceTransport
      ?? pc.getTransceivers().find((t) => t.sender.transport)?.sender.transport.iceTransport;
    if (!transport || this.calls.get(call.id) !== call) return;
    call.ice = "checking";
    this.report("IceStateChanged", { call_id: call.id, state: "checking" });
    transport.onselectedcandidatepairchange = () => {
      if (this.calls.get(call.id) !== call || call.ice !== "checking") return;
      if (pc.connectionState !== "connected") return;
      call.ice = "connected";
      this.report("IceStateChanged", { call_id: call.id, state: "connected" });
    };
  }

  publish(call, streamId) {
    call.streamId = streamId;
    const stream = this.streams.get(streamId);
    if (!call.pc || !stream) return;
    for (const sender of call.pc.getSenders()) {
      const track = stream.getTracks().find((t) => t.kind === sender.track?.kind);
      if (track) sender.replaceTrack(track);
    }
  }

  async described(call, type) {
    const pc = call.pc;
    if (pc.iceGatheringState !== "complete") {
      await new Promise((resolve) => {
        const done = () => { if (pc.iceGatheringState === "complete") resolve(); };
        pc.addEventListener("icegatheringstatechange", done);
        setTimeout(resolve, 3000); // signal what was gathered, whatever happens
      });
    }
    this.report("LocalDescriptionReady", { call_id: call.id, sdp_type: type, sdp: pc.localDescription.sdp });
  }

  // --- data channels --------------------------------------------------------------------------
  attach(call, channelId, dc) {
    const channel = { dc, callId: call.id, high: false, opened: false };
    this.channels.set(channelId, channel);
    call.channels.add(channelId);
    dc.binaryType = "arraybuffer";
    dc.bufferedAmountLowThreshold = LOW;
    const current = () => this.channels.get(channelId) === channel;
    // a received channel may be open already and still fire "open": report it once
    const opened = () => {
      if (!current() || channel.opened) return;
      channel.opened = true;
      this.report("DataChannelOpened", { channel_id: channelId });
    };
    dc.onopen = opened;
    dc.onmessage = (ev) => current() && this.reportData(channelId,
      typeof ev.data === "string" ? ev.data : new Uint8Array(ev.data));
    dc.onclose = () => {
      if (!current()) return;
      this.channels.delete(channelId);
      this.report("DataChannelClosed", { channel_id: channelId });
    };
    dc.onbufferedamountlow = () => {
      if (current() && channel.high) {
        channel.high = false;
        this.report("BufferedAmountLow", { channel_id: channelId });
      }
    };
    if (dc.readyState === "open") opened();
  }

  send(channelId, data) {
    const channel = this.channels.get(channelId);
    if (!channel || channel.dc.readyState !== "open") return;
    try {
      channel.dc.send(data);
    } catch (err) {
      this.log(`send on ${channelId} failed: ${err}`);
      return;
    }
    if (!channel.high && channel.dc.bufferedAmount > HIGH) {
      channel.high = true;
      this.report("BufferedAmountHigh", { channel_id: channelId });
    }
  }

  // --- figures for tests and the page ---------------------------------------------------------
  async frames(callId) {
    const pc = this.calls.get(callId)?.pc;
    const out = { sent: { audio: 0, video: 0 }, received: { audio: 0, video: 0 } };
    if (!pc) return out;
    for (const r of (await pc.getStats()).values()) {
      if (r.type === "outbound-rtp") out.sent[r.kind] += r.kind === "video" ? (r.framesEncoded ?? 0) : (r.packetsSent ?? 0);
      if (r.type === "inbound-rtp") out.received[r.kind] += r.kind === "video" ? (r.framesDecoded ?? 0) : (r.packetsReceived ?? 0);
    }
    return out;
  }

  close() {
    for (const call of this.calls.values()) call.pc?.close();
    this.calls.clear();
    for (const stream of this.streams.values()) stream.getTracks().forEach((t) => t.stop());
    this.streams.clear();
  }
}
