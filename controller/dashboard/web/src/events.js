// The controller's event stream (GET /v1/events), followed for as long as the page is open:
// resumed after the last event id when it ends, drops or fails, with a growing pause between
// tries. Listeners get each event's JSON ({id, at, kind, project, object, machine, data}).
import { session } from './api.js';
import { readSse } from './sse.js';

export class EventStream {
  constructor() {
    this.lastId = null;
    this.listeners = new Set();
    this.statusListeners = new Set();
    this.status = { state: 'connecting', message: '' };
    this.abort = null;
    this.stopped = true;
  }

  on(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  onStatus(fn) {
    this.statusListeners.add(fn);
    return () => this.statusListeners.delete(fn);
  }

  setStatus(state, message = '') {
    this.status = { state, message };
    for (const fn of this.statusListeners) fn(this.status);
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.loop();
  }

  stop() {
    this.stopped = true;
    if (this.abort) this.abort.abort();
  }

  async loop() {
    let pause = 500;
    while (!this.stopped) {
      this.abort = new AbortController();
      const since = this.lastId !== null ? `?since=${encodeURIComponent(this.lastId)}` : '';
      try {
        await readSse(`/v1/events${since}`, {
          signal: this.abort.signal,
          onOpen: () => {
            pause = 500;
            this.setStatus('live');
          },
          onEvent: (ev) => this.deliver(ev),
        });
        this.setStatus('connecting', 'the stream ended; resuming');
      } catch (e) {
        if (this.stopped) return;
        this.setStatus('down', e.status === 404 ? 'this controller has no event stream'
                                                : e.message || String(e));
        if (e.status === 401) {
          // The token was revoked or expired: back to the sign-in page.
          session.signOut();
          window.location.reload();
          return;
        }
      }
      await new Promise((r) => setTimeout(r, pause));
      pause = Math.min(pause * 2, 10000);
    }
  }

  deliver(ev) {
    let body = null;
    try {
      body = JSON.parse(ev.data);
    } catch (_) {
      return;
    }
    if (ev.event === 'open') {
      // Where the stream starts: resume from here when it breaks. A reset (the controller's
      // database is older than what this page saw) reloads everything.
      if (this.lastId === null || body.reset) this.lastId = String(body.last_id);
      if (body.reset) for (const fn of this.listeners) fn({ kind: 'reset' });
      return;
    }
    if (ev.event === 'dropped') {
      // Too far behind: the controller ended the stream; the loop resumes after last_id.
      if (body && body.last_id !== undefined) this.lastId = String(body.last_id);
      return;
    }
    if (ev.id !== null) this.lastId = ev.id;
    for (const fn of this.listeners) fn(body);
  }
}

export const events = new EventStream();
