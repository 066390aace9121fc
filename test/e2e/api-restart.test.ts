/**
 * The deploy's promise: `systemctl restart imgkit-api` under load loses no request. The api
 * takes its listening socket from systemd (deploy/systemd/imgkit-api.socket), so while one
 * process drains and the next starts, new connections wait in the kernel's backlog instead of
 * being refused. Here a supervisor does what systemd does (test/helpers/socket-supervisor.ts)
 * and the api is restarted three times while clients keep creating images.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { freePort } from '@imgkit/db';
import { newAccountWithKey, TEST_SECRET } from '../helpers/api.ts';
import { freshDatabase } from '../helpers/db.ts';

// Creates the listening socket as fd 3 and execs the supervisor: the test process itself never
// holds (and so never accepts on) the socket.
const LISTENER = `
import os, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', int(sys.argv[1])))
s.listen(1024)
if s.fileno() != 3:
    os.dup2(s.fileno(), 3)
os.set_inheritable(3, True)
os.execv(sys.argv[2], sys.argv[2:])
`;

function post(port: number, auth: string, n: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ url: `https://example.com/restart/${n}.jpg` });
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/v1/images',
        method: 'POST',
        agent: false, // a new connection per request: what arrives mid-restart waits in the backlog
        headers: {
          authorization: auth,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

test('restarting the socket-activated api three times under load loses no request', async () => {
  const db = await freshDatabase();
  const { auth } = await newAccountWithKey(db.pool);
  const port = await freePort();
  const supervisor = spawn(
    'python3',
    ['-c', LISTENER, String(port), process.execPath, 'test/helpers/socket-supervisor.ts'],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
      env: {
        ...process.env,
        NODE_ENV: 'production',
        DATABASE_URL: db.url,
        SECRET_KEY: TEST_SECRET,
        URL_SIGNING_KEY: TEST_SECRET,
        DATA_DIR: await mkdtemp(path.join(tmpdir(), 'imgkit-restart-')),
        RATE_LIMIT_PER_MINUTE: '0',
        LOG_LEVEL: 'silent',
      },
    },
  );
  const lines = createInterface({ input: supervisor.stdout! })[Symbol.asyncIterator]();
  const say = async (command: string) => {
    supervisor.stdin!.write(`${command}\n`);
    return (await lines.next()).value;
  };
  assert.equal((await lines.next()).value, 'started');

  const statuses = new Map<number | string, number>();
  let sent = 0;
  let running = true;
  const client = async () => {
    while (running) {
      const n = sent++;
      const status = await post(port, auth.Authorization, n).catch(
        (err: NodeJS.ErrnoException) => err.code ?? 'error',
      );
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
  };
  const clients = Array.from({ length: 6 }, client);
  const answered = () => [...statuses.values()].reduce((a, b) => a + b, 0);
  const waitFor = async (count: number) => {
    while (answered() < count) await new Promise((r) => setTimeout(r, 20));
  };
  await waitFor(50);
  for (let i = 0; i < 3; i++) {
    assert.equal(await say('restart'), 'restarted');
    // Requests go on through the drain, the gap and the new start: let some land after each.
    await waitFor(answered() + 50);
  }
  running = false;
  await Promise.all(clients);
  assert.equal(await say('stop'), 'stopped');
  await once(supervisor, 'exit');

  const accepted = statuses.get(202) ?? 0;
  assert.deepEqual(
    [...statuses.keys()],
    [202],
    `every request answered 202: ${JSON.stringify([...statuses])}`,
  );
  const rows = await db.pool.query('SELECT count(*)::int AS n FROM images');
  assert.equal(rows.rows[0].n, accepted, 'one image per accepted request');
  assert.ok(accepted >= 200, `${accepted} requests across three restarts`);
});
