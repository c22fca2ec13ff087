/**
 * Story sessions from the terminal: `play` (an interactive prompt; each line is a turn),
 * `turn` (one turn, for scripts), `sessions list|show|end`, `sessions configure` (the prompt
 * settings changed at runtime, as POST /optimization/configure), and `metrics` (the seed's
 * performance metrics, the same numbers as GET /optimization/performance/metrics).
 */
import { WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { isUuid } from '../shared/uuid';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { SessionsRepository } from '../db/repositories/sessions.repository';
import type { OperationStats, PerformanceMetricsResponse } from '../domain/sessions/metrics';
import {
  effectivePromptSettings,
  findPreset,
  presetChange,
  PROMPT_SETTING_LIMITS,
  SESSION_PRESET_NAMES,
  type PromptSettings,
  type PromptSettingsChange,
  type PromptSettingsOverride,
} from '../domain/sessions/settings';
import { sessionTitleProblem, sessionWorkflowId, turnInputProblem, type TurnMetrics, type TurnResult } from '../shared/sessions';
import type { CliContext } from './context';
import { endSession } from '../operations/end-session';
import { intOption } from './int-option';
import { NO_TURN_ANSWER_HINT, sendTurn, sendTurnStreaming, type SendTurnOptions } from './session-client';
import { withSlowAnswerHint } from './slow-answer';
import { UsageError, webUiLink } from './temporal-client';

/** "1 turn", "3 turns". */
const turnCount = (n: number): string => `${n} turn${n === 1 ? '' : 's'}`;

const secs = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;

/** The line printed under a reply: `5 tools: 3 read-only in parallel 0.21 s, 2 writes 0.06 s · LLM 2 calls 3.4 s · turn 3.8 s`. */
export function turnLine(m: TurnMetrics): string {
  const parts: string[] = [];
  if (m.tools) {
    const kinds = [
      ...(m.readOnly ? [`${m.readOnly} read-only ${m.readOnly > 1 ? 'in parallel ' : ''}${secs(m.readOnlyMs)}`] : []),
      ...(m.writes ? [`${m.writes} write${m.writes > 1 ? 's' : ''} ${secs(m.writeMs)}`] : []),
    ];
    parts.push(`${m.tools} tool${m.tools > 1 ? 's' : ''}${kinds.length ? `: ${kinds.join(', ')}` : ''}`);
  } else parts.push('no tools');
  parts.push(`LLM ${m.llmCalls} call${m.llmCalls === 1 ? '' : 's'} ${secs(m.llmMs)}`, `turn ${secs(m.turnMs)}`);
  return parts.join(' · ');
}

const dim = (text: string) => (process.stdout.isTTY ? `\x1b[2m${text}\x1b[0m` : text);

async function sessionOrFail(ctx: CliContext, id: string) {
  if (!isUuid(id)) throw new UsageError(`"${id}" is not a session id (sessions list shows them)`);
  const session = await new SessionsRepository(await ctx.db()).getSession(id);
  if (!session) throw new UsageError(`No session ${id}: start one with \`storyloom play\` (sessions list shows them).`);
  return session;
}

/** Takes a turn with its reply printed as it arrives, then the dim line of its figures. */
async function playTurn(ctx: CliContext, client: Client, opts: SendTurnOptions): Promise<TurnResult> {
  const result = await sendTurnStreaming(client, ctx.config.databaseUrl, opts, (text) => process.stdout.write(text));
  console.log('\n');
  console.log(dim(turnLine(result.metrics)));
  return result;
}

/** A refused or failed turn: the message the run gave (the session goes on). */
function turnFailure(err: unknown): string | undefined {
  if (err instanceof WorkflowUpdateFailedError) return err.cause?.message ?? err.message;
  return undefined;
}

/** `play`: an interactive story in the terminal; Ctrl-C leaves, `--session` resumes. */
export async function playCommand(ctx: CliContext, argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { session: { type: 'string' }, script: { type: 'string' }, title: { type: 'string' } } });
  if (positionals.length) throw new UsageError('usage: storyloom play [--session ID] [--script <script>] [--title T]');
  let session: { id: string; title: string; scriptId: string | null; turns: number };
  if (values.session) {
    if (values.script || values.title) throw new UsageError('--session resumes a session as it is: leave out --script and --title');
    const found = await sessionOrFail(ctx, values.session);
    if (found.status === 'ended') throw new UsageError(`Session ${found.id} has ended; start a new one with \`storyloom play\`.`);
    session = found;
  } else {
    const script = values.script ? await ctx.script(values.script) : undefined;
    const titleProblem = values.title === undefined ? undefined : sessionTitleProblem(values.title);
    if (titleProblem) throw new UsageError(`--title ${titleProblem}.`);
    const title = values.title?.trim() || script?.title || 'Untitled story';
    session = { id: randomUUID(), title, scriptId: script?.id ?? null, turns: 0 };
  }
  const client = await ctx.client();
  console.log(`"${session.title}" — session ${session.id}${session.turns ? ` (${turnCount(session.turns)} so far)` : ''}`);
  console.log(dim(`Type what you do or say; Ctrl-C leaves (resume with \`storyloom play --session ${session.id}\`). ${webUiLink(ctx.config, sessionWorkflowId(session.id))}`));
  const rl = createInterface({ input: process.stdin, output: process.stdout, prompt: '> ' });
  // Ctrl-C closes the prompt: the loop ends after the turn in flight (if any) is answered.
  rl.on('SIGINT', () => rl.close());
  // Lines piped in (a script, a test) get no prompt echoed between the replies.
  const prompt = () => {
    if (process.stdin.isTTY) rl.prompt();
  };
  prompt();
  for await (const line of rl) {
    const text = line.trim();
    if (text) {
      const problem = turnInputProblem({ text });
      if (problem) console.error(problem);
      else {
        try {
          await playTurn(ctx, client, { sessionId: session.id, title: session.title, scriptId: session.scriptId, taskQueue: ctx.config.temporal.taskQueue, text, searchAttributes: true });
        } catch (err) {
          const message = turnFailure(err);
          if (message === undefined) throw err;
          console.error(message);
        }
      }
    }
    prompt();
  }
  console.log(`\nLeft "${session.title}". Resume with: storyloom play --session ${session.id}`);
  return 0;
}

