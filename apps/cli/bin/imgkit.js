#!/usr/bin/env node
// Node runs the TypeScript sources directly (type stripping); no build step. This file is
// plain JavaScript so that an older Node says what it needs instead of failing on `.ts`.
const [major] = process.versions.node.split('.').map(Number);
if (major < 24) {
  process.stderr.write(
    `imgkit needs Node.js 24 (this is ${process.version}). Run it through npm, which uses the Node 24 ` +
      'that `npm ci` installed (`npx imgkit …`, `npm start`), or install Node 24 LTS.\n',
  );
  process.exit(1);
}
await import('../src/main.ts');
