/**
 * The `storyloom` command-line entry. Subcommands live in src/cli; this file only dispatches
 * and turns errors into messages and exit codes (2: bad usage or input; 1: failure).
 */
import { CliContext } from './cli/context';
import { importCommand } from './cli/import.command';
import { ingestCommand } from './cli/ingest.command';
import { reportCommand } from './cli/report.command';
import { searchCommand, showCommand } from './cli/show.command';
import { smokeCommand } from './cli/smoke.command';
import { statusCommand, steerCommand } from './cli/steer.command';
import { UsageError } from './cli/temporal-client';
import { ConfigError, loadConfig } from './config';

const HELP = `storyloom — durable AI pipelines for stories and scripts

Usage: storyloom <command> [options]

Commands:
  import <file> [--script-id ID] [--title T]      store a screenplay (Fountain or Final Draft .fdx)
  ingest <file | scriptId> [options]              import (if a file) and run the ingestion workflow
      --no-parallel-scene-summaries  --no-parallel-character-sheets  --no-batch-embeddings
      --no-parallel-phase2  --no-cache  --concurrency-summaries N  --concurrency-sheets N
      --partial | --full   (default: full on a first ingestion, else partial)   --wait (progress bar + result)
  status <scriptId>                               progress of a running ingestion, else the last run
  pause | resume | cancel <scriptId>              steer a running ingestion
  show <scriptId>                                 outline, character sheets and the last run's figures
  search <scriptId> "<text>" [--limit N]          scenes ranked by embedding similarity
  report <scriptId | workflowId> [--json]         the last run's report: time, critical path, calls, cost, DB, history
  smoke [--prompt TEXT] [--no-cache]              one LLM call through the provider layer, stored
  worker                                          run a worker until Ctrl-C
  migrate                                         create the database if needed and apply migrations

A scriptId may also be the script's title. Configuration comes from the environment (.env.example).`;

type Command = (ctx: CliContext, argv: string[]) => Promise<number>;

const commands: Record<string, Command> = {
  import: importCommand,
  ingest: ingestCommand,
  status: statusCommand,
  pause: steerCommand('pause'),
  resume: steerCommand('resume'),
  cancel: steerCommand('cancel'),
  show: showCommand,
  report: reportCommand,
  search: searchCommand,
  smoke: (ctx, argv) => smokeCommand(ctx.config, argv),
  worker: async () => {
    const { runWorkerProcess } = await import('./worker');
    await runWorkerProcess();
    return 0;
  },
  migrate: async (ctx) => {
    await ctx.db();
    console.log('The database is up to date.');
    return 0;
  },
};

export async function main(argv: string[]): Promise<number> {
  const [name = 'help', ...rest] = argv;
  if (name === 'help' || name === '--help' || name === '-h') {
    console.log(HELP);
    return 0;
  }
  const command = commands[name];
  if (!command) {
    console.error(`Unknown command "${name}".\n\n${HELP}`);
    return 2;
  }
  let ctx: CliContext | undefined;
  try {
    ctx = new CliContext(loadConfig());
    return await command(ctx, rest);
  } catch (err) {
    if (err instanceof UsageError || err instanceof ConfigError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`storyloom ${name}: ${(err as Error).message}`);
      return 2;
    }
    console.error(`storyloom ${name} failed: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  } finally {
    await ctx?.close();
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
