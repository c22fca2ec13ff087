/**
 * The batch clients through the official SDKs against the simulator's batch endpoints:
 * Anthropic Message Batches and OpenAI Files + Batch — submit, status, results matched by
 * custom id, item faults, cancellation, and the error mapping of the batch calls themselves.
 */
import { ApplicationFailure } from '@temporalio/common';
import { createBatchClients } from '../../src/llm/batch/registry';
import { BATCH_CLOCK_SKEW_MS, type BatchItemRequest, type BatchStatus } from '../../src/llm/batch/types';
import { toLlmFailure } from '../../src/llm/errors';
import { structuredAnswerProblem } from '../../src/llm/json-schema';
import { startSimulator, type RunningSimulator } from '../../src/llm/simulator';
import { LlmFailureType } from '../../src/shared/failure-types';
import type { Provider } from '../../src/shared/llm-routing';
import { testConfig } from '../helpers/harness';
import { waitFor } from '../helpers/wait';

const MODELS: Record<string, string> = { anthropic: 'claude-haiku-4-5', openai: 'gpt-4o-mini' };
const SCHEMA = {
  type: 'object',
  properties: { headline: { type: 'string' }, points: { type: 'array', items: { type: 'string' } } },
  required: ['headline', 'points'],
  additionalProperties: false,
};

const items = (provider: string, n: number): BatchItemRequest[] =>
  Array.from({ length: n }, (_, i) => ({
    customId: `item-${i}`,
    request: {
      model: MODELS[provider],
      system: 'Write a story as JSON.',
      messages: [{ role: 'user', content: `Story ${i}: the harbour flooded and the ferry ran late on day ${i}.` }],
      maxTokens: 300,
      jsonSchema: { name: 'story', schema: SCHEMA },
    },
  }));

let sim: RunningSimulator;
beforeAll(async () => {
  sim = await startSimulator({ batches: { processingMs: 300 } });
});
afterAll(() => sim.close());
beforeEach(() => {
  sim.configure({ faults: [], batches: { processingMs: 300, itemFaults: [], stallAfterItems: null }, apiKeys: null });
  sim.resetStats();
});

const clients = () => createBatchClients(testConfig(sim, { DATABASE_URL: 'postgres://unused/x' }).llm);
const opts = { purpose: 'synthesis' };

async function untilEnded(provider: Provider, id: string): Promise<BatchStatus> {
  return waitFor(async () => {
    const status = await clients().get(provider).status(id, opts);
    return status.state === 'ended' ? status : undefined;
  }, 5000, `batch ${id} ended`);
}

