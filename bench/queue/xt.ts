// scratch: per-statement client-side latency during a drain, analysed vs fresh
import pg from 'pg';
const times = new Map<string, number[]>();
const orig = pg.Client.prototype.query;
(pg.Client.prototype as any).query = function (this: unknown, ...args: any[]) {
  const q = args[0];
  const name = String(typeof q === 'string' ? q : (q?.name ?? q?.text ?? '?')).slice(0, 40);
  const t0 = performance.now();
  const record = () => { const a = times.get(name) ?? []; a.push(performance.now() - t0); times.set(name, a); };
  if (typeof args[args.length - 1] === 'function') { const cb = args[args.length - 1]; args[args.length - 1] = (...x: any[]) => { record(); return cb(...x); }; return (orig as any).apply(this, args); }
  if (q && typeof q.callback === 'function') { const cb = q.callback; q.callback = (...x: any[]) => { record(); return cb(...x); }; }
  const r = (orig as any).apply(this, args);
  if (r && typeof r.then === 'function') r.then(() => { const a = times.get(name) ?? []; a.push(performance.now() - t0); times.set(name, a); }, () => {});
  return r;
};
process.on('exit', () => {
  for (const [k, a] of times) { a.sort((x, y) => x - y); const sum = a.reduce((s, x) => s + x, 0); process.stderr.write(`${k.padEnd(40)} n=${a.length} total=${sum.toFixed(0)}ms p50=${a[a.length >> 1].toFixed(2)} max=${a[a.length - 1].toFixed(2)}\n`); }
});
