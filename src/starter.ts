/**
 * The `storyloom` command-line entry. Subcommands live in src/cli; this file only dispatches
 * and turns errors into messages and exit codes (2: bad usage or input; 1: failure).
 */
import { isGrpcServiceError } from '@temporalio/client';
import { CliContext } from './cli/context';
import { workflowFailureMessage } from './cli/workflow-failure';
import { exactPositionals } from './cli/positionals';
import { asksForHelp, COMMAND_HELP, commandHelp, overviewHelp } from './cli/help';
import { codecServerCommand } from './cli/codec-server.command';
import { importCommand } from './cli/import.command';
import { ingestCommand } from './cli/ingest.command';
import { generateCommand } from './cli/generate.command';
import { personasCommand } from './cli/personas.command';
import { screenplaysCommand } from './cli/screenplays.command';
import { reportCommand } from './cli/report.command';
import { serveCommand } from './cli/serve.command';
import { metricsCommand, playCommand, sessionsCommand, turnCommand } from './cli/sessions.command';
import { searchCommand, showCommand } from './cli/show.command';
import { smokeCommand } from './cli/smoke.command';
import { articlesCommand } from './cli/articles.command';
import { storiesCommand } from './cli/stories.command';
import { concurrencyCommand, statusCommand, steerCommand } from './cli/steer.command';
import { UsageError } from './cli/temporal-client';
import { ConfigError, loadConfig } from './config';
import { DatabaseUnreachableError, describeMigrations, SchemaBehindError } from './db/data-source';
import { withPayloadKeysHint } from './security/payload-codec';
import { RunUnresponsiveError } from './operations/steer-run';
import { STORYLOOM_SEARCH_ATTRIBUTES } from './shared/search-attributes';

type Command = (ctx: CliContext, argv: string[]) => Promise<number>;

/** For commands that take nothing: an option or an argument is a usage error (exit 2). */
const noArguments = (argv: string[]) => exactPositionals(argv, 0, (got) => `takes no arguments; got "${got[0]}"`);

const commands: Record<string, Command> = {
  import: importCommand,
  ingest: ingestCommand,
  status: statusCommand,
  pause: steerCommand('pause'),
  resume: steerCommand('resume'),
  cancel: steerCommand('cancel'),
  concurrency: concurrencyCommand,
  show: showCommand,
  report: reportCommand,
  search: searchCommand,
  smoke: (ctx, argv) => smokeCommand(ctx.config, argv),
  play: playCommand,
  turn: turnCommand,
  sessions: sessionsCommand,
  metrics: metricsCommand,
  articles: articlesCommand,
  stories: storiesCommand,
  personas: personasCommand,
  generate: generateCommand,
  screenplays: screenplaysCommand,
  worker: async (_ctx, argv) => {
    noArguments(argv);
    const { runWorkerProcess } = await import('./worker');
    await runWorkerProcess();
    return 0;
  },
  serve: serveCommand,
  'codec-server': (ctx, argv) => codecServerCommand(ctx.config, argv),
  migrate: migrateCommand,
};

/** `migrate`: creates the database when missing, applies pending migrations, and says which. */
export async function migrateCommand(ctx: Pick<CliContext, 'config' | 'migrate'>, argv: string[]): Promise<number> {
  noArguments(argv);
  console.log(describeMigrations(await ctx.migrate(), ctx.config.databaseUrl));
  return 0;
}

/**
 * A command's stdout holds its results and its stderr no JSON log lines unless LOG_LEVEL asks:
 * commands default to warn. The worker and the API keep the configuration's default (info).
 */
function commandEnv(name: string): NodeJS.ProcessEnv {
  return name === 'worker' || name === 'serve' || name === 'codec-server' || process.env.LOG_LEVEL ? process.env : { ...process.env, LOG_LEVEL: 'warn' };
}

const MISSING_SEARCH_ATTRIBUTE = /no mapping defined for search attribute/i;

