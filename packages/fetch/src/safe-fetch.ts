import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP, type Socket } from 'node:net';
import type { Agent, Dispatcher } from 'undici';
import { isPublicAddress } from './address.ts';
import { FetchError, toFetchError } from './errors.ts';

export type Lookup = (
  hostname: string,
  options: { all: true; family?: number },
  callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

export interface SafeFetcherOptions {
  /** Tests and private deployments only: lets fetches reach loopback and private addresses. */
  allowPrivateNetworks: boolean;
  userAgent?: string;
  connectTimeoutMs?: number;
  /** DNS resolver; injectable so tests can make a name resolve to a private address. */
  lookup?: Lookup;
  /** Which connected addresses are acceptable; default: public unicast only. Injectable for tests. */
  isAllowedAddress?: (ip: string) => boolean;
}

export interface FetchOptions {
  method?: 'GET' | 'POST' | 'HEAD';
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Bytes above this fail with `too_large`, however the sender declares its length. */
  maxBytes: number;
  /**
   * For responses whose Content-Type matches `truncate.contentType` — or whose first bytes
   * `truncate.sniff` recognises, whatever the Content-Type says — read at most `bytes` and
   * stop quietly.
   */
  truncate?: { contentType: RegExp; bytes: number; sniff?: (head: Buffer) => boolean };
  /** Whole request: connect, headers and body. */
  timeoutMs: number;
  headersTimeoutMs?: number;
  /** Follow up to this many redirects (default 5); 0 returns the 3xx itself. */
  maxRedirects?: number;
  signal?: AbortSignal;
}

export interface SafeResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  truncated: boolean;
  /** Where the bytes came from, after redirects. */
  url: string;
  redirects: string[];
}

const SNIFF_BYTES = 1024;

export const DEFAULT_USER_AGENT = 'imgkit/0.1 (+https://github.com/imgkit/imgkit; image fetcher)';

// undici is loaded on the first fetch, not at import: ~7 MB of memory in a process that may
// never fetch (the api fetches only for search by URL; bench/thumbs counts the api's peak RSS).
let undiciModule: Promise<typeof import('undici')> | undefined;
const loadUndici = () => {
  undiciModule ??= import('undici');
  return undiciModule;
};

/**
 * The one HTTP client for untrusted URLs (images, HTML pages, webhooks). The
 * connector checks the address each socket actually connected to — so literal
 * IPs, DNS answers, DNS rebinding and every redirect hop are all judged by
 * where the bytes would really come from.
 */
export class SafeFetcher {
  private agent: Promise<Agent> | undefined;
  private readonly options: SafeFetcherOptions;

  constructor(options: SafeFetcherOptions) {
    this.options = options;
  }

  private dispatcher(): Promise<Agent> {
    this.agent ??= loadUndici().then((undici) => this.createAgent(undici));
    return this.agent;
  }

  private createAgent({ Agent, buildConnector }: typeof import('undici')): Agent {
    const options = this.options;
    const allowed = this.allowedAddress.bind(this);
    const resolver = options.lookup ?? (dnsLookup as unknown as Lookup);
    const guardedLookup = (
      hostname: string,
      opts: { all?: boolean; family?: number },
      callback: (err: Error | null, address?: string | LookupAddress[], family?: number) => void,
    ) => {
      resolver(hostname, { all: true, family: opts.family }, (err, addresses) => {
        if (err) return callback(err);
        const usable = addresses.filter((a) => allowed(a.address));
        if (usable.length === 0) {
          return callback(
            new FetchError('blocked_address', `${hostname} resolves only to non-public addresses`),
          );
        }
        if (opts.all) callback(null, usable);
        else callback(null, usable[0].address, usable[0].family);
      });
    };
    const base = buildConnector({
      timeout: options.connectTimeoutMs ?? 10_000,
      lookup: guardedLookup as never,
    });
    return new Agent({
      connect: (opts, callback) => {
        base(opts, (err, socket) => {
          if (err || !socket) return callback(err ?? new Error('no socket'), null);
          const remote = (socket as Socket).remoteAddress;
          if (!remote || !allowed(remote)) {
            socket.destroy();
            return callback(
              new FetchError('blocked_address', `refusing to talk to ${remote ?? 'an unknown address'}`),
              null,
            );
          }
          callback(null, socket);
        });
      },
      keepAliveTimeout: 4000,
      connections: 64,
    });
  }

