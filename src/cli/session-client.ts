/** Sending turns to a story session: the first turn starts the session's workflow (update-with-start). */
import { ApplicationFailure, WithStartWorkflowOperation, WorkflowFailedError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { subscribeToStream, type StreamEvent } from '../db/stream-channel';
import { SESSION_PRIORITY } from '../shared/job-priority';
import { storyloomSearchAttributes, TURNS_KEY } from '../shared/search-attributes';
import { SESSION_ENDED, sessionWorkflowId, turnStreamKey, type TurnInput, type TurnResult } from '../shared/sessions';
import { sessionProgressQuery, storySession, takeTurnUpdate } from '../workflows';
import { queryProgress } from '../operations/run-progress';
import { SLOW_ANSWER_HINT_MS, withSlowAnswerHint } from './slow-answer';

/** How long the hint's check waits for a worker to answer the session's progress query. */
const WORKER_CHECK_MS = 3_000;

/** Said when a turn has no answer yet after SLOW_ANSWER_HINT_MS. */
export const NO_TURN_ANSWER_HINT = `(no answer after ${SLOW_ANSWER_HINT_MS / 1000} s: a turn waits for a worker to take it; is one running? \`storyloom worker\`)`;

export interface SendTurnOptions {
  sessionId: string;
  title: string;
  scriptId?: string | null;
  taskQueue: string;
  text: string;
  /** The takeTurn Update's id (default: one the server picks); the reply streams under it. */
  updateId?: string;
  /**
   * A session started by this turn gets storyloom's search attributes (job, title, status,
   * turns), which the server must have registered (scripts/temporal.sh does); the CLI and the
   * API ask for them, a bare server (a benchmark's) does without.
   */
  searchAttributes?: boolean;
  /** What the client gave the session this turn starts, as far as it knows: the run refuses the turn if its session has others (TurnInput.newSession). */
  newSession?: TurnInput['newSession'];
}

/**
 * Takes one turn and answers its result. The session's workflow is started when it is not
 * running (its first turn, or a session resumed later) and used when it is, in one request.
 */
export async function sendTurn(client: Client, opts: SendTurnOptions): Promise<TurnResult> {
  const startWorkflowOperation = new WithStartWorkflowOperation(storySession, {
    workflowId: sessionWorkflowId(opts.sessionId),
    taskQueue: opts.taskQueue,
    args: [{ sessionId: opts.sessionId, title: opts.title, scriptId: opts.scriptId ?? null }],
    workflowIdConflictPolicy: 'USE_EXISTING',
    // Ahead of bulk jobs' queued calls on the provider's queue (a running session keeps the priority it started with).
    priority: SESSION_PRIORITY,
    // What the Web UI shows for the run, as the other jobs' starts give it.
    staticSummary: `session "${opts.title}"${opts.scriptId ? ` on script ${opts.scriptId}` : ''}`,
    // Findable in the Web UI: StoryloomJob = "session", its title, status, turns (the run keeps them current).
    ...(opts.searchAttributes ? { typedSearchAttributes: [...storyloomSearchAttributes('session', opts.title, 'running'), { key: TURNS_KEY, value: 0 }] } : {}),
  });
  try {
    return await client.workflow.executeUpdateWithStart(takeTurnUpdate, {
      args: [{ text: opts.text, ...(opts.newSession ? { newSession: opts.newSession } : {}) }],
      startWorkflowOperation,
      ...(opts.updateId ? { updateId: opts.updateId } : {}),
    });
  } catch (err) {
    // A turn sent as the session ended started a run for it, which refused to open an ended
    // session: the turn's failure says so, as the run's own refusal does, rather than
    // "the Workflow completed before the Update completed".
    if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure && err.cause.type === 'AcceptedUpdateCompletedWorkflow') {
      const ended = await sessionEndedFailure(client, sessionWorkflowId(opts.sessionId));
      if (ended) throw new WorkflowUpdateFailedError(err.message, ended);
    }
    throw err;
  }
}

