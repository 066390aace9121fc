import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { z } from 'zod';

/**
 * Every environment variable imgkit reads, with its default. Parsed once in each
 * process's main() and passed down; nothing else reads process.env.
 */
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v === '' ? undefined : v));

export const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: int(0, 65535).default(8080),
  HOST: z.string().min(1).default('127.0.0.1'),
  PUBLIC_BASE_URL: optionalString.pipe(z.url().optional()),
  DATABASE_URL: optionalString.pipe(
    z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
      .optional(),
  ),
  DATABASE_POOL_MAX: int(1, 1000).default(10),
  DATA_DIR: z.string().min(1).default('./.data'),
  EMBEDDED_PG_PORT: int(1, 65535).default(54329),
  STORAGE: z.enum(['local', 's3']).default('local'),
  S3_BUCKET: optionalString,
  S3_REGION: optionalString,
  S3_ENDPOINT: optionalString,
  S3_ACCESS_KEY_ID: optionalString,
  S3_SECRET_ACCESS_KEY: optionalString,
  S3_FORCE_PATH_STYLE: bool.optional(),
  S3_KEY_PREFIX: optionalString.pipe(
    z
      .string()
      .regex(/^[A-Za-z0-9_\-.]+(\/[A-Za-z0-9_\-.]+)*$/, 'must be path segments like imgkit/prod')
      .refine((v) => !v.split('/').some((p) => p === '.' || p === '..'), 'must not contain . or .. segments')
      .optional(),
  ),
  // The SDK's default (CRC trailers on every upload) breaks or corrupts streamed uploads on
  // many non-AWS servers; with an endpoint set the default is checksums only where required.
  S3_CHECKSUM: z.enum(['when_required', 'when_supported']).optional(),
  S3_MAX_ATTEMPTS: int(1, 20).default(4),
  S3_REQUEST_TIMEOUT_MS: int(1000, 600_000).default(30_000),
  // Each machine keeps originals it has read from S3 on its own disk (STORAGE=s3 only).
  ORIGINALS_CACHE_MAX_BYTES: int(0).default(2 * 1024 * 1024 * 1024),
  ORIGINALS_DELIVERY: z.enum(['proxy', 'redirect']).default('proxy'),
  ORIGINALS_REDIRECT_TTL_SECONDS: int(10, 7 * 24 * 3600).default(300),
  WORKER_CONCURRENCY: int(1, 1024).default(availableParallelism()),
  WORKER_POLL_INTERVAL_MS: int(50, 60_000).default(1000),
  WORKER_LISTEN: bool.default(true),
  WORKER_LEASE_MS: int(1000, 3_600_000).default(30_000),
  // A task that met an outage of the blob store is tried again this often (±50 %), for as
  // long as the outage lasts, without using up its attempts.
  WORKER_OUTAGE_RETRY_MS: int(100, 3_600_000).default(15_000),
  WORKER_SHUTDOWN_TIMEOUT_MS: int(0, 3_600_000).default(25_000),
  TASK_RETENTION_HOURS: int(0, 24 * 365).default(24 * 7),
  MAX_UPLOAD_BYTES: int(1).default(50 * 1024 * 1024),
  MAX_DOWNLOAD_BYTES: int(1).default(50 * 1024 * 1024),
  // POST /v1/jobs with the image inline (base64 in JSON): JSON is held in memory several
  // times over while parsed, so inline inputs get a smaller cap than uploads (which stream).
  MAX_INLINE_INPUT_BYTES: int(1).default(8 * 1024 * 1024),
  MAX_INPUT_PIXELS: int(1).default(100_000_000),
  MAX_PASSTHROUGH_BYTES: int(0).default(16 * 1024),
  MAX_ANIMATION_FRAMES: int(1).default(500),
  MAX_OUTPUT_SIDE: int(16, 65_535).default(4096),
  VARIANT_PRESETS: z
    .string()
    .regex(
      /^[a-z0-9_-]{1,32}:\d{1,5}(,[a-z0-9_-]{1,32}:\d{1,5})*$/,
      'must look like thumbnail:100,medium:500',
    )
    .default('thumbnail:100,medium:500,large:1000')
    .transform((s) =>
      Object.fromEntries(s.split(',').map((p) => [p.split(':')[0], Number(p.split(':')[1])])),
    ),
  CACHE_MAX_BYTES: int(0).default(1024 * 1024 * 1024),
  // Of which the most recently used small renderings (up to 256 KiB each) are also in memory.
  CACHE_MEMORY_MAX_BYTES: int(0).default(32 * 1024 * 1024),
  // Named presets for signed URLs (`p:name`): JSON in the variable or in a file (not both).
  // Without either, each VARIANT_PRESETS size is a preset of that width.
  SIGNED_URLS_PRESETS: optionalString,
  SIGNED_URLS_PRESETS_FILE: optionalString,
  SIGNED_URLS_PRESETS_ONLY: bool.default(false),
  // How long nginx (X-Accel-Expires) keeps a rendering before it revalidates with the api: the
  // longest a purged image's old rendering is still served by the shipped nginx site.
  SIGNED_URLS_PROXY_CACHE_SECONDS: int(0, 365 * 86400).default(600),
  URL_SIGNING_KEY_ID: z
    .string()
    .regex(/^[A-Za-z0-9]{1,16}$/, 'must be 1–16 letters or digits')
    .default('1'),
  URL_SIGNING_OLD_KEYS: z
    .string()
    .regex(
      /^([A-Za-z0-9]{1,16}=[^,]{32,})?(,[A-Za-z0-9]{1,16}=[^,]{32,})*$/,
      'must be id=key,id=key (keys ≥ 32 chars)',
    )
    .default('')
    .transform((s) =>
      Object.fromEntries(
        s
          .split(',')
          .filter(Boolean)
          .map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]),
      ),
    ),
  DECODE_TIMEOUT_MS: int(1000, 600_000).default(30_000),
  // The isolated media pool: threads, each thread's JS heap, decoded pixels admitted at once
  // across the process (the memory bound: ~3-4 bytes per pixel while decoding), and the
  // wall-clock deadline of one call.
  MEDIA_THREADS: int(1, 256).default(Math.max(4, availableParallelism())),
  // The api's pool only renders signed URLs (libvips does that work on libuv's thread pool, four
  // threads, while the calling thread's event loop waits) and inspects uploads. Each thread is
  // ~17 MB of memory (its own V8 heap and the rendering modules; ~33 MB without Node's compile
  // cache), so one thread runs several calls at once: cores + 1 keeps the cores busy through
  // each call's gaps (bench/thumbs on 2 cores: 1 thread × 3 calls renders as fast as 2 × 1
  // did, or faster, at ~12 MB less peak RSS; bench/README.md).
  API_MEDIA_THREADS: int(1, 256).default(1),
  API_MEDIA_CALLS_PER_THREAD: int(1, 64).default(Math.min(8, availableParallelism() + 1)),
  MEDIA_THREAD_HEAP_MB: int(32, 16_384).default(512),
  MEDIA_PIXEL_BUDGET: int(1).default(200_000_000),
  MEDIA_CALL_TIMEOUT_MS: int(1000, 3_600_000).default(90_000),
  // libvips' operation cache (process-wide); 0 turns it off: our inputs are nearly all distinct.
  LIBVIPS_CACHE_MB: int(0, 65_536).default(0),
  // Local originals up to this size are read whole, with one read, into buffers each media
  // thread keeps between renders (one per render it runs at once); larger ones, or all with 0,
  // stream from the file through libvips' 4 KB reads (4-8 % of a thumbnail's CPU; bench/README).
  MEDIA_READ_WHOLE_MB: int(0, 1024).default(16),
  PROCESS_IMAGE_MAX_ATTEMPTS: int(1, 100).default(5),
  PROCESS_IMAGE_BACKOFF_MS: int(1, 3_600_000).default(5000),
  RENDER_JOB_MAX_ATTEMPTS: int(1, 100).default(5),
  RENDER_JOB_BACKOFF_MS: int(1, 3_600_000).default(5000),
  JSON_BODY_LIMIT_BYTES: int(1024).default(256 * 1024),
  FETCH_TIMEOUT_MS: int(100, 600_000).default(30_000),
  FETCH_ALLOW_PRIVATE_NETWORKS: bool.default(false),
  RATE_LIMIT_PER_MINUTE: int(0).default(600),
  WEBHOOK_RETRY_SCHEDULE: z
    .string()
    .regex(/^\d+(\.\d+)?(,\d+(\.\d+)?)*$/, 'must be comma-separated seconds, e.g. 0,5,300')
    .default('0,5,300,1800,7200,18000,36000,36000')
    .transform((s) => s.split(',').map((v) => Number(v) * 1000)),
  WEBHOOK_TIMEOUT_MS: int(100, 120_000).default(15_000),
  WEBHOOK_SECRET_ROTATION_HOURS: z.coerce
    .number()
    .min(0)
    .max(24 * 30)
    .default(24),
  WEBHOOK_LOG_RETENTION_HOURS: int(1, 24 * 3650).default(24 * 30),
  WEBHOOK_DISABLE_AFTER_HOURS: z.coerce
    .number()
    .min(0)
    .default(5 * 24),
  URL_SIGNING_KEY: optionalString.pipe(z.string().min(32, 'must be at least 32 characters').optional()),
  SECRET_KEY: optionalString.pipe(z.string().min(32, 'must be at least 32 characters').optional()),
  SENTRY_DSN: optionalString.pipe(z.url().optional()),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  METRICS_HOST: optionalString,
});

