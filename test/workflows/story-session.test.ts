/**
 * Story sessions on a real dev server, real Postgres and the simulator (tool calling through
 * the official SDK): update-with-start, turns in arrival order, read-only tools overlapping and
 * writes in order (from the times the tools recorded), invalid arguments answered as an error
 * result, a failed LLM call failing the turn but not the session, the step limit, metrics.
 */
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { sendTurn } from '../../src/cli/session-client';
import { SessionsRepository } from '../../src/db/repositories/sessions.repository';
import { sessionWorkflowId } from '../../src/shared/sessions';
import { endSessionUpdate, sessionProgressQuery, takeTurnUpdate } from '../../src/workflows';
import { useTestStack } from '../helpers/harness';
import { withMetricsWindow } from '../helpers/metrics-window';
import { waitFor } from '../helpers/wait';

const stack = useTestStack('story-session', { env: { STORYLOOM_MAX_TOOL_STEPS: '3' } });
let repo: SessionsRepository;
beforeAll(() => {
  repo = new SessionsRepository(stack.app.services.db);
});
beforeEach(() => {
  stack.sim.configure({ faults: [], latency: null });
});

const turn = (sessionId: string, text: string) =>
  sendTurn(stack.env.client, { sessionId, title: 'The Lighthouse', taskQueue: stack.app.taskQueue, text });

it('the first turn starts the session (update-with-start) and answers the reply with its figures', async () => {
  const sessionId = randomUUID();
  const result = await turn(sessionId, 'I climb the stairs of the lighthouse');
  expect(result.turnNumber).toBe(1);
  expect(result.reply.length).toBeGreaterThan(0);
  expect(result.toolCalls.map((c) => c.name)).toEqual(['read_state', 'search_memories', 'query_relationships', 'add_memory', 'update_state']);
  expect(result.toolCalls.every((c) => c.ok)).toBe(true);
  expect(result.metrics).toMatchObject({ tools: 5, readOnly: 3, writes: 2, llmCalls: 2, steps: 1 });
  const stored = await repo.turn(sessionId, 1);
  expect(stored).toMatchObject({ status: 'completed', input: 'I climb the stairs of the lighthouse', reply: result.reply });
  expect(stored!.toolCalls).toHaveLength(5);
  expect(await repo.recentMemories(sessionId, 10)).toEqual([expect.objectContaining({ text: 'I climb the stairs of the lighthouse', turnNumber: 1 })]);

  const second = await turn(sessionId, 'I light the lamp');
  expect(second.turnNumber).toBe(2);
  const progress = await stack.env.client.workflow.getHandle(sessionWorkflowId(sessionId)).query(sessionProgressQuery);
  expect(progress).toMatchObject({ status: 'idle', turns: 2, queued: 0, lastTurn: { turnNumber: 2 } });
});

const failureOf = async (promise: Promise<unknown>): Promise<string> => {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
    return (err as WorkflowUpdateFailedError).cause?.message ?? '';
  }
  throw new Error('the update was accepted');
};

it('refuses an empty or oversized input with a clear message, and the session stays as it was', async () => {
  const sessionId = randomUUID();
  await turn(sessionId, 'I wake up [tools: none]');
  const handle = stack.env.client.workflow.getHandle(sessionWorkflowId(sessionId));
  expect(await failureOf(handle.executeUpdate(takeTurnUpdate, { args: [{ text: '   ' }] }))).toMatch(/A turn needs some text/);
  expect(await failureOf(handle.executeUpdate(takeTurnUpdate, { args: [{ text: 'x'.repeat(4001) }] }))).toMatch(/at most 4000 characters \(got 4001\)/);
  expect((await handle.query(sessionProgressQuery)).turns).toBe(1);
  // The Web UI's summary of the run, as the other jobs' starts give one.
  expect(await (await handle.describe()).staticSummary()).toBe('session "The Lighthouse"');
});

