// `npm run bench [api|queue|ingest|thumbs|concurrency|scale|similar]`: runs the named benchmarks (default: all), one after another.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const all = ['api', 'queue', 'ingest', 'thumbs', 'concurrency', 'scale', 'similar'];
const chosen = process.argv.slice(2).length ? process.argv.slice(2) : all;
for (const name of chosen) {
  if (!all.includes(name)) throw new Error(`unknown benchmark ${name}; choose from ${all.join(', ')}`);
  const script = fileURLToPath(new URL(`./${name}/run.ts`, import.meta.url));
  // Every process of every benchmark (ours and the baselines alike) keeps Node's compile cache,
  // as the systemd units do: none of them pays for loading the TypeScript stripper.
  const env = {
    NODE_COMPILE_CACHE: fileURLToPath(new URL('./results/compile-cache', import.meta.url)),
    ...process.env,
  };
  const r = spawnSync(process.execPath, [script], { stdio: 'inherit', env });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
