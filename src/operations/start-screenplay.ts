/**
 * Starting a generateScreenplay run: the story to make a new version of (when asked), the model,
 * the workflow started with its search attributes and Web UI summary. Shared by `storyloom
 * generate` and `POST /api/screenplays/generate`. The workflow id is made before the start, so a
 * caller can LISTEN on the run's stream channel first (src/db/stream-channel.ts).
 */
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { createHash, randomUUID } from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import { ScreenplayRepository, StoryNotFoundError } from '../db/repositories/screenplay.repository';
import { UnknownPersonasError } from '../domain/generation/personas';
import { decodeUtf8Text, TextDecodeError } from '../domain/text-decode';
import { SCREENPLAY_PRIORITY } from '../shared/job-priority';
import { DEFAULT_MAX_TOKENS, screenplayWorkflowId, type GenerateScreenplayInput } from '../shared/screenplay';
import { JOB_KEY, storyloomSearchAttributes, TITLE_KEY } from '../shared/search-attributes';
import { generateScreenplay } from '../workflows';
import { OperationError, type OperationContext } from './context';

/** The most personas one screenplay is written for. */
export const MAX_PERSONAS = 20;
/** The largest plot, in bytes (UTF-8). */
export const MAX_PLOT_BYTES = 100 * 1024;

/** A story's title, given: 1 to 200 characters (the API's schema says the same). */
export const MAX_SCREENPLAY_TITLE_LENGTH = 200;

/** How the text checks an imported screenplay gets (src/domain/text-decode.ts) word a plot's refusals. */
const PLOT_TEXT = { nothing: 'nothing to write a screenplay from', again: 'give it again', binaryAdvice: 'Give the plot as plain text.' };

/**
 * A plot's text from its bytes, trimmed, checked as an imported screenplay's bytes are: not over
 * MAX_PLOT_BYTES, not empty or whitespace only, no UTF-16, no NUL byte, valid UTF-8. A refusal is
 * a bad request whose message calls the plot `name` ("<file>: The plot", "body.plot").
 */
export function decodePlot(bytes: Uint8Array, name: string): string {
  if (bytes.length > MAX_PLOT_BYTES) throw new OperationError('bad_request', `${name} is over ${MAX_PLOT_BYTES / 1024} KB`);
  try {
    return decodeUtf8Text(bytes, { name, ...PLOT_TEXT }).trim();
  } catch (err) {
    if (err instanceof TextDecodeError) throw new OperationError('bad_request', err.message);
    throw err;
  }
}

export interface StartScreenplayOptions {
  /** Required for a new story; a new version (`story`) takes the story's plot by default. */
  plot?: string;
  /** Required for a new story; a new version takes the personas of the story's latest run by default. */
  personaNames?: string[];
  title?: string;
  /** A new version of this story (id or title); not_found when there is none. */
  story?: string;
  maxTokens?: number;
  variants?: number;
  model?: GenerateScreenplayInput['model'];
  useCache?: boolean;
  /** The run's id, made beforehand (screenplayRunWorkflowId: a titled new story's comes from its title); default: a new one. */
  workflowId?: string;
}

export interface StartedScreenplay {
  workflowId: string;
  /** The story a new version is made of; undefined for a new story (the run makes its id). */
  storyId?: string;
  handle: WorkflowHandleWithFirstExecutionRunId<typeof generateScreenplay>;
}

/** A new screenplay run's id. */
export function newScreenplayWorkflowId(): string {
  return screenplayWorkflowId(randomUUID());
}

/**
 * The run id of a new story with this title (case ignored, as titles are compared): the same for
 * every start of the title, so Temporal holds one run of it at a time. A name-based UUID (version
 * 5's layout, from SHA-256), the shape of every screenplay run's id.
 */
export function titledScreenplayWorkflowId(title: string): string {
  const h = createHash('sha256').update(`storyloom screenplay title\n${title.toLowerCase()}`).digest('hex');
  const variant = ((parseInt(h[16], 16) & 0x3) | 0x8).toString(16);
  return screenplayWorkflowId(`${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`);
}

