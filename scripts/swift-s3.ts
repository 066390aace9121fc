/**
 * A real S3-speaking server for tests and benchmarks: OpenStack Swift from Debian's packages
 * (`swift-proxy swift-object swift-container swift-account`) with its `s3api` middleware, which
 * checks SigV4 signatures and implements multipart uploads and presigned URLs.
 *
 * Everything lives under one temp directory (configs, one-device rings, the object data); the four
 * servers run in the foreground as an unprivileged user (`nobody` when started as root) and are
 * stopped with the process that started them. No memcached, no rsync, no replicators: one replica
 * on loopback is all a test needs.
 *
 *   node scripts/swift-s3.ts          # starts, prints the S3_* settings, stops on Ctrl-C
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { freePort } from '@imgkit/db';

export interface SwiftS3 {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** The proxy's port: stopping and starting the proxy alone simulates an S3 outage. */
  stopProxy(): Promise<void>;
  startProxy(): Promise<void>;
  /** Creates an empty bucket. */
  createBucket(name: string): Promise<void>;
  stop(): Promise<void>;
}

const SERVERS = ['account', 'container', 'object'] as const;
const BIN = (name: string) => `/usr/bin/swift-${name}-server`;

/** True when Debian's Swift packages are installed. */
export function swiftAvailable(): boolean {
  return ['proxy', ...SERVERS].every((s) => existsSync(BIN(s))) && existsSync('/usr/bin/swift-ring-builder');
}

export async function startSwiftS3(options: { log?: (line: string) => void } = {}): Promise<SwiftS3> {
  if (!swiftAvailable()) {
    throw new Error(
      'OpenStack Swift is not installed (apt-get install swift-proxy swift-object swift-container swift-account)',
    );
  }
  // The ports are free when chosen but not held: another process (a parallel test file's Swift)
  // can take one first, and that server then exits. Start again on new ports when that happens.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options);
    } catch (err) {
      if (attempt >= 3) throw err;
      options.log?.(`swift: start attempt ${attempt} failed (${String(err)}); trying new ports`);
    }
  }
}

