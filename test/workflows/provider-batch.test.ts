/**
 * runProviderBatch in a workflow on the dev server, with the app's real batch activities, the
 * SDKs and the simulator: submit, durable polling with growing timers, results matched by
 * custom id with an item failing, and a cancellation mid-batch cancelling it at the provider.
 */
import { WorkflowFailedError } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { ProviderBatchRepository } from '../../src/db/repositories/provider-batch.repository';
import { LlmFailureType } from '../../src/shared/failure-types';
import { llmTaskQueue, type Provider } from '../../src/shared/llm-routing';
import { providerBatchKey } from '../../src/shared/provider-batch';
import { queueFor, testDataConverter, useTestStack } from '../helpers/harness';
import { waitFor } from '../helpers/wait';
import { batchProgressQuery, providerBatchProbe } from './provider-batch-probe';

let probeQueue: string;
let worker: Worker | undefined;
let running: Promise<void> | undefined;
// Declared before the stack's hooks so the probe worker stops before the dev server does.
afterAll(async () => {
  worker?.shutdown();
  await running;
});
const stack = useTestStack('provider batch', { simulator: { batches: { processingMs: 3000 } } });
const MODELS: Record<string, string> = { anthropic: 'claude-haiku-4-5', openai: 'gpt-4o-mini' };
const SCHEMA = { type: 'object', properties: { headline: { type: 'string' } }, required: ['headline'], additionalProperties: false };

beforeAll(async () => {
  probeQueue = queueFor('provider batch probe');
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('./provider-batch-probe'),
    logger: { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} } as never,
  });
  worker = await Worker.create({ connection: stack.env.nativeConnection, taskQueue: probeQueue, workflowBundle: { code }, dataConverter: testDataConverter() });
  running = worker.run();
});
async function prepare(provider: Provider, workflowId: string, n: number) {
  const key = providerBatchKey(workflowId, 'synthesis');
  await new ProviderBatchRepository(stack.app.services.db).prepare({
    key,
    provider,
    model: MODELS[provider],
    purpose: 'synthesis',
    promptVersion: 'wf-v1',
    useCache: false,
    workflowId,
    items: Array.from({ length: n }, (_, i) => ({
      customId: `cluster-${i}`,
      request: { messages: [{ role: 'user' as const, content: `${workflowId}: cluster ${i} about the river festival` }], maxTokens: 200, jsonSchema: { name: 'story', schema: SCHEMA } },
    })),
  });
  return { key, route: { provider, model: MODELS[provider], taskQueue: llmTaskQueue(stack.app.taskQueue, provider) } };
}

it('anthropic: submits, polls with growing durable timers, returns per-item outcomes with the failed item', async () => {
  const workflowId = `batch-probe-ok-${Date.now()}`;
  stack.sim.configure({ batches: { itemFaults: [{ customId: 'cluster-1', kind: 'http500' }] } });
  stack.sim.resetStats();
  const ref = await prepare('anthropic', workflowId, 3);
  const handle = await stack.env.client.workflow.start(providerBatchProbe, {
    workflowId,
    taskQueue: probeQueue,
    args: [{ ...ref, poll: { initialMs: 200, factor: 2, maxMs: 1000 } }],
  });
  const result = await handle.result();
  expect(result.batchId).toMatch(/^msgbatch_sim/);
  expect(result.items).toEqual([
    { customId: 'cluster-0', status: 'ok' },
    expect.objectContaining({ customId: 'cluster-1', status: 'failed', errorType: LlmFailureType.Transient, retryable: true }),
    { customId: 'cluster-2', status: 'ok' },
  ]);
  expect(result.polls).toBeGreaterThanOrEqual(2);
  expect(result.elapsedMs).toBeGreaterThanOrEqual(3000);
  const answers = await new ProviderBatchRepository(stack.app.services.db).answers(ref.key);
  expect([...answers.keys()].sort()).toEqual(['cluster-0', 'cluster-2']);

  // Polling is durable: one timer per poll, each at least as long as the one before.
  const history = await handle.fetchHistory();
  const timers = (history.events ?? [])
    .filter((e) => e.timerStartedEventAttributes)
    .map((e) => Number(e.timerStartedEventAttributes!.startToFireTimeout!.seconds ?? 0) * 1000 + Math.round((e.timerStartedEventAttributes!.startToFireTimeout!.nanos ?? 0) / 1e6));
  expect(timers.length).toBe(result.polls);
  expect(timers.slice(0, 3)).toEqual([200, 400, 800].slice(0, Math.min(3, timers.length)));
  expect(stack.sim.stats().batches).toMatchObject({ created: 1, ended: 1, itemsErrored: 1, itemsSucceeded: 2, cancelled: 0 });
});

it('openai: cancelling the workflow mid-batch cancels the batch at the provider', async () => {
  const workflowId = `batch-probe-cancel-${Date.now()}`;
  stack.sim.configure({ batches: { processingMs: 120_000, itemFaults: [] } });
  stack.sim.resetStats();
  const ref = await prepare('openai', workflowId, 4);
  const handle = await stack.env.client.workflow.start(providerBatchProbe, {
    workflowId,
    taskQueue: probeQueue,
    args: [{ ...ref, poll: { initialMs: 300, factor: 1.5, maxMs: 2000 } }],
  });
  const progress = await waitFor(async () => {
    const p = await handle.query(batchProgressQuery);
    return p && p.polls >= 1 && p.state === 'in_progress' ? p : undefined;
  }, 20_000, 'batch polled once');
  expect(progress.batchId).toMatch(/^batch_sim/);
  await handle.cancel();
  const err = await handle.result().catch((e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
  expect(stack.sim.stats().batches).toMatchObject({ created: 1, cancelled: 1, ended: 1, itemsCanceled: 4 });
  expect(await new ProviderBatchRepository(stack.app.services.db).find(ref.key)).toMatchObject({ status: 'cancelled', providerBatchId: progress.batchId });
});
