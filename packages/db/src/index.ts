export { type EmbeddedServer, embeddedUrl, startEmbeddedPostgres } from './embedded.ts';
export { MIGRATIONS_DIR, migrate } from './migrate.ts';
export {
  createPool,
  type NamedQuery,
  PG_ERRORS,
  type Pool,
  type PoolClient,
  pgErrorCode,
  type Queryable,
  query,
  queryOne,
  sql,
  withTransaction,
} from './pool.ts';
