// Events: the controller's live stream, newest first, filtered by kind and project.
import { useMemo, useState } from 'preact/hooks';
import { VList } from '../components.js';
import { html } from '../html.js';
import { time } from '../format.js';
import { useStore } from '../store.js';

export function Events() {
  const s = useStore();
  const [kind, setKind] = useState('');
  const [project, setProject] = useState('');
  const rows = useMemo(() => {
    const k = kind.trim();
    return s.recent.filter((e) => (!k || e.kind === k || (e.kind || '').startsWith(`${k}.`) ||
                                   (e.kind || '').startsWith(k)) &&
                                  (!project || e.project === project)).reverse();
  }, [s.recent.length, s.recent[s.recent.length - 1], kind, project]);
  const header = html`<span role="columnheader">#</span><span role="columnheader">Time</span>
    <span role="columnheader">Kind</span><span role="columnheader">Project</span>
    <span role="columnheader">Object</span><span role="columnheader">Details</span>`;
  const row = (e) => html`<span role="cell">${e.id}</span><span role="cell">${time(e.at)}</span>
    <span role="cell"><span class=${`badge k-${(e.kind || '').split('.')[0]}`}>${e.kind}</span></span>
    <span role="cell">${e.project || '–'}</span><span role="cell">${e.object || ''}</span>
    <span role="cell" class="clip">${e.data ? JSON.stringify(e.data) : ''}</span>`;
  return html`<h1>Events</h1>
    <p class="muted">Stream: ${s.stream.state}${s.stream.message ? ` (${s.stream.message})` : ''}.
      Shows events since this page was opened.</p>
    <div class="filters">
      <label>Kind <input type="search" value=${kind} list="kinds"
        onInput=${(e) => setKind(e.currentTarget.value)} placeholder="task, machine.lost, …" /></label>
      <datalist id="kinds">${['machine', 'task', 'budget', 'checkpoint', 'approval'].map(
        (k) => html`<option value=${k} />`)}</datalist>
      <label>Project <select value=${project} onChange=${(e) => setProject(e.currentTarget.value)}>
        <option value="">all</option>
        ${s.projects.map((p) => html`<option value=${p.name}>${p.name}</option>`)}</select></label>
    </div>
    <${VList} label="Events" rows=${rows} row=${row} header=${header}
      columns="0.4fr 1.1fr 1.1fr 0.8fr 1fr 3fr" />`;
}