export type Env = z.infer<typeof envSchema>;

export interface Config extends Env {
  /** DATA_DIR made absolute, so child processes and the CLI agree on it. */
  readonly dataDir: string;
  /** True when DATABASE_URL is unset and the embedded PostgreSQL under DATA_DIR is used. */
  readonly embeddedDatabase: boolean;
  readonly secretKey: string;
  readonly urlSigningKey: string;
  /** SIGNED_URLS_PRESETS(_FILE), or the variant sizes: name → output options. */
  readonly urlPresets: Readonly<Record<string, UrlPresetConfig>>;
}

const GRAVITY_NAMES = [
  'centre',
  'north',
  'northeast',
  'east',
  'southeast',
  'south',
  'southwest',
  'west',
  'northwest',
  'entropy',
  'attention',
] as const;

/** One signed-URL preset, as written in SIGNED_URLS_PRESETS or its file. */
const presetSchema = z
  .strictObject({
    width: z.number().int().min(1).max(65_535).optional(),
    height: z.number().int().min(1).max(65_535).optional(),
    fit: z.enum(['cover', 'inside', 'fill']).optional(),
    gravity: z.enum(GRAVITY_NAMES).optional(),
    quality: z.number().int().min(1).max(100).optional(),
    format: z.enum(['auto', 'jpg', 'jpeg', 'png', 'webp', 'avif', 'gif']).optional(),
  })
  .refine((p) => p.width !== undefined || p.height !== undefined || p.format !== undefined, {
    message: 'a preset sets width, height or format',
  });
