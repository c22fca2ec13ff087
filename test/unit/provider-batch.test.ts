/** Pure parts of provider batches: the poll backoff and the report's batch pricing. */
import { computeRunReport, type CallRow } from '../../src/reporting/run-report';
import { formatReport } from '../../src/reporting/format-report';
import { batchPollDelay, DEFAULT_BATCH_POLL, providerBatchKey, supportsBatch } from '../../src/shared/provider-batch';

it('polls back off from seconds to minutes, capped', () => {
  const delays = Array.from({ length: 14 }, (_, n) => batchPollDelay(DEFAULT_BATCH_POLL, n));
  expect(delays[0]).toBe(2_000);
  expect(delays[1]).toBe(3_000);
  expect(delays.every((d, i) => i === 0 || d >= delays[i - 1])).toBe(true);
  expect(Math.max(...delays)).toBe(5 * 60_000);
  expect(batchPollDelay({ initialMs: 100, factor: 2, maxMs: 1000 }, 10)).toBe(1000);
});

it('names batches by workflow and step, and knows which providers batch', () => {
  expect(providerBatchKey('stories-2026-11-25', 'synthesis')).toBe('stories-2026-11-25/synthesis');
  expect([supportsBatch('anthropic'), supportsBatch('openai'), supportsBatch('ollama')]).toEqual([true, true, false]);
});

it('prices batch calls at half the normal price, on a line of their own, and counts the batch once on the critical path', () => {
  const row = (batch: boolean, latencyMs: number): CallRow => ({
    purpose: 'synthesis', provider: 'anthropic', model: 'claude-haiku-4-5', outcome: 'ok', errorType: null,
    latencyMs, inputTokens: 1_000_000, outputTokens: 0, attempt: 1, batch,
  });
  const report = computeRunReport({
    workflowId: 'wf', runIds: ['r'], kind: 'test', scriptId: null, status: 'completed', wallMs: 10_000, phasesMs: {},
    calls: [row(true, 9_000), row(true, 9_000), row(false, 500)],
    prices: { 'claude-haiku-4-5': { input: 1, output: 5 } },
    db: null, historyEvents: null,
  });
  const batchLine = report.llm.find((l) => l.batch)!;
  const normalLine = report.llm.find((l) => !l.batch)!;
  expect(batchLine).toMatchObject({ calls: 2, providerCalls: 2, costUsd: 1 });
  expect(normalLine).toMatchObject({ calls: 1, costUsd: 1 });
  expect(report.totals).toMatchObject({ providerCalls: 3, batchCalls: 2, costUsd: 2 });
  expect(report.criticalPath.steps).toEqual([{ name: 'synthesis', calls: 3, boundMs: 9_500 }]);
  const text = formatReport(report);
  expect(text).toMatch(/synthesis \(batch\)/);
  expect(text).toMatch(/3 provider calls \(2 in batches, at the batch discount\)/);
});
