import { createRequire } from 'node:module';
import path from 'node:path';
import express, { Router } from 'express';

const CONSOLE_DIR = path.resolve(import.meta.dirname, '../../console');
// The BlurHash decoder the console renders placeholders with: the same npm package the worker
// encodes with, served from node_modules (nothing is fetched from the internet).
const BLURHASH = path.join(
  path.dirname(createRequire(import.meta.url).resolve('blurhash/package.json')),
  'dist/esm/index.js',
);

/**
 * Strict: only this origin's scripts, styles and API; images also from blob: (downloads) and
 * data:. No inline script or style, no framing, no referrer (signed URLs stay out of logs).
 */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob: data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * GET /console: static files from apps/api/console, no build step. The console is a client of
 * the public /v1 API and has no route of its own beyond these files.
 */
export function consoleRouter(): Router {
  const router = Router();
  router.use('/console', (_req, res, next) => {
    res.setHeader('Content-Security-Policy', CSP);
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Cache-Control', 'no-cache');
    next();
  });
  router.get('/console', (req, res, next) => {
    // Relative asset URLs need the trailing slash.
    if (req.originalUrl === '/console') return res.redirect(301, '/console/');
    next();
  });
  router.get('/console/vendor/blurhash.js', (_req, res) => {
    res.type('text/javascript').sendFile(BLURHASH);
  });
  router.use('/console', express.static(CONSOLE_DIR, { index: 'index.html', etag: true, fallthrough: true }));
  return router;
}
