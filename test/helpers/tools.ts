import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * A reference tool the tests use as an oracle (exiftool, nginx): the path of the first
 * candidate that runs, or a skip reason. Under CI=true a missing tool is a failure, never
 * a skip: `.ci/run` installs them.
 */
export async function oracleTool(
  candidates: string[],
  versionArgs: string[],
): Promise<{ bin?: string; skip: string | false }> {
  for (const bin of candidates) {
    if (
      await run(bin, versionArgs).then(
        () => true,
        () => false,
      )
    )
      return { bin, skip: false };
  }
  const reason = `${candidates[0]} is not installed (.ci/run installs it)`;
  if (process.env.CI === 'true') throw new Error(`CI=true and ${reason}`);
  return { skip: reason };
}
