import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';

const fixture = new URL('./fixtures/log-then-exit.ts', import.meta.url);

async function run(
  readerGone: boolean,
): Promise<{ code: number | null; signal: string | null; out: string }> {
  const child = fork(fixture, { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  await once(child, 'message');
  // The supervisor that read our output is gone (`npm start` killed, a closed pipe).
  if (readerGone) child.stdout?.destroy();
  child.send('log and exit');
  const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const [code, signal] = await once(child, 'exit');
  clearTimeout(killer);
  return { code, signal, out };
}

test('a process whose log reader went away still exits (it hung for ever in the exit-time flush)', async () => {
  const { code, signal } = await run(true);
  assert.equal(signal, null, 'killed after 20 s: the exit hung');
  assert.equal(code, 0);
});

test('with a reader, every line logged before exit arrives', async () => {
  const { code, out } = await run(false);
  assert.equal(code, 0);
  const lines = out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(lines.length, 200);
  assert.deepEqual(
    lines.map((l) => l.i),
    Array.from({ length: 200 }, (_, i) => i),
  );
});
