import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { isPublicAddress } from './address.ts';

/**
 * Validates a URL we will call later (a webhook target): http(s) only, and
 * neither a literal nor a DNS answer may be a non-public address. A name that
 * does not resolve now is accepted; delivery checks the address again at
 * connect time, so a later DNS change cannot slip through.
 */
export async function checkPublicUrl(
  raw: string,
  options: {
    allowPrivateNetworks: boolean;
    /**
     * Also resolve a host name now (default true). Off for source URLs on the hot path: the
     * fetcher checks every address it connects to anyway, and a lookup per request would put
     * DNS latency (and libuv's 4 threads) in front of every POST.
     */
    resolve?: boolean;
  },
): Promise<{ ok: true } | { ok: false; reason: string }> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: 'is not a URL' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return { ok: false, reason: 'must be http or https' };
  if (options.allowPrivateNetworks) return { ok: true };
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host)) {
    return isPublicAddress(host)
      ? { ok: true }
      : { ok: false, reason: `points at a non-public address (${host})` };
  }
  if (host === 'localhost' || host.endsWith('.localhost'))
    return { ok: false, reason: 'points at localhost' };
  if (options.resolve === false) return { ok: true };
  try {
    const addresses = await lookup(host, { all: true });
    const bad = addresses.find((a) => !isPublicAddress(a.address));
    if (bad) return { ok: false, reason: `resolves to a non-public address (${bad.address})` };
  } catch {
    // Unresolvable now; the connect-time guard decides at delivery.
  }
  return { ok: true };
}
