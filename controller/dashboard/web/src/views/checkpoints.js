// Checkpoints: each workspace's evolution tree (parent to child) with its trigger, time, size
// and the machines holding a copy; restore, branch, diff against the parent, export.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { authHeaders, answerError, enc, get, post } from '../api.js';
import { ActionButton, ErrorLine } from '../components.js';
import { html } from '../html.js';
import { bytes, time } from '../format.js';
import { can, store, useStore } from '../store.js';

async function exportArchive(c) {
  const r = await fetch(`/v1/checkpoints/${enc(c.id)}/archive`, { headers: authHeaders() });
  if (!r.ok) throw await answerError(r);
  const url = URL.createObjectURL(await r.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = `${c.id}.tar.zst`;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function Node({ c, children, byParent, machines, project, onMessage, onError, selected }) {
  const act = can('operate', project);
  const [diff, setDiff] = useState(null);
  const names = (c.copies || []).map((id) => (machines.get(id) || {}).name || id);
  const kids = byParent.get(c.id) || [];
  return html`<li role="treeitem" aria-expanded=${kids.length ? 'true' : undefined}
      aria-selected=${selected === c.id ? 'true' : 'false'} id=${`cp-${c.id}`}>
    <div class=${`node${selected === c.id ? ' selected' : ''}`}>
      <code>${c.id}</code> <span class="badge">${c.trigger}</span>
      <span>${time(c.created_at)}</span> <span>${bytes(c.bytes)}</span>
      <span class="muted">${c.files} files · task ${c.task_id || '–'} · on ${names.join(', ') || 'no machine'}</span>
      <span class="acts">
        ${act ? html`<${ActionButton} label="Restore" title=${`Restore ${c.id}?`}
          text="The workspace goes back to this checkpoint (a checkpoint of its current state is taken first)."
          onError=${onError} run=${() => post(`/v1/checkpoints/${enc(c.id)}/restore`).then(
            (r) => onMessage(`Restored ${r.restored} on ${r.machine_id}`))} />
        <${ActionButton} label="Branch" danger=${false} title=${`Branch from ${c.id}?`}
          text="A new task continues from this checkpoint on a machine that lacks it."
          onError=${onError} run=${() => post(`/v1/checkpoints/${enc(c.id)}/branch`).then(
            (r) => onMessage(`Branched: ${JSON.stringify(r)}`))} />` : null}
        ${c.parent ? html`<button type="button" onClick=${() => get(
            `/v1/checkpoints/${enc(c.parent)}/diff?to=${enc(c.id)}`).then(setDiff, onError)}>
          Diff</button>` : null}
        <button type="button" onClick=${() => exportArchive(c).catch(onError)}>Export</button>
      </span>
    </div>
    ${diff ? html`<ul class="diffs" aria-label=${`Changes from ${c.parent}`}>${diff.changes.map(
      (d) => html`<li><span class=${`chg ${d.kind}`}>${d.kind}</span> ${d.path}</li>`)}
      ${diff.truncated ? html`<li>… ${diff.total - diff.changes.length} more</li>` : null}</ul>` : null}
    ${kids.length ? html`<ul role="group">${kids.map((k) => html`<${Node} key=${k.id} c=${k}
      byParent=${byParent} machines=${machines} project=${project} onMessage=${onMessage}
      onError=${onError} selected=${selected} />`)}</ul>` : null}
  </li>`;
}

export function Checkpoints({ selected }) {
  const s = useStore();
  const [list, setList] = useState([]);
  const [error, setError] = useState(null);
  const [message, setMessage] = useState('');
  useEffect(() => {
    get('/v1/checkpoints').then((r) => setList(r.checkpoints.filter((c) => c.kind !== 'machine')),
                                setError);
  }, [s.topics.checkpoint, message]);
  const workspaces = useMemo(() => {
    const ids = new Set(list.map((c) => c.id));
    const byParent = new Map();
    const roots = new Map();  // workspace -> root checkpoints
    for (const c of [...list].sort((a, b) => (a.created_at < b.created_at ? -1 : 1))) {
      if (c.parent && ids.has(c.parent)) {
        if (!byParent.has(c.parent)) byParent.set(c.parent, []);
        byParent.get(c.parent).push(c);
      } else {
        const w = c.workspace || c.task_id || '(unnamed)';
        if (!roots.has(w)) roots.set(w, []);
        roots.get(w).push(c);
      }
    }
    return { byParent, roots: [...roots.entries()] };
  }, [list]);
  const projectOf = (c) => (store.tasks.get(c.task_id) || {}).project;
  return html`<h1>Checkpoints</h1>
    <${ErrorLine} error=${error} />
    ${message ? html`<p class="notice" role="status">${message}</p>` : null}
    ${workspaces.roots.length ? null : html`<p>No checkpoints yet.</p>`}
    ${workspaces.roots.map(([w, roots]) => html`<section class="card" key=${w}>
      <h2>Workspace <code>${w}</code></h2>
      <ul role="tree" aria-label=${`Checkpoints of workspace ${w}`} class="tree">
        ${roots.map((c) => html`<${Node} key=${c.id} c=${c} byParent=${workspaces.byParent}
          machines=${s.machines} project=${projectOf(c)} onMessage=${setMessage}
          onError=${setError} selected=${selected} />`)}
      </ul></section>`)}`;
}
