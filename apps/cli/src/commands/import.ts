import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { type ImgkitClient, imgkitClient } from '@imgkit/client';
import { CliError, type Output } from '../output.ts';
import { Progress } from '../progress.ts';

/** What looks like an image by its name; the server decides from the bytes. */
const IMAGE_FILE = /\.(jpe?g|png|gif|webp|avif|heic|heif|tiff?|bmp|jxl)$/i;
const TERMINAL = new Set(['completed', 'failed']);

interface Item {
  /** A file path or a URL. */
  source: string;
  kind: 'file' | 'url';
}

interface Outcome {
  source: string;
  /** accepted: new; replayed: accepted by an earlier run (same Idempotency-Key); refused: 4xx at the door. */
  result: 'accepted' | 'replayed' | 'refused' | 'error';
  id?: string;
  status?: string;
  code?: string;
}

/**
 * `imgkit import <dir|file-of-urls> [--concurrency N] [--wait]`: uploads every image file of
 * a folder (recursively) or every URL of a text file, through the typed API client, with a
 * bounded number in flight. Each item's Idempotency-Key is derived from its content (a
 * file's SHA-256, a URL's text), so running it again skips what was already accepted.
 */
export async function runImport(
  out: Output,
  target: string | undefined,
  opts: { concurrency?: string; wait?: boolean },
): Promise<void> {
  if (!target)
    throw new CliError(
      'usage: imgkit import <folder | file with one URL per line> [--wait] [--concurrency N]',
    );
  const key = process.env.IMGKIT_KEY;
  if (!key)
    throw new CliError(
      'set IMGKIT_KEY to an API key (npm start prints one; npx imgkit keys create makes another)',
    );
  const baseUrl = process.env.IMGKIT_URL ?? 'http://127.0.0.1:8080';
  const concurrency = Number(opts.concurrency ?? 4);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
    throw new CliError('--concurrency must be an integer from 1 to 64');
  }
  const items = await collect(target);
  const api = imgkitClient(baseUrl, key);
  const progress = new Progress(out.json ? 'quiet' : process.stderr.isTTY ? 'bar' : 'lines', items.length);
  const outcomes = await pool(items, concurrency, async (item) => {
    const outcome = await submit(api, item);
    progress.tick(
      outcome.result === 'refused' || outcome.result === 'error',
      `${outcome.result} ${item.source}`,
    );
    return outcome;
  });
  progress.done('submitted');
  if (opts.wait) {
    const pending = outcomes.filter((o) => o.id && !TERMINAL.has(o.status ?? ''));
    const waiting = new Progress(out.json ? 'quiet' : process.stderr.isTTY ? 'bar' : 'lines', pending.length);
    await pool(pending, concurrency, async (o) => {
      await follow(api, o);
      waiting.tick(o.status === 'failed', `${o.status}${o.code ? ` (${o.code})` : ''} ${o.source}`);
    });
    waiting.done('processed');
  }
  const summary = summarise(outcomes, opts.wait ?? false);
  out.print(table(summary), { summary, items: outcomes });
  if (summary.refused + summary.errors > 0) process.exitCode = 1;
}

