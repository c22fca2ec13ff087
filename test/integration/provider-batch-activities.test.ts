/**
 * The provider-batch activities on real parts (Postgres, the simulator, the SDKs), each run as
 * an activity attempt: cached items never sent, a retried submit finding its batch, results
 * settled like normal calls (schema check, cache, call log with the batch flag), item failures
 * classified, and cancel at the provider.
 */
import { DefaultLogger } from '@temporalio/worker';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createProviderBatchActivities } from '../../src/activities/provider-batch.activities';
import { LlmCallEntity } from '../../src/db/entities/llm-call.entity';
import { ProviderBatchRepository } from '../../src/db/repositories/provider-batch.repository';
import { createBatchClients } from '../../src/llm/batch/registry';
import { structuredAnswerProblem } from '../../src/llm/json-schema';
import { LlmFailureType } from '../../src/shared/failure-types';
import { llmTaskQueue, type LlmRoute, type Provider } from '../../src/shared/llm-routing';
import { providerBatchKey, type ProviderBatchProgress, type ProviderBatchRef } from '../../src/shared/provider-batch';
import { useTestServices } from '../helpers/harness';
import { waitFor } from '../helpers/wait';

const stack = useTestServices();
const MODELS: Record<string, string> = { anthropic: 'claude-haiku-4-5', openai: 'gpt-4o-mini' };
const SCHEMA = {
  type: 'object',
  properties: { headline: { type: 'string' }, summary: { type: 'string' } },
  required: ['headline', 'summary'],
  additionalProperties: false,
};
const request = (i: number, tag: string) => ({
  system: 'Write the story as JSON.',
  messages: [{ role: 'user' as const, content: `${tag} story ${i}: a storm closed the northern pass and ${i} villages waited for the road.` }],
  maxTokens: 300,
  jsonSchema: { name: 'story', schema: SCHEMA },
});

let repo: ProviderBatchRepository;
let activities: ReturnType<typeof createProviderBatchActivities>;
beforeAll(() => {
  repo = new ProviderBatchRepository(stack.services.db);
  activities = createProviderBatchActivities({ repo, llm: stack.services.llm, clients: createBatchClients(stack.services.config.llm) });
});
beforeEach(() => {
  stack.sim.configure({ faults: [], batches: { processingMs: 200, itemFaults: [] } });
  stack.sim.resetStats();
});

/** Runs `fn` as attempt `n` of an activity of workflow `workflowId`. */
function asActivity<R>(workflowId: string, n: number, fn: () => Promise<R>, info: { scheduledTimestampMs?: number } = {}): Promise<R> {
  const env = new MockActivityEnvironment(
    { attempt: n, activityId: `a-${n}`, workflowExecution: { workflowId, runId: 'run-1' }, ...info },
    { logger: new DefaultLogger('ERROR', () => undefined) },
  );
  return env.run(fn);
}

async function prepared(provider: Provider, workflowId: string, tag: string, n: number, useCache = true) {
  const key = providerBatchKey(workflowId, 'synthesis');
  await repo.prepare({
    key,
    provider,
    model: MODELS[provider],
    purpose: 'synthesis',
    promptVersion: 'syn-v1',
    useCache,
    workflowId,
    items: Array.from({ length: n }, (_, i) => ({ customId: `c${i}`, request: request(i, tag) })),
  });
  const route: LlmRoute = { provider, model: MODELS[provider], taskQueue: llmTaskQueue('unused', provider) };
  return { key, route };
}

async function untilEnded(workflowId: string, ref: ProviderBatchRef): Promise<ProviderBatchProgress> {
  return waitFor(async () => {
    const p = await asActivity(workflowId, 1, () => activities.pollProviderBatch(ref));
    return p.state === 'ended' ? p : undefined;
  }, 5000, 'batch ended');
}

async function callRows(workflowId: string) {
  await stack.services.callLog.flush();
  return stack.services.db.getRepository(LlmCallEntity).find({ where: { workflowId }, order: { id: 'ASC' } });
}

