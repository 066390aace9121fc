/**
 * What systemd does for imgkit-api.socket + imgkit-api.service, for the restart test: it holds
 * the listening socket as fd 3 (created by its parent, which never accepts on it) and runs
 * the api with LISTEN_FDS=1 and LISTEN_PID set to the api's own pid. A line `restart` on stdin
 * stops the api (SIGTERM, wait) and starts a new one; `stop` stops it and exits. It answers each
 * command with a line when done. Connections that arrive while no api runs wait in the socket's
 * backlog, as under systemd.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

let api: ChildProcess | undefined;

function start(): void {
  // `exec` keeps the shell's pid, so $$ is the pid the api sees as its own.
  api = spawn(
    '/bin/sh',
    ['-c', 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" "$1"', process.execPath, 'apps/api/src/main.ts'],
    {
      stdio: ['ignore', 'ignore', 'inherit', 3],
    },
  );
}

async function stop(): Promise<void> {
  if (!api || api.exitCode !== null) return;
  const exited = once(api, 'exit');
  api.kill('SIGTERM');
  await exited;
}

start();
process.stdout.write('started\n');
for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'restart') {
    await stop();
    start();
    process.stdout.write('restarted\n');
  } else if (line === 'stop') {
    await stop();
    process.stdout.write('stopped\n');
    process.exit(0);
  }
}
