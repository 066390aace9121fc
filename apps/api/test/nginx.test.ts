import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { oracleTool } from '../../../test/helpers/tools.ts';

const run = promisify(execFile);
const nginx = await oracleTool(['/usr/sbin/nginx', 'nginx'], ['-v']);

test('deploy/nginx/imgkit.conf passes nginx -t', { skip: nginx.skip }, async () => {
  const bin = nginx.bin!;
  const dir = await mkdtemp(path.join(tmpdir(), 'imgkit-nginx-'));
  // The site expects certificates and a cache directory; point them at throwaway ones.
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=test',
    '-days',
    '1',
    '-keyout',
    path.join(dir, 'key.pem'),
    '-out',
    path.join(dir, 'cert.pem'),
  ]);
  const site = (await readFile(new URL('../../../deploy/nginx/imgkit.conf', import.meta.url), 'utf8'))
    .replace('/etc/ssl/certs/imgkit.example.com.pem', path.join(dir, 'cert.pem'))
    .replace('/etc/ssl/private/imgkit.example.com.key', path.join(dir, 'key.pem'))
    .replace('/var/cache/nginx/imgkit', path.join(dir, 'cache'));
  await writeFile(path.join(dir, 'site.conf'), site);
  await writeFile(
    path.join(dir, 'nginx.conf'),
    `pid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nevents {}\nhttp {\n  access_log off;\n  client_body_temp_path ${dir}/body;\n  proxy_temp_path ${dir}/proxy;\n  include ${dir}/site.conf;\n}\n`,
  );
  const { stderr } = await run(bin, ['-t', '-c', path.join(dir, 'nginx.conf'), '-p', dir]);
  assert.match(stderr, /test is successful/);
});