async function startOnce(options: { log?: (line: string) => void }): Promise<SwiftS3> {
  const root = mkdtempSync(path.join(tmpdir(), 'imgkit-swift-'));
  const etc = path.join(root, 'etc');
  const devices = path.join(root, 'srv');
  mkdirSync(etc);
  mkdirSync(path.join(devices, 'd1'), { recursive: true });
  mkdirSync(path.join(root, 'run'));

  // Swift drops privileges to `user` after reading its configs; as root that is `nobody`.
  const asRoot = process.getuid?.() === 0;
  const user = asRoot ? 'nobody' : userInfo().username;
  const ports = {
    proxy: await freePort(),
    account: await freePort(),
    container: await freePort(),
    object: await freePort(),
  };

  writeFileSync(
    path.join(etc, 'swift.conf'),
    `[swift-hash]\nswift_hash_path_suffix = imgkit-test\nswift_hash_path_prefix = imgkit-test\n\n` +
      `[storage-policy:0]\nname = Policy-0\ndefault = yes\n`,
  );
  const common = (port: number) =>
    `[DEFAULT]\nbind_ip = 127.0.0.1\nbind_port = ${port}\nworkers = 0\nuser = ${user}\n` +
    `swift_dir = ${etc}\ndevices = ${devices}\nmount_check = false\nlog_name = swift\n` +
    `log_level = WARNING\nlog_address = /nonexistent\nlog_udp_host = 127.0.0.1\nlog_udp_port = 9\n`;
  for (const s of SERVERS) {
    writeFileSync(
      path.join(etc, `${s}-server.conf`),
      `${common(ports[s])}\n[pipeline:main]\npipeline = ${s}-server\n\n[app:${s}-server]\nuse = egg:swift#${s}\n` +
        (s === 'container' ? 'allow_versions = false\n' : ''),
    );
    const builder = path.join(etc, `${s}.builder`);
    execFileSync('swift-ring-builder', [builder, 'create', '6', '1', '1'], { stdio: 'ignore' });
    execFileSync('swift-ring-builder', [builder, 'add', `r1z1-127.0.0.1:${ports[s]}/d1`, '1'], {
      stdio: 'ignore',
    });
    // rebalance exits 1 with a warning about balance on a one-device ring; the ring is written.
    try {
      execFileSync('swift-ring-builder', [builder, 'rebalance'], { stdio: 'ignore' });
    } catch {}
    if (!existsSync(path.join(etc, `${s}.ring.gz`))) throw new Error(`could not build the ${s} ring`);
  }
  // s3api answers S3 (SigV4, multipart, presigned URLs); tempauth holds the one test user.
  // tempauth wants a memcache client in the environment: the middleware is there, with no server.
  writeFileSync(
    path.join(etc, 'proxy-server.conf'),
    `${common(ports.proxy)}\n[pipeline:main]\n` +
      'pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats ' +
      's3api tempauth copy slo dlo proxy-logging proxy-server\n\n' +
      '[app:proxy-server]\nuse = egg:swift#proxy\naccount_autocreate = true\nallow_account_management = true\n' +
      // One device per ring: the proxy must never "error-limit" it (by default 10 errors in a
      // minute make it answer 503 for a minute), and a loaded test machine needs patience.
      'error_suppression_limit = 1000000\nerror_suppression_interval = 1\n' +
      'conn_timeout = 5\nnode_timeout = 60\nrecoverable_node_timeout = 60\n\n' +
      '[filter:catch_errors]\nuse = egg:swift#catch_errors\n\n' +
      '[filter:gatekeeper]\nuse = egg:swift#gatekeeper\n\n' +
      '[filter:healthcheck]\nuse = egg:swift#healthcheck\n\n' +
      '[filter:proxy-logging]\nuse = egg:swift#proxy_logging\n\n' +
      '[filter:cache]\nuse = egg:swift#memcache\nmemcache_servers = 127.0.0.1:1\n\n' +
      '[filter:listing_formats]\nuse = egg:swift#listing_formats\n\n' +
      '[filter:s3api]\nuse = egg:swift#s3api\nlocation = us-east-1\n\n' +
      '[filter:tempauth]\nuse = egg:swift#tempauth\nuser_test_tester = testing .admin\n\n' +
      '[filter:copy]\nuse = egg:swift#copy\n\n' +
      '[filter:slo]\nuse = egg:swift#slo\n\n' +
      '[filter:dlo]\nuse = egg:swift#dlo\n',
  );
  if (asRoot) execFileSync('chown', ['-R', user, root]);
  else chownSync(root, process.getuid?.() ?? 0, process.getgid?.() ?? 0);

  const children = new Map<string, ChildProcess>();
  const log = options.log ?? (() => {});
  const launch = (name: 'proxy' | (typeof SERVERS)[number]) => {
    const child = spawn(BIN(name), [path.join(etc, `${name}-server.conf`)], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => log(`swift-${name}: ${d.trimEnd()}`));
    children.set(name, child);
    return child;
  };
  const stopOne = async (name: string) => {
    const child = children.get(name);
    children.delete(name);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  };
  const endpoint = `http://127.0.0.1:${ports.proxy}`;
  /** A server that died (typically: its port was taken) makes this start hopeless. */
  const checkAlive = () => {
    for (const [name, child] of children) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`swift-${name}-server exited (${child.exitCode ?? child.signalCode})`);
      }
    }
  };
  const waitHealthy = async () => {
    const deadline = Date.now() + 60_000;
    for (;;) {
      checkAlive();
      try {
        const r = await fetch(`${endpoint}/healthcheck`);
        if (r.ok) return;
      } catch {}
      if (Date.now() > deadline) throw new Error('Swift did not become healthy within 60 s');
      await new Promise((r) => setTimeout(r, 200));
    }
  };

  const stop = async () => {
    await Promise.all([...children.keys()].map(stopOne));
    rmSync(root, { recursive: true, force: true });
  };
  const createBucketOnce = async (name: string) => {
    const client = new S3Client({
      region: 'us-east-1',
      endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: 'test:tester', secretAccessKey: 'testing' },
    });
    try {
      await client.send(new CreateBucketCommand({ Bucket: name }));
    } finally {
      client.destroy();
    }
  };
  // On a machine loaded with other test files, Swift's container server can answer the proxy
  // late and s3api then says 500 InternalError a few times in a row: a test's bucket waits
  // that out (as the readiness probe below does) instead of failing the file.
  const createBucket = async (name: string) => {
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        return await createBucketOnce(name);
      } catch (err) {
        const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode ?? 0;
        if (status < 500 || Date.now() > deadline) throw err;
        checkAlive();
        await new Promise((r) => setTimeout(r, 300));
      }
    }
  };
  try {
    for (const s of SERVERS) launch(s);
    launch('proxy');
    await waitHealthy();
    // The proxy answers /healthcheck before the account and container servers behind it are
    // up (a busy machine takes seconds): ready means a bucket can be created.
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        await createBucketOnce('imgkit-ready-probe');
        break;
      } catch (err) {
        const name = (err as Error).name;
        if (name === 'BucketAlreadyOwnedByYou' || name === 'BucketAlreadyExists') break;
        checkAlive();
        if (Date.now() > deadline) throw new Error(`Swift s3api did not accept requests within 60 s: ${err}`);
        await new Promise((r) => setTimeout(r, 300));
      }
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    endpoint,
    region: 'us-east-1',
    accessKeyId: 'test:tester',
    secretAccessKey: 'testing',
    stopProxy: () => stopOne('proxy'),
    createBucket,
    async startProxy() {
      launch('proxy');
      await waitHealthy();
    },
    stop,
  };
}

if (import.meta.main) {
  const started = Date.now();
  const s3 = await startSwiftS3({ log: (l) => process.stderr.write(`${l}\n`) });
  process.stdout.write(
    `# Swift with s3api up in ${((Date.now() - started) / 1000).toFixed(1)} s\n` +
      `STORAGE=s3\nS3_ENDPOINT=${s3.endpoint}\nS3_REGION=${s3.region}\nS3_FORCE_PATH_STYLE=true\n` +
      `AWS_ACCESS_KEY_ID=${s3.accessKeyId}\nAWS_SECRET_ACCESS_KEY=${s3.secretAccessKey}\n`,
  );
  const shutdown = () => s3.stop().then(() => process.exit(0));
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}