/** The SessionEnded failure that ended the session's last run, if that is how it ended. */
async function sessionEndedFailure(client: Client, workflowId: string): Promise<ApplicationFailure | undefined> {
  try {
    // Only a run that has failed is waited for (a running one, started by another turn since, is not).
    const { status, runId } = await client.workflow.getHandle(workflowId).describe();
    if (status.name !== 'FAILED') return undefined;
    await client.workflow.getHandle(workflowId, runId, { followRuns: false }).result();
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) return undefined;
    for (let e: unknown = err.cause; e instanceof Error; e = e.cause) {
      if (e instanceof ApplicationFailure && e.type === SESSION_ENDED) return e;
    }
  }
  return undefined;
}

/**
 * Follows one turn's stream: writes each step's text as it arrives, ends a line when a step's
 * text turns out not to be the reply (it came with tool calls, or the step is tried again), and
 * remembers the reply's text (the step that ended `done`).
 */
export class ReplyStreamPrinter {
  /** The streamed reply, once its step ended `done`. */
  reply: string | undefined;
  /** Every delta as it arrived (for tests: when, and what). */
  readonly deltas: { at: number; step: number; text: string }[] = [];
  private shown = '';
  private wroteAny = false;
  /** Why the text shown was cut short, until a next attempt says it is written again. */
  private cutShort: string | undefined;

  constructor(private readonly write: (text: string) => void) {}

  onEvent = (event: StreamEvent): void => {
    if (event.type === 'delta') {
      this.deltas.push({ at: Date.now(), step: event.variant, text: event.text });
      if (!this.wroteAny) this.write('\n');
      this.wroteAny = true;
      this.write(event.text);
      this.shown += event.text;
    } else if (event.type === 'done') {
      this.reply = this.shown;
    } else if (event.type === 'failed') {
      // Said only if the step is taken again (a next attempt starts): then the text starts over.
      this.cutShort = this.shown ? event.message : undefined;
      this.endLine();
    } else if (event.type === 'start' && event.attempt > 1 && this.cutShort !== undefined) {
      this.write(`[cut short: ${this.cutShort}; the reply is written again]\n`);
      this.cutShort = undefined;
    } else {
      this.endLine();
    }
  };

  private endLine(): void {
    if (this.shown && !this.shown.endsWith('\n')) this.write('\n');
    this.shown = '';
  }

  /**
   * After the Update answered: waits briefly for the stream's last events (NOTIFY may trail the
   * answer), then writes whatever the stream did not show, so the reply is always printed whole.
   */
  async finish(reply: string, waitMs = 1000): Promise<void> {
    const until = Date.now() + waitMs;
    while (this.reply === undefined && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    if (this.reply === reply) return;
    if (this.reply === undefined && this.shown && reply.startsWith(this.shown)) {
      this.write(reply.slice(this.shown.length));
      return;
    }
    this.endLine();
    if (!this.wroteAny) this.write('\n');
    this.write(reply);
  }
}

/**
 * A turn whose reply is written as it arrives (LISTENing on the turn's channel before the turn
 * is sent), then completed from the Update's answer if the stream missed anything. Answers the
 * turn's result, as sendTurn does.
 */
export async function sendTurnStreaming(client: Client, databaseUrl: string, opts: SendTurnOptions, write: (text: string) => void): Promise<TurnResult> {
  const updateId = opts.updateId ?? randomUUID();
  const printer = new ReplyStreamPrinter(write);
  // Streaming is a nicety: a turn still runs (and prints at the end) when listening fails.
  const subscription = await subscribeToStream(databaseUrl, turnStreamKey(opts.sessionId, updateId), printer.onEvent).catch(() => undefined);
  try {
    // With no worker the turn waits for one, silently: say so once. The stream starting is a sign of
    // life, and so is a worker answering the session's progress query (a turn busy with its tools
    // or waiting out a rate limit streams nothing for a while).
    const workerAnswers = async () =>
      (await queryProgress(client, client.workflow.getHandle(sessionWorkflowId(opts.sessionId)), sessionProgressQuery, WORKER_CHECK_MS)).progress !== null;
    const result = await withSlowAnswerHint(NO_TURN_ANSWER_HINT, () => sendTurn(client, { ...opts, updateId }), async () => printer.deltas.length > 0 || (await workerAnswers()));
    // A turn stopped at the step limit has no streamed reply to wait for.
    await printer.finish(result.reply, subscription && !result.stepLimitReached ? 1000 : 0);
    return result;
  } finally {
    await subscription?.close();
  }
}
