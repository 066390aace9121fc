import { OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import { registerAccountPaths } from './openapi/account.ts';
import { registerImagePaths } from './openapi/images.ts';
import { registerJobPaths } from './openapi/jobs.ts';
import { registerSignedUrlPaths } from './openapi/signed-urls.ts';
import { registerHealthPaths, registerMetricsPath } from './openapi/system.ts';
import { registerTaskPaths } from './openapi/tasks.ts';
import { registerWebhookPaths } from './openapi/webhooks.ts';
import { AccountSchema, IntakeRulesSchema, PatchAccount } from './schemas/account.ts';
import { CreateImageFromUrl, ImageList, ImageSchema } from './schemas/images.ts';
import { CreateJob, JobAccepted, JobSchema } from './schemas/jobs.ts';
import { PresetSchema, PurgeResult, UrlsBody } from './schemas/signed-urls.ts';
import { CreateEndpoint, EndpointSchema, MessageSchema, UpdateEndpoint } from './schemas/webhooks.ts';
import { bearerAuth, ProblemSchema } from './schemas/zod.ts';

/** Every component and path of the public API, in a registry of its own (nothing registers on import). */
export function createOpenApiRegistry(): OpenAPIRegistry {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', bearerAuth.name, { ...bearerAuth.scheme });
  for (const [name, schema] of [
    ['Problem', ProblemSchema],
    ['CreateImageFromUrl', CreateImageFromUrl],
    ['Image', ImageSchema],
    ['ImageList', ImageList],
    ['CreateJob', CreateJob],
    ['JobAccepted', JobAccepted],
    ['Job', JobSchema],
    ['SignedUrlRequest', UrlsBody],
    ['UrlPreset', PresetSchema],
    ['Purge', PurgeResult],
    ['Account', AccountSchema],
    ['PatchAccount', PatchAccount],
    ['IntakeRules', IntakeRulesSchema],
    ['CreateWebhookEndpoint', CreateEndpoint],
    ['UpdateWebhookEndpoint', UpdateEndpoint],
    ['WebhookEndpoint', EndpointSchema],
    ['WebhookMessage', MessageSchema],
  ] as const) {
    registry.register(name, schema);
  }
  registerAccountPaths(registry);
  registerHealthPaths(registry);
  registerImagePaths(registry);
  registerJobPaths(registry);
  registerMetricsPath(registry);
  registerSignedUrlPaths(registry);
  registerTaskPaths(registry);
  registerWebhookPaths(registry);
  return registry;
}

export function buildOpenApiDocument(registry: OpenAPIRegistry = createOpenApiRegistry()) {
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'imgkit API',
      version: '1.0.0',
      description:
        'Self-hosted image ingestion and processing. Errors are RFC 9457 problem documents; ids are prefixed KSUIDs.',
    },
    servers: [{ url: '/' }],
  });
}

export function openApiJson(registry?: OpenAPIRegistry): string {
  return `${JSON.stringify(buildOpenApiDocument(registry), null, 2)}\n`;
}
