/**
 * Assembles the WebAssembly text sources of the media package (packages/media/src/*.wat) into
 * the .wasm files it loads at run time, with wabt. The .wasm files are committed so that
 * nothing is compiled at install time; packages/media/test/wasm.test.ts fails when one is stale.
 *
 *   npm run wasm
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import wabtInit from 'wabt';

const dir = path.resolve(import.meta.dirname, '../packages/media/src');

/** The binary wabt makes of one .wat source (SIMD on; no names section, so the bytes are stable). */
export async function assemble(watFile: string): Promise<Uint8Array> {
  const wabt = await wabtInit();
  const module = wabt.parseWat(path.basename(watFile), await readFile(watFile, 'utf8'), { simd: true });
  try {
    module.validate();
    return module.toBinary({ write_debug_names: false }).buffer;
  } finally {
    module.destroy();
  }
}

export async function watSources(): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.endsWith('.wat')).map((f) => path.join(dir, f));
}

if (import.meta.main) {
  for (const wat of await watSources()) {
    const out = wat.replace(/\.wat$/, '.wasm');
    await writeFile(out, await assemble(wat));
    console.log(`${path.relative(process.cwd(), wat)} → ${path.relative(process.cwd(), out)}`);
  }
}
