/**
 * Structured answers on real Postgres through each provider's SDK and the simulator: an answer
 * that breaks its schema is never cached, a poisoned cache entry is ignored and replaced, and
 * the call log tells provider calls from cache hits.
 */
import { CHARACTER_SHEET_SCHEMA } from '../../src/domain/ingestion/character-sheet';
import { cacheKey } from '../../src/llm/response-cache';
import type { Provider } from '../../src/shared/llm-routing';
import { LlmFailureType } from '../../src/shared/failure-types';
import { useTestServices } from '../helpers/harness';

const stack = useTestServices();
beforeEach(() => {
  stack.sim.configure({ faults: [] });
  stack.sim.resetStats();
});

const MODELS: Record<Provider, string> = { anthropic: 'claude-sonnet-4-6', openai: 'gpt-4o-mini', ollama: 'llama3.2' };
const schema = CHARACTER_SHEET_SCHEMA as unknown as Record<string, unknown>;
let n = 0;

function sheetCall(provider: Provider, content: string) {
  return {
    purpose: 'sheet',
    provider,
    model: MODELS[provider],
    promptVersion: 'test-sheet-v1',
    request: { messages: [{ role: 'user' as const, content }], maxTokens: 800, jsonSchema: { name: 'character_sheet', schema } },
    useCache: true,
  };
}

/** The cache key LlmService uses for a chat call. */
function keyOf(call: ReturnType<typeof sheetCall>): string {
  return cacheKey({ provider: call.provider, model: call.model, promptVersion: call.promptVersion, kind: 'chat', request: { ...call.request, model: call.model } });
}

const cached = async (key: string): Promise<unknown[]> =>
  (await stack.services.db.query('SELECT response FROM llm_response_cache WHERE key = $1', [key])).map((r: { response: unknown }) => r.response);
const calls = async (workflowId: string): Promise<{ outcome: string; error_type: string | null; attempt: number }[]> => {
  await stack.services.callLog.flush();
  return stack.services.db.query('SELECT outcome, error_type, attempt FROM llm_calls WHERE workflow_id = $1 ORDER BY id', [workflowId]);
};

describe.each(['anthropic', 'openai', 'ollama'] as const)('%s', (provider) => {
  it('does not cache a schema-breaking answer, and the next attempt makes a new provider call', async () => {
    const workflowId = `wf-shape-${provider}-${Date.now()}-${n++}`;
    const call = sheetCall(provider, `MARA keeps the lighthouse ${workflowId}.`);
    stack.sim.configure({ faults: [{ kind: 'wrongShape', purpose: 'sheet', times: 1 }] });

    await expect(stack.services.llm.chat(call, { workflowId, activityId: '1', attempt: 1 })).rejects.toMatchObject({ type: LlmFailureType.InvalidOutput });
    await stack.services.llm.settle();
    expect(await cached(keyOf(call))).toEqual([]);
    expect(stack.sim.stats().byPurpose.sheet).toMatchObject({ requests: 1, errors: { wrongShape: 1 } });

    const retried = await stack.services.llm.chat(call, { workflowId, activityId: '1', attempt: 2 });
    expect(retried.cached).toBe(false);
    expect(JSON.parse(retried.text)).toHaveProperty('traits');
    expect(stack.sim.stats().byPurpose.sheet.requests).toBe(2);
    expect(await calls(workflowId)).toEqual([
      { outcome: 'error', error_type: LlmFailureType.InvalidOutput, attempt: 1 },
      { outcome: 'ok', error_type: null, attempt: 2 },
    ]);
    await stack.services.llm.settle();
    expect(await cached(keyOf(call))).toEqual([JSON.parse(JSON.stringify({ ...retried, cached: undefined }))]);
  });

  it('ignores a poisoned cache entry (a miss, not a hit) and replaces it with the new valid answer', async () => {
    const workflowId = `wf-poison-${provider}-${Date.now()}-${n++}`;
    const call = sheetCall(provider, `TOMAS rows out alone ${workflowId}.`);
    const key = keyOf(call);
    const poisoned = { text: JSON.stringify({ name: 'TOMAS', role: 42 }), usage: { inputTokens: 1, outputTokens: 1 }, model: call.model, stopReason: 'end_turn' };
    await stack.services.db.query(
      `INSERT INTO llm_response_cache (key, provider, model, prompt_version, purpose, response) VALUES ($1, $2, $3, $4, 'sheet', $5::jsonb)`,
      [key, provider, call.model, call.promptVersion, JSON.stringify(poisoned)],
    );

    const first = await stack.services.llm.chat(call, { workflowId, activityId: '1', attempt: 1 });
    expect(first.cached).toBe(false);
    expect(stack.sim.stats().byPurpose.sheet.requests).toBe(1);
    await stack.services.llm.settle();
    const [stored] = (await cached(key)) as { text: string }[];
    expect(stored.text).toBe(first.text);

    const second = await stack.services.llm.chat(call, { workflowId, activityId: '2', attempt: 1 });
    expect(second.cached).toBe(true);
    expect(stack.sim.stats().byPurpose.sheet.requests).toBe(1);
    expect((await calls(workflowId)).map((c) => c.outcome)).toEqual(['ok', 'cache_hit']);
  });
});

it('a poisoned entry that is not JSON at all is a miss too', async () => {
  const workflowId = `wf-poison-text-${Date.now()}`;
  const call = sheetCall('anthropic', `Not JSON ${workflowId}`);
  await stack.services.db.query(
    `INSERT INTO llm_response_cache (key, provider, model, prompt_version, purpose, response) VALUES ($1, 'anthropic', $2, $3, 'sheet', $4::jsonb)`,
    [keyOf(call), call.model, call.promptVersion, JSON.stringify({ text: '{"name": "cut off', usage: { inputTokens: 1, outputTokens: 1 }, model: call.model, stopReason: 'max_tokens' })],
  );
  const result = await stack.services.llm.chat(call, { workflowId, activityId: '1', attempt: 1 });
  expect(result.cached).toBe(false);
  expect((await calls(workflowId)).map((c) => c.outcome)).toEqual(['ok']);
});
