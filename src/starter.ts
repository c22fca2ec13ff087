/**
 * The `storyloom` command-line entry. Subcommands live in src/cli; this file only dispatches
 * and turns errors into messages and exit codes.
 */
import { ConfigError, loadConfig } from './config';
import { smokeCommand } from './cli/smoke.command';
import { UsageError } from './cli/temporal-client';

const HELP = `storyloom — durable AI pipelines for stories and scripts

Usage: storyloom <command> [options]

Commands:
  smoke [--prompt TEXT] [--no-cache]   run the smoke workflow (one LLM call, stored) and wait
  worker                               run a worker (workflows + LLM activities) until Ctrl-C
  migrate                              create the database if needed and apply migrations
  help                                 this text

Configuration comes from the environment (see .env.example).`;

type Command = (argv: string[]) => Promise<number>;

const commands: Record<string, Command> = {
  smoke: (argv) => smokeCommand(loadConfig(), argv),
  worker: async () => {
    const { runWorkerProcess } = await import('./worker');
    await runWorkerProcess();
    return 0;
  },
  migrate: async () => {
    const { migrateDatabase, redactUrl } = await import('./db/data-source');
    const config = loadConfig();
    const applied = await migrateDatabase(config.databaseUrl);
    console.log(applied.length ? `Applied: ${applied.join(', ')}` : `${redactUrl(config.databaseUrl)} is up to date.`);
    return 0;
  },
  help: async () => {
    console.log(HELP);
    return 0;
  },
};

export async function main(argv: string[]): Promise<number> {
  const [name = 'help', ...rest] = argv;
  const command = commands[name === '--help' || name === '-h' ? 'help' : name];
  if (!command) {
    console.error(`Unknown command "${name}".\n\n${HELP}`);
    return 2;
  }
  try {
    return await command(rest);
  } catch (err) {
    if (err instanceof UsageError || err instanceof ConfigError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`storyloom ${name}: ${(err as Error).message}`);
      return 2;
    }
    console.error(`storyloom ${name} failed: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
