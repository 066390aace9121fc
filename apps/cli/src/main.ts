import { parseArgs } from 'node:util';
import { runAccounts, runKeys } from './commands/accounts.ts';
import { runDev } from './commands/dev.ts';
import { runImport } from './commands/import.ts';
import { runMigrate } from './commands/migrate.ts';
import { runSignUrl } from './commands/sign-url.ts';
import { runStorage } from './commands/storage.ts';
import { runTasks } from './commands/tasks.ts';
import { CliError, type Output } from './output.ts';

const USAGE = `usage: imgkit <command> [options]

  dev                                   run api + worker (embedded PostgreSQL unless DATABASE_URL is set)
  migrate                               apply database migrations
  accounts create --name NAME           create an account and its first API key
  accounts list
  accounts show [ACCOUNT_ID]            an account, its keys and its webhook signing secret
                                        (default: the development account of DATA_DIR)
  accounts rules [ACCOUNT_ID] [--set JSON]
                                        show or change intake rules (a merge patch; null removes one),
                                        e.g. --set '{"allowed_formats":["jpeg","png"],"max_width":6000}'
  keys create --account ID [--name N]   create an API key (shown once)
  keys list --account ID
  keys revoke KEY_ID
  tasks stats                           task counts by kind and status, oldest ready task age
  tasks retry TASK_ID                   requeue a failed task
  import <folder|urls.txt> [--wait] [--concurrency N]
                                        upload a folder (recursively) or a list of URLs through the
                                        API (IMGKIT_URL, IMGKIT_KEY); re-running skips what was accepted
  storage copy --to s3 [--concurrency N]
                                        copy the local blob store (DATA_DIR/blobs) into the S3_BUCKET
                                        of the S3_* settings; resumable; then set STORAGE=s3
  sign-url IMAGE_ID [--preset NAME] [--width N] [--height N] [--fit cover|inside|fill] [--gravity G]
           [--quality Q] [--format jpg|png|webp|avif|gif|auto] [--expires-in SECONDS]
           [--rendition-version N]      (after a purge: the image's rendition_version)

  --json   print exactly one JSON object (for scripts)`;

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false },
      name: { type: 'string' },
      account: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
      width: { type: 'string' },
      height: { type: 'string' },
      fit: { type: 'string' },
      gravity: { type: 'string' },
      quality: { type: 'string' },
      format: { type: 'string' },
      'expires-in': { type: 'string' },
      wait: { type: 'boolean', default: false },
      concurrency: { type: 'string' },
      to: { type: 'string' },
      set: { type: 'string' },
      preset: { type: 'string' },
      'rendition-version': { type: 'string' },
    },
  });
  const out: Output = {
    json: values.json ?? false,
    print: (human, json) => {
      process.stdout.write(values.json ? `${JSON.stringify(json)}\n` : `${human}\n`);
    },
  };
  const [command, sub, arg] = positionals;
  if (values.help || !command) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  switch (command) {
    case 'dev':
      return runDev();
    case 'migrate':
      return runMigrate(out);
    case 'accounts':
      return runAccounts(out, sub, { name: values.name, id: arg, set: values.set });
    case 'keys':
      return runKeys(out, sub, { account: values.account, name: values.name, id: arg });
    case 'tasks':
      return runTasks(out, sub, arg);
    case 'import':
      return runImport(out, sub, { wait: values.wait, concurrency: values.concurrency });
    case 'storage':
      return runStorage(out, sub, { to: values.to, concurrency: values.concurrency });
    case 'sign-url':
      return runSignUrl(out, sub, values);
    default:
      throw new CliError(`unknown command "${command}"\n\n${USAGE}`);
  }
}

main(process.argv.slice(2)).catch((err) => {
  const message = err instanceof Error ? err.message : String(err);
  if (process.argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify({ error: { message } })}\n`);
  } else {
    process.stderr.write(`imgkit: ${message}\n`);
  }
  process.exit(err instanceof CliError ? 2 : 1);
});
