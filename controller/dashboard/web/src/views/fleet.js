// Fleet: machines with their state, pool, labels, tools and resources, the tasks each runs,
// and pools against their min and max; spawn, drain and terminate (admins).
import { useEffect, useMemo, useState } from 'preact/hooks';
import { enc, post, del } from '../api.js';
import { ActionButton, ErrorLine, Refused, StateBadge, VList } from '../components.js';
import { html } from '../html.js';
import { bytes, labels } from '../format.js';
import { can, store, useStore } from '../store.js';

function Pools({ onError }) {
  const s = useStore();
  if (s.pools.length === 0) return null;
  const admin = can('admin');
  return html`<section aria-labelledby="pools-title">
    <h2 id="pools-title">Pools</h2>
    <table class="grid">
      <thead><tr><th>Pool</th><th>Backend</th><th>Machines</th><th>Starting</th><th>Min</th>
        <th>Max</th><th>Last error</th>${admin ? html`<th>Actions</th>` : null}</tr></thead>
      <tbody>${s.pools.map((p) => html`<tr key=${p.name}>
        <td>${p.name}</td><td>${p.backend}</td>
        <td><meter min="0" max=${Math.max(p.max, 1)} value=${p.machines}
            aria-label=${`${p.name}: ${p.machines} of at most ${p.max}`}></meter>
          ${' '}${p.machines}</td>
        <td>${p.starting}</td><td>${p.min}</td><td>${p.max}</td>
        <td class="wrap">${p.last_error || ''}</td>
        ${admin ? html`<td><${ActionButton} label="Spawn" danger=${false}
            title=${`Spawn a machine in pool ${p.name}?`}
            text=${`A new ${p.backend} machine joins pool ${p.name}.`} onError=${onError}
            run=${() => post('/v1/machines', { pool: p.name }).then(() => store.loadPools())} />
          </td>` : null}
      </tr>`)}</tbody>
    </table>
  </section>`;
}

export function Fleet() {
  const s = useStore();
  const [filter, setFilter] = useState('');
  const [error, setError] = useState(null);
  const admin = can('admin');
  const running = s.runningByMachine();
  const machines = useMemo(() => {
    const f = filter.trim().toLowerCase();
    const all = [...s.machines.values()].sort((a, b) => a.name.localeCompare(b.name));
    if (!f) return all;
    return all.filter((m) => `${m.name} ${m.id} ${m.state} ${m.pool || ''} ${labels(m.labels)} ${
      (m.tools || []).join(' ')}`.toLowerCase().includes(f));
  }, [s.machines, s.tasksVersion, filter, s.machines.size, s.machinesError, s.stream]);
  useEffect(() => {
    // The first machines drawn: what ./scripts/bench.sh dashboard times.
    if (machines.length && !performance.getEntriesByName('av:first-render').length) {
      requestAnimationFrame(() => performance.mark('av:first-render'));
    }
  }, [machines.length > 0]);
  if (s.machinesError) {
    return html`<h1>Fleet</h1><${Refused} error=${s.machinesError} what="the fleet" />`;
  }
  const header = html`<span role="columnheader">Machine</span><span role="columnheader">State</span>
    <span role="columnheader">Pool</span><span role="columnheader">Labels</span>
    <span role="columnheader">Tools</span><span role="columnheader">CPU</span>
    <span role="columnheader">Memory</span><span role="columnheader">Disk free</span>
    <span role="columnheader">Running</span>
    ${admin ? html`<span role="columnheader">Actions</span>` : null}`;
  const row = (m) => {
    const r = m.resources || {};
    return html`<span role="cell" title=${m.id}>${m.name}</span>
      <span role="cell"><${StateBadge} state=${m.state} /></span>
      <span role="cell">${m.pool || '–'}</span>
      <span role="cell" class="clip">${labels(m.labels)}</span>
      <span role="cell" class="clip">${(m.tools || []).join(', ')}</span>
      <span role="cell">${r.cpu_cores ?? '–'} cores, load ${r.load1 ?? '–'}</span>
      <span role="cell">${bytes(r.mem_used_bytes)} / ${bytes(r.mem_total_bytes)}</span>
      <span role="cell">${bytes(r.disk_free_bytes)} / ${bytes(r.disk_total_bytes)}</span>
      <span role="cell">${running.get(m.id) || 0}</span>
      ${admin ? html`<span role="cell" class="acts">
        <${ActionButton} label="Drain" title=${`Drain ${m.name}?`} onError=${setError}
          text=${`${m.name} takes no new tasks and leaves once its tasks end.`}
          run=${() => post(`/v1/machines/${enc(m.id)}/drain`).then(() => store.refreshOne('machine', m.id))} />
        <${ActionButton} label="Terminate" title=${`Terminate ${m.name}?`} onError=${setError}
          text=${`${m.name} is shut down now; its running tasks go back to the queue.`}
          run=${() => del(`/v1/machines/${enc(m.id)}`).then(() => store.refreshOne('machine', m.id))} />
      </span>` : null}`;
  };
  return html`<h1>Fleet</h1>
    <${ErrorLine} error=${error} />
    <${Pools} onError=${setError} />
    <section aria-labelledby="machines-title">
      <h2 id="machines-title">Machines <span class="count">${machines.length}</span></h2>
      <label class="filter">Filter machines
        <input type="search" value=${filter} onInput=${(e) => setFilter(e.currentTarget.value)}
               placeholder="name, state, pool, label, tool" /></label>
      <${VList} label="Machines" rows=${machines} row=${row} header=${header}
        columns=${`1.3fr 0.8fr 0.7fr 1.2fr 1fr 1fr 1.1fr 1.1fr 0.5fr${admin ? " 1.3fr" : ""}`}
        key=${admin ? 'a' : 'v'} />
    </section>`;
}
