import pg from 'pg';

/** What a Listener reports: a lost connection (with the error's message and SQLSTATE). */
export interface ListenerLog {
  warn: (obj: object, msg: string) => void;
}

export interface ListenerOptions {
  connectionString: string;
  /** A fixed identifier (never user input): it is written into `LISTEN <channel>`. */
  channel: string;
  applicationName: string;
  log: ListenerLog;
  onMessage: (payload: string) => void;
  /**
   * Runs after every (re)connect. Notifications sent while nobody listened are lost, so the
   * caller catches up here (the queue claims at once; the api forgets what it cached).
   */
  onConnected: () => void;
}

/**
 * One dedicated LISTEN connection that reconnects with backoff (0.5 s doubling to 10 s).
 * A pool client cannot be used: it would be returned to the pool and its LISTEN with it.
 */
export class Listener {
  private client: pg.Client | undefined;
  private retryMs = 500;
  private stopped = false;
  private readonly o: ListenerOptions;

  constructor(options: ListenerOptions) {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(options.channel)) throw new Error('bad channel name');
    this.o = options;
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
      connectionString: this.o.connectionString,
      application_name: this.o.applicationName,
    });
    client.on('notification', (msg) => {
      if (msg.channel === this.o.channel) this.o.onMessage(msg.payload ?? '');
    });
    const reconnect = (err?: unknown) => {
      if (this.client !== client || this.stopped) return;
      this.client = undefined;
      const e = err as { message?: string; code?: string } | undefined;
      this.o.log.warn(
        { err: e && { message: e.message ?? String(err), code: e.code }, channel: this.o.channel },
        'LISTEN connection lost; reconnecting',
      );
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
      await client.query(`LISTEN ${this.o.channel}`);
      this.retryMs = 500;
      this.o.onConnected();
    } catch (err) {
      reconnect(err);
    }
  }
}