describe.each(['anthropic', 'openai'] as const)('%s batch client', (provider) => {
  it('pages through the batch list as the provider pages it, and a search looks back no further than the submit', async () => {
    const client = clients().get(provider);
    // More than one page of the clients' 100: the list is paged.
    for (let i = 0; i < 101; i++) await client.submit(items(provider, 1), `wf-page-${i}/synthesis`, opts);
    const route = provider === 'anthropic' ? 'anthropic.batches' : 'openai.batches';
    const lists = async (search: () => Promise<unknown>) => {
      sim.resetStats();
      const found = await search();
      return { found, requests: sim.stats().byRoute[route].requests };
    };
    const later = Date.now() + BATCH_CLOCK_SKEW_MS + 60_000;
    if (provider === 'openai') {
      expect(await lists(() => client.findByKey('no-such-key', opts))).toEqual({ found: undefined, requests: 2 });
      expect(await lists(() => client.findByKey('no-such-key', opts, later))).toEqual({ found: undefined, requests: 1 });
    } else {
      const all = await lists(() => client.findUnkeyed!(1, 0, opts));
      expect(all.requests).toBe(2);
      expect((all.found as BatchStatus[]).length).toBeGreaterThanOrEqual(101);
      expect(await lists(() => client.findUnkeyed!(1, later, opts))).toEqual({ found: [], requests: 1 });
    }
  });

  it('submits, reports in_progress then ended, and returns schema-valid answers matched by custom id', async () => {
    const client = clients().get(provider);
    const submitted = await client.submit(items(provider, 4), 'wf-1/synthesis', opts);
    expect(submitted.state).toBe('in_progress');
    expect(submitted.id).toBeTruthy();
    const ended = await untilEnded(provider, submitted.id);
    expect(ended).toMatchObject({ state: 'ended', total: 4, succeeded: 4, failed: 0 });
    expect(ended.endedAt).not.toBeNull();
    const results = await client.results(submitted.id, opts);
    expect(results.map((r) => r.customId).sort()).toEqual(['item-0', 'item-1', 'item-2', 'item-3']);
    for (const r of results) {
      expect(r.ok).toBe(true);
      if (r.ok) {
        expect(structuredAnswerProblem(r.result.text, SCHEMA)).toBeUndefined();
        expect(r.result.usage.outputTokens).toBeGreaterThan(0);
        expect(r.result.model).toBe(MODELS[provider]);
      }
    }
    const stats = sim.stats();
    expect(stats.batches).toMatchObject({ created: 1, ended: 1, items: 4, itemsSucceeded: 4, cancelled: 0 });
    expect(stats.byPurpose.synthesis.requests).toBeGreaterThanOrEqual(3);
  });

  it('answers an item as a synchronous call would (same deterministic text)', async () => {
    const client = clients().get(provider);
    const [a] = items(provider, 1);
    const first = await client.submit([a], 'k1', opts);
    const second = await client.submit([a], 'k2', opts);
    await untilEnded(provider, first.id);
    await untilEnded(provider, second.id);
    const [r1] = await client.results(first.id, opts);
    const [r2] = await client.results(second.id, opts);
    expect(r1.ok && r2.ok && r1.result.text === r2.result.text).toBe(true);
  });

  it('returns an item that errored in the batch, and a wrong-shape answer as succeeded', async () => {
    sim.configure({
      batches: {
        itemFaults: [
          { customId: 'item-1', kind: 'http500' },
          { customId: 'item-2', kind: 'http400' },
          { customId: 'item-3', kind: 'wrongShape' },
        ],
      },
    });
    const client = clients().get(provider);
    const submitted = await client.submit(items(provider, 4), 'k', opts);
    const ended = await untilEnded(provider, submitted.id);
    expect(ended).toMatchObject({ succeeded: 2, failed: 2 });
    const byId = new Map((await client.results(submitted.id, opts)).map((r) => [r.customId, r]));
    expect(byId.get('item-0')?.ok).toBe(true);
    expect(byId.get('item-1')).toMatchObject({ ok: false, reason: 'errored', status: 500 });
    expect(byId.get('item-2')).toMatchObject({ ok: false, reason: 'errored', status: 400 });
    const wrong = byId.get('item-3');
    expect(wrong?.ok).toBe(true);
    if (wrong?.ok) expect(structuredAnswerProblem(wrong.result.text, SCHEMA)).toMatch(/headline|unexpected/);
    expect(sim.stats().batches).toMatchObject({ itemsErrored: 2, itemsSucceeded: 2 });
  });

  it('cancels a batch mid-way: items done before the cancel keep their answer, the rest are canceled', async () => {
    // Processing stops after two items (done at once): the cancel lands at a known point, whatever the machine's load.
    sim.configure({ batches: { processingMs: 0, stallAfterItems: 2 } });
    const client = clients().get(provider);
    const submitted = await client.submit(items(provider, 4), 'k', opts);
    expect((await client.status(submitted.id, opts)).state).toBe('in_progress');
    const cancelling = await client.cancel(submitted.id, opts);
    expect(cancelling.state).toBe('canceling');
    const ended = await untilEnded(provider, submitted.id);
    expect(ended.endedAt).not.toBeNull();
    expect(ended).toMatchObject({ total: 4, succeeded: 2, failed: 2 });
    const results = await client.results(submitted.id, opts);
    // Every item comes back, by custom id: none dropped, none answered twice.
    const outcomes = results.map((r) => [r.customId, r.ok ? 'ok' : r.reason]).sort(([a], [b]) => a.localeCompare(b));
    expect(outcomes).toEqual([
      ['item-0', 'ok'],
      ['item-1', 'ok'],
      ['item-2', 'canceled'],
      ['item-3', 'canceled'],
    ]);
    expect(sim.stats().batches).toMatchObject({ created: 1, cancelled: 1, ended: 1, items: 4, itemsCanceled: 2, itemsSucceeded: 2 });
  });

  it('maps errors of the batch calls as the synchronous adapters do', async () => {
    const client = clients().get(provider);
    sim.configure({ apiKeys: { [provider]: 'another-key' } });
    const auth = await client.submit(items(provider, 1), 'k', opts).catch((err: unknown) => toLlmFailure(err, provider, MODELS[provider]));
    expect(auth).toBeInstanceOf(ApplicationFailure);
    expect(auth).toMatchObject({ type: LlmFailureType.Authentication, nonRetryable: true });
    sim.configure({ apiKeys: null, faults: [{ route: provider === 'anthropic' ? 'anthropic.batches' : 'openai.batches', kind: 'http529' }] });
    const overloaded = await client.status('nope', opts).catch((err: unknown) => toLlmFailure(err, provider, MODELS[provider]));
    expect(overloaded).toMatchObject({ type: LlmFailureType.Overloaded, nonRetryable: false });
    sim.configure({ faults: [] });
    const missing = await client.status('batch_unknown', opts).catch((err: unknown) => toLlmFailure(err, provider, MODELS[provider]));
    expect(missing).toMatchObject({ type: LlmFailureType.NotFound, nonRetryable: true });
  });
});

