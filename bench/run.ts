// `npm run bench [api|queue|ingest|thumbs|concurrency|scale|similar]`: runs the named benchmarks (default: all), one after another.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const all = ['api', 'queue', 'ingest', 'thumbs', 'concurrency', 'scale', 'similar'];
const chosen = process.argv.slice(2).length ? process.argv.slice(2) : all;
for (const name of chosen) {
  if (!all.includes(name)) throw new Error(`unknown benchmark ${name}; choose from ${all.join(', ')}`);
  const script = fileURLToPath(new URL(`./${name}/run.ts`, import.meta.url));
  const r = spawnSync(process.execPath, [script], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
