/**
 * The memory tools (add_memory, batch_memory) on real parts (Postgres with the app's pool of 10,
 * the simulator through the SDKs): the embedding is made outside the write's transaction, so more
 * concurrent sessions than pooled connections do not deadlock the pool, and a retried tool call
 * writes once and pays once (its embedding is a cache hit).
 */
import { randomUUID } from 'node:crypto';
import { DefaultLogger } from '@temporalio/worker';
import { MockActivityEnvironment } from '@temporalio/testing';
import { LlmCallEntity } from '../../src/db/entities/llm-call.entity';
import { createSessionActivities, type SessionToolInput } from '../../src/activities/sessions.activities';
import { SessionsRepository } from '../../src/db/repositories/sessions.repository';
import { testConfig, useTestServices } from '../helpers/harness';

const stack = useTestServices();

function tools() {
  const config = testConfig(stack.sim, { ENABLE_PERFORMANCE_TRACKING: 'false' });
  const repo = new SessionsRepository(stack.services.db);
  return { repo, acts: createSessionActivities({ repo, llm: stack.services.llm, config }) };
}

/** Runs `fn` as attempt `n` of a tool activity of the session's workflow. */
function asActivity<R>(workflowId: string, n: number, fn: () => Promise<R>): Promise<R> {
  const env = new MockActivityEnvironment(
    { attempt: n, activityId: 'tool-1', workflowExecution: { workflowId, runId: 'run-1' }, startToCloseTimeoutMs: 60_000 },
    { logger: new DefaultLogger('ERROR', () => undefined) },
  );
  return env.run(fn);
}

const toolInput = (sessionId: string, name: string, args: Record<string, unknown>): SessionToolInput => ({
  sessionId, scriptId: null, turnNumber: 1, step: 1, call: { id: `call-${name}`, name, arguments: args },
});

async function memoryCount(sessionId: string): Promise<number> {
  const [row]: { n: string }[] = await stack.services.db.query(`SELECT count(*) AS n FROM session_memories WHERE session_id = $1`, [sessionId]);
  return Number(row.n);
}

it('runs more concurrent memory writes than the pool has connections without waiting on the pool', async () => {
  const { repo, acts } = tools();
  const sessions = Array.from({ length: 12 }, () => randomUUID());
  for (const id of sessions) await repo.openSession({ id, title: 'Pool', scriptId: null });
  const started = Date.now();
  const outcomes = await Promise.all(
    sessions.map((id, i) =>
      asActivity(`session-${id}`, 1, () =>
        acts.runSessionTool(i % 2 ? toolInput(id, 'add_memory', { text: `pool ${id}` }) : toolInput(id, 'batch_memory', { texts: [`a ${id}`, `b ${id}`] })),
      ),
    ),
  );
  expect(outcomes.map((o) => o.ok)).toEqual(sessions.map(() => true));
  // With the embedding inside the transaction, ten transactions hold the pool while their
  // embeddings wait for an eleventh connection: nothing moves until pg-pool's 10 s timeout.
  expect(Date.now() - started).toBeLessThan(8_000);
  expect(await Promise.all(sessions.map(memoryCount))).toEqual(sessions.map((_, i) => (i % 2 ? 1 : 2)));
});

it('a retried memory tool call answers the stored result, writes nothing and embeds from the cache', async () => {
  const { repo, acts } = tools();
  const sessionId = randomUUID();
  await repo.openSession({ id: sessionId, title: 'Retry', scriptId: null });
  const input = toolInput(sessionId, 'batch_memory', { texts: [`the lamp went out ${sessionId}`, `the ferry ran late ${sessionId}`] });
  stack.sim.resetStats();
  const first = await asActivity(`session-${sessionId}`, 1, () => acts.runSessionTool(input));
  const retried = await asActivity(`session-${sessionId}`, 2, () => acts.runSessionTool(input));
  expect(first.ok).toBe(true);
  expect(retried.content).toBe(first.content);
  expect(await memoryCount(sessionId)).toBe(2);
  // One paid embedding: the retry's request (the same texts) is answered by the response cache.
  expect(stack.sim.stats().byPurpose.embedding.requests).toBe(1);
  await stack.services.callLog.flush();
  const rows = await stack.services.db.getRepository(LlmCallEntity).find({ where: { workflowId: `session-${sessionId}` }, order: { id: 'ASC' } });
  expect(rows.map((r) => [r.attempt, r.outcome])).toEqual([[1, 'ok'], [2, 'cache_hit']]);
});

describe('keys the model names are the world\'s own, never Object\'s', () => {
  it('update_world at "__proto__.polluted" stores that key in the world and leaves every other object in the worker alone', async () => {
    const { repo, acts } = tools();
    const id = randomUUID();
    await repo.openSession({ id, title: 'Prototype', scriptId: null });
    const outcome = await asActivity(`session-${id}`, 1, () =>
      acts.runSessionTool(toolInput(id, 'update_world', { path: '__proto__.polluted', value: 'yes' })));
    expect(outcome.ok).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const [row]: { world: string }[] = await stack.services.db.query(`SELECT world::text AS world FROM story_sessions WHERE id = $1`, [id]);
    expect(row.world).toBe('{"__proto__": {"polluted": "yes"}}');
    const read = await asActivity(`session-${id}`, 1, () =>
      acts.runSessionTool(toolInput(id, 'stateful_read', { path: '__proto__.polluted' })));
    expect(JSON.parse(read.content)).toMatchObject({ found: true, value: 'yes' });
  });

  it('"constructor" is not found in a world without it, and a tool named after an Object method is unknown', async () => {
    const { repo, acts } = tools();
    const id = randomUUID();
    await repo.openSession({ id, title: 'Constructor', scriptId: null });
    const read = await asActivity(`session-${id}`, 1, () => acts.runSessionTool(toolInput(id, 'stateful_read', { path: 'constructor' })));
    expect(JSON.parse(read.content)).toMatchObject({ found: false, value: null });
    const state = await asActivity(`session-${id}`, 1, () => acts.runSessionTool(toolInput(id, 'read_state', { keys: ['constructor', 'toString'] })));
    expect(JSON.parse(state.content)).toMatchObject({ world: {} });
    for (const name of ['constructor', 'toString', '__proto__']) {
      const outcome = await asActivity(`session-${id}`, 1, () => acts.runSessionTool(toolInput(id, name, {})));
      expect(outcome.ok).toBe(false);
      expect(JSON.parse(outcome.content).error).toMatch(new RegExp(`^unknown tool "${name}"`));
    }
  });
});
