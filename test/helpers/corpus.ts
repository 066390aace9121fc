import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';

export const CORPUS = path.resolve(import.meta.dirname, '../../../shared/corpus');
export const corpusAvailable = existsSync(CORPUS);
export const SKIP_CORPUS = corpusAvailable ? false : `corpus not found at ${CORPUS}; skipping`;

/** Every data file of the corpus (not READMEs, licences or generator scripts), relative paths. */
export async function corpusFiles(...folders: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const folder of folders) {
    const entries = await readdir(path.join(CORPUS, folder), { recursive: true, withFileTypes: true });
    for (const e of entries) {
      if (!e.isFile() || /\.(py|md)$/.test(e.name) || e.name === 'README.md') continue;
      out.push(path.relative(CORPUS, path.join(e.parentPath, e.name)));
    }
  }
  return out.sort();
}
