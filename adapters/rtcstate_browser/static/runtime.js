// The browser runtime: carries out one core session's effects (the Python Bridge, under Pyodide)
// on the page's WebSocket, setTimeout and the media backend, and feeds every report back.
//
// Theory of operation: like rtcstate_asyncio's Runtime. Reports from the world (a frame, the
// socket opening or closing, a timer expiring, a media report) are queued as inputs; commands
// go to the core at once (a misuse throws the core's error, nothing changes). One drain loop
// carries out effects strictly in order and feeds the next input only when every effect before
// it is done. No protocol decision is taken here: every `if` about a call is the core's.
// A conversation request's outcome (the core's Resolve / Reject, naming the request's id)
// settles the promise `expect(requestId)` returned. A socket the relay closes with 1012 (it is
// draining) is reported as moved: the core goes to the next relay at once.

export class RtcError extends Error {
  constructor(error) {
    super(error.message);
    this.name = error.name;
    this.number = error.number;
  }
}

const now = () => performance.now() / 1000;

/** The websocket close code of a relay that drains (rtcstate.codes.CloseCode.DRAINING). */
export const DRAINING = 1012;

/** A conversation request failed: `number` is the apiRTC error number, `command` the request,
 *  `version` the persistent data's current version when a compare-and-set lost. */
export class ConversationError extends Error {
  constructor(reject) {
    super(reject.info || reject.command);
    this.name = "ConversationError";
    this.number = reject.code;
    this.command = reject.command;
    this.version = reject.version ?? null;
  }
}

export class Runtime {
  constructor(bridge, { onEmit, media, log = () => {} }) {
    this.bridge = bridge;
    this.onEmit = onEmit;
    this.media = media;
    this.log = log;
    this.effects = [];
    this.inputs = [];
    this.draining = false;
    this.timers = new Map(); // timer id -> {deadline, seq (start order), handle}
    this.timerSeq = 0;
    this.ws = null;
    this.sources = new Map(); // transfer id -> Uint8Array of the file we send
    this.sinks = new Map(); // transfer id -> (offset, Uint8Array) => void
    this.closed = false;
    this.pending = new Map(); // conversation request id -> {resolve, reject}
    this.early = new Map(); // outcomes that came before their promise (same drain)
  }

  // --- the core's JSON, with bytes as blobs -------------------------------------------------
  parse(text) {
    const proxy = this.bridge.blobs;
    const blobs = proxy.length ? proxy.toJs() : [];
    proxy.destroy?.();
    return JSON.parse(text, (_k, v) =>
      v && typeof v === "object" && "$blob" in v ? blobs[v.$blob] : v);
  }

  // --- commands: at once, errors thrown -----------------------------------------------------
  command(name, args = {}) {
    const answer = this.parse(this.bridge.command(name, JSON.stringify(args), now()));
    if (answer.error) throw new RtcError(answer.error);
    this.execute(answer.effects);
    return answer.result;
  }

  // --- conversation requests: a promise per request id, settled by Resolve / Reject ---------
  expect(requestId) {
    if (!requestId) return Promise.resolve(null);
    const promise = new Promise((resolve, reject) => {
      const early = this.early.get(requestId);
      this.early.delete(requestId);
      if (early) this.settleWith({ resolve, reject }, early);
      else this.pending.set(requestId, { resolve, reject });
    });
    promise.catch(() => {}); // a request nobody awaits (fire and forget) is no page error
    return promise;
  }

  settle(e) {
    const waiter = this.pending.get(e.request_id);
    if (!waiter) {
      this.early.set(e.request_id, e);
      if (this.early.size > 256) this.early.delete(this.early.keys().next().value);
      return;
    }
    this.pending.delete(e.request_id);
    this.settleWith(waiter, e);
  }

  settleWith({ resolve, reject }, e) {
    if (e.k === "Resolve") resolve(e.value ?? null);
    else reject(new ConversationError(e));
  }

  // --- reports: queued, fed in order --------------------------------------------------------
  report(fn) {
    if (this.closed) return;
    this.inputs.push(fn);
    if (!this.draining) this.drain();
  }

  mediaReport(kind, fields) {
    this.report((t) => this.bridge.media_event(kind, JSON.stringify(fields), t));
  }

  execute(effects) {
    this.effects.push(...effects);
    if (!this.draining) this.drain();
  }