it('two turns sent at once are both answered, one after the other in arrival order', async () => {
  const sessionId = randomUUID();
  await turn(sessionId, 'I arrive at the harbour [tools: none]');
  stack.sim.configure({ latency: { byPurpose: { session: { fixedMs: 300 } } } });
  const handle = stack.env.client.workflow.getHandle(sessionWorkflowId(sessionId));
  const first = handle.executeUpdate(takeTurnUpdate, { args: [{ text: 'I ask the ferryman his name' }] });
  // The second is sent once the first is being served, so arrival order is known.
  await waitFor(async () => (await handle.query(sessionProgressQuery)).status === 'taking_turn');
  const second = handle.executeUpdate(takeTurnUpdate, { args: [{ text: 'I pay him a silver coin' }] });
  const [a, b] = await Promise.all([first, second]);
  expect([a.turnNumber, b.turnNumber]).toEqual([2, 3]);
  const turns = await repo.turns(sessionId, 10);
  expect(turns.map((t) => [t.turnNumber, t.input, t.status])).toEqual([
    [1, 'I arrive at the harbour [tools: none]', 'completed'],
    [2, 'I ask the ferryman his name', 'completed'],
    [3, 'I pay him a silver coin', 'completed'],
  ]);
  // One at a time: turn 3 started after turn 2 ended.
  expect(turns[2].startedAt.getTime()).toBeGreaterThanOrEqual(turns[1].finishedAt!.getTime());
});

it('runs the read-only tools of a step concurrently and the writes one after another in the order given', async () => {
  const sessionId = randomUUID();
  // Every tool below embeds text: 250 ms each at the simulator, so overlap is plain to see.
  stack.sim.configure({ latency: { byRoute: { 'openai.embeddings': { fixedMs: 250 } } } });
  const word = randomUUID().slice(0, 8);
  const result = await turn(sessionId, `The fog ${word} [tools: search_memories, add_memory, semantic_search, batch_memory, search_memories]`);
  expect(result.toolCalls.map((c) => [c.name, c.kind, c.ok])).toEqual([
    ['search_memories', 'read_only', true], ['add_memory', 'write', true], ['semantic_search', 'read_only', true],
    ['batch_memory', 'write', true], ['search_memories', 'read_only', true],
  ]);
  const stored = (await repo.turn(sessionId, 1))!.toolCalls;
  const reads = stored.filter((c) => c.kind === 'read_only');
  const writes = stored.filter((c) => c.kind === 'write');
  const end = (c: { startedAt: number; durationMs: number }) => c.startedAt + c.durationMs;
  // All three reads were running at one moment: the last start came before the first end.
  expect(Math.max(...reads.map((c) => c.startedAt))).toBeLessThan(Math.min(...reads.map(end)));
  // Writes after the reads, in the model's order, the second after the first ended.
  expect(writes.map((c) => c.name)).toEqual(['add_memory', 'batch_memory']);
  expect(writes[0].startedAt).toBeGreaterThanOrEqual(Math.floor(Math.max(...reads.map(end))));
  expect(writes[1].startedAt).toBeGreaterThanOrEqual(Math.floor(end(writes[0])));
  expect(result.metrics.readOnlyMs).toBeLessThan(reads.reduce((s, c) => s + c.durationMs, 0));
});

it('answers invalid tool arguments and unknown tools to the model as error results; the turn completes', async () => {
  const sessionId = randomUUID();
  const result = await turn(sessionId, 'I shout [tools: add_memory!bad, read_state, fly_away]');
  expect(result.reply.length).toBeGreaterThan(0);
  expect(result.toolCalls.map((c) => [c.name, c.ok])).toEqual([['add_memory', false], ['read_state', true], ['fly_away', false]]);
  const stored = (await repo.turn(sessionId, 1))!.toolCalls;
  expect(stored[0].result).toMatch(/invalid arguments for add_memory: .*must have required property 'text'/);
  expect(stored[2].result).toMatch(/unknown tool \\"fly_away\\"/);
  expect(await repo.recentMemories(sessionId, 10)).toEqual([]);
});

it('ends a turn at the step limit with a reply saying so', async () => {
  const sessionId = randomUUID();
  const result = await turn(sessionId, 'I wait and wait [rounds: 9] [tools: read_state]');
  expect(result.stepLimitReached).toBe(true);
  expect(result.metrics.steps).toBe(3);
  expect(result.metrics.llmCalls).toBe(4);
  expect(result.reply).toMatch(/stopped after 3 rounds of tool calls/);
});

