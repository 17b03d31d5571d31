// A media stub for signaling tests: the media backend's interface without any media.
//
// Theory of operation: the wire conformance suite checks signaling only, and its far side's
// SDPs are opaque strings that a real RTCPeerConnection refuses. StubMedia answers the core's
// media effects as a stack that always succeeds and never connects: local media is "acquired"
// (MediaAcquired with a fresh stream id), an offer or answer becomes LocalDescriptionReady with a
// unique fake SDP and the end of candidates, a remote description is taken silently, a data
// channel never opens. Every report is asynchronous (a macrotask, in order), as a real stack's.
// Everything applied is kept in `applied` (effect kinds) for inspection.

export class StubMedia {
  constructor({ log = () => {} } = {}) {
    this.report = null;
    this.log = log;
    this.applied = [];
    this.described = 0;
    this.streams = 0;
    this.closed = false;
  }

  bind(report, _reportData) {
    this.report = report;
    this.later("Capabilities", { data_channels: true, webrtc: true, restart_ice: false });
  }

  later(kind, fields) {
    setTimeout(() => { if (!this.closed && this.report) this.report(kind, fields); }, 0);
  }

  apply(e) {
    if (this.closed) return;
    this.applied.push(e.k);
    switch (e.k) {
      case "AcquireMedia":
        this.streams += 1;
        return this.later("MediaAcquired",
          { request_id: e.request_id, stream_id: `stub-stream-${this.streams}`, audio: e.audio, video: e.video });
      case "CreateOffer":
      case "CreateAnswer": {
        this.described += 1;
        const type = e.k === "CreateOffer" ? "offer" : "answer";
        this.later("LocalDescriptionReady",
          { call_id: e.call_id, sdp_type: type, sdp: `v=0 browser-stub ${e.call_id} ${type} ${this.described}` });
        return this.later("IceCandidateFound", { call_id: e.call_id, candidate: "" });
      }
      case "StartRecording":
        return this.later("RecordingReport", { call_id: e.call_id, status: "failed", info: { error: "no media" } });
      default: return; // taken: nothing to report
    }
  }

  async frames() { return { sent: { audio: 0, video: 0 }, received: { audio: 0, video: 0 } }; }

  close() { this.closed = true; }
}
