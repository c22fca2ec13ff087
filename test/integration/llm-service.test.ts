/** The LLM service on real Postgres: response cache (a hit makes no request) and the call log. */
import { PostgresQueryRunner } from 'typeorm/driver/postgres/PostgresQueryRunner';
import { useTestServices } from '../helpers/harness';

const stack = useTestServices();

const call = (content: string, useCache = true) => ({
  purpose: 'summary',
  provider: 'anthropic' as const,
  model: 'claude-haiku-4-5',
  promptVersion: 'test-v1',
  request: { messages: [{ role: 'user' as const, content }], maxTokens: 50 },
  useCache,
});

it('serves a repeated request from the cache without calling the provider, and logs both calls', async () => {
  const unique = `The keeper counts ${Date.now()} storms.`;
  stack.sim.resetStats();
  const first = await stack.services.llm.chat(call(unique), { workflowId: 'wf-cache-test', activityId: '7', attempt: 1 });
  await stack.services.llm.settle(); // the cache write happens off the caller's path
  const second = await stack.services.llm.chat(call(unique), { workflowId: 'wf-cache-test', activityId: '8', attempt: 1 });
  expect(first.cached).toBe(false);
  expect(second.cached).toBe(true);
  expect(second.text).toBe(first.text);
  expect(stack.sim.stats().byRoute['anthropic.messages'].requests).toBe(1);

  await stack.services.callLog.flush();
  const rows = await stack.services.db.query(
    `SELECT outcome, purpose, provider, model, input_tokens, output_tokens, activity_id, attempt FROM llm_calls WHERE workflow_id = 'wf-cache-test' ORDER BY id`,
  );
  expect(rows).toEqual([
    expect.objectContaining({ outcome: 'ok', purpose: 'summary', provider: 'anthropic', model: 'claude-haiku-4-5', activity_id: '7', attempt: 1 }),
    expect.objectContaining({ outcome: 'cache_hit', input_tokens: 0, output_tokens: 0, activity_id: '8' }),
  ]);
  expect(rows[0].input_tokens).toBe(stack.sim.stats().byRoute['anthropic.messages'].inputTokens);
  expect(rows[0].output_tokens).toBe(stack.sim.stats().byRoute['anthropic.messages'].outputTokens);
});

it('bypasses the cache when asked', async () => {
  const unique = `A second lighthouse ${Date.now()}.`;
  stack.sim.resetStats();
  await stack.services.llm.chat(call(unique));
  await stack.services.llm.settle();
  const again = await stack.services.llm.chat(call(unique, false));
  expect(again.cached).toBe(false);
  expect(stack.sim.stats().byRoute['anthropic.messages'].requests).toBe(2);
});

it('records a failed call with its error type and caches nothing', async () => {
  const unique = `Doomed request ${Date.now()}`;
  stack.sim.configure({ faults: [{ kind: 'http500', contains: unique }] });
  await expect(stack.services.llm.chat(call(unique), { workflowId: 'wf-error-test' })).rejects.toMatchObject({ type: 'LlmTransient' });
  stack.sim.configure({ faults: [] });
  await stack.services.callLog.flush();
  const rows = await stack.services.db.query(`SELECT outcome, error_type FROM llm_calls WHERE workflow_id = 'wf-error-test'`);
  expect(rows).toEqual([{ outcome: 'error', error_type: 'LlmTransient' }]);
  const retried = await stack.services.llm.chat(call(unique));
  expect(retried.cached).toBe(false);
});

const row = (workflowId: string, callKey: string | null = null) => ({
  purpose: 'x', provider: 'openai', model: 'm', promptVersion: 'v', outcome: 'ok', errorType: null, latencyMs: 1, inputTokens: 1,
  outputTokens: 1, workflowId, runId: null, activityId: null, activityType: null, attempt: null, cacheKey: null, callKey,
});
const rowsOf = async (workflowId: string) => Number((await stack.services.db.query(`SELECT count(*) AS n FROM llm_calls WHERE workflow_id = $1`, [workflowId]))[0].n);

it('writes concurrent call-log rows in one statement, each durable when its record() resolves', async () => {
  const workflowId = `wf-batch-${Date.now()}`;
  const spy = jest.spyOn(PostgresQueryRunner.prototype, 'query');
  await Promise.all(Array.from({ length: 5 }, () => stack.services.callLog.record(row(workflowId))));
  const inserts = spy.mock.calls.filter(([sql]) => /^INSERT INTO "llm_calls"/.test(String(sql)));
  spy.mockRestore();
  expect(inserts).toHaveLength(1);
  expect(await rowsOf(workflowId)).toBe(5);
});

it('writes a row with a call key once, however often it is recorded', async () => {
  const workflowId = `wf-key-${Date.now()}`;
  const key = `${workflowId}/run/7/1/0`;
  await stack.services.callLog.record(row(workflowId, key));
  await Promise.all([stack.services.callLog.record(row(workflowId, key)), stack.services.callLog.record(row(workflowId, `${workflowId}/run/7/1/1`))]);
  expect(await rowsOf(workflowId)).toBe(2);
});

it('numbers the calls of an activity attempt in their keys', async () => {
  const workflowId = `wf-index-${Date.now()}`;
  let index = 0;
  const ctx = { workflowId, runId: 'r1', activityId: '3', attempt: 2, nextCallIndex: () => index++ };
  await stack.services.llm.chat(call(`first ${workflowId}`, false), ctx);
  await stack.services.llm.chat(call(`second ${workflowId}`, false), ctx);
  const keys = (await stack.services.db.query(`SELECT call_key FROM llm_calls WHERE workflow_id = $1 ORDER BY id`, [workflowId])).map((r: { call_key: string }) => r.call_key);
  expect(keys).toEqual([`${workflowId}/r1/3/2/0`, `${workflowId}/r1/3/2/1`]);
});