const presetsSchema = z.record(z.string().regex(/^[a-z0-9_-]{1,32}$/, 'is not a preset name'), presetSchema);
export type UrlPresetConfig = z.infer<typeof presetSchema>;

function loadPresets(e: Env): Record<string, UrlPresetConfig> {
  if (e.SIGNED_URLS_PRESETS && e.SIGNED_URLS_PRESETS_FILE) {
    throw new ConfigError(
      'invalid configuration: set SIGNED_URLS_PRESETS or SIGNED_URLS_PRESETS_FILE, not both',
    );
  }
  const name = e.SIGNED_URLS_PRESETS_FILE ? 'SIGNED_URLS_PRESETS_FILE' : 'SIGNED_URLS_PRESETS';
  let text = e.SIGNED_URLS_PRESETS;
  if (e.SIGNED_URLS_PRESETS_FILE) {
    try {
      text = readFileSync(e.SIGNED_URLS_PRESETS_FILE, 'utf8');
    } catch (err) {
      throw new ConfigError(
        `invalid configuration: SIGNED_URLS_PRESETS_FILE cannot be read (${(err as Error).message})`,
      );
    }
  }
  if (text === undefined) {
    return Object.fromEntries(Object.entries(e.VARIANT_PRESETS).map(([n, width]) => [n, { width }]));
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ConfigError(`invalid configuration: ${name} is not JSON like {"thumbnail":{"width":200}}`);
  }
  const parsed = presetsSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(
      `invalid configuration: ${name}: ${issue.path.join('.') || 'presets'} ${issue.message}`,
    );
  }
  return parsed.data;
}

