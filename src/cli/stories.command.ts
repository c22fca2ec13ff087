/**
 * `storyloom stories …`: generate (start a generateStories run, optionally wait with a progress
 * bar), list, show, search, schedule (a Temporal Schedule) and the schedule's list / pause /
 * unpause / trigger / delete, and status / pause / resume / concurrency / cancel of a run.
 */
import { parseArgs } from 'node:util';
import {
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  WorkflowFailedError,
  WorkflowNotFoundError,
  type Client,
  type WorkflowHandle,
} from '@temporalio/client';
import { AmbiguousStoryIdError, isStoryIdOrPrefix, NewsRepository, STORY_ID_FORM, type StoryListItem } from '../db/repositories/news.repository';
import { formatReportShort } from '../reporting/format-report';
import { MAX_LIST_OFFSET, STORY_LIST_LIMIT, STORY_SEARCH_LIMIT } from '../shared/list-limits';
import { storyloomSearchAttributes } from '../shared/search-attributes';
import {
  DEFAULT_STORY_FLAGS,
  DEFAULT_SYNTHESIS_CONCURRENCY,
  describeScope,
  MAX_SYNTHESIS_CONCURRENCY,
  parseSimilarity,
  scopeProblem,
  type StoriesResult,
  type StoryFlags,
} from '../shared/stories';
import { jobStartTime } from '../operations/job-start';
import { progressLineOrWhy, queryProgress } from '../operations/run-progress';
import { describedLines, noProgressMessage } from './steer.command';
import { generateStories, storiesPauseUpdate, storiesProgressQuery, storiesResumeUpdate, storiesSetConcurrencyUpdate } from '../workflows';
import type { GenerateStoriesInput } from '../workflows/generate-stories';
import type { CliContext } from './context';
import { parseDuration } from './duration';
import { commandHelp } from './help';
import { drawProgressUntil, storiesProgressLine } from './progress-bar';
import { windowOverWorkerCap } from './worker-cap';
import { storedReport } from '../operations/stored-report';
import { parseModelChoice } from '../operations/model-choice';
import { RunRepository } from '../db/repositories/run.repository';
import { StoriesAlreadyRunningError, startStories, storyScopeFrom, type ScopeRefusals, type StoryScopeFields } from '../operations/start-stories';
import { NotRunningError, steer as steerUpdate, steerRun } from '../operations/steer-run';
import { intOption } from './int-option';
import { leavingOnInterrupt } from './interrupt';
import { exactPositionals } from './positionals';
import { scheduleWebUiLink, UsageError, webUiLink } from './temporal-client';
import { workflowFailureMessage } from './workflow-failure';

const FLAG_OPTIONS: Record<string, keyof StoryFlags> = {
  'no-parallel': 'parallelSynthesis',
  'no-one-transaction': 'oneTransaction',
  'no-load-once': 'loadOnce',
  'no-cache': 'useCache',
};

/** Schedules storyloom creates are named `stories-every-…`; `schedule list` shows only those. */
const SCHEDULE_PREFIX = 'stories-every-';

/** The CLI's names for the scope's fields, and its refusal (exit 2). */
const CLI_SCOPE: ScopeRefusals = {
  name: (field) => `--${field}`,
  refuse: (message) => new UsageError(message),
  refuseParsed: (_field, message) => new UsageError(message),
};

function concurrencyFrom(raw: string | undefined, name = '--concurrency'): number {
  return intOption(name, raw, DEFAULT_SYNTHESIS_CONCURRENCY, 1, MAX_SYNTHESIS_CONCURRENCY);
}

/** `--limit N` of list and search: from 1 to the API's cap for the same rows, `limits.default` when not given. */
function limitFrom(raw: string | undefined, limits: { default: number; max: number }): number {
  return intOption('--limit', raw, limits.default, 1, limits.max);
}