export function failureMessage(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  // The server refuses updates to a run whose workflow task keeps failing (its code cannot replay
  // it: a worker of an older release, or a bug): the request cannot be taken until that is fixed.
  // The client wraps the gRPC error ("Workflow Update failed"), so its causes are looked through.
  if (workflowTaskFailing(err)) {
    return 'the run cannot take requests now: its workflow task is failing (Workflow Task in failed state). The worker\'s log says why; ' +
      'a worker of a release older than the run\'s cannot replay it (README "Deploying").';
  }
  const cause = err instanceof Error && err.cause ? String(err.cause) : '';
  if (MISSING_SEARCH_ATTRIBUTE.test(cause) || MISSING_SEARCH_ATTRIBUTE.test(message)) {
    return `${message}: ${cause}\n${missingSearchAttributesHint()}`;
  }
  // A workflow the command waited for failed: what its failure says, not "Workflow execution failed".
  return withPayloadKeysHint(workflowFailureMessage(err) ?? message);
}

/** How to register the search attributes, from their definitions (so every one is named, with its type). */
export function missingSearchAttributesHint(): string {
  // The CLI's type names: KEYWORD → Keyword, KEYWORD_LIST → KeywordList, INT → Int.
  const cliType = (type: string) => type.toLowerCase().replace(/(^|_)([a-z])/g, (_m, _sep: string, c: string) => c.toUpperCase());
  const commands = STORYLOOM_SEARCH_ATTRIBUTES.map((key) => `  temporal operator search-attribute create --name ${key.name} --type ${cliType(key.type)}`);
  return "The Temporal server lacks storyloom's search attributes: `npm run temporal:start` registers them, or run\n" + commands.join('\n');
}

/** gRPC's FAILED_PRECONDITION (a ServiceError's `code` is gRPC's number). */
const GRPC_FAILED_PRECONDITION = 9;

/** The server's refusal of a request to a run whose workflow task is failing, anywhere in `err`'s cause chain. */
function workflowTaskFailing(err: unknown): boolean {
  const seen = new Set<unknown>();
  for (let e = err; e instanceof Error && !seen.has(e); e = e.cause) {
    seen.add(e);
    if (!isGrpcServiceError(e) || e.code !== GRPC_FAILED_PRECONDITION) continue;
    // `details` is the server's text, or (update-with-start) bytes the client put there; the message has it too.
    if (/workflow task in failed state/i.test(`${typeof e.details === 'string' ? e.details : ''} ${e.message}`)) return true;
  }
  return false;
}

/** node:util parseArgs's errors, by their `code` (a string; a gRPC ServiceError's is a number). */
function isParseArgsError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
}

export async function main(argv: string[]): Promise<number> {
  const [name = 'help', ...rest] = argv;
  if (name === '--help' || name === '-h' || (name === 'help' && !rest.length)) {
    console.log(overviewHelp());
    return 0;
  }
  if (name === 'help') {
    if (asksForHelp(rest)) {
      console.log(commandHelp('help'));
      return 0;
    }
    if (!COMMAND_HELP[rest[0]]) {
      console.error(`Unknown command "${rest[0]}".\n\n${overviewHelp()}`);
      return 2;
    }
    console.log(commandHelp(rest[0]));
    return 0;
  }
  const command = commands[name];
  if (!command) {
    console.error(`Unknown command "${name}".\n\n${overviewHelp()}`);
    return 2;
  }
  if (asksForHelp(rest)) {
    console.log(commandHelp(name));
    return 0;
  }
  let ctx: CliContext | undefined;
  try {
    ctx = new CliContext(loadConfig(commandEnv(name)));
    return await command(ctx, rest);
  } catch (err) {
    if (isParseArgsError(err)) {
      console.error(`storyloom ${name}: ${(err as Error).message} (see \`storyloom ${name} --help\`)`);
      return 2;
    }
    // Like an unreachable Temporal server (a UsageError from connectClient): the message says what to do.
    if (err instanceof UsageError || err instanceof ConfigError || err instanceof DatabaseUnreachableError || err instanceof SchemaBehindError) {
      console.error(`storyloom ${name}: ${(err as Error).message}`);
      return 2;
    }
    // Not a failure of the command: nothing took the request yet (it may still be applied).
    if (err instanceof RunUnresponsiveError) {
      console.error(`storyloom ${name}: ${err.message}`);
      return 1;
    }
    console.error(`storyloom ${name} failed: ${failureMessage(err)}`);
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
