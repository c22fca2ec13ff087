import { parseArgs } from 'node:util';
import { WorkflowNotFoundError, type Client, type WorkflowExecutionDescription, type WorkflowHandle } from '@temporalio/client';
import { RunRepository } from '../db/repositories/run.repository';
import { concurrencyChangeError, ingestionWorkflowId, type IngestionConcurrency, type SteeringState } from '../shared/ingestion';
import { jobStartTime } from '../operations/job-start';
import { PROGRESS_QUERY_TIMEOUT_MS, queryProgress } from '../operations/run-progress';
import { NotRunningError, setRunConcurrency, steerRun } from '../operations/steer-run';
import { progressQuery } from '../workflows';
import type { CliContext } from './context';
import { describeResult } from './ingest.command';
import { progressLine } from './progress-bar';
import { exactPositionals } from './positionals';
import { UsageError, webUiLink } from './temporal-client';
import { loadDataConverter } from '@temporalio/common/lib/internal-non-workflow';
import { dataConverterFor } from '../security/data-converter';
import { waitingLines } from './waiting';
import { windowOverWorkerCap } from './worker-cap';

const SCREENPLAY_RUN_ID = /^screenplay-[0-9a-f-]{36}$/i;

/**
 * The run of another job named where a script is expected (`storyloom pause screenplay-…`): what
 * to use for it instead, said where the lookup would answer "No script".
 */
function otherJobsRun(idOrTitle: string): string | undefined {
  if (/^stories-\d{4}-/.test(idOrTitle)) return `${idOrTitle} is a story run: \`storyloom stories status|pause|resume|concurrency|cancel ${idOrTitle}\` steer it.`;
  if (SCREENPLAY_RUN_ID.test(idOrTitle)) {
    return `${idOrTitle} is a screenplay run: it cannot be paused or re-tuned; \`storyloom report ${idOrTitle}\` once it ends, and \`storyloom cancel ${idOrTitle}\` (or POST /api/runs/${idOrTitle}/cancel) stops it.`;
  }
  if (/^session-[0-9a-f-]{36}$/i.test(idOrTitle)) return `${idOrTitle} is a story session's run: \`storyloom sessions show|end ${idOrTitle.slice('session-'.length)}\`.`;
  return undefined;
}

async function runningHandle(ctx: CliContext, idOrTitle: string) {
  const script = await ctx.script(idOrTitle).catch((err: unknown) => {
    const other = err instanceof UsageError ? otherJobsRun(idOrTitle) : undefined;
    throw other ? new UsageError(other) : err;
  });
  const workflowId = ingestionWorkflowId(script.id);
  const handle = (await ctx.client()).workflow.getHandle(workflowId);
  try {
    const desc = await handle.describe();
    return { script, workflowId, handle, desc, running: desc.status.name === 'RUNNING' };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return { script, workflowId, handle, desc: undefined, running: false };
    throw err;
  }
}

/** The one <script> argument of status, pause, resume and cancel; an option (`--json`) is refused, not taken for a title. */
function scriptArgument(argv: string[], usage: string): string {
  return exactPositionals(argv, 1, () => `usage: ${usage}`)[0];
}

const describeState = (s: SteeringState) =>
  `${s.paused ? 'paused' : 'running'}; concurrency: summaries ${s.concurrency.summaries}, sheets ${s.concurrency.sheets}`;

/** Why a running run showed no progress, for stderr. */
export function noProgressMessage(answer: { error: string; noWorker: boolean }): string {
  return answer.noWorker
    ? `no worker answered the progress query within ${PROGRESS_QUERY_TIMEOUT_MS / 1000} s: is a worker running (\`storyloom worker\`)?`
    : `no progress: ${answer.error}`;
}

/** What a run's description says without its workers: status, start, history and search attributes. */
/**
 * What the server knows of a running run, for when no worker answers its progress query.
 * `startedAt` is the job's start (jobStartTime: a run that continued as new is described by its
 * latest run, whose start is the hand-over's, as is its history).
 */
