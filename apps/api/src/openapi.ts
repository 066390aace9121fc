import { OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import { registry } from './schemas/zod.ts';
// Route modules register their paths on import.
import './routes/health.ts';
import './routes/images.ts';
import './routes/jobs.ts';
import './routes/metrics.ts';
import './routes/signed-images.ts';
import './routes/webhooks.ts';

export function buildOpenApiDocument() {
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

export function openApiJson(): string {
  return `${JSON.stringify(buildOpenApiDocument(), null, 2)}\n`;
}