async function collect(target: string): Promise<Item[]> {
  const info = await stat(target).catch(() => undefined);
  if (!info) throw new CliError(`${target}: no such file or folder`);
  if (info.isDirectory()) {
    const entries = await readdir(target, { recursive: true, withFileTypes: true });
    return entries
      .filter((e) => e.isFile() && IMAGE_FILE.test(e.name) && !e.name.startsWith('.'))
      .map((e) => ({ source: path.join(e.parentPath, e.name), kind: 'file' as const }))
      .sort((a, b) => a.source.localeCompare(b.source));
  }
  const lines = (await readFile(target, 'utf8')).split('\n').map((l) => l.trim());
  const urls = lines.filter((l) => l && !l.startsWith('#'));
  for (const u of urls)
    if (!/^https?:\/\//i.test(u)) throw new CliError(`${target}: not a URL: ${u.slice(0, 200)}`);
  return urls.map((source) => ({ source, kind: 'url' as const }));
}

async function submit(api: ImgkitClient, item: Item): Promise<Outcome> {
  try {
    const sent =
      item.kind === 'url'
        ? await api.POST('/v1/images', {
            headers: { 'Idempotency-Key': `import-url-${sha256(item.source)}` },
            body: { url: item.source },
          })
        : await uploadFile(api, item.source);
    const { data, error, response } = sent;
    if (error || !data) {
      const problem = error as { code?: string } | undefined;
      return {
        source: item.source,
        result: response.status < 500 ? 'refused' : 'error',
        code: problem?.code ?? `http_${response.status}`,
      };
    }
    const replayed = response.headers.get('Idempotent-Replayed') === 'true';
    return {
      source: item.source,
      result: replayed ? 'replayed' : 'accepted',
      id: data.id,
      status: data.status,
    };
  } catch (err) {
    return { source: item.source, result: 'error', code: (err as Error).message.slice(0, 200) };
  }
}

async function uploadFile(api: ImgkitClient, file: string) {
  const bytes = await readFile(file);
  return api.POST('/v1/images', {
    params: { query: { filename: path.basename(file) } },
    headers: {
      'Content-Type': 'application/octet-stream',
      'Idempotency-Key': `import-sha256-${sha256(bytes)}`,
    },
    body: bytes as unknown as never,
    bodySerializer: (b: unknown) => b as Uint8Array as unknown as string,
  });
}

/** Polls one image until it is completed or failed (1 s apart; the server does the work). */
async function follow(api: ImgkitClient, o: Outcome): Promise<void> {
  for (;;) {
    const { data } = await api.GET('/v1/images/{id}', { params: { path: { id: o.id! } } });
    if (data) {
      o.status = data.status;
      o.code = data.error?.code;
      if (TERMINAL.has(data.status)) return;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

function summarise(outcomes: Outcome[], waited: boolean) {
  const failedBy: Record<string, number> = {};
  for (const o of outcomes)
    if (o.status === 'failed') failedBy[o.code ?? 'unknown'] = (failedBy[o.code ?? 'unknown'] ?? 0) + 1;
  const refusedBy: Record<string, number> = {};
  for (const o of outcomes)
    if (o.result === 'refused' || o.result === 'error')
      refusedBy[o.code ?? 'unknown'] = (refusedBy[o.code ?? 'unknown'] ?? 0) + 1;
  const count = (f: (o: Outcome) => boolean) => outcomes.filter(f).length;
  return {
    items: outcomes.length,
    accepted: count((o) => o.result === 'accepted'),
    already_imported: count((o) => o.result === 'replayed'),
    refused: count((o) => o.result === 'refused'),
    errors: count((o) => o.result === 'error'),
    ...(waited
      ? { completed: count((o) => o.status === 'completed'), failed: count((o) => o.status === 'failed') }
      : {}),
    failed_by_code: failedBy,
    refused_by_code: refusedBy,
  };
}

function table(s: ReturnType<typeof summarise>): string {
  const rows: [string, number][] = [
    ['items', s.items],
    ['accepted', s.accepted],
    ['already imported', s.already_imported],
    ['refused', s.refused],
    ['errors', s.errors],
  ];
  if (s.completed !== undefined) rows.push(['completed', s.completed], ['failed', s.failed ?? 0]);
  for (const [code, n] of Object.entries(s.failed_by_code)) rows.push([`  failed: ${code}`, n]);
  for (const [code, n] of Object.entries(s.refused_by_code)) rows.push([`  refused: ${code}`, n]);
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, n]) => `${k.padEnd(width)}  ${String(n).padStart(6)}`).join('\n');
}

/** Runs `fn` over `items` with at most `limit` in flight; results in input order. */
async function pool<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  });
  await Promise.all(runners);
  return results;
}

function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