/** `turn`: one turn of an existing session, non-interactively. */
export async function turnCommand(ctx: CliContext, argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { json: { type: 'boolean' } } });
  if (positionals.length !== 2) throw new UsageError('usage: storyloom turn <session> "<text>" [--json]');
  const problem = turnInputProblem({ text: positionals[1] });
  if (problem) throw new UsageError(problem);
  const session = await sessionOrFail(ctx, positionals[0]);
  if (session.status === 'ended') throw new UsageError(`Session ${session.id} has ended; start a new one with \`storyloom play\`.`);
  try {
    const opts = { sessionId: session.id, title: session.title, scriptId: session.scriptId, taskQueue: ctx.config.temporal.taskQueue, text: positionals[1], searchAttributes: true };
    // --json prints one document at the end; otherwise the reply streams as in `play`.
    if (values.json) {
      const client = await ctx.client();
      console.log(JSON.stringify(await withSlowAnswerHint(NO_TURN_ANSWER_HINT, () => sendTurn(client, opts)), null, 2));
    }
    else await playTurn(ctx, await ctx.client(), opts);
    return 0;
  } catch (err) {
    const message = turnFailure(err);
    if (message === undefined) throw err;
    console.error(message);
    return 1;
  }
}

/** `sessions list | show <id> | end <id> | configure [...]`. */
export async function sessionsCommand(ctx: CliContext, argv: string[]): Promise<number> {
  const [verb, id, ...rest] = argv;
  if (verb === 'configure') return configureCommand(ctx, argv.slice(1));
  const repo = () => ctx.db().then((db) => new SessionsRepository(db));
  if (verb === 'list' && id === undefined) {
    const sessions = await (await repo()).listSessions();
    if (!sessions.length) console.log('No sessions yet: `storyloom play` starts one.');
    for (const s of sessions) console.log(`${s.id}  ${s.status.padEnd(6)}  ${String(s.turns).padStart(4)} ${s.turns === 1 ? 'turn ' : 'turns'}  ${s.updatedAt.toISOString().slice(0, 16).replace('T', ' ')}  ${s.title}`);
    return 0;
  }
  if (verb === 'show' && id !== undefined && !rest.length) {
    const { session, characters, relationships, memories, turns } = await (await repo()).sessionView(await sessionOrFail(ctx, id), { memories: 10, turns: 5 });
    console.log(`# ${session.title}\nsession ${session.id}: ${session.status}, ${turnCount(session.turns)}${session.scriptId ? `, script ${session.scriptId}` : ''}\n`);
    console.log(`## World state\n${JSON.stringify(session.world, null, 2)}\n`);
    console.log(`## Characters (${characters.length})`);
    for (const c of characters) console.log(`- ${c.name}${c.description ? `: ${c.description}` : ''}${c.traits.length ? ` (${c.traits.join(', ')})` : ''}`);
    console.log(`\n## Relationships (${relationships.length})`);
    for (const rel of relationships) console.log(`- ${rel.source} → ${rel.target}: ${rel.kind}`);
    console.log(`\n## Memories (last ${memories.length})`);
    for (const m of memories) console.log(`- ${m.turnNumber !== null ? `[turn ${m.turnNumber}] ` : ''}${m.text}`);
    console.log(`\n## Recent turns`);
    for (const t of turns) {
      console.log(`- turn ${t.turnNumber} (${t.status}): > ${t.input}`);
      if (t.reply) console.log(`  ${t.reply.replace(/\s+/g, ' ').slice(0, 200)}`);
      if (t.error) console.log(`  error: ${t.error}`);
      if (t.toolCalls.length) console.log(`  tools: ${t.toolCalls.map((c) => `${c.name}${c.ok ? '' : ' (error)'}`).join(', ')}`);
    }
    return 0;
  }
  if (verb === 'end' && id !== undefined && !rest.length) {
    console.log((await endSession(ctx, await sessionOrFail(ctx, id))).message);
    return 0;
  }
  throw new UsageError(`usage: storyloom sessions list | show <id> | end <id> | configure ${CONFIGURE_USAGE}`);
}