export function describedLines(desc: WorkflowExecutionDescription, startedAt: Date = desc.startTime): string[] {
  const continued = (desc.raw.workflowExecutionInfo?.firstRunId || desc.runId) !== desc.runId;
  // storyloom's own (job, title, status): the server's (BuildIds, TemporalChangeVersion) say nothing to a user.
  const attributes = desc.typedSearchAttributes
    .getAll()
    .filter(({ key }) => key.name.startsWith('Storyloom'))
    .map(({ key, value }) => `${key.name}=${value instanceof Date ? value.toISOString() : Array.isArray(value) ? value.join(',') : String(value)}`);
  return [
    `status ${desc.status.name}, started ${startedAt.toISOString()}, ${desc.historyLength} history events${continued ? ' in its latest run' : ''}`,
    ...(attributes.length ? [`search attributes: ${attributes.join(', ')}`] : []),
  ];
}

/** `status`: the live progress of a running ingestion, else the last run's row. */
export async function statusCommand(ctx: CliContext, argv: string[]): Promise<number> {
  const { script, workflowId, handle, desc, running } = await runningHandle(ctx, scriptArgument(argv, 'storyloom status <scriptId>'));
  if (running && desc) {
    // Bounded: with no worker the query would wait for the server's timeout (30 s) and fail.
    const answer = await queryProgress(await ctx.client(), handle, progressQuery);
    console.log(`"${script.title}": ${answer.progress?.paused ? 'paused' : 'running'} — ${webUiLink(ctx.config, workflowId)}`);
    if (answer.progress === null) {
      console.error(noProgressMessage(answer));
      for (const line of describedLines(desc, await jobStartTime(await ctx.client(), desc))) console.log(line);
      for (const line of await waitingLines(desc, loadDataConverter(dataConverterFor(ctx.config)))) console.log(line);
      return 0;
    }
    const progress = answer.progress;
    console.log(progressLine(progress));
    console.log(describeState(progress));
    if (progress.pauseReason) console.log(`paused by itself: ${progress.pauseReason}`);
    for (const line of await waitingLines(await handle.describe(), loadDataConverter(dataConverterFor(ctx.config)))) console.log(line);
    return 0;
  }
  const last = await new RunRepository(await ctx.db()).lastIngestionRun(script.id);
  // A run that closed before its first step (cancelled or terminated while no worker ran) left no
  // row: the workflow's own status says how the latest run ended.
  const firstRunId = desc?.raw.workflowExecutionInfo?.firstRunId || desc?.runId;
  const closedEarly = desc?.status.name === 'CANCELLED' || desc?.status.name === 'TERMINATED';
  if (desc && closedEarly && firstRunId !== last?.runId && (!last || desc.startTime > last.startedAt)) {
    console.log(`"${script.title}": last run ${desc.status.name.toLowerCase()} before it did any work (closed ${desc.closeTime?.toISOString() ?? 'n/a'}) — ${webUiLink(ctx.config, workflowId, desc.runId)}`);
    if (last) console.log(`the run before it: ${last.status}, started ${last.startedAt.toISOString()}`);
    if (last?.result) console.log(describeResult(last.result));
    return 0;
  }
  if (!last) {
    console.log(`"${script.title}" has not been ingested yet: \`storyloom ingest ${script.id}\`.`);
    return 0;
  }
  console.log(`"${script.title}": last run ${last.status.replace(/_/g, ' ')}, started ${last.startedAt.toISOString()}`);
  if (last.result) console.log(describeResult(last.result));
  return 0;
}

