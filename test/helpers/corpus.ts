import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';

/**
 * The test images: the curated subset the repository carries (test/corpus, with each
 * file's source and licence), or the full corpus when IMGKIT_CORPUS points at it.
 * Never skipped: a missing corpus fails the run.
 */
export const REPO_CORPUS = path.resolve(import.meta.dirname, '../corpus');
export const CORPUS = process.env.IMGKIT_CORPUS ? path.resolve(process.env.IMGKIT_CORPUS) : REPO_CORPUS;
if (!existsSync(path.join(CORPUS, 'hash-vectors/vectors.json'))) {
  throw new Error(`no test corpus at ${CORPUS} (IMGKIT_CORPUS=${process.env.IMGKIT_CORPUS ?? ''})`);
}

/** Every data file of the corpus (not READMEs, licences or generator scripts), relative paths. */
export async function corpusFiles(...folders: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const folder of folders) {
    const entries = await readdir(path.join(CORPUS, folder), { recursive: true, withFileTypes: true });
    for (const e of entries) {
      if (!e.isFile() || /\.(py|md)$/.test(e.name) || e.name === 'README.md') continue;
      const rel = path.relative(CORPUS, path.join(e.parentPath, e.name));
      if (rel.startsWith('LICENSES')) continue;
      out.push(rel);
    }
  }
  return out.sort();
}
