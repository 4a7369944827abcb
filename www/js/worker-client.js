// The page's side of the engine worker: request/response calls by id (`ask`) and a stream of
// events (progress, results, errors) handed to `onEvent`.
export function startWorker(onEvent) {
  const worker = new Worker(new URL('./engine-worker.js', import.meta.url), { type: 'module' });
  const waiting = new Map();
  let nextId = 0;
  worker.onmessage = ({ data: m }) => {
    const done = m.id !== undefined && waiting.get(m.id);
    if (done) { waiting.delete(m.id); done(m); } else onEvent(m);
  };
  worker.onerror = (e) => onEvent({ type: 'error', message: `worker error: ${e.message}` });
  return {
    ask(type, payload = {}, transfer = []) {
      const id = ++nextId;
      return new Promise((resolve) => { waiting.set(id, resolve); worker.postMessage({ type, id, ...payload }, transfer); });
    },
    post(type, payload = {}) { worker.postMessage({ type, ...payload }); },
  };
}