/** Runs `act` on the script's running ingestion; exit 1 with a message when none is running. */
async function onRunning(
  ctx: CliContext,
  idOrTitle: string,
  act: (handle: WorkflowHandle, title: string, client: Client) => Promise<string>,
): Promise<number> {
  const { script, handle, running } = await runningHandle(ctx, idOrTitle);
  try {
    if (running) {
      console.log(await act(handle, script.title, await ctx.client()));
      return 0;
    }
  } catch (err) {
    if (!(err instanceof NotRunningError)) throw err;
  }
  console.error(`No ingestion of "${script.title}" is running.`);
  return 1;
}

/** `cancel screenplay-…`: a screenplay run has no script to name it by; its variants in flight are aborted, saved versions stay. */
async function cancelScreenplay(ctx: CliContext, workflowId: string): Promise<number> {
  const client = await ctx.client();
  const handle = client.workflow.getHandle(workflowId);
  let status: string;
  try {
    status = (await handle.describe()).status.name;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new UsageError(`No screenplay run "${workflowId}" (\`storyloom generate\` prints a run's id).`);
    throw err;
  }
  try {
    if (status !== 'RUNNING') throw new NotRunningError(workflowId, status);
    await steerRun(client, handle, 'cancel');
  } catch (err) {
    if (!(err instanceof NotRunningError)) throw err;
    // As for a script's run that has ended: said, exit 1.
    console.error(err.message);
    return 1;
  }
  console.log(`Cancel requested (the variants in flight are aborted; versions already saved stay): ${workflowId}`);
  return 0;
}

export function steerCommand(action: 'pause' | 'resume' | 'cancel') {
  return async (ctx: CliContext, argv: string[]): Promise<number> => {
    const arg = scriptArgument(argv, `storyloom ${action} <script>`);
    if (action === 'cancel' && SCREENPLAY_RUN_ID.test(arg)) return cancelScreenplay(ctx, arg);
    return onRunning(ctx, arg, async (handle, title, client) => {
      const state = (await steerRun(client, handle, action)) as SteeringState;
      if (action === 'cancel') return `Cancel requested (calls in flight are aborted; what was written stays): "${title}"`;
      if (action === 'pause') return `Paused "${title}" (calls in flight finish; no new ones start): ${describeState(state)}`;
      return `Resumed "${title}": ${describeState(state)}`;
    });
  };
}

/**
 * A number when the option is one in decimal digits (as every integer option, `int-option.ts`),
 * else the text as given, so the run's validator can say what is wrong with it ("1e1" is not 10).
 */
function numberOrText(raw: string): number | string {
  return /^-?\d+$/.test(raw) ? Number(raw) : raw;
}

/** `concurrency`: changes the calls in flight of a running ingestion (the run validates the values). */
export async function concurrencyCommand(ctx: CliContext, argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { summaries: { type: 'string' }, sheets: { type: 'string' } },
  });
  if (positionals.length !== 1 || (values.summaries === undefined && values.sheets === undefined)) {
    throw new UsageError('usage: storyloom concurrency <script> [--summaries N] [--sheets M] (one or both)');
  }
  const change: Partial<Record<keyof IngestionConcurrency, number | string>> = {};
  if (values.summaries !== undefined) change.summaries = numberOrText(values.summaries);
  if (values.sheets !== undefined) change.sheets = numberOrText(values.sheets);
  // Checked here too, so a value out of range is refused without a database, server or run.
  const invalid = concurrencyChangeError(change);
  if (invalid) throw new UsageError(invalid.replace(/^(summaries|sheets) /, '--$1 '));
  return onRunning(ctx, positionals[0], async (handle, title, client) => {
    const state = (await setRunConcurrency(client, handle, change)) as SteeringState;
    const notes = [
      change.summaries !== undefined ? windowOverWorkerCap(ctx.config, 'summary', '--summaries', Number(change.summaries)) : undefined,
      change.sheets !== undefined ? windowOverWorkerCap(ctx.config, 'sheet', '--sheets', Number(change.sheets)) : undefined,
    ].filter(Boolean);
    return [`Concurrency of "${title}": ${describeState(state)}`, ...notes].join('\n');
  });
}