export function describeStoriesResult(r: StoriesResult): string {
  const status = r.status === 'completed_with_failures' ? `completed with ${r.failureCount} failure(s)` : r.status;
  return [
    `Stories ${status} in ${(r.timingsMs.total / 1000).toFixed(1)} s (${describeScope(r.scope)})`,
    `  articles ${r.articles}, clusters ${r.clusters}: ${r.synthesis.done} synthesised${r.synthesis.cached ? ` (${r.synthesis.cached} from the cache)` : ''}, ${r.synthesis.reused} reused, ${r.synthesis.failed} failed`,
    // "written", not "new": a story whose hash was stored before (a --no-cache run) is rewritten in place, keeping its id.
    `  stories: ${r.stories.created} written from this run's syntheses, ${r.stories.kept} kept, ${r.stories.superseded} superseded`,
    ...r.failures.slice(0, 10).map((f) => `  ✗ ${f.label}: ${f.errorType}: ${f.message}`),
  ].join('\n');
}

function waitWithProgress(handle: WorkflowHandle<typeof generateStories>): Promise<StoriesResult> {
  return drawProgressUntil(handle.result(), () => progressLineOrWhy(handle, storiesProgressQuery, storiesProgressLine));
}

const GENERATE_OPTIONS = {
  since: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, topic: { type: 'string' },
  wait: { type: 'boolean' }, batch: { type: 'boolean' }, concurrency: { type: 'string' }, similarity: { type: 'string' }, model: { type: 'string' },
  ...Object.fromEntries(Object.keys(FLAG_OPTIONS).map((k) => [k, { type: 'boolean' }])),
} as const;

/** `--similarity` as the run's input (nothing when not given: the run's default). */
function similarityInput(raw: string | undefined): Pick<GenerateStoriesInput, 'similarityThreshold'> {
  try {
    const similarityThreshold = parseSimilarity('--similarity', raw);
    return similarityThreshold === undefined ? {} : { similarityThreshold };
  } catch (err) {
    if (err instanceof RangeError) throw new UsageError(err.message);
    throw err;
  }
}

/** `--model provider:model` as the run's input (nothing when not given: STORYLOOM_MODEL_SYNTHESIS). */
function modelInput(raw: string | undefined): Pick<GenerateStoriesInput, 'model'> {
  const model = parseModelChoice('--model', raw);
  return model ? { model } : {};
}

function generateInput(values: Record<string, string | boolean | undefined>): GenerateStoriesInput {
  const flags: StoryFlags = { ...DEFAULT_STORY_FLAGS };
  for (const [option, flag] of Object.entries(FLAG_OPTIONS)) if (values[option]) flags[flag] = false;
  return {
    scope: storyScopeFrom(values as StoryScopeFields, CLI_SCOPE),
    flags,
    concurrency: concurrencyFrom(values.concurrency as string | undefined),
    ...(values.batch ? { batch: true } : {}),
    ...similarityInput(values.similarity as string | undefined),
    ...modelInput(values.model as string | undefined),
  };
}

async function generate(ctx: CliContext, argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: GENERATE_OPTIONS });
  if (positionals.length) throw new UsageError(`stories generate takes no positional arguments; got "${positionals[0]}"`);
  const input = generateInput(values);
  let started;
  try {
    started = await startStories(ctx, input);
  } catch (err) {
    if (err instanceof StoriesAlreadyRunningError) {
      console.error(`Stories for ${describeScope(err.scope)} are already being generated: ${webUiLink(ctx.config, err.workflowId)}`);
      console.error(`Watch it with \`storyloom stories status ${err.workflowId}\`, or stop it with \`storyloom stories cancel ${err.workflowId}\`.`);
      return 3;
    }
    throw err;
  }
  const { workflowId, scope, handle } = started;
  console.log(`Started ${workflowId} (${describeScope(scope)})`);
  console.log(`Web UI: ${webUiLink(ctx.config, workflowId, handle.firstExecutionRunId)}`);
  const overCap = input.flags?.parallelSynthesis && !input.batch ? windowOverWorkerCap(ctx.config, 'synthesis', '--concurrency', input.concurrency ?? DEFAULT_SYNTHESIS_CONCURRENCY) : undefined;
  if (overCap) console.error(overCap);
  if (!values.wait) return 0;
  try {
    const result = await leavingOnInterrupt(
      `Follow it: storyloom stories status ${workflowId}; stop it: storyloom stories cancel ${workflowId}`,
      () => waitWithProgress(handle),
    );
    console.log(describeStoriesResult(result));
    if (input.batch && result.synthesisMode !== 'batch') {
      console.log('  note: no provider batch was sent (every story was reused, or the synthesis provider has no batch API: Ollama)');
    }
    const report = await storedReport(ctx, { firstRunId: handle.firstExecutionRunId });
    if (report) console.log(formatReportShort(report));
    return result.status === 'completed' || result.status === 'completed_with_failures' ? 0 : 1;
  } catch (err) {
    if (err instanceof WorkflowFailedError) {
      console.error(`Stories ${err.cause?.name === 'CancelledFailure' ? 'cancelled' : 'failed'}: ${workflowFailureMessage(err) ?? err.message}`);
      // The run stored its figures up to where it ended, and its report: show them, as ingest --wait does.
      const ended = await new RunRepository(await ctx.db()).storyRunResult(handle.firstExecutionRunId).catch(() => undefined);
      if (ended) console.log(describeStoriesResult(ended));
      const report = await storedReport(ctx, { firstRunId: handle.firstExecutionRunId }).catch(() => undefined);
      if (report) console.log(formatReportShort(report));
      return 1;
    }
    throw err;
  }
}