describe.each(['anthropic', 'openai'] as const)('%s', (provider) => {
  it('answers cached items from the cache, submits the rest once (a retried submit finds the batch), settles the answers', async () => {
    const wf = `wf-batch-ok-${provider}-${Date.now()}`;
    const ref = await prepared(provider, wf, `ok-${provider}`, 3);
    // Item c0 was answered before by a normal call: it is cached and is not sent.
    await stack.services.llm.chat({ purpose: 'synthesis', provider, model: MODELS[provider], promptVersion: 'syn-v1', request: request(0, `ok-${provider}`), useCache: true });
    await stack.services.llm.settle();

    const first = await asActivity(wf, 1, () => activities.submitProviderBatch(ref));
    expect(first).toMatchObject({ total: 3, cached: 1, state: 'in_progress' });
    const retried = await asActivity(wf, 2, () => activities.submitProviderBatch(ref));
    expect(retried.batchId).toBe(first.batchId);
    expect(stack.sim.stats().batches).toMatchObject({ created: 1, items: 2 });

    await untilEnded(wf, ref);
    const outcomes = await asActivity(wf, 1, () => activities.fetchProviderBatchResults(ref));
    expect(outcomes.map((o) => [o.customId, o.status])).toEqual([['c0', 'cached'], ['c1', 'ok'], ['c2', 'ok']]);
    // A retried fetch changes nothing and records nothing twice.
    expect(await asActivity(wf, 2, () => activities.fetchProviderBatchResults(ref))).toEqual(outcomes);

    const answers = await repo.answers(ref.key);
    expect([...answers.keys()].sort()).toEqual(['c0', 'c1', 'c2']);
    for (const a of answers.values()) expect(structuredAnswerProblem(a.text, SCHEMA)).toBeUndefined();

    const rows = (await callRows(wf)).filter((r) => r.activityId !== null);
    expect(rows.map((r) => [r.outcome, r.batch]).sort()).toEqual([['cache_hit', false], ['ok', true], ['ok', true]]);
    expect(rows.filter((r) => r.batch).every((r) => r.outputTokens > 0 && r.latencyMs >= 0)).toBe(true);
    // The batch's answers are cached like normal calls' answers (once the write-behind has landed).
    await stack.services.llm.settle();
    const again = await stack.services.llm.chat({ purpose: 'synthesis', provider, model: MODELS[provider], promptVersion: 'syn-v1', request: request(2, `ok-${provider}`), useCache: true });
    expect(again.cached).toBe(true);
    expect(await repo.find(ref.key)).toMatchObject({ status: 'ended', providerBatchId: first.batchId });
  });

  it('returns items that failed in the batch, classified, and never caches a wrong-shape answer', async () => {
    const wf = `wf-batch-fail-${provider}-${Date.now()}`;
    stack.sim.configure({
      batches: {
        itemFaults: [
          { customId: 'c1', kind: 'http400' },
          { customId: 'c2', kind: 'http500' },
          { customId: 'c3', kind: 'wrongShape' },
          { customId: 'c4', kind: 'expired' },
        ],
      },
    });
    const ref = await prepared(provider, wf, `fail-${provider}`, 5);
    await asActivity(wf, 1, () => activities.submitProviderBatch(ref));
    await untilEnded(wf, ref);
    const byId = new Map((await asActivity(wf, 1, () => activities.fetchProviderBatchResults(ref))).map((o) => [o.customId, o]));
    expect(byId.get('c0')).toMatchObject({ status: 'ok' });
    expect(byId.get('c1')).toMatchObject({ status: 'failed', errorType: LlmFailureType.InvalidRequest, retryable: false });
    expect(byId.get('c2')).toMatchObject({ status: 'failed', errorType: LlmFailureType.Transient, retryable: true });
    expect(byId.get('c3')).toMatchObject({ status: 'failed', errorType: LlmFailureType.InvalidOutput, retryable: true });
    expect(byId.get('c4')).toMatchObject({ status: 'failed', errorType: LlmFailureType.Transient, retryable: true });
    expect(byId.get('c4')?.message).toMatch(/expired/);

    const rows = await callRows(wf);
    // Answered items are recorded (the wrong shape with its tokens); the expired one was never run.
    expect(rows.map((r) => [r.outcome, r.errorType, r.batch])).toEqual(
      expect.arrayContaining([
        ['ok', null, true],
        ['error', LlmFailureType.InvalidRequest, true],
        ['error', LlmFailureType.Transient, true],
        ['error', LlmFailureType.InvalidOutput, true],
      ]),
    );
    expect(rows).toHaveLength(4);
    const wrong = await stack.services.llm.cachedChat({ purpose: 'synthesis', provider, model: MODELS[provider], promptVersion: 'syn-v1', request: request(3, `fail-${provider}`), useCache: true });
    expect(wrong).toBeUndefined();
    expect([...(await repo.answers(ref.key)).keys()]).toEqual(['c0']);
  });

  it('cancels the batch at the provider', async () => {
    const wf = `wf-batch-cancel-${provider}-${Date.now()}`;
    stack.sim.configure({ batches: { processingMs: 60_000 } });
    const ref = await prepared(provider, wf, `cancel-${provider}`, 2);
    const submitted = await asActivity(wf, 1, () => activities.submitProviderBatch(ref));
    const cancelled = await asActivity(wf, 1, () => activities.cancelProviderBatch(ref));
    expect(cancelled).toEqual({ batchId: submitted.batchId, cancelled: true });
    expect(stack.sim.stats().batches).toMatchObject({ created: 1, cancelled: 1, ended: 1, itemsCanceled: 2 });
    expect(await repo.find(ref.key)).toMatchObject({ status: 'cancelled' });
  });

  it('a batch gone from the provider (404) has ended with none of its answers: each item fails retryable, saying so, not that the model is unknown', async () => {
    const wf = `wf-batch-gone-${provider}-${Date.now()}`;
    const ref = await prepared(provider, wf, `gone-${provider}`, 2);
    const submitted = await asActivity(wf, 1, () => activities.submitProviderBatch(ref));
    expect(stack.sim.loseBatches()).toBeGreaterThan(0);
    const polled = await asActivity(wf, 1, () => activities.pollProviderBatch(ref));
    expect(polled).toMatchObject({ batchId: submitted.batchId, state: 'ended', providerStatus: 'not found (404)' });
    const outcomes = await asActivity(wf, 1, () => activities.fetchProviderBatchResults(ref));
    expect(outcomes.map((o) => [o.status, o.retryable])).toEqual([
      ['failed', true],
      ['failed', true],
    ]);
    expect(outcomes[0].message).toContain(`${provider} has no batch ${submitted.batchId} (404)`);
    expect(outcomes[0].message).toContain('none of its answers could be read');
    expect(outcomes[0].message).not.toContain('STORYLOOM_MODEL');
    expect(await repo.find(ref.key)).toMatchObject({ status: 'ended', failure: expect.stringContaining('(404)') });
    // Nothing was answered, so nothing is logged as paid.
    expect(await stack.services.db.getRepository(LlmCallEntity).countBy({ workflowId: wf })).toBe(0);
  });

  it('a cancel that finds the batch ended (its results not fetched yet) cancels nothing and settles every answer', async () => {
    const wf = `wf-batch-ended-${provider}-${Date.now()}`;
    const ref = await prepared(provider, wf, `ended-${provider}`, 2);
    const submitted = await asActivity(wf, 1, () => activities.submitProviderBatch(ref));
    await untilEnded(wf, ref);
    const cancelled = await asActivity(wf, 1, () => activities.cancelProviderBatch(ref));
    expect(cancelled).toEqual({ batchId: submitted.batchId, cancelled: false });
    expect(stack.sim.stats().batches).toMatchObject({ created: 1, cancelled: 0 });
    // Paid for and kept: both answers logged (the report counts them) and stored for a re-run.
    const rows = (await callRows(wf)).filter((r) => r.activityId !== null);
    expect(rows.map((r) => [r.outcome, r.batch])).toEqual([['ok', true], ['ok', true]]);
    expect([...(await repo.answers(ref.key)).keys()].sort()).toEqual(['c0', 'c1']);
    expect(await repo.find(ref.key)).toMatchObject({ status: 'ended', providerBatchId: submitted.batchId });
  });
});

