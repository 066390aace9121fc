import type { IncomingHttpHeaders } from 'node:http';
import { startServer } from './http.ts';

export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  path: string;
}

/** A webhook receiver on loopback that records every request and answers as `respond` says. */
export async function startReceiver(
  respond: (n: number, req: Received) => number | [number, Record<string, string>] = () => 200,
) {
  const received: Received[] = [];
  const server = await startServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const r = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), path: req.url ?? '' };
      received.push(r);
      const answer = respond(received.length, r);
      const [status, headers] = Array.isArray(answer) ? answer : [answer, {}];
      res.writeHead(status, headers).end(status >= 400 ? 'receiver says no' : 'ok');
    });
  });
  return { ...server, received };
}