/** One story on a line: id (its first 8 characters unless `idLength` says more), day, articles, topic and headline. */
function storyLine(s: StoryListItem, idLength = 8): string {
  const day = new Date(s.windowStart).toISOString().slice(0, 16).replace('T', ' ');
  return `${s.id.slice(0, idLength)}  ${day}  ${String(s.articleCount).padStart(3)} art.  ${s.status === 'current' ? '' : `[${s.status}] `}${s.topic ? `${s.topic}: ` : ''}${s.headline}`;
}

async function list(ctx: CliContext, argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { all: { type: 'boolean' }, limit: { type: 'string' }, offset: { type: 'string' } } });
  const limit = limitFrom(values.limit, STORY_LIST_LIMIT);
  // The next page, as the API's `?offset=`: more stories than one list holds are paged through.
  const offset = intOption('--offset', values.offset, 0, 0, MAX_LIST_OFFSET);
  const stories = await new NewsRepository(await ctx.db()).listStories({ all: values.all, limit, offset });
  if (!stories.length && offset > 0) console.log(`No stories past the first ${offset}.`);
  else if (!stories.length) console.log('No stories yet: import articles (`storyloom articles import <file>`), then `storyloom stories generate`.');
  for (const s of stories) console.log(storyLine(s));
  return 0;
}

async function show(ctx: CliContext, argv: string[]): Promise<number> {
  // A blank id is the start of every id: a usage error, not the list of them all.
  if (argv.length !== 1 || !argv[0].trim()) throw new UsageError('usage: storyloom stories show <id>');
  // Malformed is not "no such story": the API answers 400 for the same id.
  if (!isStoryIdOrPrefix(argv[0])) throw new UsageError(`"${argv[0]}" is not a story id: give ${STORY_ID_FORM}, e.g. 3f2a9c1e (\`storyloom stories list\` shows them).`);
  let story;
  try {
    story = await new NewsRepository(await ctx.db()).storyWithArticles(argv[0]);
  } catch (err) {
    if (!(err instanceof AmbiguousStoryIdError)) throw err;
    const more = err.total > err.matches.length ? `\n  … and ${err.total - err.matches.length} more` : '';
    throw new UsageError(`"${argv[0]}" is the start of ${err.total} story ids; give more of the one you mean:\n${err.matches.map((s) => `  ${storyLine(s, s.id.length)}`).join('\n')}${more}`);
  }
  if (!story) throw new UsageError(`No story with id "${argv[0]}" (a unique prefix will do; \`storyloom stories list\` shows them).`);
  const cited = new Set(story.citedArticleIds);
  console.log([
    story.headline,
    `${story.id} · ${story.status}${story.supersededBy ? ` (by ${story.supersededBy})` : ''}${story.topic ? ` · ${story.topic}` : ''} · ${story.model}`,
    `time window: ${new Date(story.windowStart).toISOString()} – ${new Date(story.windowEnd).toISOString()}`,
    '',
    story.summary,
    '',
    'Key points:',
    ...story.keyPoints.map((p) => `  • ${p}`),
    '',
    `Articles (${story.articles.length}; * cited):`,
    ...story.articles.map((a) => `  ${cited.has(a.id) ? '*' : ' '} ${new Date(a.publishedAt).toISOString().slice(0, 16).replace('T', ' ')}  ${a.title}${a.sourceName ? ` — ${a.sourceName}` : ''}${a.url ? `\n      ${a.url}` : ''}`),
  ].join('\n'));
  return 0;
}

