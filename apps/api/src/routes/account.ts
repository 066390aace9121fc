import { type AccountSettings, getAccountSettings, updateIntakeRules } from '@imgkit/auth';
import type { Pool } from '@imgkit/db';
import type { IntakeRules } from '@imgkit/media/core';
import { patchIntakeRules } from '@imgkit/media/intake-rules';
import { Router } from 'express';
import { principalOf } from '../middleware/auth.ts';
import { problems } from '../problem.ts';
import { PatchAccount } from '../schemas/account.ts';
import { fieldErrors } from '../schemas/zod.ts';

/** GET and PATCH /v1/account: the calling key's account and its intake rules. */
export function accountRouter(deps: { pool: Pool }): Router {
  const router = Router();

  router.get('/v1/account', async (_req, res) => {
    const account = await getAccountSettings<IntakeRules>(deps.pool, principalOf(res).accountId);
    if (!account) throw problems.notFound('No such account.');
    res.json(accountJson(account));
  });

  router.patch('/v1/account', async (req, res) => {
    const parsed = PatchAccount.safeParse(req.body);
    if (!parsed.success) throw problems.validation(fieldErrors(parsed.error));
    let invalid: ReturnType<typeof fieldErrors> | undefined;
    const account = await updateIntakeRules<IntakeRules>(deps.pool, principalOf(res).accountId, (current) => {
      const patched = patchIntakeRules(current, parsed.data.intake_rules);
      if (patched.ok) return patched.rules;
      invalid = fieldErrors(patched.error, 'intake_rules.');
      return current;
    });
    if (invalid) throw problems.validation(invalid);
    if (!account) throw problems.notFound('No such account.');
    res.json(accountJson(account));
  });

  return router;
}

function accountJson(a: AccountSettings<IntakeRules>) {
  return {
    object: 'account',
    id: a.id,
    name: a.name,
    created_at: a.created_at.toISOString(),
    intake_rules: a.intake_rules,
  };
}