/** Variables whose values are secrets: an error names them but never prints them. */
const SECRET = new Set([
  'SECRET_KEY',
  'URL_SIGNING_KEY',
  'URL_SIGNING_OLD_KEYS',
  'SENTRY_DSN',
  'S3_ACCESS_KEY_ID',
  'S3_SECRET_ACCESS_KEY',
]);

/** How a bad value appears in an error message (which ends up in the journal). */
function shown(name: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (SECRET.has(name)) return `a value of ${value.length} characters, not shown`;
  if (name === 'DATABASE_URL') {
    // The password (and anything after a user name) stays out of logs.
    return JSON.stringify(value.replace(/^([a-z]+:\/\/)[^@/]*@/i, '$1***@'));
  }
  return JSON.stringify(value.slice(0, 200));
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Secrets generated once per DATA_DIR for development, used when the env sets none. */
export interface LocalSecrets {
  secretKey: string;
  urlSigningKey: string;
}

export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  localSecrets?: LocalSecrets,
): Readonly<Config> {
  // An empty value means "not set" (VAR= in an env file), so the default applies.
  env = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ''));
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const name = String(issue.path[0] ?? 'environment');
    const got = shown(name, env[name]);
    throw new ConfigError(
      `invalid configuration: ${name} ${issue.message}${got === undefined ? '' : ` (got ${got})`}`,
    );
  }
  const e = parsed.data;
  const usesLocalSecrets = e.NODE_ENV !== 'production' && localSecrets !== undefined;
  for (const name of ['SECRET_KEY', 'URL_SIGNING_KEY'] as const) {
    if (!e[name] && !usesLocalSecrets) {
      throw new ConfigError(
        `invalid configuration: ${name} is required (at least 32 characters) in production`,
      );
    }
  }
  if (e.STORAGE === 's3' && !e.S3_BUCKET) {
    throw new ConfigError('invalid configuration: S3_BUCKET is required when STORAGE=s3');
  }
  if (e.STORAGE === 's3' && !e.S3_REGION && !e.S3_ENDPOINT) {
    throw new ConfigError(
      'invalid configuration: S3_REGION is required when STORAGE=s3 (or set S3_ENDPOINT)',
    );
  }
  if (Boolean(e.S3_ACCESS_KEY_ID) !== Boolean(e.S3_SECRET_ACCESS_KEY)) {
    throw new ConfigError(
      'invalid configuration: S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY are set together (or neither, for the SDK default chain)',
    );
  }
  if (e.ORIGINALS_DELIVERY === 'redirect' && e.STORAGE !== 's3') {
    throw new ConfigError('invalid configuration: ORIGINALS_DELIVERY=redirect needs STORAGE=s3');
  }
  return Object.freeze({
    ...e,
    dataDir: path.resolve(e.DATA_DIR),
    embeddedDatabase: e.DATABASE_URL === undefined,
    secretKey: e.SECRET_KEY ?? localSecrets!.secretKey,
    urlSigningKey: e.URL_SIGNING_KEY ?? localSecrets!.urlSigningKey,
    urlPresets: loadPresets(e),
  });
}
