// Emitter: the on / off / once / fire of every object of the page's apiRTC-shaped API.

export class Emitter {
  constructor() { this.handlers = new Map(); }
  on(event, fn) {
    if (!this.handlers.has(event)) this.handlers.set(event, []);
    this.handlers.get(event).push(fn);
    return this;
  }
  off(event, fn) {
    const list = this.handlers.get(event) ?? [];
    this.handlers.set(event, fn ? list.filter((f) => f !== fn) : []);
    return this;
  }
  once(event, timeoutMs = 30000) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.off(event, fn); reject(new Error(`no ${event} in ${timeoutMs} ms`)); }, timeoutMs);
      const fn = (payload) => { clearTimeout(timer); this.off(event, fn); resolve(payload); };
      this.on(event, fn);
    });
  }
  fire(event, payload) {
    for (const fn of [...(this.handlers.get(event) ?? [])]) fn(payload);
  }
}
