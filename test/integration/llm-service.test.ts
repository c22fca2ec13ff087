/** The LLM service on real Postgres: response cache (a hit makes no request) and the call log. */
import { startSimulator, type RunningSimulator } from '../../src/llm/simulator';
import { createServices, type AppServices } from '../../src/runtime';
import { testConfig } from '../helpers/harness';

let sim: RunningSimulator;
let app: AppServices;
beforeAll(async () => {
  sim = await startSimulator();
  app = await createServices(testConfig(sim));
});
afterAll(async () => {
  await app.close();
  await sim.close();
});

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
  sim.resetStats();
  const first = await app.llm.chat(call(unique), { workflowId: 'wf-cache-test', activityId: '7', attempt: 1 });
  await app.llm.settle(); // the cache write happens off the caller's path
  const second = await app.llm.chat(call(unique), { workflowId: 'wf-cache-test', activityId: '8', attempt: 1 });
  expect(first.cached).toBe(false);
  expect(second.cached).toBe(true);
  expect(second.text).toBe(first.text);
  expect(sim.stats().byRoute['anthropic.messages'].requests).toBe(1);

  await app.callLog.flush();
  const rows = await app.db.query(
    `SELECT outcome, purpose, provider, model, input_tokens, output_tokens, activity_id, attempt FROM llm_calls WHERE workflow_id = 'wf-cache-test' ORDER BY id`,
  );
  expect(rows).toEqual([
    expect.objectContaining({ outcome: 'ok', purpose: 'summary', provider: 'anthropic', model: 'claude-haiku-4-5', activity_id: '7', attempt: 1 }),
    expect.objectContaining({ outcome: 'cache_hit', input_tokens: 0, output_tokens: 0, activity_id: '8' }),
  ]);
  expect(rows[0].input_tokens).toBe(sim.stats().byRoute['anthropic.messages'].inputTokens);
  expect(rows[0].output_tokens).toBe(sim.stats().byRoute['anthropic.messages'].outputTokens);
});

it('bypasses the cache when asked', async () => {
  const unique = `A second lighthouse ${Date.now()}.`;
  sim.resetStats();
  await app.llm.chat(call(unique));
  await app.llm.settle();
  const again = await app.llm.chat(call(unique, false));
  expect(again.cached).toBe(false);
  expect(sim.stats().byRoute['anthropic.messages'].requests).toBe(2);
});

it('records a failed call with its error type and caches nothing', async () => {
  const unique = `Doomed request ${Date.now()}`;
  sim.configure({ faults: [{ kind: 'http500', contains: unique }] });
  await expect(app.llm.chat(call(unique), { workflowId: 'wf-error-test' })).rejects.toMatchObject({ type: 'LlmTransient' });
  sim.configure({ faults: [] });
  await app.callLog.flush();
  const rows = await app.db.query(`SELECT outcome, error_type FROM llm_calls WHERE workflow_id = 'wf-error-test'`);
  expect(rows).toEqual([{ outcome: 'error', error_type: 'LlmTransient' }]);
  const retried = await app.llm.chat(call(unique));
  expect(retried.cached).toBe(false);
});

it('writes buffered call-log rows in one statement per batch', async () => {
  await app.callLog.flush();
  const before = Number((await app.db.query(`SELECT count(*) AS n FROM llm_calls`))[0].n);
  for (let i = 0; i < 5; i++) app.callLog.record({ purpose: 'x', provider: 'openai', model: 'm', promptVersion: 'v', outcome: 'ok', errorType: null, latencyMs: 1, inputTokens: 1, outputTokens: 1, workflowId: 'wf-batch', runId: null, activityId: null, activityType: null, attempt: null, cacheKey: null });
  const spy = jest.spyOn(app.db, 'query');
  await app.callLog.flush();
  expect(spy.mock.calls.filter(([sql]) => String(sql).startsWith('INSERT INTO llm_calls'))).toHaveLength(1);
  spy.mockRestore();
  expect(Number((await app.db.query(`SELECT count(*) AS n FROM llm_calls`))[0].n)).toBe(before + 5);
});
