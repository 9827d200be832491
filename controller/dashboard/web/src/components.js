// Small parts the views share: a virtualised list, a confirmation dialog, error and notice lines.
import { useEffect, useRef, useState } from 'preact/hooks';
import { html } from './html.js';

// Renders only the rows in view (plus a few): 10,000 rows cost as much as 30. `rows` is an
// array; `row(item, index)` returns the cells of one row (fixed height `height` px).
export function VList({ rows, row, height = 36, label, header, columns, maxHeight = '60vh' }) {
  const grid = { gridTemplateColumns: columns };
  const box = useRef(null);
  const [top, setTop] = useState(0);
  const [view, setView] = useState(600);
  useEffect(() => {
    const el = box.current;
    const measure = () => setView(el.clientHeight || 600);
    measure();
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  const overscan = 8;
  const first = Math.max(0, Math.floor(top / height) - overscan);
  const last = Math.min(rows.length, Math.ceil((top + view) / height) + overscan);
  const shown = [];
  for (let i = first; i < last; i++) {
    shown.push(html`<div role="row" class="vrow" aria-rowindex=${i + 2}
      style=${{ ...grid, top: `${i * height}px`, height: `${height}px` }}>${row(rows[i], i)}</div>`);
  }
  return html`<div class="vlist" role="table" aria-label=${label} aria-rowcount=${rows.length + 1}>
    <div role="rowgroup" class="vhead"><div role="row" class="vrow static" style=${grid}>${header}</div></div>
    <div class="vbody" ref=${box} tabindex="0" style=${{ maxHeight }}
         onScroll=${(e) => setTop(e.currentTarget.scrollTop)}>
      <div role="rowgroup" style=${{ height: `${rows.length * height}px`, position: 'relative' }}>
        ${shown}
      </div>
    </div>
    ${rows.length === 0 ? html`<p class="empty">Nothing to show.</p>` : null}
  </div>`;
}

// A modal question: `onConfirm` runs when the user confirms (Escape or Cancel close it).
export function Confirm({ title, text, action = 'Confirm', danger = true, onConfirm, onClose }) {
  const ok = useRef(null);
  useEffect(() => {
    if (ok.current) ok.current.focus();
    const key = (e) => e.key === 'Escape' && onClose();
    window.addEventListener('keydown', key);
    return () => window.removeEventListener('keydown', key);
  }, []);
  return html`<div class="backdrop" onClick=${(e) => e.target === e.currentTarget && onClose()}>
    <div role="dialog" aria-modal="true" aria-labelledby="confirm-title" class="dialog">
      <h2 id="confirm-title">${title}</h2>
      <p>${text}</p>
      <div class="actions">
        <button type="button" onClick=${onClose}>Cancel</button>
        <button type="button" ref=${ok} class=${danger ? 'danger' : 'primary'}
                onClick=${() => { onClose(); onConfirm(); }}>${action}</button>
      </div>
    </div>
  </div>`;
}

// A button that asks first, then runs `run` (an async call) and reports its failure.
export function ActionButton({ label, title, text, run, danger = true, ask = true, onError,
                               className }) {
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const go = async () => {
    setBusy(true);
    try {
      await run();
    } catch (e) {
      if (onError) onError(e);
    } finally {
      setBusy(false);
    }
  };
  return html`<button type="button" class=${className || (danger ? 'danger' : '')}
      disabled=${busy} onClick=${() => (ask ? setOpen(true) : go())}>${label}</button>
    ${open ? html`<${Confirm} title=${title || label} text=${text} action=${label}
        danger=${danger} onConfirm=${go} onClose=${() => setOpen(false)} />` : null}`;
}

export function ErrorLine({ error }) {
  if (!error) return null;
  return html`<p class="error" role="alert">${error.message || String(error)}</p>`;
}

// What a 403 on a fleet route means for a scoped token, said plainly.
export function Refused({ error, what }) {
  if (!error) return null;
  if (error.status === 403) {
    return html`<p class="notice" role="status">This token may not see ${what}: ${error.message}</p>`;
  }
  return html`<${ErrorLine} error=${error} />`;
}

export function StateBadge({ state }) {
  return html`<span class=${`badge s-${state}`}>${state}</span>`;
}
