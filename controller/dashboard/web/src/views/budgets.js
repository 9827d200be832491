// Budgets: per project, spent against each limit, a burn chart, the forecast exhaustion time,
// alerts, raising a limit, and the emergency stop (every task of the project is stopped).
import { useEffect, useState } from 'preact/hooks';
import { enc, get, post, put } from '../api.js';
import { ActionButton, ErrorLine } from '../components.js';
import { BurnChart } from '../chart.js';
import { html } from '../html.js';
import { time } from '../format.js';
import { can, store, useStore } from '../store.js';

const kRefreshMs = 5000;
const kBudgetFields = ['resource', 'limit', 'period', 'alert_at', 'on_exhaust'];

// The budget's fields as PUT takes them, with `limit` replaced for `resource`.
function withLimit(budgets, resource, limit) {
  return budgets.map((b) => {
    const out = {};
    for (const k of kBudgetFields) if (b[k] !== undefined) out[k] = b[k];
    if (b.resource === resource) out.limit = resource === 'usd' ? String(limit) : Number(limit);
    return out;
  });
}

function RaiseLimit({ project, usage, budget, onDone, onError }) {
  const [value, setValue] = useState(String(budget.limit));
  const id = `limit-${project}-${budget.resource}`;
  const save = async (e) => {
    e.preventDefault();
    try {
      await put(`/v1/projects/${enc(project)}/budgets`,
                { budgets: withLimit(usage.budgets, budget.resource, value) });
      onDone();
    } catch (err) {
      onError(err);
    }
  };
  return html`<form class="inline" onSubmit=${save}>
    <label for=${id}>New ${budget.resource} limit</label>
    <input id=${id} type="text" inputmode="decimal" size="8" value=${value}
           onInput=${(e) => setValue(e.currentTarget.value)} />
    <button type="submit">Set limit</button>
  </form>`;
}

function Project({ project, version }) {
  const [usage, setUsage] = useState(null);
  const [alerts, setAlerts] = useState([]);
  const [points, setPoints] = useState([]);
  const [error, setError] = useState(null);
  const name = project.name;
  const load = async () => {
    try {
      const u = await get(`/v1/projects/${enc(name)}/usage`);
      setUsage(u);
      const usd = Number(u.totals && u.totals.usd) || 0;
      setPoints((p) => [...p.slice(-500), [Date.now() / 1000, usd]]);
      setAlerts((await get(`/v1/alerts?project=${enc(name)}`)).alerts);
    } catch (e) {
      setError(e);
    }
  };
  useEffect(() => {
    // The days before this page was opened, then a point each refresh.
    get(`/v1/usage?project=${enc(name)}&group_by=day`).then((r) => {
      let sum = 0;
      const days = (r.rows || []).map((row) => {
        sum += Number(row.usd) || 0;
        return [new Date(`${row.key}T23:59:59Z`).getTime() / 1000, sum];
      }).filter((p) => p[0] < Date.now() / 1000);
      setPoints((p) => [...days, ...p]);
    }, () => {});
    const timer = setInterval(load, kRefreshMs);
    return () => clearInterval(timer);
  }, [name]);
  useEffect(() => {
    load();
  }, [name, version]);
  const act = can('operate', name);
  const usd = usage && usage.budgets.find((b) => b.resource === 'usd');
  return html`<section class="project card" aria-labelledby=${`p-${name}`}>
    <h2 id=${`p-${name}`}>${name} ${project.stopped ? html`<span class="badge s-cancelled">stopped</span>` : null}</h2>
    <${ErrorLine} error=${error} />
    ${act ? html`<div class="actions">
      ${project.stopped
        ? html`<${ActionButton} label="Resume project" danger=${false}
            title=${`Resume ${name}?`} text="Its paused and queued tasks may run again."
            onError=${setError} run=${() => post(`/v1/projects/${enc(name)}/resume`).then(() => store.loadProjects())} />`
        : html`<${ActionButton} label="Emergency stop" className="danger big"
            title=${`Stop everything in ${name}?`}
            text=${`Every running task of ${name} is stopped now: its tool is killed, its workspace kept, and it waits as paused with every queued task until the project is resumed.`}
            onError=${setError} run=${() => post(`/v1/projects/${enc(name)}/stop`).then(() => {
              store.loadProjects();
              store.loadTasks();
            })} />`}
    </div>` : null}
    ${usage && usage.budgets.length === 0 ? html`<p>No budget: spending is not capped.</p>` : null}
    ${usage ? html`<table class="grid">
      <thead><tr><th>Resource</th><th>Spent</th><th>Reserved</th><th>Limit</th><th>Used</th>
        <th>Period</th><th>Burn per hour</th><th>Forecast exhaustion</th>
        ${act ? html`<th>Raise</th>` : null}</tr></thead>
      <tbody>${usage.budgets.map((b) => html`<tr key=${b.resource}>
        <td>${b.resource}</td><td>${b.spent}</td><td>${b.reserved}</td><td>${b.limit}</td>
        <td><meter min="0" max="100" low="75" high="90" optimum="0" value=${b.percent_used}
            aria-label=${`${b.resource} ${b.percent_used}% used`}></meter> ${b.percent_used}%
            ${b.exhausted ? html` <strong>exhausted</strong>` : null}</td>
        <td>${b.period}</td><td>${b.burn_rate_per_hour}</td>
        <td>${b.forecast_exhausted_at ? time(b.forecast_exhausted_at) : '–'}</td>
        ${act ? html`<td><${RaiseLimit} project=${name} usage=${usage} budget=${b}
            onDone=${load} onError=${setError} /></td>` : null}
      </tr>`)}</tbody></table>` : html`<p>Loading…</p>`}
    <${BurnChart} points=${points} limit=${usd ? Number(usd.limit) : null}
      label=${`${name}: USD spent over time`} />
    <h3>Alerts</h3>
    ${alerts.length ? html`<ul class="alerts">${alerts.map((a) => html`<li>
      <time>${time(a.at)}</time> ${a.text}</li>`)}</ul>` : html`<p>No alerts.</p>`}
  </section>`;
}

export function Budgets() {
  const s = useStore();
  return html`<h1>Budgets</h1>
    ${s.projects.length ? null : html`<p>No projects yet.</p>`}
    ${s.projects.map((p) => html`<${Project} key=${p.name} project=${p} version=${s.topics.budget} />`)}`;
}
