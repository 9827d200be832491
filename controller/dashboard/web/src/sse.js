// Server-Sent Events over fetch(): EventSource cannot send the Authorization header. Reads the
// body as it streams and calls onEvent({id, event, data}) for each event; resolves when the
// stream ends, rejects with an ApiError when the answer is not 2xx.
import { answerError, authHeaders } from './api.js';

export async function readSse(path, { signal, onEvent, onOpen }) {
  const r = await fetch(path, {
    headers: { ...authHeaders(), Accept: 'text/event-stream' },
    cache: 'no-store',
    signal,
  });
  if (!r.ok) throw await answerError(r);
  if (onOpen) onOpen();
  const reader = r.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
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