const CONFIGURE_USAGE = '[--max-context-tokens N] [--max-turn-history N] [--preset NAME] [--reset]';

/** The effective prompt settings, one line each with where the value comes from. */
function formatPromptSettings(environment: PromptSettings, override: PromptSettingsOverride): string {
  const effective = effectivePromptSettings(environment, override);
  const line = (name: string, key: keyof PromptSettings, variable: string) =>
    `${name.padEnd(20)}${String(effective[key]).padStart(8)}  ${effective.sources[key] === 'override' ? `override (environment ${variable}: ${environment[key]})` : `environment ${variable}`}`;
  const overridden = effective.sources.maxContextTokens === 'override' || effective.sources.maxTurnHistory === 'override';
  return [
    line('max_context_tokens', 'maxContextTokens', 'MAX_CONTEXT_TOKENS'),
    line('max_turn_history', 'maxTurnHistory', 'MAX_TURN_HISTORY'),
    ...(overridden && override.updatedAt ? [`override last changed ${override.updatedAt.toISOString()}`] : []),
    // An environment value is this process's; each worker fills an unset setting from its own.
    ...(overridden ? [] : ['(environment: the values in this shell; a worker uses its own MAX_CONTEXT_TOKENS / MAX_TURN_HISTORY)']),
  ].join('\n');
}

/**
 * `sessions configure`: prints the prompt settings every session's next model step uses; with
 * `--max-context-tokens` / `--max-turn-history` overrides them, `--preset` applies a preset,
 * `--reset` goes back to the environment's values (as POST /optimization/configure and the presets).
 */
