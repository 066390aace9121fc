// `npm run bench [api|queue|ingest|thumbs|concurrency|scale|similar]`: runs the named benchmarks (default: all), one after another.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { NODE_FLAGS } from '@imgkit/runtime';

const all = ['api', 'queue', 'ingest', 'thumbs', 'concurrency', 'scale', 'similar'];
const chosen = process.argv.slice(2).length ? process.argv.slice(2) : all;
for (const name of chosen) {
  if (!all.includes(name)) throw new Error(`unknown benchmark ${name}; choose from ${all.join(', ')}`);
  const script = fileURLToPath(new URL(`./${name}/run.ts`, import.meta.url));
  // Every process of every benchmark (ours and the baselines alike) runs as the systemd units
  // run ours: with Node's compile cache (none pays for loading the TypeScript stripper) and the
  // same V8 flags.
  const env = {
    NODE_COMPILE_CACHE: fileURLToPath(new URL('./results/compile-cache', import.meta.url)),
    ...process.env,
    NODE_OPTIONS: [...NODE_FLAGS, process.env.NODE_OPTIONS ?? ''].join(' ').trim(),
  };
  const r = spawnSync(process.execPath, [script], { stdio: 'inherit', env });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
