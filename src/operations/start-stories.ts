/**
 * Starting a generateStories run over a scope. Its id comes from the resolved scope, so a second
 * start over the same scope is refused with the running one's id. Shared by `storyloom stories
 * generate` and `POST /api/stories/generate`.
 */
import { WorkflowExecutionAlreadyStartedError, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { storyloomSearchAttributes } from '../shared/search-attributes';
import { parseDuration, parseTime } from '../cli/duration';
import { UsageError } from '../cli/temporal-client';
import { describeScope, resolveScope, scopeProblem, storiesWorkflowId, type StoryScope, type StoryScopeInput } from '../shared/stories';
import { generateStories } from '../workflows';
import type { GenerateStoriesInput } from '../workflows/generate-stories';
import { OperationError, type OperationContext } from './context';

/** The fields a stories scope is given by: `stories generate --since …` and `POST /api/stories/generate { "since": … }`. */
export interface StoryScopeFields {
  since?: string;
  from?: string;
  to?: string;
  topic?: string;
}

/** How a caller names a scope field in its messages and refuses bad input: the CLI `--from` (exit 2), the API `body.from` (400). */
export interface ScopeRefusals {
  name(field: keyof StoryScopeFields): string;
  refuse(message: string): Error;
  /** A date or duration the parsers refused: their message names the CLI option (`--from takes …`). */
  refuseParsed(field: keyof StoryScopeFields, message: string): Error;
}

/**
 * The scope the fields ask for: `since` (a duration, default 24h) or `from` [+ `to`], and a
 * topic. A field given empty is refused, never read as "not given" (which would run over
 * another scope: the last 24 h, every topic). Whether the scope covers any time is
 * startStories' check.
 */
export function storyScopeFrom(fields: StoryScopeFields, how: ScopeRefusals): StoryScopeInput {
  const given = (value: string | undefined): value is string => value !== undefined;
  for (const field of ['since', 'from', 'to', 'topic'] as const) {
    if (given(fields[field]) && !fields[field].trim()) throw how.refuse(`${how.name(field)} is empty: give a value or leave it out`);
  }
  const parsed = (field: keyof StoryScopeFields, parse: () => number) => {
    try {
      return parse();
    } catch (err) {
      if (err instanceof UsageError) throw how.refuseParsed(field, err.message);
      throw err;
    }
  };
  if (given(fields.since) && (given(fields.from) || given(fields.to))) throw how.refuse(`${how.name('since')} and ${how.name('from')}/${how.name('to')} exclude each other`);
  const scope: StoryScopeInput = given(fields.topic) ? { topic: fields.topic } : {};
  if (given(fields.from) || given(fields.to)) {
    if (!given(fields.from)) throw how.refuse(`${how.name('to')} needs ${how.name('from')}`);
    scope.fromMs = parsed('from', () => parseTime('from', fields.from!));
    if (given(fields.to)) scope.toMs = parsed('to', () => parseTime('to', fields.to!));
    if (scope.toMs !== undefined && scope.toMs <= scope.fromMs) throw how.refuse(`${how.name('to')} must be after ${how.name('from')}`);
  } else {
    scope.sinceMs = parsed('since', () => parseDuration('since', fields.since ?? '24h'));
  }
  return scope;
}

export class StoriesAlreadyRunningError extends OperationError {
  constructor(
    readonly workflowId: string,
    readonly scope: StoryScope,
  ) {
    super('conflict', `Stories for ${describeScope(scope)} are already being generated (workflow ${workflowId}).`);
  }
}

export interface StartedStories {
  workflowId: string;
  scope: StoryScope;
  handle: WorkflowHandleWithFirstExecutionRunId<typeof generateStories>;
}

/** Starts a run; a scope that covers no time (or starts before year 0) is refused first (bad_request), with nothing started. */
export async function startStories(ctx: OperationContext, input: GenerateStoriesInput): Promise<StartedStories> {
  const now = Date.now();
  const problem = scopeProblem(input.scope, now);
  if (problem) throw new OperationError('bad_request', problem);
  const scope = resolveScope(input.scope, now);
  const workflowId = storiesWorkflowId(scope);
  const client = await ctx.client();
  try {
    const handle = await client.workflow.start(generateStories, {
      taskQueue: ctx.config.temporal.taskQueue,
      workflowId,
      args: [input],
      typedSearchAttributes: storyloomSearchAttributes('stories', `stories ${describeScope(scope)}`, 'running'),
      staticSummary: `stories ${describeScope(scope)}`,
    });
    return { workflowId, scope, handle };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) throw new StoriesAlreadyRunningError(workflowId, scope);
    throw err;
  }
}
