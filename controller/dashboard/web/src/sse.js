// Server-Sent Events over fetch(): EventSource cannot send the Authorization header. Reads the
// body as it streams and calls onEvent({id, event, data}) for each event; resolves when the
// stream ends, rejects with an ApiError when the answer is not 2xx.
import { answerError, authHeaders } from './api.js';

// A stream silent this long (the controller writes a keepalive every 15 s) is taken as gone:
// a connection half-open after a network drop would otherwise look live for ever.
const kSilentMs = 45000;

export async function readSse(path, { signal, onEvent, onOpen }) {
  const inner = new AbortController();
  const follow = () => inner.abort();
  if (signal) signal.addEventListener('abort', follow);
  let silent = null;
  const watch = () => {
    clearTimeout(silent);
    silent = setTimeout(() => inner.abort(), kSilentMs);
  };
  try {
    watch();
    const r = await fetch(path, {
      headers: { ...authHeaders(), Accept: 'text/event-stream' },
      cache: 'no-store',
      signal: inner.signal,
    });
    if (!r.ok) throw await answerError(r);
    if (onOpen) onOpen();
    await readEvents(r, watch, onEvent);
  } finally {
    clearTimeout(silent);
    if (signal) signal.removeEventListener('abort', follow);
  }
}

async function readEvents(r, watch, onEvent) {
  const reader = r.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    watch();
    buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const ev = parseBlock(block);
      if (ev) onEvent(ev);
    }
  }
}

// One event's lines; null for a comment (a keepalive) or an empty block.
export function parseBlock(block) {
  const ev = { id: null, event: 'message', data: '' };
  const data = [];
  for (const line of block.split('\n')) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') data.push(value);
    else if (field === 'event') ev.event = value;
    else if (field === 'id') ev.id = value;
  }
  if (data.length === 0 && ev.id === null) return null;
  ev.data = data.join('\n');
  return ev;
}