it('an LLM failure (after retries) fails the turn with a message; the session takes the next turn', async () => {
  const sessionId = randomUUID();
  await turn(sessionId, 'I open the door [tools: none]');
  stack.sim.configure({ faults: [{ route: 'anthropic.messages', contains: 'BROKEN', kind: 'http400' }] });
  expect(await failureOf(turn(sessionId, 'I say the BROKEN word'))).toMatch(/could not answer turn 2: .*refused the request as invalid \(400\).*try the turn again/);
  expect(await repo.turn(sessionId, 2)).toMatchObject({ status: 'failed', reply: null });
  const next = await turn(sessionId, 'I say something else');
  expect(next.turnNumber).toBe(2);
  expect(await repo.turn(sessionId, 2)).toMatchObject({ status: 'completed', input: 'I say something else' });
});

it('metrics: a known sequence gives the expected counts; reset starts a new window without deleting rows', () =>
  // Other suites play turns and reset the window meanwhile: counts are read for this session, under the window's lock.
  withMetricsWindow(stack.app.services.db, async () => {
    await repo.resetMetrics();
    const sessionId = randomUUID();
    await turn(sessionId, 'I read the logbook');
    await turn(sessionId, 'I close the logbook [tools: read_state, add_memory]');
    const m = await repo.performanceMetrics({ sessionId });
    expect([m.metrics.llm_calls.count, m.metrics.tool_executions.count, m.metrics.tool_batches.count, m.metrics.turn_processing.count]).toEqual([4, 7, 2, 2]);
    expect(m.metrics.turn_processing.recent_operations.map((o) => o.turn)).toEqual([2, 1]);
    const all = await repo.metricRows({ sessionId });
    const llm = all.filter((r) => r.operation === 'llm_call').map((r) => r.durationMs);
    expect(m.metrics.llm_calls.total_time_ms).toBeCloseTo(llm.reduce((s, d) => s + d, 0), 1);
    expect(m.metrics.llm_calls.max_time_ms).toBeCloseTo(Math.max(...llm), 1);
    expect(m.metrics.tool_executions.recent_operations[0]).toMatchObject({ operation: 'tool_execution', session_id: sessionId, turn: 2, ok: true });

    const sessionRows = async () => Number((await stack.app.services.db.query('SELECT count(*) AS n FROM performance_metrics WHERE session_id = $1', [sessionId]))[0].n);
    const rowsBefore = await sessionRows();
    await repo.resetMetrics();
    const after = await repo.performanceMetrics({ sessionId });
    expect(Object.values(after.metrics).map((s) => s.count)).toEqual([0, 0, 0, 0]);
    expect(await sessionRows()).toBe(rowsBefore);
    await turn(sessionId, 'I leave [tools: read_state]');
    const third = await repo.performanceMetrics({ sessionId });
    expect(Object.values(third.metrics).map((s) => s.count)).toEqual([2, 1, 1, 1]);
  }));

it('end: the session finishes after the turns already sent, marked ended in Postgres', async () => {
  const sessionId = randomUUID();
  await turn(sessionId, 'Goodbye [tools: none]');
  const handle = stack.env.client.workflow.getHandle(sessionWorkflowId(sessionId));
  expect(await handle.executeUpdate(endSessionUpdate)).toEqual({ sessionId, turns: 1 });
  expect(await handle.result()).toEqual({ sessionId, turns: 1 });
  expect((await repo.getSession(sessionId))?.status).toBe('ended');
});

it('end during a turn answers the turns taken and the one still being taken; the session ends after it', async () => {
  const sessionId = randomUUID();
  await turn(sessionId, 'I light the lamp [tools: none]');
  stack.sim.configure({ latency: { byPurpose: { session: { fixedMs: 600 } } } });
  const handle = stack.env.client.workflow.getHandle(sessionWorkflowId(sessionId));
  const inFlight = handle.executeUpdate(takeTurnUpdate, { args: [{ text: 'I climb the stairs [tools: none]' }] });
  await waitFor(async () => (await handle.query(sessionProgressQuery)).status === 'taking_turn');
  expect(await handle.executeUpdate(endSessionUpdate)).toEqual({ sessionId, turns: 1, pending: 1 });
  expect((await inFlight).turnNumber).toBe(2);
  expect(await handle.result()).toEqual({ sessionId, turns: 2 });
});