async function configureCommand(ctx: CliContext, argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { 'max-context-tokens': { type: 'string' }, 'max-turn-history': { type: 'string' }, preset: { type: 'string' }, reset: { type: 'boolean' } },
  });
  if (positionals.length) throw new UsageError(`usage: storyloom sessions configure ${CONFIGURE_USAGE}`);
  const tokens = values['max-context-tokens'];
  const history = values['max-turn-history'];
  const given = [tokens !== undefined || history !== undefined, values.preset !== undefined, values.reset === true].filter(Boolean).length;
  if (given > 1) throw new UsageError('give --max-context-tokens / --max-turn-history, --preset or --reset, not several of them');
  let change: PromptSettingsChange | undefined;
  let done = '';
  if (tokens !== undefined || history !== undefined) {
    const { maxContextTokens: c, maxTurnHistory: h } = PROMPT_SETTING_LIMITS;
    change = {
      ...(tokens !== undefined ? { maxContextTokens: intOption('--max-context-tokens', tokens, c.min, c.min, c.max) } : {}),
      ...(history !== undefined ? { maxTurnHistory: intOption('--max-turn-history', history, h.min, h.min, h.max) } : {}),
    };
    done = 'Updated the prompt settings.';
  } else if (values.preset !== undefined) {
    const found = findPreset(values.preset);
    if (!found) throw new UsageError(`No preset "${values.preset}": the presets are ${SESSION_PRESET_NAMES.join(', ')}.`);
    change = presetChange(found.preset);
    done = `Applied preset "${found.name}": ${found.preset.description.charAt(0).toLowerCase()}${found.preset.description.slice(1)}.`;
  } else if (values.reset) {
    change = { maxContextTokens: null, maxTurnHistory: null };
    done = "Reset the prompt settings to the environment's values.";
  }
  const repo = new SessionsRepository(await ctx.db());
  const override = change ? await repo.setSessionSettingsOverride(change) : await repo.sessionSettingsOverride();
  const environment = { maxContextTokens: ctx.config.sessions.maxContextTokens, maxTurnHistory: ctx.config.sessions.maxTurnHistory };
  if (done) console.log(done);
  console.log(formatPromptSettings(environment, override));
  if (change) console.log(dim("Every session's next model step uses these; a session's background summaries follow its run's max_turn_history until the run continues as new."));
  return 0;
}

function statsRow(name: string, s: OperationStats): string {
  const ms = (v: number) => v.toFixed(1).padStart(10);
  return `${name.padEnd(16)}${String(s.count).padStart(7)}${ms(s.avg_time_ms)}${ms(s.p50_time_ms)}${ms(s.p95_time_ms)}${ms(s.min_time_ms)}${ms(s.max_time_ms)}${ms(s.total_time_ms)}${String(s.errors).padStart(7)}`;
}

/** Prints the metrics as a table (ms). */
export function formatMetrics(m: PerformanceMetricsResponse): string {
  const head = `${'operation'.padEnd(16)}${'count'.padStart(7)}${'avg'.padStart(10)}${'p50'.padStart(10)}${'p95'.padStart(10)}${'min'.padStart(10)}${'max'.padStart(10)}${'total'.padStart(10)}${'errors'.padStart(7)}`;
  const rows = Object.entries(m.metrics).map(([name, s]) => statsRow(name, s));
  const scope = m.session_id ? `session ${m.session_id}` : 'all sessions';
  return [`Performance metrics (ms), ${scope}, since ${m.window.started_at}${m.enabled ? '' : ' — recording is off (ENABLE_PERFORMANCE_TRACKING=false)'}`, head, ...rows].join('\n');
}

/** `metrics`: the seed's metrics per operation type; `--reset` starts a new measurement window. */
export async function metricsCommand(ctx: CliContext, argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { session: { type: 'string' }, json: { type: 'boolean' }, reset: { type: 'boolean' } } });
  if (positionals.length) throw new UsageError('usage: storyloom metrics [--session ID] [--json] [--reset]');
  if (values.session !== undefined) await sessionOrFail(ctx, values.session);
  const repo = new SessionsRepository(await ctx.db());
  if (values.reset) {
    if (values.session) throw new UsageError('--reset starts a new window for all sessions: leave out --session');
    const window = await repo.resetMetrics();
    console.log(values.json ? JSON.stringify({ status: 'success', window: { id: window.id, started_at: window.startedAt.toISOString() } }) : `New measurement window from ${window.startedAt.toISOString()} (earlier rows are kept).`);
    return 0;
  }
  const metrics = await repo.performanceMetrics({ sessionId: values.session, enabled: ctx.config.sessions.performanceTracking });
  console.log(values.json ? JSON.stringify(metrics, null, 2) : formatMetrics(metrics));
  return 0;
}