/** The id startScreenplay gives the run (a caller that listens before the start makes it first): a titled new story's, else a new one. */
export function screenplayRunWorkflowId(opts: { title?: string; story?: string }): string {
  return opts.title !== undefined && opts.story === undefined ? titledScreenplayWorkflowId(opts.title) : newScreenplayWorkflowId();
}

/**
 * Runs `fn` holding a Postgres advisory lock on `key` (every API process and CLI shares the
 * database): the starts of one title check and start one after another, never both before either
 * has started. `fn` gets the lock's own connection for its queries: taking a second one from the
 * pool while holding the first, ten starts at once (the API's pool) waited for each other until
 * the pool's timeout.
 */
async function holdingLock<T>(db: DataSource, key: string, fn: (connection: EntityManager) => Promise<T>): Promise<T> {
  const lock = db.createQueryRunner();
  await lock.connect();
  try {
    await lock.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [key]);
    try {
      return await fn(lock.manager);
    } finally {
      await lock.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [key]);
    }
  } finally {
    await lock.release();
  }
}

/**
 * The label (StoryloomTitle, Web UI summary) of a new story started without a title: from its
 * run id (`screenplay-<uuid>` → `screenplay <first 8 hex digits>`), never from the plot. Search
 * attributes are indexed by the server and not encrypted by the payload codec, so plot words there
 * would be readable with encryption on. (The story's stored title still defaults to the plot's
 * first words: the database holds the plot anyway.)
 */
export function untitledScreenplayLabel(workflowId: string): string {
  return `screenplay ${workflowId.replace(/^screenplay-/, '').slice(0, 8)}`;
}

/** Names no persona has: not found, each with the closest existing names (`unknown`, as `GET /api/personas/contexts` answers them). */
export class UnknownPersonasRefusal extends OperationError {
  readonly unknown: UnknownPersonasError['unknown'];

  constructor(err: UnknownPersonasError) {
    super('not_found', err.message);
    this.unknown = err.unknown;
  }
}

/**
 * The workflow id of a running screenplay run of a new story with this title, from the runs'
 * search attributes (exact title); undefined when there is none, or when the server cannot say
 * (no search attributes registered, a title no query string can quote): the start goes on.
 */
async function runningScreenplayTitled(ctx: OperationContext, title: string): Promise<string | undefined> {
  const quote = !title.includes('"') ? '"' : !title.includes("'") ? "'" : undefined;
  if (!quote || title.includes('\\')) return undefined;
  const query = `${JOB_KEY.name} = "screenplay" AND ${TITLE_KEY.name} = ${quote}${title}${quote} AND ExecutionStatus = "Running"`;
  try {
    for await (const run of (await ctx.client()).workflow.list({ query, pageSize: 1 })) return run.workflowId;
  } catch {
    // Visibility without storyloom's search attributes: nothing to compare with.
  }
  return undefined;
}