async function search(ctx: CliContext, argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { limit: { type: 'string' } } });
  if (positionals.length !== 1 || !positionals[0].trim()) throw new UsageError('usage: storyloom stories search "<text>" [--limit N]');
  const limit = limitFrom(values.limit, STORY_SEARCH_LIMIT);
  const found = await new NewsRepository(await ctx.db()).searchStories(positionals[0], limit);
  if (!found.length) console.log(`No story matches "${positionals[0]}".`);
  for (const s of found) console.log(storyLine(s));
  return 0;
}

/** The schedule id of an interval, scope and topic: one schedule per combination. */
export function scheduleIdFor(every: string, since: string, topic?: string): string {
  const t = topic ? `-${topic.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '')}` : '';
  // Durations as parseDuration reads them (units in any case, spaces allowed): `--every 1H` is the schedule of `--every 1h`, not a second one.
  const duration = (d: string) => d.trim().toLowerCase().replace(/\s+/g, '');
  return `${SCHEDULE_PREFIX}${duration(every)}-since-${duration(since)}${t}`;
}

/** A Temporal Schedule's interval is at least a second: a shorter one is refused by the server. */
const MIN_SCHEDULE_INTERVAL_MS = 1000;
/** The server raises a shorter catch-up window to 10 s: refused rather than silently changed. */
const MIN_CATCHUP_WINDOW_MS = 10_000;

async function schedule(ctx: CliContext, argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb && !verb.startsWith('-')) return scheduleVerb(ctx, verb, rest);
  const { values } = parseArgs({
    args: argv,
    options: { every: { type: 'string' }, since: { type: 'string' }, topic: { type: 'string' }, 'catchup-window': { type: 'string' }, concurrency: { type: 'string' }, batch: { type: 'boolean' }, similarity: { type: 'string' }, model: { type: 'string' } },
  });
  if (!values.every) throw new UsageError('usage: storyloom stories schedule --every 1h [--since 24h] [--topic T] [--catchup-window 1h] [--concurrency N] [--batch] [--similarity S] [--model P:M]');
  const everyMs = parseDuration('every', values.every);
  if (everyMs < MIN_SCHEDULE_INTERVAL_MS) throw new UsageError(`--every must be at least 1s (a Temporal Schedule's shortest interval); got "${values.every}"`);
  const since = values.since ?? '24h';
  // Default: one interval, but never below Temporal's shortest catch-up window (it raises a shorter one).
  const catchup = values['catchup-window'] ?? (everyMs < MIN_CATCHUP_WINDOW_MS ? '10s' : values.every);
  const catchupMs = parseDuration('catchup-window', catchup);
  if (catchupMs < MIN_CATCHUP_WINDOW_MS) {
    throw new UsageError(`--catchup-window must be at least 10s (a Temporal Schedule's shortest catch-up window); got "${catchup}"`);
  }
  const input = generateInput({ since, topic: values.topic, concurrency: values.concurrency, batch: values.batch, similarity: values.similarity, model: values.model });
  const problem = scopeProblem(input.scope, Date.now());
  if (problem) throw new UsageError(problem);
  const scheduleId = scheduleIdFor(values.every, since, values.topic);
  // Everything above is checked before connecting: bad input is refused without a server.
  const client = await ctx.client();
  try {
    await client.schedule.create({
      scheduleId,
      spec: { intervals: [{ every: everyMs }] },
      action: {
        type: 'startWorkflow',
        workflowType: generateStories,
        args: [input],
        taskQueue: ctx.config.temporal.taskQueue,
        // The server appends each action's time to this id.
        workflowId: scheduleId,
        typedSearchAttributes: storyloomSearchAttributes('stories', `scheduled stories since ${since}${values.topic ? `, ${values.topic}` : ''}`, 'running'),
      },
      // A run still going when the next is due: skip the next. Missed times (server down) are
      // made up only within the catch-up window.
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: catchupMs },
    });
  } catch (err) {
    if (err instanceof ScheduleAlreadyRunning) throw new UsageError(`Schedule ${scheduleId} already exists (\`storyloom stories schedule delete ${scheduleId}\` to replace it).`);
    throw err;
  }
  console.log(`Created schedule ${scheduleId}: every ${values.every}, stories of the last ${since}${values.topic ? ` on "${values.topic}"` : ''}; overlap: skip; catch-up window ${catchup}`);
  console.log(`Manage it with \`storyloom stories schedule list | pause | unpause | trigger | delete ${scheduleId}\`.`);
  return 0;
}

