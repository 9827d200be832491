// What the views show, kept up to date from the event stream: the whole fleet and task list
// are loaded once, then each event refreshes only the object it names (batched), so 10,000
// tasks cost one load and a few small requests per second. Without a stream (a controller
// without /v1/events, or while it reconnects) the lists are polled instead.
import { useEffect, useState } from 'preact/hooks';
import { ApiError, enc, get } from './api.js';
import { events } from './events.js';

const kFlushMs = 200;
const kPollMs = 5000;
const kRecentEvents = 2000;
// More objects than this changed at once: reload the whole list.
const kReloadOver = 100;

class Store {
  constructor() {
    this.whoami = null;
    this.machines = new Map();
    this.machinesError = null;
    this.pools = [];
    this.tasks = new Map();
    this.tasksError = null;
    this.tasksVersion = 0;
    this.projects = [];
    this.recent = [];  // the latest events, newest last
    this.topics = { budget: 0, checkpoint: 0 };
    this.stream = events.status;
    this.listeners = new Set();
    this.pendingMachines = new Set();
    this.pendingTasks = new Set();
    this.pendingTopics = new Set();
    this.flushTimer = null;
    this.notifyQueued = false;
    this.pollTimer = null;
  }

  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  // Views redraw at most once a frame, however many updates arrive.
  changed() {
    if (this.notifyQueued) return;
    this.notifyQueued = true;
    requestAnimationFrame(() => {
      this.notifyQueued = false;
      for (const fn of this.listeners) fn();
    });
  }

  // Scoped tokens see only their projects; `projects` empty means every project.
  scoped() {
    return this.whoami && this.whoami.projects && this.whoami.projects.length > 0;
  }

  async start(whoami) {
    this.whoami = whoami;
    events.on((ev) => this.onEvent(ev));
    events.onStatus((s) => {
      this.stream = s;
      this.changed();
    });
    events.start();
    this.pollTimer = setInterval(() => {
      if (this.stream.state !== 'live') this.reloadAll();
    }, kPollMs);
    await this.reloadAll();
    // Everything loaded and drawn: what ./scripts/bench.sh dashboard times.
    requestAnimationFrame(() => setTimeout(() => performance.mark('av:interactive')));
  }

  stop() {
    events.stop();
    clearInterval(this.pollTimer);
  }

  reloadAll() {
    return Promise.all([this.loadMachines(), this.loadPools(), this.loadTasks(),
                        this.loadProjects()]);
  }

  async loadMachines() {
    try {
      const r = await get('/v1/machines');
      this.machines = new Map(r.machines.map((m) => [m.id, m]));
      this.machinesError = null;
    } catch (e) {
      this.machinesError = e;
    }
    this.changed();
  }

  async loadPools() {
    try {
      this.pools = (await get('/v1/pools')).pools;
    } catch (_) {
      this.pools = [];
    }
    this.changed();
  }

  async loadTasks() {
    try {
      const r = await get('/v1/tasks?limit=100000');
      this.tasks = new Map(r.tasks.map((t) => [t.id, t]));
      this.tasksError = null;
    } catch (e) {
      this.tasksError = e;
    }
    this.tasksVersion++;
    this.changed();
  }

  async loadProjects() {
    try {
      this.projects = (await get('/v1/projects')).projects;
    } catch (_) { /* shown by the views that need them */ }
    this.changed();
  }

  onEvent(ev) {
    this.recent.push(ev);
    if (this.recent.length > kRecentEvents) this.recent.splice(0, this.recent.length - kRecentEvents);
    const kind = ev.kind || '';
    if (kind === 'reset') {
      this.reloadAll();
      return;
    }
    if (kind.startsWith('machine.') && ev.object) this.pendingMachines.add(ev.object);
    if (kind.startsWith('task.') && ev.object) this.pendingTasks.add(ev.object);
    // Views that reload on a topic do so once per flush, however many events came.
    if (kind === 'task.submitted' || kind.startsWith('budget.')) this.pendingTopics.add('budget');
    if (kind.startsWith('checkpoint.')) this.pendingTopics.add('checkpoint');
    if (!this.flushTimer) this.flushTimer = setTimeout(() => this.flush(), kFlushMs);
    this.changed();
  }

  async flush() {
    this.flushTimer = null;
    const machines = [...this.pendingMachines];
    const tasks = [...this.pendingTasks];
    this.pendingMachines.clear();
    this.pendingTasks.clear();
    for (const topic of this.pendingTopics) this.topics[topic]++;
    this.pendingTopics.clear();
    const work = [];
    if (machines.length > kReloadOver) work.push(this.loadMachines());
    else for (const id of machines) work.push(this.refreshOne('machine', id));
    if (machines.length) work.push(this.loadPools());
    if (tasks.length > kReloadOver) work.push(this.loadTasks());
    else for (const id of tasks) work.push(this.refreshOne('task', id));
    if (machines.length || tasks.length) work.push(this.loadProjects());
    await Promise.all(work);
  }

  async refreshOne(what, id) {
    const map = what === 'machine' ? this.machines : this.tasks;
    try {
      const o = await get(`/v1/${what}s/${enc(id)}`);
      map.set(o.id, o);
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) map.delete(id);
    }
    if (what === 'task') this.tasksVersion++;
    this.changed();
  }

  // Running tasks by machine id.
  runningByMachine() {
    const out = new Map();
    for (const t of this.tasks.values()) {
      if (t.state !== 'running' || !t.machine_id) continue;
      out.set(t.machine_id, (out.get(t.machine_id) || 0) + 1);
    }
    return out;
  }
}

export const store = new Store();

// Redraws the calling component whenever the store changes.
export function useStore() {
  const [, setTick] = useState(0);
  useEffect(() => store.subscribe(() => setTick((n) => n + 1)), []);
  return store;
}

// Whether the signed-in token may do `need` ("operate" or "admin") on `project`.
export function can(need, project) {
  const w = store.whoami;
  if (!w) return false;
  const rank = { viewer: 0, operator: 1, admin: 2 }[w.role] ?? 0;
  const scoped = w.projects && w.projects.length > 0;
  if (need === 'admin') return rank >= 2 && !scoped;
  if (rank < 1) return false;
  return !scoped || project === undefined || w.projects.includes(project);
}
