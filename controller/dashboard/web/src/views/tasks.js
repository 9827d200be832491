// Tasks: a filterable list of every task the token sees, and a form to submit one.
import { useMemo, useState } from 'preact/hooks';
import { post } from '../api.js';
import { ErrorLine, StateBadge, VList } from '../components.js';
import { html } from '../html.js';
import { ago } from '../format.js';
import { can, store, useStore } from '../store.js';

export const kTaskStates = ['queued', 'blocked', 'assigned', 'running', 'paused',
  'awaiting_review', 'succeeded', 'failed', 'cancelled', 'rejected'];

function Submit({ projects }) {
  const [project, setProject] = useState(projects[0] || '');
  const [tool, setTool] = useState('shell');
  const [text, setText] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body = { project: project || projects[0], tool };
      if (tool === 'shell') body.command = ['sh', '-c', text];
      else body.prompt = text;
      const t = await post('/v1/tasks', body);
      store.tasks.set(t.id, t);
      store.tasksVersion++;
      store.changed();
      location.hash = `#/tasks/${t.id}`;
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`<form class="submit" onSubmit=${submit} aria-labelledby="submit-title">
    <h2 id="submit-title">Submit a task</h2>
    <label>Project <select value=${project} onChange=${(e) => setProject(e.currentTarget.value)}>
      ${projects.map((p) => html`<option value=${p}>${p}</option>`)}</select></label>
    <label>Tool <select value=${tool} onChange=${(e) => setTool(e.currentTarget.value)}>
      ${['shell', 'claude-code', 'codex'].map((t) => html`<option value=${t}>${t}</option>`)}
    </select></label>
    <label class="grow">${tool === 'shell' ? 'Command (sh -c)' : 'Prompt'}
      <input type="text" required value=${text} onInput=${(e) => setText(e.currentTarget.value)} />
    </label>
    <button type="submit" class="primary" disabled=${busy || !projects.length}>Submit</button>
    <${ErrorLine} error=${error} />
  </form>`;
}

export function Tasks() {
  const s = useStore();
  const [project, setProject] = useState('');
  const [state, setState] = useState('');
  const [text, setText] = useState('');
  const tasks = useMemo(() => {
    const f = text.trim().toLowerCase();
    const out = [];
    for (const t of s.tasks.values()) {
      if (project && t.project !== project) continue;
      if (state && t.state !== state) continue;
      if (f && !`${t.id} ${t.machine_name} ${t.reason} ${t.last_log}`.toLowerCase().includes(f)) {
        continue;
      }
      out.push(t);
    }
    out.sort((a, b) => (a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : 0));
    return out;
  }, [s.tasksVersion, project, state, text]);
  const projects = s.projects.map((p) => p.name);
  const operable = projects.filter((p) => can('operate', p));
  const header = html`<span role="columnheader">Task</span><span role="columnheader">Project</span>
    <span role="columnheader">State</span><span role="columnheader">Machine</span>
    <span role="columnheader">Attempts</span><span role="columnheader">Created</span>
    <span role="columnheader">Last output</span>`;
  const row = (t) => html`<span role="cell"><a href=${`#/tasks/${t.id}`}>${t.id}</a></span>
    <span role="cell">${t.project}</span><span role="cell"><${StateBadge} state=${t.state} /></span>
    <span role="cell">${t.machine_name || '–'}</span><span role="cell">${t.attempts}</span>
    <span role="cell">${ago(t.created_at)}</span>
    <span role="cell" class="clip">${t.last_log || t.reason || ''}</span>`;
  return html`<h1>Tasks</h1>
    ${operable.length ? html`<${Submit} projects=${operable} />` : null}
    <${ErrorLine} error=${s.tasksError} />
    <section aria-labelledby="tasks-title">
      <h2 id="tasks-title">Tasks <span class="count">${tasks.length}</span></h2>
      <div class="filters">
        <label>Project <select value=${project} onChange=${(e) => setProject(e.currentTarget.value)}>
          <option value="">all</option>
          ${projects.map((p) => html`<option value=${p}>${p}</option>`)}</select></label>
        <label>State <select value=${state} onChange=${(e) => setState(e.currentTarget.value)}>
          <option value="">all</option>
          ${kTaskStates.map((x) => html`<option value=${x}>${x}</option>`)}</select></label>
        <label class="grow">Search <input type="search" value=${text}
          onInput=${(e) => setText(e.currentTarget.value)} placeholder="id, machine, output" /></label>
      </div>
      <${VList} label="Tasks" rows=${tasks} row=${row} header=${header}
        columns="1.2fr 0.8fr 0.9fr 0.9fr 0.5fr 0.7fr 2fr" />
    </section>`;
}
