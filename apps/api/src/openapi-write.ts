import { writeFile } from 'node:fs/promises';
import { openApiJson } from './openapi.ts';

// `npm run openapi`: regenerates the committed docs/openapi.json from the zod schemas.
const target = new URL('../../../docs/openapi.json', import.meta.url);
await writeFile(target, openApiJson());
console.log(`wrote ${target.pathname}`);
