// One task: its live log (GET /v1/tasks/{id}/logs?follow=1), state history, cost, turns,
// checkpoints and diff; cancel, resume, approve, reject.
import { useEffect, useRef, useState } from 'preact/hooks';
import { enc, get, post } from '../api.js';
import { ActionButton, ErrorLine, StateBadge } from '../components.js';
import { html } from '../html.js';
import { bytes, time } from '../format.js';
import { readSse } from '../sse.js';
import { can, store, useStore } from '../store.js';

const kMaxLog = 2 << 20;  // characters kept on the page: the tail of a long log

function useLiveLog(id, onState) {
  const [log, setLog] = useState('');
  const [status, setStatus] = useState('connecting');
  useEffect(() => {
    const abort = new AbortController();
    let text = '';
    let queued = false;
    const show = () => {
      queued = false;
      setLog(text);
    };
    setLog('');
    setStatus('connecting');
    readSse(`/v1/tasks/${enc(id)}/logs?follow=1`, {
      signal: abort.signal,
      onOpen: () => setStatus('live'),
      onEvent: (ev) => {
        const data = JSON.parse(ev.data);
        if (ev.event === 'log') {
          text += data.data;
          if (text.length > kMaxLog) text = text.slice(text.length - kMaxLog);
          if (!queued) {
            queued = true;
            requestAnimationFrame(show);
          }
        } else if (ev.event === 'state' || ev.event === 'end') {
          onState(data, ev.event === 'end');
        }
      },
    }).then(() => setStatus('ended'), (e) => !abort.signal.aborted && setStatus(e.message));
    return () => abort.abort();
  }, [id]);
  return [log, status];
}

// The task's recorded state changes (GET /v1/events?task=ID&follow=false), read again whenever
// the task changes.
function useHistory(id, version) {
  const [steps, setSteps] = useState([]);
  useEffect(() => {
    get(`/v1/events?task=${enc(id)}&follow=false`).then((text) => {
      const out = [];
      for (const line of String(text || '').split('\n')) {
        if (!line.startsWith('data: ')) continue;
        const e = JSON.parse(line.slice(6));
        out.push({ state: e.kind.replace(/^task\./, ''), at: e.at, reason: e.data.reason });
      }
      setSteps(out);
    }, () => {});
  }, [id, version]);
  return steps;
}

function History({ steps }) {
  return html`<ol class="history" aria-label="State history">
    ${steps.map((s) => html`<li>${s.state} <time>${time(s.at)}</time>
      ${s.reason ? html` — ${s.reason}` : null}</li>`)}
  </ol>`;
}

function Checkpoints({ id, version }) {
  const [list, setList] = useState([]);
  useEffect(() => {
    get(`/v1/checkpoints?task=${enc(id)}`).then((r) => setList(r.checkpoints), () => {});
  }, [id, version]);
  if (!list.length) return html`<p>No checkpoints yet.</p>`;
  return html`<ul>${list.map((c) => html`<li key=${c.id}>
    <a href=${`#/checkpoints/${c.id}`}>${c.id}</a> ${c.trigger} · ${bytes(c.bytes)} ·
    ${time(c.created_at)}</li>`)}</ul>`;
}

function Diff({ id }) {
  const [text, setText] = useState(null);
  const [error, setError] = useState(null);
  if (text !== null) return html`<pre class="diff" aria-label="Diff">${text || '(no change)'}</pre>`;
  return html`<button type="button" onClick=${() => get(`/v1/tasks/${enc(id)}/diff`).then(
    (d) => setText(typeof d === 'string' ? d : JSON.stringify(d, null, 2)), setError)}>
    Show the diff</button><${ErrorLine} error=${error} />`;
}

function Cost({ task }) {
  const [row, setRow] = useState(null);
  useEffect(() => {
    get(`/v1/usage?project=${enc(task.project)}&group_by=task`).then(
      (r) => setRow((r.rows || r.usage || []).find((x) => x.key === task.id) || null), () => {});
  }, [task.id, task.state]);
  const report = task.report || {};
  return html`<dl class="facts">
    <dt>Cost (metered)</dt><dd>${row ? `$${row.usd}` : '$0'}</dd>
    <dt>API calls</dt><dd>${row ? row.calls : 0}</dd>
    <dt>Tokens</dt><dd>${row ? row.tokens : 0}</dd>
    <dt>Turns</dt><dd>${report.turns ?? 0}</dd>
  </dl>`;
}

export function Task({ id }) {
  const s = useStore();
  const [task, setTask] = useState(s.tasks.get(id) || null);
  const [error, setError] = useState(null);
  const reload = () => get(`/v1/tasks/${enc(id)}`).then(setTask, setError);
  useEffect(() => {
    reload();
  }, [id]);
  const [log, status] = useLiveLog(id, (data, end) => {
    if (end) setTask(data);
    else reload();
  });
  const steps = useHistory(id, task ? `${task.state}/${task.attempts}` : '');
  const logBox = useRef(null);
  useEffect(() => {
    const el = logBox.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [log]);
  if (error) return html`<h1>Task ${id}</h1><${ErrorLine} error=${error} />`;
  if (!task) return html`<h1>Task ${id}</h1><p>Loading…</p>`;
  const act = can('operate', task.project);
  const done = ['succeeded', 'failed', 'cancelled', 'rejected'].includes(task.state);
  const then = (t) => {
    setTask(t);
    store.refreshOne('task', id);
  };
  return html`<h1>Task <code>${task.id}</code> <${StateBadge} state=${task.state} /></h1>
    <p><a href="#/tasks">← all tasks</a> · project ${task.project}
      ${` · machine ${task.machine_name || '–'} · attempts ${task.attempts}`}
      ${task.exit_code !== null ? ` · exit ${task.exit_code}` : ''}
      ${task.reason ? ` · ${task.reason}` : ''}</p>
    ${act ? html`<div class="actions" role="group" aria-label="Task actions">
      ${!done ? html`<${ActionButton} label="Cancel" title=${`Cancel task ${task.id}?`}
        text="Its tool is stopped now." onError=${setError}
        run=${() => post(`/v1/tasks/${enc(id)}/cancel`).then(then)} />` : null}
      ${task.state === 'paused' ? html`<${ActionButton} label="Resume" danger=${false} ask=${false}
        onError=${setError} run=${() => post(`/v1/tasks/${enc(id)}/resume`).then(then)} />` : null}
      ${task.state === 'awaiting_review' ? html`
        <${ActionButton} label="Approve" danger=${false} title="Approve and publish this change?"
          text="The change is published as the task asked." onError=${setError}
          run=${() => post(`/v1/tasks/${enc(id)}/approve`).then(then)} />
        <${ActionButton} label="Reject" title="Reject this change?" text="Nothing is published."
          onError=${setError} run=${() => post(`/v1/tasks/${enc(id)}/reject`).then(then)} />` : null}
    </div>` : null}
    <div class="two">
      <section aria-labelledby="log-title" class="logpane">
        <h2 id="log-title">Log <small class="muted">(${status})</small></h2>
        <pre class="log" ref=${logBox} tabindex="0" aria-label="Task log" aria-live="off">${log}</pre>
      </section>
      <aside>
        <h2>Cost</h2><${Cost} task=${task} />
        <h2>History</h2><${History} steps=${steps} />
        <h2>Checkpoints</h2><${Checkpoints} id=${id} version=${s.topics.checkpoint} />
        ${task.change ? html`<h2>Diff</h2><${Diff} id=${id} />` : null}
      </aside>
    </div>`;
}
