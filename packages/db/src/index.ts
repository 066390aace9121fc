export { Batcher } from './batcher.ts';
export {
  EmbeddedPostgresError,
  type EmbeddedServer,
  embeddedUrl,
  startEmbeddedPostgres,
} from './embedded.ts';
export { freePort } from './free-port.ts';
export { Listener, type ListenerLog, type ListenerOptions } from './listener.ts';
export { type MigrationSet, migrate } from './migrate.ts';
export {
  createPool,
  isDatabaseUnavailable,
  type NamedQuery,
  PG_ERRORS,
  type Pool,
  type PoolClient,
  pgErrorCode,
  ping,
  type Queryable,
  query,
  queryOne,
  sql,
  withTransaction,
} from './pool.ts';
