import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { AccountSchema, PatchAccount } from '../schemas/account.ts';
import { bearerAuth, problemResponses } from '../schemas/zod.ts';

const security = [{ [bearerAuth.name]: [] }];

export function registerAccountPaths(registry: OpenAPIRegistry): void {
  registry.registerPath({
    method: 'get',
    path: '/v1/account',
    summary: 'The calling key’s account and its intake rules',
    security,
    responses: {
      200: { description: 'The account', content: { 'application/json': { schema: AccountSchema } } },
      ...problemResponses(401, 429, 503),
    },
  });
  registry.registerPath({
    method: 'patch',
    path: '/v1/account',
    summary: 'Change the intake rules (a merge patch: a rule set to null is removed)',
    security,
    request: { body: { content: { 'application/json': { schema: PatchAccount } } } },
    responses: {
      200: { description: 'Updated', content: { 'application/json': { schema: AccountSchema } } },
      ...problemResponses(400, 401, 429, 503),
    },
  });
}
