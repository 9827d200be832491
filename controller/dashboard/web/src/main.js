// The dashboard: sign in with a token, then Fleet, Tasks, Budgets, Checkpoints and Events,
// all updating live from the controller's event stream. Routes live in the URL's hash
// (#/tasks/ID), so the controller serves one page.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, call, session } from './api.js';
import { html } from './html.js';
import { store, useStore } from './store.js';
import { Budgets } from './views/budgets.js';
import { Checkpoints } from './views/checkpoints.js';
import { Events } from './views/events.js';
import { Fleet } from './views/fleet.js';
import { Task } from './views/task.js';
import { Tasks } from './views/tasks.js';
import './style.css';

// Who the token is (GET /v1/whoami). A controller without that route: the token is checked
// with a read every token may do, and its role is not known (the API still refuses what the
// role may not do).
async function whoami(token) {
  try {
    return await call('GET', '/v1/whoami', undefined, token);
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 404) throw e;
    await call('GET', '/v1/projects', undefined, token);
    return { name: 'token', role: 'admin', projects: [], guessed: true };
  }
}

function SignIn({ onSignedIn, reason }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState(reason || '');
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      const who = await whoami(token.trim());
      session.signIn(token.trim());
      onSignedIn(who);
    } catch (err) {
      setError(err.status === 401
        ? `This token was refused (${err.message}). Check it and try again.`
        : `Could not sign in: ${err.message}`);
    } finally {
      setBusy(false);
    }
  };
  return html`<main class="signin">
    <form onSubmit=${submit} aria-labelledby="signin-title">
      <h1 id="signin-title">autovibe</h1>
      <p>Sign in with an API token (the controller's <code>admin.token</code>, or one made with
        <code>autovibe token create</code>). It is kept for this tab only.</p>
      <label for="token">API token</label>
      <input id="token" name="token" type="password" autocomplete="off" required autofocus
             value=${token} onInput=${(e) => setToken(e.currentTarget.value)} />
      <button type="submit" class="primary" disabled=${busy}>Sign in</button>
      ${error ? html`<p class="error" role="alert">${error}</p>` : null}
    </form>
  </main>`;
}

function useRoute() {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  const parts = hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  return { view: parts[0] || 'fleet', id: parts[1] || '' };
}

const kViews = [['fleet', 'Fleet'], ['tasks', 'Tasks'], ['budgets', 'Budgets'],
                ['checkpoints', 'Checkpoints'], ['events', 'Events']];

function Shell({ onSignOut }) {
  const s = useStore();
  const route = useRoute();
  const w = s.whoami;
  let page;
  if (route.view === 'tasks' && route.id) page = html`<${Task} id=${route.id} />`;
  else if (route.view === 'tasks') page = html`<${Tasks} />`;
  else if (route.view === 'budgets') page = html`<${Budgets} />`;
  else if (route.view === 'checkpoints') page = html`<${Checkpoints} selected=${route.id} />`;
  else if (route.view === 'events') page = html`<${Events} />`;
  else page = html`<${Fleet} />`;
  return html`<header class="top">
      <span class="brand">autovibe</span>
      <nav aria-label="Views">${kViews.map(([v, label]) => html`<a href=${`#/${v}`}
        aria-current=${route.view === v ? 'page' : undefined}>${label}</a>`)}</nav>
      <span class="who">
        <span class=${`dot ${s.stream.state}`} role="status"
          title=${s.stream.message || s.stream.state}
          aria-label=${`Live updates: ${s.stream.state}`}></span>
        ${w.name} (${w.role}${w.projects && w.projects.length ? `: ${w.projects.join(', ')}` : ''})
        <button type="button" onClick=${onSignOut}>Sign out</button>
      </span>
    </header>
    <main id="main">${page}</main>`;
}

function App() {
  const [who, setWho] = useState(null);
  const [checking, setChecking] = useState(Boolean(session.token()));
  const [reason, setReason] = useState('');
  // The store knows who signed in before the views first draw.
  const signedIn = (w) => {
    store.start(w);
    setWho(w);
  };
  useEffect(() => {
    if (!session.token()) return;
    whoami(session.token()).then(signedIn, (e) => {
      session.signOut();
      setReason(e.status === 401 ? 'Your token is no longer accepted; sign in again.' : e.message);
    }).finally(() => setChecking(false));
  }, []);
  if (checking) return html`<p class="loading">Loading…</p>`;
  if (!who) return html`<${SignIn} onSignedIn=${signedIn} reason=${reason} />`;
  return html`<${Shell} onSignOut=${() => {
    session.signOut();
    location.hash = '';
    location.reload();
  }} />`;
}

render(html`<${App} />`, document.getElementById('app'));