it('openai: a submit whose answer was lost is found again by its key on retry (one batch)', async () => {
  const wf = `wf-batch-lost-${Date.now()}`;
  stack.sim.configure({ faults: [{ route: 'openai.batches', kind: 'malformed', times: 1 }] });
  const ref = await prepared('openai', wf, 'lost', 2);
  await expect(asActivity(wf, 1, () => activities.submitProviderBatch(ref))).rejects.toMatchObject({ type: LlmFailureType.Transient });
  const retried = await asActivity(wf, 2, () => activities.submitProviderBatch(ref));
  expect(retried.batchId).toMatch(/^batch_sim/);
  expect(stack.sim.stats().batches.created).toBe(1);
});

it('anthropic: a submit whose answer was lost is found again on retry: the one unrecorded batch of its size made since (one batch)', async () => {
  const scheduledTimestampMs = Date.now();
  stack.sim.configure({ batches: { processingMs: 60_000 } });
  // Another run's batch of the same size, made meanwhile and recorded: not a candidate.
  const other = await prepared('anthropic', `wf-batch-other-${Date.now()}`, 'lost-other', 3);
  const otherBatch = await asActivity('other', 1, () => activities.submitProviderBatch(other));
  const wf = `wf-batch-lost-anthropic-${Date.now()}`;
  stack.sim.configure({ faults: [{ route: 'anthropic.batches', kind: 'malformed', times: 1 }] });
  const ref = await prepared('anthropic', wf, 'lost-anthropic', 3);
  await expect(asActivity(wf, 1, () => activities.submitProviderBatch(ref), { scheduledTimestampMs })).rejects.toMatchObject({ type: LlmFailureType.Transient });
  const created = stack.sim.stats().batches.created;
  const retried = await asActivity(wf, 2, () => activities.submitProviderBatch(ref), { scheduledTimestampMs });
  expect(retried).toMatchObject({ state: 'in_progress', total: 3 });
  expect(retried.batchId).not.toBe(otherBatch.batchId);
  expect(stack.sim.stats().batches.created).toBe(created);
  expect(await repo.find(ref.key)).toMatchObject({ status: 'in_progress', providerBatchId: retried.batchId });
  await asActivity(wf, 1, () => activities.cancelProviderBatch(ref));
  await asActivity('other', 1, () => activities.cancelProviderBatch(other));
});

