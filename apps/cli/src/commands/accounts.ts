import {
  createAccount,
  createApiKey,
  getAccount,
  listAccounts,
  listApiKeys,
  revokeApiKey,
  updateIntakeRules,
} from '@imgkit/auth';
import { withTransaction } from '@imgkit/db';
import { isId } from '@imgkit/ids';
import type { IntakeRules } from '@imgkit/media';
import { accountWebhookSecret, generateWebhookSecret } from '@imgkit/webhooks';
import { CliError, type Output, withDatabase } from '../output.ts';
import { devAccountId } from './dev.ts';

export async function runAccounts(
  out: Output,
  sub: string | undefined,
  opts: { name?: string; id?: string; set?: string },
): Promise<void> {
  if (sub === 'create') {
    if (!opts.name) throw new CliError('accounts create needs --name NAME');
    const name = opts.name;
    await withDatabase(async (pool, config) => {
      const { account, key } = await withTransaction(pool, async (tx) => {
        const account = await createAccount(tx, name, generateWebhookSecret());
        const { key } = await createApiKey(tx, config.secretKey, account.id, 'default');
        return { account, key };
      });
      const { webhook_secret, ...rest } = account;
      out.print(
        `account ${account.id} (${account.name})\nAPI key (shown once): ${key}\nwebhook signing secret: ${webhook_secret}`,
        { account: rest, key, webhook_secret },
      );
    });
    return;
  }
  if (sub === 'list') {
    await withDatabase(async (pool) => {
      const accounts = await listAccounts(pool);
      out.print(accounts.map((a) => `${a.id}  ${a.name}`).join('\n') || '(no accounts)', { accounts });
    });
    return;
  }
  if (sub === 'show') {
    await withDatabase(async (pool, config) => {
      const id = opts.id ?? (await devAccountId(config.dataDir));
      if (!id || !isId('account', id))
        throw new CliError('usage: imgkit accounts show [acc_…] (default: the development account)');
      const account = await getAccount(pool, id);
      if (!account) throw new CliError(`no account ${id}`);
      const keys = await listApiKeys(pool, id);
      const webhook_secret = await accountWebhookSecret(pool, id);
      const active = keys.filter((k) => !k.revoked_at).map((k) => `${k.id} ${k.display_prefix}`);
      out.print(
        [
          `account ${account.id} (${account.name})`,
          `API keys: ${active.join(', ') || '(none)'} — keys are shown only when made; npx imgkit keys create --account ${id}`,
          `webhook signing secret: ${webhook_secret}`,
        ].join('\n'),
        { account, keys, webhook_secret },
      );
    });
    return;
  }
  if (sub === 'rules') {
    await withDatabase(async (pool, config) => {
      const id = opts.id ?? (await devAccountId(config.dataDir));
      if (!id || !isId('account', id))
        throw new CliError(`usage: imgkit accounts rules [acc_…] [--set '{"max_width":4000}']`);
      let patch: Record<string, unknown> = {};
      if (opts.set !== undefined) {
        try {
          patch = JSON.parse(opts.set);
        } catch {
          throw new CliError(
            '--set takes a JSON object, e.g. \'{"allowed_formats":["jpeg"],"max_bytes":null}\'',
          );
        }
        if (typeof patch !== 'object' || patch === null || Array.isArray(patch))
          throw new CliError('--set takes a JSON object');
      }
      // The same merge patch and validation as PATCH /v1/account (imported here: it loads sharp).
      const { patchIntakeRules } = await import('@imgkit/media');
      let invalid: string | undefined;
      const account = await updateIntakeRules<IntakeRules>(pool, id, (current) => {
        const patched = patchIntakeRules(current, patch);
        if (patched.ok) return patched.rules;
        invalid = patched.error.issues.map((i) => `${i.path.join('.') || 'rules'}: ${i.message}`).join('; ');
        return current;
      });
      if (invalid) throw new CliError(`invalid intake rules: ${invalid}`);
      if (!account) throw new CliError(`no account ${id}`);
      const rules = account.intake_rules;
      const lines = Object.entries(rules).map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(', ') : v}`);
      out.print(`intake rules of ${id}\n${lines.join('\n') || '(none: everything is accepted)'}`, {
        account_id: id,
        intake_rules: rules,
      });
    });
    return;
  }
  throw new CliError(
    'usage: imgkit accounts create --name NAME | accounts list | accounts show [acc_…] | accounts rules [acc_…] [--set JSON]',
  );
}

export async function runKeys(
  out: Output,
  sub: string | undefined,
  opts: { account?: string; name?: string; id?: string },
): Promise<void> {
  if (sub === 'create' || sub === 'list') {
    const accountId = opts.account;
    if (!accountId || !isId('account', accountId)) throw new CliError(`keys ${sub} needs --account acc_…`);
    await withDatabase(async (pool, config) => {
      if (!(await getAccount(pool, accountId))) throw new CliError(`no account ${accountId}`);
      if (sub === 'create') {
        const { record, key } = await createApiKey(pool, config.secretKey, accountId, opts.name ?? null);
        out.print(`key ${record.id}\nAPI key (shown once): ${key}`, { key_record: record, key });
      } else {
        const keys = await listApiKeys(pool, accountId);
        out.print(
          keys
            .map(
              (k) => `${k.id}  ${k.display_prefix}  ${k.name ?? ''}  ${k.revoked_at ? 'revoked' : 'active'}`,
            )
            .join('\n') || '(no keys)',
          { keys },
        );
      }
    });
    return;
  }
  if (sub === 'revoke') {
    const keyId = opts.id;
    if (!keyId || !isId('key', keyId)) throw new CliError('usage: imgkit keys revoke key_…');
    await withDatabase(async (pool) => {
      const record = await revokeApiKey(pool, keyId);
      if (!record) throw new CliError(`no key ${keyId}`);
      out.print(`revoked ${record.id}`, { key_record: record });
    });
    return;
  }
  throw new CliError('usage: imgkit keys create|list --account ID | keys revoke KEY_ID');
}