async function scheduleVerb(ctx: CliContext, verb: string, rest: string[]): Promise<number> {
  if (!['list', 'pause', 'unpause', 'trigger', 'delete'].includes(verb)) throw new UsageError(`unknown schedule command "${verb}" (list, pause, unpause, trigger, delete)`);
  if (verb === 'list') exactPositionals(rest, 0, (got) => `usage: storyloom stories schedule list (no arguments; got "${got[0]}")`);
  else if (rest.length !== 1) throw new UsageError(`usage: storyloom stories schedule ${verb} <schedule id>`);
  const client: Client = await ctx.client();
  if (verb === 'list') {
    let n = 0;
    for await (const s of client.schedule.list()) {
      if (!s.scheduleId.startsWith(SCHEDULE_PREFIX)) continue;
      n++;
      const next = s.info.nextActionTimes[0];
      console.log(`${s.scheduleId}  ${s.state.paused ? 'paused' : 'active'}  next: ${next ? next.toISOString() : '-'}  recent runs: ${s.info.recentActions.length}`);
    }
    if (!n) console.log('No story schedules: create one with `storyloom stories schedule --every 1h --since 24h`.');
    return 0;
  }
  const handle = client.schedule.getHandle(rest[0]);
  try {
    if (verb === 'pause') await handle.pause('paused from the storyloom CLI');
    else if (verb === 'unpause') await handle.unpause('unpaused from the storyloom CLI');
    else if (verb === 'trigger') await handle.trigger(ScheduleOverlapPolicy.SKIP);
    else await handle.delete();
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) throw new UsageError(`No schedule "${rest[0]}" (\`storyloom stories schedule list\` shows them).`);
    throw err;
  }
  const done: Record<string, string> = { pause: 'Paused', unpause: 'Unpaused', trigger: 'Triggered', delete: 'Deleted' };
  // A triggered run's workflow id is the schedule's with the server's start time appended: the schedule's page lists it.
  console.log(`${done[verb]} schedule ${rest[0]}${verb === 'trigger' ? ` (its runs: ${scheduleWebUiLink(ctx.config, rest[0])})` : ''}`);
  return 0;
}