describe('openai batch client', () => {
  it('finds a batch again by the key in its metadata (a submit whose answer was lost)', async () => {
    const client = clients().get('openai');
    sim.configure({ faults: [{ route: 'openai.batches', kind: 'malformed', times: 1 }] });
    await expect(client.submit(items('openai', 2), 'wf-9/synthesis', opts)).rejects.toThrow();
    expect(sim.stats().batches.created).toBe(1);
    const found = await client.findByKey('wf-9/synthesis', opts);
    expect(found?.total).toBe(2);
    expect(await client.findByKey('wf-other/synthesis', opts)).toBeUndefined();
  });

  it('never finds a cancelled or failed batch by its key (a retry must not adopt the batch it stopped)', async () => {
    sim.configure({ batches: { processingMs: 60_000 } });
    const client = clients().get('openai');
    const submitted = await client.submit(items('openai', 2), 'wf-10/synthesis', opts);
    expect((await client.findByKey('wf-10/synthesis', opts))?.id).toBe(submitted.id);
    expect((await client.cancel(submitted.id, opts)).providerStatus).toBe('cancelling');
    expect(await client.findByKey('wf-10/synthesis', opts)).toBeUndefined();
    expect((await client.status(submitted.id, opts)).providerStatus).toBe('cancelled');
    expect(await client.findByKey('wf-10/synthesis', opts)).toBeUndefined();
    // A newer live batch under the same key is the one found.
    const again = await client.submit(items('openai', 2), 'wf-10/synthesis', opts);
    expect((await client.findByKey('wf-10/synthesis', opts))?.id).toBe(again.id);
    await client.cancel(again.id, opts);

    const bad = items('openai', 2);
    bad[1].customId = bad[0].customId;
    expect(await client.submit(bad, 'wf-11/synthesis', opts)).toMatchObject({ providerStatus: 'failed' });
    expect(await client.findByKey('wf-11/synthesis', opts)).toBeUndefined();
  });

  it('reports a batch whose input file is refused as ended with a failure', async () => {
    const bad = items('openai', 2);
    bad[1].customId = bad[0].customId;
    const client = clients().get('openai');
    const submitted = await client.submit(bad, 'k', opts);
    expect(submitted).toMatchObject({ state: 'ended', providerStatus: 'failed' });
    expect(submitted.failure).toMatch(/line 2: duplicate custom_id/);
  });
});

describe('anthropic batch client', () => {
  it('refuses a bad custom id with the API 400', async () => {
    const bad = items('anthropic', 1);
    bad[0].customId = 'has spaces';
    const err = await clients().get('anthropic').submit(bad, 'k', opts).catch((e: unknown) => toLlmFailure(e, 'anthropic', MODELS.anthropic));
    expect(err).toMatchObject({ type: LlmFailureType.InvalidRequest, nonRetryable: true });
  });
});