  async fetch(rawUrl: string, opts: FetchOptions): Promise<SafeResponse> {
    // undici is loaded (and the agent made) before the deadline starts: a process's first fetch
    // loads and compiles it, which on a busy machine without a compile cache took longer than a
    // short FETCH_TIMEOUT_MS — and failed a download the remote server had answered at once.
    await this.dispatcher();
    const deadline = AbortSignal.timeout(opts.timeoutMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, deadline]) : deadline;
    const maxRedirects = opts.maxRedirects ?? 5;
    const redirects: string[] = [];
    let url = this.checkUrl(rawUrl);
    for (;;) {
      const res = await this.once(url, opts, signal);
      const location = res.headers.location;
      if (res.status >= 300 && res.status < 400 && location && maxRedirects > 0) {
        if (redirects.length >= maxRedirects) {
          throw new FetchError('too_many_redirects', `more than ${maxRedirects} redirects (last: ${url})`);
        }
        redirects.push(url.toString());
        url = this.checkUrl(new URL(location, url).toString());
        continue;
      }
      return { ...res, url: url.toString(), redirects };
    }
  }

  async close(): Promise<void> {
    if (this.agent) await (await this.agent).close();
  }

  /** http(s) only; literal IPs are judged here too, so we do not even connect to them. */
  private checkUrl(raw: string): URL {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new FetchError('invalid_url', `not a URL: ${raw.slice(0, 200)}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new FetchError('invalid_url', `only http and https URLs are fetched (got ${url.protocol})`);
    }
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (isIP(host) && !this.allowedAddress(host)) {
      throw new FetchError('blocked_address', `refusing to fetch from non-public address ${host}`);
    }
    return url;
  }

  private allowedAddress(ip: string): boolean {
    if (this.options.allowPrivateNetworks) return true;
    return (this.options.isAllowedAddress ?? isPublicAddress)(ip.replace(/^::ffff:(\d+\.)/, '$1'));
  }

  private async once(url: URL, opts: FetchOptions, signal: AbortSignal) {
    let res: Dispatcher.ResponseData;
    const dispatcher = await this.dispatcher();
    const { request } = await loadUndici();
    try {
      res = await request(url, {
        dispatcher,
        method: opts.method ?? 'GET',
        headers: {
          'user-agent': this.options.userAgent ?? DEFAULT_USER_AGENT,
          accept: '*/*',
          ...opts.headers,
        },
        body: opts.body,
        signal,
        headersTimeout: opts.headersTimeoutMs ?? opts.timeoutMs,
        bodyTimeout: opts.timeoutMs,
      });
    } catch (err) {
      throw toFetchError(
        signal.aborted && !signal.reason?.name?.includes('Timeout') ? signal.reason : err,
        `${opts.method ?? 'GET'} ${url.host}`,
      );
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers)) {
      if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    }
    const type = headers['content-type'] ?? '';
    let truncateAt = opts.truncate?.contentType.test(type) ? opts.truncate.bytes : undefined;
    // Content-Type is a claim, not a fact: the first KiB decides too.
    let sniffed = !opts.truncate?.sniff;
    const declared = Number(headers['content-length']);
    if (truncateAt === undefined && Number.isFinite(declared) && declared > opts.maxBytes) {
      res.body.destroy();
      throw new FetchError(
        'too_large',
        `the response declares ${declared} bytes; the limit is ${opts.maxBytes}`,
      );
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let truncated = false;
    try {
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (!sniffed && (size >= SNIFF_BYTES || truncateAt !== undefined)) {
          sniffed = true;
          if (
            truncateAt === undefined &&
            opts.truncate?.sniff?.(Buffer.concat([...chunks, chunk]).subarray(0, SNIFF_BYTES))
          ) {
            truncateAt = opts.truncate.bytes;
          }
        }
        if (truncateAt !== undefined && size >= truncateAt) {
          chunks.push(chunk.subarray(0, chunk.length - (size - truncateAt)));
          truncated = true;
          break;
        }
        if (size > opts.maxBytes)
          throw new FetchError('too_large', `the response exceeds ${opts.maxBytes} bytes`);
        chunks.push(chunk);
      }
    } catch (err) {
      throw toFetchError(err, `reading ${url.host}`);
    } finally {
      res.body.destroy();
    }
    return { status: res.statusCode, headers, body: Buffer.concat(chunks), truncated };
  }
}