async function steer(ctx: CliContext, verb: string, argv: string[]): Promise<number> {
  const wanted = verb === 'concurrency' ? 2 : 1;
  const [workflowId, rawConcurrency] = exactPositionals(argv, wanted, (got) => {
    const why = got.length > wanted ? `; "${got[wanted]}" is one argument too many` : got.length === 1 ? '; the new concurrency is missing' : '';
    return `usage: storyloom stories ${verb} <workflow id>${verb === 'concurrency' ? ` <n> (1 to ${MAX_SYNTHESIS_CONCURRENCY})` : ''}${why}`;
  });
  // Checked before connecting, so a bad number is refused without a server or a run.
  const concurrency = verb === 'concurrency' ? concurrencyFrom(rawConcurrency, 'the concurrency') : DEFAULT_SYNTHESIS_CONCURRENCY;
  const client = await ctx.client();
  const handle = client.workflow.getHandle<typeof generateStories>(workflowId);
  let d;
  try {
    d = await handle.describe();
  } catch (err) {
    // A wrong id is bad input (exit 2), as an unknown script is for `storyloom status`.
    if (err instanceof WorkflowNotFoundError) throw new UsageError(`No story run "${workflowId}" (\`storyloom stories generate\` prints a run's id; \`temporal workflow list --query 'StoryloomJob = "stories"'\` lists them).`);
    throw err;
  }
  if (d.type !== 'generateStories') throw new UsageError(`${workflowId} is not a story run (its workflow type is ${d.type}).`);
  if (verb === 'status') {
    if (d.status.name === 'RUNNING') {
      // As `storyloom status` for an ingestion: with no worker to answer, what the server knows of the run.
      const answer = await queryProgress(client, handle, storiesProgressQuery);
      if (answer.progress !== null) console.log(storiesProgressLine(answer.progress));
      else {
        console.error(noProgressMessage(answer));
        for (const line of describedLines(d, await jobStartTime(client, d))) console.log(line);
      }
    } else {
      // A run that did not complete stored its figures up to its end all the same, keyed (as its
      // report) by the first run of the job: since 0.8.7 a stories run may continue as new.
      const firstRunId = d.raw.workflowExecutionInfo?.firstRunId || d.runId;
      const ended = d.status.name === 'COMPLETED' ? await handle.result() : await new RunRepository(await ctx.db()).storyRunResult(firstRunId).catch(() => undefined);
      console.log(`${workflowId}: ${d.status.name.toLowerCase()}${ended ? `\n${describeStoriesResult(ended)}` : ''}`);
      // Its report, as `stories generate --wait` prints it.
      const report = await storedReport(ctx, { firstRunId }).catch(() => undefined);
      if (report) console.log(formatReportShort(report));
    }
    return 0;
  }
  // A run that has ended takes no steering (a cancel would be accepted and do nothing): say so, exit 1, as `storyloom pause` does for an ingestion.
  const notRunning = (status: string = d.status.name) => {
    console.error(`Story run ${workflowId} is not running (${status.toLowerCase()}): nothing to ${verb === 'concurrency' ? 'change' : verb}.`);
    return 1;
  };
  if (d.status.name !== 'RUNNING') return notRunning();
  try {
    if (verb === 'cancel') {
      await steerRun(client, handle, 'cancel');
      console.log(`Cancel requested for ${workflowId}`);
      return 0;
    }
    // Bounded (STEER_TIMEOUT_MS) as for an ingestion: with no worker the update would wait for one forever.
    const state = await steerUpdate(client, workflowId, () =>
      verb === 'pause'
        ? handle.executeUpdate(storiesPauseUpdate)
        : verb === 'resume'
          ? handle.executeUpdate(storiesResumeUpdate)
          : handle.executeUpdate(storiesSetConcurrencyUpdate, { args: [{ synthesis: concurrency }] }),
    );
    console.log(`${workflowId}: ${state.paused ? 'paused' : 'running'}, synthesis concurrency ${state.concurrency.synthesis}`);
    const overCap = verb === 'concurrency' ? windowOverWorkerCap(ctx.config, 'synthesis', 'the concurrency', concurrency) : undefined;
    if (overCap) console.error(overCap);
    return 0;
  } catch (err) {
    if (err instanceof NotRunningError) return notRunning('ended');
    throw err;
  }
}

export async function storiesCommand(ctx: CliContext, argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'generate':
      return generate(ctx, rest);
    case 'list':
      return list(ctx, rest);
    case 'show':
      return show(ctx, rest);
    case 'search':
      return search(ctx, rest);
    case 'schedule':
      return schedule(ctx, rest);
    case 'status':
    case 'pause':
    case 'resume':
    case 'cancel':
    case 'concurrency':
      return steer(ctx, sub, rest);
    case undefined:
      // As the other command groups: the usage, exit 2.
      throw new UsageError(commandHelp('stories'));
    default:
      throw new UsageError(`unknown stories command "${sub}" (generate, list, show, search, schedule, status, pause, resume, concurrency, cancel; see \`storyloom stories --help\`)`);
  }
}
