/**
 * `storySession` (id `session-<sessionId>`): one interactive story. A turn is the `takeTurn`
 * Update: it answers the reply and the turn's figures. The first turn starts the session
 * (update-with-start). Turns run one at a time in arrival order (a second update waits its
 * turn). A turn: the model (native tool calling) → the step's read-only tools concurrently (at
 * most MAX_PARALLEL_TOOL_CALLS), then its write tools one after another in the model's order →
 * results fed back → again, at most maxToolSteps rounds. Reads see the world as it was before
 * the step's writes. An LLM failure (after its retries) fails the turn, not the session. The
 * world lives in Postgres, so every `turnsPerRun` turns (or sooner, when the server suggests it:
 * SESSION_CONTINUE_AS_NEW_SUGGESTED_PATCH) the run continues as new once its handlers have
 * finished. A cancelled run first ends the turn in flight (SESSION_CANCEL_ENDS_TURN_PATCH).
 */
import {
  ActivityCancellationType,
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  continueAsNew,
  currentUpdateInfo,
  defineQuery,
  defineSignal,
  defineUpdate,
  isCancellation,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { MainActivities } from '../activities';
import type { FinishTurnInput, SessionSettingsResult, SessionToolOutcome } from '../activities/sessions.activities';
import type { ToolCall, ToolChatMessage } from '../llm/types';
import {
  SESSION_REPLY_MAX_TOKENS,
  sessionMismatch,
  toolKind,
  summaryThroughFor,
  toolSummary,
  turnInputProblem,
  turnStreamKey,
  type SessionEnded,
  type SessionProgress,
  type StorySessionInput,
  type TurnInput,
  type TurnMetrics,
  type TurnResult,
} from '../shared/sessions';
import { JOB_KEY, STATUS_KEY, TURNS_KEY, type SearchStatus } from '../shared/search-attributes';
import { DB_ACTIVITY_OPTIONS, LLM_ACTIVITY_OPTIONS, llmActivities, llmStreamStartToClose, localActivities } from './activity-options';
import { askPatchesFirst, patchedFromStart } from './patches-first';
import { SETTLE_STARTED_TASKS_PATCH, slidingWindow } from './sliding-window';

export const takeTurnUpdate = defineUpdate<TurnResult, [TurnInput]>('takeTurn');
export const endSessionUpdate = defineUpdate<SessionEnded>('end');
export const endSessionSignal = defineSignal('end');
export const sessionProgressQuery = defineQuery<SessionProgress>('progress');

const SESSION_SEARCH_ATTRIBUTES_PATCH = 'session-search-attributes';
const SESSION_SUMMARIES_PATCH = 'session-summarises-older-turns';
/**
 * A run cancelled during a turn ends that turn before it closes: the model call and the read-only
 * tools are cancelled and waited for until they have stopped, a write tool already started is let
 * finish (no write commits after the run closed, and its outcome is recorded with the turn), the
 * turn's row ends `failed` with TURN_CANCELLED_REASON, the Update's caller gets `TurnCancelled`.
 * Without it the run closed at once, the row stayed `running` and a write could still commit.
 */
const SESSION_CANCEL_ENDS_TURN_PATCH = 'session-cancel-ends-turn';
/**
 * A run also continues as new after a turn once the server suggests it (its history's event count
 * or size is past the namespace's `limit.history*.suggestContinueAsNew`): turns heavy with tool
 * calls reach those limits before `turnsPerRun`. Without it only the turn count decided.
 */
const SESSION_CONTINUE_AS_NEW_SUGGESTED_PATCH = 'session-continue-as-new-suggested';
const TURN_CANCELLED_REASON = "cancelled: the session's run was cancelled during the turn";

/**
 * A player waits for the turn: a worker that dies during one of its activities is noticed by a
 * missed heartbeat within 5 s (the activities beat every second while they run), not by the
 * 20–30 s limits a background job can afford.
 */
const TURN_HEARTBEAT_TIMEOUT = '5 seconds';
/** Tools are quick database work (an embedding request at most); a failure after these retries is an error result for the model. */
const TOOL_OPTIONS = {
  ...DB_ACTIVITY_OPTIONS,
  startToCloseTimeout: '30 seconds',
  heartbeatTimeout: TURN_HEARTBEAT_TIMEOUT,
  retry: { ...DB_ACTIVITY_OPTIONS.retry, maximumAttempts: 5 },
} as const;
const tools = proxyActivities<MainActivities>(TOOL_OPTIONS);
/** The same activities for SESSION_CANCEL_ENDS_TURN_PATCH's runs: a tool cancelled with the run is waited for until it has stopped (it heartbeats, so within seconds). */
const settledTools = proxyActivities<MainActivities>({ ...TOOL_OPTIONS, cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED });
/** The model's call is retried a few times, not for minutes. */
const TURN_LLM_RETRY = { ...LLM_ACTIVITY_OPTIONS.retry, maximumAttempts: 3, maximumInterval: '5 seconds' as const };

type Outcome = SessionToolOutcome & { arguments: unknown };

export async function storySession(input: StorySessionInput): Promise<SessionEnded> {
  const info = workflowInfo();
  const carried = input.carried ?? { turns: 0, startedAt: Date.now(), runIds: [] };
  carried.runIds = [...carried.runIds, info.runId].slice(-20);
  let settings: SessionSettingsResult | undefined;
  let ended = false;
  let turnsThisRun = 0;
  let nextTicket = 0;
  let serving = 0;
  let current: SessionProgress['currentTurn'];
  let lastTurn: SessionProgress['lastTurn'];
  /** The story-so-far summary being made between turns (at most one at a time), and how far the last one reached. */
  let summarising: Promise<void> | undefined;
  let summarisedThrough = 0;
  /** Set at the run's start (SESSION_CANCEL_ENDS_TURN_PATCH): a cancel ends the turn in flight before the run closes. */
  let cancelEndsTurn = false;
  /** Set at the run's start (SESSION_CONTINUE_AS_NEW_SUGGESTED_PATCH). */
  let continuesWhenSuggested = false;

  const progress = (): SessionProgress => ({
    sessionId: input.sessionId,
    title: input.title,
    status: ended ? 'ended' : current ? 'taking_turn' : 'idle',
    turns: carried.turns,
    queued: Math.max(0, nextTicket - serving - (current ? 1 : 0)),
    ...(current ? { currentTurn: { ...current } } : {}),
    ...(lastTurn ? { lastTurn } : {}),
  });
  // Runs started with search attributes (the client sets them) keep their status and turn count current.
  const searchable = info.typedSearchAttributes.get(JOB_KEY) !== undefined;
  const setsSearchAttributes = () => searchable && patched(SESSION_SEARCH_ATTRIBUTES_PATCH);
  const markSearch = (status: SearchStatus | undefined) => {
    if (!setsSearchAttributes()) return;
    upsertSearchAttributes([{ key: TURNS_KEY, value: carried.turns }, ...(status ? [{ key: STATUS_KEY, value: status }] : [])]);
  };
  const showDetails = () => {
    const p = progress();
    setCurrentDetails(`**${input.title}** — ${p.status}${p.currentTurn ? ` (turn ${p.currentTurn.turnNumber}, step ${p.currentTurn.step}: ${p.currentTurn.phase})` : ''}\n\nturns: ${p.turns}, queued: ${p.queued}`);
  };

  setHandler(sessionProgressQuery, progress);
  setHandler(
    takeTurnUpdate,
    async (turn) => {
      const ticket = nextTicket++;
      // The reply streams on a channel named by the Update's id, which the client chose.
      const updateId = currentUpdateInfo()?.id;
      try {
        await condition(() => serving === ticket && settings !== undefined);
      } catch (err) {
        if (cancelEndsTurn && isCancellation(err)) {
          throw ApplicationFailure.nonRetryable("This turn was not taken: the session's run was cancelled before its turn came. Send it again to resume the session.", 'TurnCancelled');
        }
        throw err;
      }
      try {
        return await takeTurn(turn.text, settings!, updateId);
      } finally {
        serving++;
        current = undefined;
        showDetails();
      }
    },
    {
      validator: (turn) => {
        const problem = turnInputProblem(turn);
        if (problem) throw ApplicationFailure.nonRetryable(problem, 'InvalidTurnInput');
        if (ended) throw ApplicationFailure.nonRetryable('This session has ended; start a new one with `storyloom play`.', 'SessionEnded');
        const mismatch = sessionMismatch(input, turn.newSession);
        if (mismatch) throw ApplicationFailure.nonRetryable(mismatch, 'SessionMismatch');
      },
      description: 'Take one turn: { "text": "what the player does or says" }; answers the reply and the turn\'s figures.',
    },
  );
  const end = (): SessionEnded => {
    ended = true;
    showDetails();
    // Turns already sent are still taken (the one in flight included): the answer says how many.
    const pending = nextTicket - serving;
    return { sessionId: input.sessionId, turns: carried.turns, ...(pending > 0 ? { pending } : {}) };
  };
  setHandler(endSessionUpdate, end, { description: 'End the session after the turns already sent; answers the turns taken.' });
  setHandler(endSessionSignal, () => {
    end();
  });

  // Before the first local activity (see patches-first.ts).
  askPatchesFirst([SESSION_SEARCH_ATTRIBUTES_PATCH, SESSION_SUMMARIES_PATCH, SETTLE_STARTED_TASKS_PATCH, SESSION_CANCEL_ENDS_TURN_PATCH, SESSION_CONTINUE_AS_NEW_SUGGESTED_PATCH]);
  cancelEndsTurn = patchedFromStart(SESSION_CANCEL_ENDS_TURN_PATCH);
  continuesWhenSuggested = patchedFromStart(SESSION_CONTINUE_AS_NEW_SUGGESTED_PATCH);
  if (!input.carried) {
    // A session resumed after its workflow closed (not ended) goes on from the turns it took.
    const opened = await localActivities.openSession({ sessionId: input.sessionId, title: input.title, scriptId: input.scriptId ?? null });
    carried.turns = Math.max(carried.turns, opened.turns);
  }
  // A run continued from the last one inherited its "continued" status.
  if (input.carried) markSearch('running');
  settings = await localActivities.resolveSessionSettings();
  const turnsPerRun = settings.turnsPerRun;
  showDetails();

  try {
    // A summary still being made is finished before the run ends or hands over.
    // The suggestion comes with each workflow task (from history on replay); at least one turn per run.
    const handOver = () => turnsThisRun >= turnsPerRun || (continuesWhenSuggested && turnsThisRun > 0 && workflowInfo().continueAsNewSuggested);
    await condition(() => (ended || handOver()) && serving === nextTicket && summarising === undefined);
    await condition(allHandlersFinished);
  } catch (err) {
    if (cancelEndsTurn && isCancellation(err)) {
      // The cancel reached the turn in flight (it ends itself, see takeTurn), the turns waiting
      // (they fail at once) and a summary being made (its call is cancelled): wait for all of
      // them, so the run closes with nothing of it still running.
      await CancellationScope.nonCancellable(() => condition(() => allHandlersFinished() && summarising === undefined));
      markSearch('cancelled');
    }
    throw err;
  }
  if (ended) {
    await localActivities.endSession({ sessionId: input.sessionId });
    markSearch('ended');
    return { sessionId: input.sessionId, turns: carried.turns };
  }
  markSearch('continued');
  return continueAsNew<typeof storySession>({ ...input, carried });

  async function takeTurn(text: string, s: SessionSettingsResult, updateId: string | undefined): Promise<TurnResult> {
    const turnNumber = carried.turns + 1;
    current = { turnNumber, step: 0, phase: 'llm' };
    showDetails();
    // With the patch, bookkeeping a cancel would cut short (a local activity cancelled may still write) is shielded from it.
    const shielded = <T>(fn: () => Promise<T>): Promise<T> => (cancelEndsTurn ? CancellationScope.nonCancellable(fn) : fn());
    const { startedAt } = await shielded(() => localActivities.beginTurn({ sessionId: input.sessionId, turnNumber, input: text }));
    // The step streams its reply: timed by its silence, so its limit allows a whole reply at the slowest pace expected.
    const model = llmActivities(s.route, {
      retry: TURN_LLM_RETRY,
      heartbeatTimeout: TURN_HEARTBEAT_TIMEOUT,
      startToCloseTimeout: llmStreamStartToClose(s.route, 1, SESSION_REPLY_MAX_TOKENS),
    });
    const exchange: ToolChatMessage[] = [];
    const outcomes: Outcome[] = [];
    const llm = { calls: 0, ms: 0, inputTokens: 0, outputTokens: 0 };
    let reply = '';
    let stepLimitReached = false;
    let rounds = 0;
    const finish = (status: FinishTurnInput['status'], error: string | null) =>
      localActivities.finishTurn({
        sessionId: input.sessionId, turnNumber, startedAt, status, reply: status === 'completed' ? reply : null, error,
        toolCalls: outcomes, llm, steps: rounds, stepLimitReached,
      });
    try {
      for (let step = 1; ; step++) {
        current = { turnNumber, step, phase: 'llm' };
        const answer = await model.sessionLlmStep.executeWithOptions({ summary: `llm: turn ${turnNumber}, step ${step}` }, [
          {
            sessionId: input.sessionId, title: input.title, turnNumber, step, route: s.route, input: text, exchange,
            ...(updateId ? { streamKey: turnStreamKey(input.sessionId, updateId) } : {}),
          },
        ]);
        llm.calls++;
        llm.ms += answer.durationMs;
        llm.inputTokens += answer.inputTokens;
        llm.outputTokens += answer.outputTokens;
        if (!answer.toolCalls.length) {
          reply = answer.text;
          break;
        }
        if (rounds >= s.maxToolSteps) {
          stepLimitReached = true;
          reply = `${answer.text ? `${answer.text}\n\n` : ''}(The storyteller stopped after ${s.maxToolSteps} rounds of tool calls without finishing; say what you do next.)`;
          break;
        }
        current = { turnNumber, step, phase: 'tools' };
        showDetails();
        const stepOutcomes = await runTools(answer.toolCalls, turnNumber, step, s.maxParallelToolCalls);
        rounds++;
        outcomes.push(...stepOutcomes);
        await shielded(() =>
          localActivities.recordToolBatch({ sessionId: input.sessionId, turnNumber, turnStartedAt: startedAt, step, outcomes: stepOutcomes.map(({ content: _c, arguments: _a, ...timed }) => timed) }),
        );
        exchange.push(
          { role: 'assistant', content: answer.text, toolCalls: answer.toolCalls },
          ...stepOutcomes.map((o): ToolChatMessage => ({ role: 'tool', toolCallId: o.id, name: o.name, content: o.content, isError: !o.ok })),
        );
      }
    } catch (err) {
      if (cancelEndsTurn && isCancellation(err)) {
        // What the cancel reached has stopped (see runTools); the row is ended before the run closes.
        await CancellationScope.nonCancellable(() => finish('failed', TURN_CANCELLED_REASON));
        throw ApplicationFailure.nonRetryable(
          `Turn ${turnNumber} was cancelled: the session's run was cancelled while the storyteller was answering. Writes it had started are kept; send the turn again to resume the session.`,
          'TurnCancelled',
        );
      }
      const cause = err instanceof ActivityFailure && err.cause ? err.cause : err;
      const message = (cause as Error)?.message ?? String(cause);
      await finish('failed', message);
      throw ApplicationFailure.nonRetryable(`The storyteller could not answer turn ${turnNumber}: ${message}. The session is fine: try the turn again.`, 'TurnFailed');
    }
    const metrics: TurnMetrics = await shielded(() => finish('completed', null));
    carried.turns = turnNumber;
    turnsThisRun++;
    lastTurn = { turnNumber, metrics };
    markSearch(undefined);
    summariseOlderTurns(turnNumber + 1, s);
    return {
      sessionId: input.sessionId,
      turnNumber,
      reply,
      toolCalls: outcomes.map((o) => ({ id: o.id, name: o.name, kind: o.kind, step: o.step, ok: o.ok, durationMs: o.durationMs })),
      metrics,
      stepLimitReached,
    };
  }

  /**
   * Once turns leave the history window, the turns before it are summarised by an LLM (stored,
   * once per range) between turns: started when a turn ends, off the player's wait; the next
   * prompt carries the latest summary there is. At most one runs; a failure leaves the older
   * turns as one-line extracts. Histories from before summaries (no `maxTurnHistory`, no
   * marker) schedule nothing.
   */
  function summariseOlderTurns(nextTurn: number, s: SessionSettingsResult): void {
    if (s.maxTurnHistory === undefined || summarising) return;
    const through = summaryThroughFor(nextTurn, s.maxTurnHistory);
    if (through <= summarisedThrough || !patched(SESSION_SUMMARIES_PATCH)) return;
    summarising = (async () => {
      try {
        const done = await llmActivities(s.route, { retry: TURN_LLM_RETRY }).summariseSessionTurns.executeWithOptions(
          { summary: `summary: turns 1-${through}` },
          [{ sessionId: input.sessionId, title: input.title, throughTurn: through, route: s.route }],
        );
        summarisedThrough = Math.max(summarisedThrough, done.throughTurn);
      } catch {
        // The next turn's prompt shows those turns as one-line extracts; a later turn tries again.
      } finally {
        summarising = undefined;
      }
    })();
  }

  /**
   * One step's tools: the read-only ones (and unknown names, which only answer an error)
   * concurrently, at most `maxParallel` at a time; then the writes one after another in the
   * model's order. Answers the outcomes in the model's order. A tool that still fails after its
   * retries becomes an error result for the model. With SESSION_CANCEL_ENDS_TURN_PATCH a cancel
   * stops the reads (waited for) and throws; a write already started finishes, no other starts,
   * and the outcomes so far are answered (the next step's model call then sees the cancel).
   */
  async function runTools(calls: ToolCall[], turnNumber: number, step: number, maxParallel: number): Promise<Outcome[]> {
    const done = new Map<string, Outcome>();
    const proxy = cancelEndsTurn ? settledTools : tools;
    const run = async (call: ToolCall) => {
      let outcome: SessionToolOutcome;
      try {
        outcome = await proxy.runSessionTool.executeWithOptions({ summary: toolSummary(call.name, call.arguments) }, [
          { sessionId: input.sessionId, scriptId: input.scriptId ?? null, turnNumber, step, call },
        ]);
      } catch (err) {
        if (cancelEndsTurn && isCancellation(err)) throw err;
        const cause = err instanceof ActivityFailure && err.cause ? err.cause : err;
        outcome = {
          id: call.id, name: call.name, kind: toolKind(call.name), ok: false, step, startedAt: Date.now(), durationMs: 0,
          content: JSON.stringify({ error: `${call.name} failed: ${(cause as Error)?.message ?? String(cause)}` }),
        };
      }
      done.set(call.id, { ...outcome, arguments: call.arguments });
    };
    const writes = calls.filter((c) => toolKind(c.name) === 'write');
    await slidingWindow(calls.filter((c) => toolKind(c.name) !== 'write'), () => maxParallel, run);
    for (const call of writes) {
      if (!cancelEndsTurn) {
        await run(call);
        continue;
      }
      if (CancellationScope.current().consideredCancelled) break;
      // Cancelled halfway, a write could still commit after the run closed, its outcome unknown here.
      await CancellationScope.nonCancellable(() => run(call));
    }
    // Every call has its outcome, unless a cancel kept some writes from starting.
    return calls.flatMap((c) => done.get(c.id) ?? []);
  }
}