it('openai: a submit whose batch id was not recorded cancels that batch, and the retry submits a new one instead of adopting it', async () => {
  const wf = `wf-batch-unrecorded-${Date.now()}`;
  /** Loses the first write of a batch id (the database went away between submit and record). */
  class LosesFirstRecord extends ProviderBatchRepository {
    lost = 0;
    override async update(key: string, patch: Parameters<ProviderBatchRepository['update']>[1]): Promise<void> {
      if (patch.providerBatchId && this.lost++ === 0) throw new Error('Connection terminated unexpectedly');
      return super.update(key, patch);
    }
  }
  const losing = createProviderBatchActivities({ repo: new LosesFirstRecord(stack.services.db), llm: stack.services.llm, clients: createBatchClients(stack.services.config.llm) });
  stack.sim.configure({ batches: { processingMs: 60_000 } });
  const ref = await prepared('openai', wf, 'unrecorded', 2);
  await expect(asActivity(wf, 1, () => losing.submitProviderBatch(ref))).rejects.toThrow(/Connection terminated/);
  expect(stack.sim.stats().batches).toMatchObject({ created: 1, cancelled: 1 });
  const retried = await asActivity(wf, 2, () => losing.submitProviderBatch(ref));
  expect(retried).toMatchObject({ state: 'in_progress', total: 2 });
  expect(stack.sim.stats().batches).toMatchObject({ created: 2, cancelled: 1 });
  expect(await repo.find(ref.key)).toMatchObject({ status: 'in_progress', providerBatchId: retried.batchId });
  await asActivity(wf, 1, () => activities.cancelProviderBatch(ref));
});

it('a batch whose every item is cached is never sent', async () => {
  const wf = `wf-batch-allcached-${Date.now()}`;
  const ref = await prepared('anthropic', wf, 'allcached', 1);
  await stack.services.llm.chat({ purpose: 'synthesis', provider: 'anthropic', model: MODELS.anthropic, promptVersion: 'syn-v1', request: request(0, 'allcached'), useCache: true });
  const p = await asActivity(wf, 1, () => activities.submitProviderBatch(ref));
  expect(p).toMatchObject({ state: 'ended', batchId: null, cached: 1 });
  expect(stack.sim.stats().batches.created).toBe(0);
  expect(await asActivity(wf, 1, () => activities.fetchProviderBatchResults(ref))).toEqual([{ customId: 'c0', status: 'cached' }]);
});

it('an answer holding a NUL (which Postgres refuses in jsonb) is stored without it, and the batch\'s other answers with it', async () => {
  const clients = createBatchClients(stack.services.config.llm);
  const openai = clients.get('openai');
  // The provider's answers, each with a NUL in front (a model can emit one).
  const withNul = Object.assign(Object.create(openai) as typeof openai, {
    results: async (...args: Parameters<typeof openai.results>) =>
      (await openai.results(...args)).map((r) => (r.ok ? { ...r, result: { ...r.result, text: `\u0000${r.result.text}` } } : r)),
  });
  clients.register(withNul);
  const nulActivities = createProviderBatchActivities({ repo, llm: stack.services.llm, clients });
  const wf = `wf-batch-nul-${Date.now()}`;
  const ref = await prepared('openai', wf, 'nul', 3, false);
  await asActivity(wf, 1, () => nulActivities.submitProviderBatch(ref));
  await untilEnded(wf, ref);
  const outcomes = await asActivity(wf, 1, () => nulActivities.fetchProviderBatchResults(ref));
  expect(outcomes.map((o) => o.status)).toEqual(['ok', 'ok', 'ok']);
  const answers = await repo.answers(ref.key);
  expect(answers.size).toBe(3);
  for (const a of answers.values()) {
    expect(a.text).not.toContain('\u0000');
    expect(structuredAnswerProblem(a.text, SCHEMA)).toBeUndefined();
  }
});