  drain() {
    this.draining = true;
    try {
      while (!this.closed) {
        if (this.effects.length) {
          const e = this.effects.shift();
          try { this.apply(e); } catch (err) { this.log("carrying out " + e.k + " failed: " + err); }
        } else if (this.inputs.length) {
          const fn = this.inputs.shift();
          try { this.effects.push(...this.parse(fn(now()))); }
          catch (err) { this.log("the core raised on an input (a core bug): " + err); }
        } else break;
      }
    } finally {
      this.draining = false;
    }
  }

  apply(e) {
    switch (e.k) {
      case "Send":
        if (this.ws && this.ws.readyState === WebSocket.OPEN && !this.ws.closing) this.ws.send(e.data);
        return;
      case "Emit":
        try { this.onEmit(e.target, e.event, e.payload); }
        catch (err) { this.log(`a handler of ${e.target} ${e.event} raised: ${err}`); }
        return;
      case "StartTimer": {
        this.cancelTimer(e.timer_id);
        this.timerSeq += 1;
        this.arm(e.timer_id, { deadline: e.deadline, seq: this.timerSeq, handle: null });
        return;
      }
      case "CancelTimer": this.cancelTimer(e.timer_id); return;
      case "OpenTransport": this.open(e.url); return;
      case "CloseTransport": this.closeTransport(); return;
      case "NeedData": this.report((t) => this.feed(e, t)); return;
      case "ReceivedData": this.sinks.get(e.transfer)?.(e.offset, e.data); return;
      case "Resolve": case "Reject": this.settle(e); return;
      default: this.media.apply(e);
    }
  }

  feed(need, t) {
    const file = this.sources.get(need.transfer);
    if (!file) return this.bridge.feed(need.transfer, need.offset, new Uint8Array(0), t);
    const piece = file.subarray(need.offset, need.offset + need.size);
    return this.bridge.feed(need.transfer, need.offset, piece, t);
  }

  // Timers: setTimeout may fire a fraction of a millisecond early, and two timers with the same
  // deadline in either order. So a timer is due only once its deadline has passed, and every
  // due timer is fed in the order of (deadline, start): a keep-alive ping and the pong timeout
  // of the ping before it, both due at one instant, reach the core pong timeout first. A timer
  // cancelled or restarted after it was queued is not fed.
  arm(id, timer) {
    const delay = Math.max(0, Math.ceil(timer.deadline * 1000 - performance.now()));
    timer.handle = setTimeout(() => this.timersDue(id, timer), delay);
    this.timers.set(id, timer);
  }

  timersDue(woken, wokenTimer) {
    const t = now();
    const due = [...this.timers].filter(([, timer]) => timer.deadline <= t);
    due.sort(([, a], [, b]) => a.deadline - b.deadline || a.seq - b.seq);
    for (const [id, timer] of due) {
      if (timer.handle !== null) clearTimeout(timer.handle);
      timer.handle = null; // still armed until fed
      this.report((at) => {
        if (this.timers.get(id) !== timer) return "[]"; // cancelled or restarted meanwhile
        this.timers.delete(id);
        return this.bridge.timer_fired(id, at);
      });
    }
    if (this.timers.get(woken) === wokenTimer && wokenTimer.deadline > t)
      this.arm(woken, wokenTimer); // woken early: wait for the rest
  }

  cancelTimer(id) {
    const timer = this.timers.get(id);
    if (timer !== undefined) { if (timer.handle !== null) clearTimeout(timer.handle); this.timers.delete(id); }
  }

  // --- the transport --------------------------------------------------------------------------
  open(url) {
    this.closeTransport();
    const ws = new WebSocket(url);
    this.ws = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      if (this.ws === ws) this.report((t) => this.bridge.connection_made(t));
    };
    ws.onmessage = (ev) => {
      if (this.ws === ws) this.report((t) => this.bridge.receive(ev.data, t));
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws || ws.closing) return;
      this.ws = null;
      const reason = `closed ${ev.code} ${ev.reason}`.trim();
      if (opened && ev.code === DRAINING) this.report((t) => this.bridge.connection_moved(t, reason));
      else if (opened) this.report((t) => this.bridge.connection_lost(t, reason));
      else this.report((t) => this.bridge.connection_failed(t, reason));
    };
  }

  closeTransport() {
    const ws = this.ws;
    this.ws = null;
    if (ws) { ws.closing = true; ws.close(1000); }
  }

  close() {
    this.closed = true;
    for (const { reject } of this.pending.values())
      reject(new ConversationError({ code: 2, command: "abandoned", info: "the session closed" }));
    this.pending.clear();
    for (const timer of this.timers.values()) if (timer.handle !== null) clearTimeout(timer.handle);
    this.timers.clear();
    this.closeTransport();
    this.media.close();
  }
}
