import pg from 'pg';
import { CHANNEL } from './channel.ts';
import { errSummary } from './db-retry.ts';
import type { QueueLogger } from './kind.ts';

/**
 * The LISTEN connection: one dedicated client that reconnects with backoff. Each
 * notification carries the task's run_at; `onWake(atMs)` decides what to do with it.
 * After every (re)connect `onConnected` runs, so work enqueued while nobody
 * listened is claimed at once.
 */
export class Listener {
  private client: pg.Client | undefined;
  private retryMs = 500;
  private stopped = false;

  private readonly connectionString: string;
  private readonly log: QueueLogger;
  private readonly onWake: (atMs: number) => void;
  private readonly onConnected: () => void;

  constructor(
    connectionString: string,
    log: QueueLogger,
    onWake: (atMs: number) => void,
    onConnected: () => void,
  ) {
    this.connectionString = connectionString;
    this.log = log;
    this.onWake = onWake;
    this.onConnected = onConnected;
  }

  async start(): Promise<void> {
    await this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    if (this.stopped) return; // a reconnect timer may fire after stop()
    const client = new pg.Client({
      connectionString: this.connectionString,
      application_name: 'imgkit-listener',
    });
    client.on('notification', (msg) => {
      const runAt = Number(msg.payload);
      this.onWake(Number.isFinite(runAt) ? runAt : Date.now());
    });
    const reconnect = (err?: unknown) => {
      if (this.client !== client || this.stopped) return;
      this.client = undefined;
      this.log.warn({ err: errSummary(err) }, 'LISTEN connection lost; reconnecting');
      client.end().catch(() => undefined);
      setTimeout(() => void this.connect(), this.retryMs).unref();
      this.retryMs = Math.min(this.retryMs * 2, 10_000);
    };
    client.on('error', reconnect);
    client.on('end', () => reconnect());
    try {
      this.client = client;
      await client.connect();
      if (this.stopped || this.client !== client) {
        await client.end().catch(() => undefined);
        return;
      }
      await client.query(`LISTEN ${CHANNEL}`);
      this.retryMs = 500;
      this.onConnected();
    } catch (err) {
      reconnect(err);
    }
  }
}