/** The id when a run under it is running, else undefined. */
async function runningUnderId(ctx: OperationContext, workflowId: string): Promise<string | undefined> {
  try {
    const desc = await (await ctx.client()).workflow.getHandle(workflowId).describe();
    return desc.status.name === 'RUNNING' ? workflowId : undefined;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

/**
 * Starts the run and returns at once. The personas and the story are looked up first: for an
 * unknown one nothing is stored and nothing starts.
 */
export async function startScreenplay(ctx: OperationContext, opts: StartScreenplayOptions): Promise<StartedScreenplay> {
  // A new story with a title: two starts of it at once (CLI and API, two API processes) are
  // serialised, and the second finds the first's run (one run id per title) and is refused.
  if (opts.story === undefined && opts.title !== undefined) {
    const workflowId = titledScreenplayWorkflowId(opts.title);
    // A caller that made the id beforehand (to listen to the run's stream) made this one (screenplayRunWorkflowId).
    if (opts.workflowId !== undefined && opts.workflowId !== workflowId) {
      throw new Error(`a titled screenplay runs as ${workflowId}, not ${opts.workflowId}: make its id with screenplayRunWorkflowId`);
    }
    return holdingLock(await ctx.db(), workflowId, (connection) => startChecked(ctx, { ...opts, workflowId }, connection));
  }
  return startChecked(ctx, opts);
}

async function startChecked(ctx: OperationContext, opts: StartScreenplayOptions, connection?: EntityManager): Promise<StartedScreenplay> {
  const repo = new ScreenplayRepository(connection ?? (await ctx.db()));
  let storyId: string | undefined;
  let plot = opts.plot;
  let personaNames = opts.personaNames?.length ? opts.personaNames : undefined;
  if (opts.story !== undefined) {
    let story;
    try {
      story = await repo.findStory(opts.story);
    } catch (err) {
      if (err instanceof StoryNotFoundError) throw new OperationError('conflict', err.message);
      throw err;
    }
    if (!story) throw new OperationError('not_found', `No story "${opts.story}" (\`storyloom screenplays list\` shows them).`);
    storyId = story.id;
    // A new version of a story is written from its plot and personas unless given others.
    plot ??= story.plot;
    if (!personaNames) {
      personaNames = await repo.latestRunPersonas(story.id);
      if (!personaNames.length) throw new OperationError('bad_request', `Story "${story.title}" has no run on record to take its personas from: name them (--persona, or "personas").`);
    }
  } else if (opts.title !== undefined) {
    // A title names one story: a second story of the same title would make every lookup by it ambiguous.
    const titled = await repo.storiesTitled(opts.title);
    if (titled.length) {
      throw new OperationError(
        'conflict',
        `A story is already titled "${titled[0].title}" (${titled[0].id}): make a new version of it with --story ${titled[0].id} (over the API, "story"), or give another title.`,
      );
    }
    // A run of a new story stores it with its first version: until then, its title is the running run's
    // (this title's run id; runs started before it had one are found by their search attributes).
    const running = (await runningUnderId(ctx, titledScreenplayWorkflowId(opts.title))) ?? (await runningScreenplayTitled(ctx, opts.title));
    if (running) {
      throw new OperationError(
        'conflict',
        `A screenplay titled "${opts.title}" is being generated (${running}): once it has saved a version, make a new version of it with --story, or give another title.`,
      );
    }
  }
  // The CLI and the API say which of their options is missing before this.
  if (plot === undefined) throw new OperationError('bad_request', 'a new story needs a plot');
  if (!personaNames) throw new OperationError('bad_request', 'a new story needs personas');
  try {
    await repo.checkPersonasExist(personaNames);
  } catch (err) {
    if (err instanceof UnknownPersonasError) throw new UnknownPersonasRefusal(err);
    throw err;
  }
  const workflowId = opts.workflowId ?? newScreenplayWorkflowId();
  const maxTokens = opts.maxTokens ?? DEFAULT_MAX_TOKENS;
  const variants = opts.variants ?? 1;
  const label = opts.title ?? (storyId ? `new version of ${storyId}` : untitledScreenplayLabel(workflowId));
  const client = await ctx.client();
  // The plot goes to Postgres first, under the workflow id: the run's input (and so its history)
  // carries the id alone. A start that fails leaves no plot behind.
  await repo.saveRequest(workflowId, plot);
  try {
    const handle = await client.workflow.start(generateScreenplay, {
      taskQueue: ctx.config.temporal.taskQueue,
      workflowId,
      // Ahead of bulk jobs' queued calls on the provider's queue.
      priority: SCREENPLAY_PRIORITY,
      args: [
        {
          personaNames,
          title: opts.title,
          storyId,
          maxTokens,
          variants,
          model: opts.model,
          maxContinuations: ctx.config.screenplay.maxContinuations,
          personaBudgetTokens: ctx.config.screenplay.personaBudgetTokens,
          flags: { useCache: opts.useCache ?? true },
        },
      ],
      typedSearchAttributes: storyloomSearchAttributes('screenplay', label, 'running'),
      staticSummary: `screenplay "${label}": ${personaNames.length} persona(s), ${variants} variant(s), max_tokens ${maxTokens}`,
    });
    return { workflowId, storyId, handle };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      // Not reached by starts of a title, which hold its lock (the check under it found none
      // running); the id was taken meanwhile by some other start.
      throw new OperationError('conflict', `A screenplay titled "${opts.title}" is being generated (${workflowId}): once it has saved a version, make a new version of it with --story, or give another title.`);
    }
    await repo.deleteRequest(workflowId).catch(() => undefined);
    throw err;
  }
}
