import { type Pool, type Queryable, query, queryOne, sql, withTransaction } from '@imgkit/db';
import { newId } from '@imgkit/ids';
import { digestApiKey, digestsEqual, displayPrefix, generateApiKey, isWellFormedApiKey } from './keys.ts';

export interface Account {
  id: string;
  name: string;
  created_at: Date;
}

export interface ApiKeyRecord {
  id: string;
  account_id: string;
  name: string | null;
  display_prefix: string;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

const Q = {
  insertAccount: sql(
    'accounts.insert',
    'INSERT INTO accounts (id, name, webhook_secret) VALUES ($1, $2, $3) RETURNING id, name, created_at, webhook_secret',
  ),
  listAccounts: sql('accounts.list', 'SELECT id, name, created_at FROM accounts ORDER BY id'),
  getAccount: sql('accounts.get', 'SELECT id, name, created_at FROM accounts WHERE id = $1'),
  getIntakeRules: sql('accounts.get_intake_rules', 'SELECT intake_rules FROM accounts WHERE id = $1'),
  lockIntakeRules: sql(
    'accounts.lock_intake_rules',
    'SELECT intake_rules FROM accounts WHERE id = $1 FOR UPDATE',
  ),
  setIntakeRules: sql(
    'accounts.set_intake_rules',
    `UPDATE accounts SET intake_rules = $2::jsonb WHERE id = $1 RETURNING id, name, created_at, intake_rules`,
  ),
  getAccountWithRules: sql(
    'accounts.get_with_rules',
    'SELECT id, name, created_at, intake_rules FROM accounts WHERE id = $1',
  ),
  insertKey: sql(
    'api_keys.insert',
    `INSERT INTO api_keys (id, account_id, name, digest, display_prefix) VALUES ($1, $2, $3, $4, $5)
     RETURNING id, account_id, name, display_prefix, created_at, last_used_at, revoked_at`,
  ),
  listKeys: sql(
    'api_keys.list',
    `SELECT id, account_id, name, display_prefix, created_at, last_used_at, revoked_at
     FROM api_keys WHERE account_id = $1 ORDER BY id`,
  ),
  revokeKey: sql(
    'api_keys.revoke',
    `UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1
     RETURNING id, account_id, name, display_prefix, created_at, last_used_at, revoked_at`,
  ),
  findKeyByDigest: sql(
    'api_keys.find_by_digest',
    'SELECT id, account_id, digest, revoked_at FROM api_keys WHERE digest = $1',
  ),
  // Writes at most once a minute per key, so authentication stays a read.
  touchKey: sql(
    'api_keys.touch',
    `UPDATE api_keys SET last_used_at = now()
     WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')`,
  ),
};

/**
 * A new account. `webhookSecret` is its default webhook signing secret (signs deliveries
 * to images' and jobs' own webhook_url); made by the caller with the webhooks package's
 * generator, or left null to be made at the first delivery.
 */
export async function createAccount(
  db: Queryable,
  name: string,
  webhookSecret: string | null = null,
): Promise<Account & { webhook_secret: string | null }> {
  const row = await queryOne<Account & { webhook_secret: string | null }>(db, Q.insertAccount, [
    newId('account'),
    name,
    webhookSecret,
  ]);
  return row!;
}

export async function listAccounts(db: Queryable): Promise<Account[]> {
  return query<Account>(db, Q.listAccounts);
}

export async function getAccount(db: Queryable, id: string): Promise<Account | undefined> {
  return queryOne<Account>(db, Q.getAccount, [id]);
}

/** An account as its owner sees it: with its intake rules (validated by the api before storing). */
export type AccountSettings<Rules extends object> = Account & { intake_rules: Rules };

export async function getAccountSettings<Rules extends object>(
  db: Queryable,
  id: string,
): Promise<AccountSettings<Rules> | undefined> {
  return queryOne<AccountSettings<Rules>>(db, Q.getAccountWithRules, [id]);
}

/** What the account accepts at intake; `{}` (everything) for an unknown account. */
export async function getIntakeRules<Rules extends object>(db: Queryable, id: string): Promise<Rules> {
  const row = await queryOne<{ intake_rules: Rules }>(db, Q.getIntakeRules, [id]);
  return row?.intake_rules ?? ({} as Rules);
}

/**
 * Replaces the rules with `change(current)` under a row lock, so concurrent changes apply one
 * after the other (the caller validates the result as a whole, e.g. min ≤ max). Undefined when
 * there is no such account.
 */
export async function updateIntakeRules<Rules extends object>(
  pool: Pool,
  id: string,
  change: (current: Rules) => Rules,
): Promise<AccountSettings<Rules> | undefined> {
  return withTransaction(pool, async (tx) => {
    const row = await queryOne<{ intake_rules: Rules }>(tx, Q.lockIntakeRules, [id]);
    if (!row) return undefined;
    const next = change(row.intake_rules);
    return queryOne<AccountSettings<Rules>>(tx, Q.setIntakeRules, [id, JSON.stringify(next)]);
  });
}

/** Returns the record and the plaintext key; the key cannot be recovered later. */
export async function createApiKey(
  db: Queryable,
  secretKey: string,
  accountId: string,
  name: string | null = null,
): Promise<{ record: ApiKeyRecord; key: string }> {
  const key = generateApiKey();
  const record = await queryOne<ApiKeyRecord>(db, Q.insertKey, [
    newId('key'),
    accountId,
    name,
    digestApiKey(secretKey, key),
    displayPrefix(key),
  ]);
  return { record: record!, key };
}

export async function listApiKeys(db: Queryable, accountId: string): Promise<ApiKeyRecord[]> {
  return query<ApiKeyRecord>(db, Q.listKeys, [accountId]);
}

export async function revokeApiKey(db: Queryable, keyId: string): Promise<ApiKeyRecord | undefined> {
  return queryOne<ApiKeyRecord>(db, Q.revokeKey, [keyId]);
}

export interface Principal {
  keyId: string;
  accountId: string;
}

export type AuthResult =
  | { ok: true; principal: Principal }
  | { ok: false; reason: 'malformed' | 'unknown' | 'revoked' };

export async function authenticateApiKey(db: Queryable, secretKey: string, key: string): Promise<AuthResult> {
  if (!isWellFormedApiKey(key)) return { ok: false, reason: 'malformed' };
  const digest = digestApiKey(secretKey, key);
  const row = await queryOne<{ id: string; account_id: string; digest: Buffer; revoked_at: Date | null }>(
    db,
    Q.findKeyByDigest,
    [digest],
  );
  if (!row || !digestsEqual(row.digest, digest)) return { ok: false, reason: 'unknown' };
  if (row.revoked_at) return { ok: false, reason: 'revoked' };
  return { ok: true, principal: { keyId: row.id, accountId: row.account_id } };
}

export async function touchApiKey(db: Queryable, keyId: string): Promise<void> {
  await query(db, Q.touchKey, [keyId]);
}
