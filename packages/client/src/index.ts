import createClient, { type Client } from 'openapi-fetch';
import type { components, paths } from './schema.ts';

/**
 * A typed client for the imgkit API: paths, parameters and bodies are checked against
 * docs/openapi.json (the types in schema.ts are generated from it by `npm run openapi`).
 *
 *   const api = imgkitClient('http://127.0.0.1:8080', process.env.IMGKIT_KEY!);
 *   const { data, error } = await api.GET('/v1/images/{id}', { params: { path: { id } } });
 */
export type ImgkitClient = Client<paths>;
export type Image = components['schemas']['Image'];
export type Job = components['schemas']['Job'];
export type Problem = components['schemas']['Problem'];
export type { components, paths };

export function imgkitClient(
  baseUrl: string,
  apiKey: string,
  options: { fetch?: typeof fetch } = {},
): ImgkitClient {
  return createClient<paths>({
    baseUrl: baseUrl.replace(/\/+$/, ''),
    headers: { Authorization: `Bearer ${apiKey}` },
    fetch: options.fetch,
  });
}
