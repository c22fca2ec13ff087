/**
 * The story-session cases: a storySession of a few turns, each the takeTurn Update sent as
 * `storyloom play` sends it (update-with-start, an update id of the client's), on the chaos
 * stack's worker processes, with an optional worker SIGKILL while a turn's model call is open.
 * A turn whose Update call fails is sent again with the same update id (the server answers a
 * known id with its outcome instead of running the turn again). Judged from the database and
 * the history: every turn once, its writes once, the call log complete, every Update answered.
 */
import { randomUUID } from 'node:crypto';
import { sendTurn } from '../../src/cli/session-client';
import { loadConfig } from '../../src/config';
import { sessionWorkflowId, type TurnResult } from '../../src/shared/sessions';
import { endSessionUpdate, sessionProgressQuery, type storySession } from '../../src/workflows';
import type { ChaosCase, FaultRecord } from './cases';
import { checkCallLog, killAndRestartWorker, recoveryMs, sleep } from './measure';
import type { CaseResult } from './run';
import type { ChaosStack } from './stack';

/** Turns per case: the simulator's default plan makes each 2 model calls, 3 read tools and 2 writes (add_memory, update_state). */
export const SESSION_TURNS = 5;

/** Runs `c` (a `job: 'session'` case) and fills status, wall time, the database check and the fault, for the common judging. */
export async function runSessionRun(stack: ChaosStack, c: ChaosCase, opts: { timeScale: number }, runTag: string, log: (msg: string) => void): Promise<CaseResult> {
  const out: CaseResult = { id: c.id, title: c.title, expect: c.expect };
  const taskQueue = `chaos-${c.id}-${runTag}`;
  const startWorker = () => stack.startWorker(taskQueue, c.workerEnv);
  const workers = [await startWorker()];
  stack.sim.resetStats();
  stack.sim.configure({ faults: [], ...c.sim?.({ timeScale: opts.timeScale, keys: stack.keys }) });

  const sessionId = randomUUID();
  const title = `chaos ${c.id} ${runTag}`;
  const workflowId = sessionWorkflowId(sessionId);
  out.workflowId = workflowId;
  const started = Date.now();
  const now = () => Date.now() - started;
  const deadline = started + 180_000;
  const samples: { t: number; done: number }[] = [{ t: 0, done: 0 }];
  const answers: TurnResult[] = [];
  let resends = 0;
  let fault: FaultRecord | undefined;
  const problems: string[] = [];

  for (let turn = 1; turn <= SESSION_TURNS && Date.now() < deadline; turn++) {
    const updateId = randomUUID();
    // The case's own words: another case's memory embeddings are not cache hits here.
    const text = `Turn ${turn} of ${title}: I search the harbour office for the ${['ledger', 'lamp', 'key', 'map', 'letter'][turn % 5]}`;
    let answered = false;
    const killAt = async (what: string) => {
      log(`  ${c.id}: SIGKILL the worker ${what}`);
      fault = await killAndRestartWorker(stack, workers, startWorker, now, `killed ${what}`);
    };
    const kill = turn !== c.killAtTurn ? Promise.resolve() : c.killDuring === 'write-commit' ? afterWriteCommit() : duringModelCall();
    /** Once this turn's first model call is open at the provider. */
    async function duringModelCall(): Promise<void> {
      const before = stack.sim.stats().byPurpose.session?.requests ?? 0;
      while ((stack.sim.stats().byPurpose.session?.requests ?? 0) <= before && !answered) await sleep(20);
      if (!answered) await killAt(`during turn ${turn}'s model call`);
    }
    /**
     * Right after this turn's first write tool sent its COMMIT (its result stored with the claim):
     * the write is in, the activity is never reported, and its retry must find the claim and write nothing.
     */
    async function afterWriteCommit(): Promise<void> {
      let armed = false;
      const committed = new Promise<boolean>((resolve) => {
        stack.proxy.onClientData = (chunk) => {
          if (answered) resolve(false);
          else if (!armed) armed = chunk.includes('UPDATE session_tool_writes SET result');
          else if (chunk.includes('COMMIT')) resolve(true);
          return false;
        };
      });
      // Resolved with the COMMIT on its way (the SIGKILL is sent in this tick, before the worker can report the activity).
      const kill = committed.then((yes) => (yes ? killAt(`right after a write tool's COMMIT in turn ${turn}`) : undefined));
      await committed;
      stack.proxy.onClientData = undefined;
      await kill;
    }
    let answer: TurnResult | undefined;
    while (!answer && Date.now() < deadline) {
      try {
        answer = await sendTurn(stack.client, { sessionId, title, taskQueue, text, updateId, searchAttributes: true });
      } catch (err) {
        // The same update id again: a turn the server already ran answers its outcome, it is not run twice.
        resends++;
        log(`  ${c.id}: turn ${turn}'s Update failed (${(err as Error).message.slice(0, 120)}); sending it again with the same update id`);
        await sleep(1000);
      }
    }
    answered = true;
    // A kill armed on the proxy that never fired (the turn wrote nothing) lets go with the next statement.
    stack.proxy.onClientData?.(Buffer.alloc(0));
    await kill;
    if (!answer) {
      problems.push(`turn ${turn} unanswered by the deadline`);
      break;
    }
    if (answer.turnNumber !== turn) problems.push(`turn ${turn} answered as turn ${answer.turnNumber}`);
    answers.push(answer);
    samples.push({ t: now(), done: answers.length });
  }
  out.wallMs = now();

  // The session's workflow after its turns: running, idle, every Update accepted once and completed.
  const handle = stack.client.workflow.getHandle<typeof storySession>(workflowId);
  const description = await handle.describe();
  const progress = await stack.client.withDeadline(Date.now() + 10_000, () => handle.query(sessionProgressQuery)).catch(() => undefined);
  const accepted: string[] = [];
  let completedUpdates = 0;
  // Activities that needed more than one attempt (a started event records the attempt that ended it), by type.
  const activityTypes = new Map<string, string>();
  const retried: Record<string, number> = {};
  // Every run of the session's chain (it continues as new every STORYLOOM_SESSION_TURNS_PER_RUN turns).
  const runIds: string[] = [];
  for await (const run of stack.client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) runIds.push(run.runId);
  // As the case's workers read it (their environment over the app's default).
  const turnsPerRun = loadConfig({ ...c.workerEnv }).sessions.turnsPerRun;
  const runsExpected = Math.ceil(SESSION_TURNS / turnsPerRun);
  if (runIds.length !== runsExpected) problems.push(`the session ran as ${runIds.length} run(s), not ${runsExpected}`);
  for (const runId of runIds) {
    // Each run's history on its own: event ids start again at 1 in each.
    activityTypes.clear();
    for (const e of (await stack.client.workflow.getHandle(workflowId, runId).fetchHistory()).events ?? []) {
      const id = e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.meta?.updateId;
      if (id) accepted.push(id);
      if (e.workflowExecutionUpdateCompletedEventAttributes) completedUpdates++;
      const scheduled = e.activityTaskScheduledEventAttributes;
      if (scheduled) activityTypes.set(String(e.eventId), scheduled.activityType?.name ?? 'unknown');
      const attempt = e.activityTaskStartedEventAttributes;
      if (attempt && (attempt.attempt ?? 1) > 1) {
        const type = activityTypes.get(String(attempt.scheduledEventId)) ?? 'unknown';
        retried[type] = (retried[type] ?? 0) + 1;
      }
    }
  }
  const acceptedTwice = accepted.length - new Set(accepted).size;
  if (description.status.name !== 'RUNNING') problems.push(`the session's workflow is ${description.status.name}`);
  if (progress?.status !== 'idle' || progress.turns !== answers.length) problems.push(`the session says ${progress ? `${progress.status}, ${progress.turns} turns` : 'nothing (no answer to the query)'}`);
  if (completedUpdates !== accepted.length) problems.push(`${accepted.length} Updates accepted, ${completedUpdates} completed`);
  out.status = problems.length ? problems.join('; ') : 'completed';
  // Ended as `storyloom play` ends it, so the session's workflow closes before its worker goes.
  await handle.executeUpdate(endSessionUpdate).catch((err: unknown) => log(`  ${c.id}: ending the session: ${(err as Error).message}`));
  if (fault) {
    out.fault = fault;
    out.recoveryMs = recoveryMs(samples, fault.restoredAt, out.wallMs);
  } else if (c.killAtTurn !== undefined) out.error = `no kill: turn ${c.killAtTurn} ended before its ${c.killDuring === 'write-commit' ? 'first write' : 'model call'}`;
  for (const w of workers) await w.stop().catch(() => undefined);

  // Turns, their writes (claimed once per tool call in session_tool_writes), memories, the call log.
  const q = (sql: string) => stack.db.query(sql, [sessionId]);
  const [turns] = await q(
    "SELECT count(*) AS rows, count(DISTINCT turn_number) AS items, count(DISTINCT turn_number) FILTER (WHERE status = 'completed') AS completed FROM session_turns WHERE session_id = $1",
  );
  const [session] = await q('SELECT turns FROM story_sessions WHERE id = $1');
  const [writeCalls] = await q(
    "SELECT count(*) AS n FROM session_turns t, jsonb_array_elements(t.tool_calls) e WHERE t.session_id = $1 AND e->>'kind' = 'write' AND (e->>'ok')::boolean",
  );
  const [writes] = await q(
    `SELECT count(*) AS rows, count(*) FILTER (WHERE NOT EXISTS (
       SELECT 1 FROM session_turns t, jsonb_array_elements(t.tool_calls) e WHERE t.session_id = w.session_id AND t.turn_number = w.turn_number AND e->>'id' = w.tool_call_id
     )) AS orphans FROM session_tool_writes w WHERE w.session_id = $1`,
  );
  const [memories] = await q('SELECT count(*) AS rows, count(DISTINCT (turn_number, text)) AS items FROM session_memories WHERE session_id = $1');
  const callLog = await checkCallLog(stack.db, workflowId);
  const completedTurns = Number(turns.completed);
  const turnRows = Number(turns.rows);
  // A turn run twice shows as a turn row more (a new turn number) or a write without its tool call in any turn.
  out.db = {
    scenes: 0,
    characters: 0,
    // The ingestion's columns, reused: a turn not recorded as completed counts as a missing "summary", a write tool call without its write as a missing "sheet".
    missing: { summaries: Math.max(0, SESSION_TURNS - completedTurns), embeddings: 0, sheets: Math.max(0, Number(writeCalls.n) - (Number(writes.rows) - Number(writes.orphans))), outline: 0 },
    duplicated:
      turnRows - Number(turns.items) +
      Math.max(0, Number(turns.items) - SESSION_TURNS) +
      Number(writes.orphans) +
      (Number(memories.rows) - Number(memories.items)) +
      acceptedTwice +
      callLog.repeatedKeys,
    calls: callLog.calls,
    paidLogged: callLog.paidLogged,
    rowlessAttempts: callLog.rowlessAttempts,
  };
  out.itemsLost = out.db.missing.summaries + out.db.missing.sheets;
  const note =
    `${answers.length} of ${SESSION_TURNS} turns answered${resends ? ` (${resends} Update call(s) sent again with the same id)` : ' (no Update call sent twice)'}, ` +
    `${completedUpdates}/${accepted.length} Updates completed/accepted; ${turnRows} turn rows (session counts ${session?.turns ?? '—'}), ` +
    `${writes.rows} writes for ${writeCalls.n} write calls, ${memories.rows} memories; workflow ${description.status.name} (${runIds.length} run(s)); ` +
    `activities retried: ${Object.entries(retried).map(([t, n]) => `${t} ${n}`).join(', ') || 'none'}`;
  out.note = note;
  log(`  ${c.id}: ${note}`);
  return out;
}
