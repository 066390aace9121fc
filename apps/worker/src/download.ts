import { type FetchError, parseRetryAfter, type SafeFetcher, type SafeResponse } from '@imgkit/fetch';
import { sniff } from '@imgkit/media/core';
import type { MediaPool } from '@imgkit/media-pool';
import { permanentError, retryableError, TaskError } from '@imgkit/queue';

export interface DownloadLimits {
  maxBytes: number;
  timeoutMs: number;
  /** How much of an HTML page is read to find its og:image. */
  htmlHeadBytes: number;
}

export interface Downloaded {
  bytes: Buffer;
  finalUrl: string;
  filename: string | null;
}

const HTML = /^(text\/html|application\/xhtml\+xml)/i;

/**
 * Fetches an image URL through the SSRF guard. When the URL is a web page,
 * follows its og:image (once) through the same guard.
 */
export async function downloadImage(
  fetcher: SafeFetcher,
  media: MediaPool,
  url: string,
  limits: DownloadLimits,
  signal: AbortSignal,
): Promise<Downloaded> {
  const page = await get(fetcher, url, limits, signal);
  // Sniffing and og:image parsing of what the server sent happen in the media pool.
  const inspected = await media.inspect(page.body, page.url, HTML.test(page.headers['content-type'] ?? ''));
  if (!inspected.html) return { bytes: page.body, finalUrl: page.url, filename: filenameOf(page) };
  const imageUrl = inspected.ogImage;
  if (!imageUrl) {
    throw permanentError(
      'no_og_image',
      `${page.url} is a web page without og:image, twitter:image or image_src`,
    );
  }
  const image = await get(fetcher, imageUrl, limits, signal);
  if ((await media.inspect(image.body, image.url, HTML.test(image.headers['content-type'] ?? ''))).html)
    throw permanentError('not_an_image', `the og:image ${image.url} is a web page, not an image`);
  return { bytes: image.body, finalUrl: image.url, filename: filenameOf(image) };
}

async function get(fetcher: SafeFetcher, url: string, limits: DownloadLimits, signal: AbortSignal) {
  let res: SafeResponse;
  try {
    res = await fetcher.fetch(url, {
      maxBytes: limits.maxBytes,
      timeoutMs: limits.timeoutMs,
      signal,
      headers: { accept: 'image/avif,image/webp,image/*,text/html;q=0.5,*/*;q=0.1' },
      truncate: {
        contentType: HTML,
        bytes: limits.htmlHeadBytes,
        sniff: (head) => sniff(head).kind === 'html',
      },
    });
  } catch (err) {
    throw fetchFailure(err as FetchError, url);
  }
  if (res.status >= 200 && res.status < 300) return res;
  throw httpFailure(res);
}

const FETCH_CODES: Record<string, string> = {
  timeout: 'download_timeout',
  too_large: 'download_too_large',
  too_many_redirects: 'too_many_redirects',
  blocked_address: 'blocked_address',
  invalid_url: 'invalid_url',
  dns_failed: 'dns_failed',
  connect_failed: 'connect_failed',
  connection_reset: 'connection_reset',
  tls_failed: 'tls_failed',
};

function fetchFailure(err: FetchError, url: string): TaskError {
  if (err instanceof TaskError) return err;
  const code = FETCH_CODES[err.code] ?? 'download_failed';
  const message = `${err.message} (${url.slice(0, 200)})`;
  return err.retryable ? retryableError(code, message, { cause: err }) : permanentError(code, message, err);
}

/** 404/410 and other 4xx are the source's answer; 429 and 5xx may pass. */
function httpFailure(res: SafeResponse): TaskError {
  const message = `${res.url} answered HTTP ${res.status}`;
  if (res.status === 429 || res.status >= 500) {
    return retryableError('source_unavailable', message, {
      retryAfterMs: parseRetryAfter(res.headers['retry-after'], 3600_000),
    });
  }
  if (res.status === 404 || res.status === 410) return permanentError('source_not_found', message);
  return permanentError('source_http_error', message);
}

function filenameOf(res: SafeResponse): string | null {
  const disposition = res.headers['content-disposition'];
  const fromHeader = disposition ? /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition)?.[1] : undefined;
  if (fromHeader) {
    try {
      return decodeURIComponent(fromHeader).slice(0, 255);
    } catch {
      return fromHeader.slice(0, 255);
    }
  }
  try {
    const last = new URL(res.url).pathname.split('/').filter(Boolean).pop();
    return last ? decodeURIComponent(last).slice(0, 255) : null;
  } catch {
    return null;
  }
}
