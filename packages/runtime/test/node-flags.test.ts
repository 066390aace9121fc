import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { NODE_FLAGS } from '@imgkit/runtime';

const unit = (name: string) =>
  readFileSync(fileURLToPath(new URL(`../../../deploy/systemd/${name}`, import.meta.url)), 'utf8');

test('the systemd units start the api and the worker with NODE_FLAGS', () => {
  for (const name of ['imgkit-api.service', 'imgkit-worker.service', 'imgkit-worker@.service']) {
    const execStart = /^ExecStart=(.*)$/m.exec(unit(name))?.[1];
    assert.ok(execStart, `${name} has an ExecStart`);
    const [node, ...args] = execStart.split(/\s+/);
    assert.equal(node, '/usr/bin/node', name);
    assert.deepEqual(args.slice(0, NODE_FLAGS.length), [...NODE_FLAGS], name);
  }
});

test('this Node accepts NODE_FLAGS, on the command line and in NODE_OPTIONS', () => {
  const args = ['-e', 'process.exit(0)'];
  const direct = spawnSync(process.execPath, [...NODE_FLAGS, ...args], { encoding: 'utf8' });
  assert.equal(direct.status, 0, direct.stderr);
  const viaEnv = spawnSync(process.execPath, args, {
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: NODE_FLAGS.join(' ') },
  });
  assert.equal(viaEnv.status, 0, viaEnv.stderr);
});
