/**
 * Run reports agree with what happened: a scripted ingestion against the simulator (a 429
 * storm, then a cached re-run) and the report's figures equal the simulator's own stats.
 */
import { formatReport, formatReportShort } from '../../src/reporting/format-report';
import type { RunReport } from '../../src/reporting/run-report';
import { computeRunReport, percentile, windowBound } from '../../src/reporting/run-report';
import { buildRunReport } from '../../src/reporting/load-run-report';
import { ingestionWorkflowId } from '../../src/shared/ingestion';
import { ingestScript, smokeTest } from '../../src/workflows';
import { startApp, testConfig, useTestStack } from '../helpers/harness';
import { forgetIngestionResults, importSynthetic } from '../helpers/scripts';

const stack = useTestStack('report', {
  simulator: { latency: { default: { fixedMs: 10 } } },
  env: { STORYLOOM_PRICES: '{"claude-sonnet-4-6":{"input":3,"output":15}}' },
});

async function reportOf(firstRunId: string): Promise<RunReport> {
  const [row] = await stack.app.services.db.query('SELECT report FROM run_reports WHERE first_run_id = $1', [firstRunId]);
  return row.report;
}

it('an ingestion report matches the simulator: calls, 429s, tokens; a cached re-run reports cache hits and no calls', async () => {
  const script = await importSynthetic(stack.app.services.db, 12, 3, `Report ${Date.now()}`);
  stack.sim.resetStats();
  stack.sim.configure({ faults: [{ kind: 'http429', purpose: 'summary', times: 4, retryAfterMs: 100 }] });
  const first = await stack.env.client.workflow.start(ingestScript, { taskQueue: stack.app.taskQueue, workflowId: ingestionWorkflowId(script.scriptId), args: [{ scriptId: script.scriptId, mode: 'full' }] });
  await first.result();
  stack.sim.configure({ faults: [] });
  const stats = stack.sim.stats();
  const report = await reportOf(first.firstExecutionRunId);

  expect(report.status).toBe('completed');
  expect(report.totals.providerCalls).toBe(stats.totalRequests);
  expect(report.totals.rateLimited).toBe(4);
  expect(stats.rateLimited).toBe(4);
  expect(report.totals.retries).toBe(4);
  expect(report.totals.inputTokens).toBe(Object.values(stats.byProvider).reduce((n, p) => n + p.inputTokens, 0));
  expect(report.totals.outputTokens).toBe(Object.values(stats.byProvider).reduce((n, p) => n + p.outputTokens, 0));
  const summary = report.llm.find((l) => l.purpose === 'summary')!;
  expect(summary.providerCalls).toBe(stats.byPurpose.summary.requests);
  expect(summary.calls).toBe(12 + 4);
  expect(report.llm.find((l) => l.purpose === 'embedding')!.providerCalls).toBe(1);
  // Prices: claude-sonnet-4-6 (outline, sheets) is priced; claude-haiku-4-5 (summaries) is in the default table too.
  expect(report.totals.costUsd).not.toBeNull();
  expect(report.criticalPath.steps[0].name).toBe('summaries');
  expect(report.criticalPath.lowerBoundMs).toBeGreaterThan(0);
  expect(report.criticalPath.lowerBoundMs).toBeLessThanOrEqual(report.wallMs);
  expect(report.db!.queries).toBeGreaterThan(0);
  expect(report.db!.commits).toBeGreaterThan(0);
  const described = await first.describe();
  expect(report.history!.events).toBeGreaterThan(20);
  expect(report.history!.events).toBeLessThanOrEqual(described.historyLength);

  // Stored results gone: a partial run makes everything again, all of it from the cache.
  await forgetIngestionResults(stack.app.services.db, script.scriptId);
  stack.sim.resetStats();
  const again = await stack.env.client.workflow.start(ingestScript, { taskQueue: stack.app.taskQueue, workflowId: ingestionWorkflowId(script.scriptId), args: [{ scriptId: script.scriptId, mode: 'partial' }] });
  await again.result();
  const cached = await reportOf(again.firstExecutionRunId);
  expect(stack.sim.stats().totalRequests).toBe(0);
  expect(cached.totals.providerCalls).toBe(0);
  const sheets = report.llm.find((l) => l.purpose === 'sheet')!.providerCalls;
  expect(cached.totals.cacheHits).toBe(12 + 1 + sheets + 1);
  expect(formatReport(cached)).toContain(`0 provider calls, ${cached.totals.cacheHits} cache hits`);
  expect(formatReportShort(cached)).toMatch(/^Report: /);
  expect(formatReport(report)).toMatch(/Phases: summaries [\d.]+ s, phase2 [\d.]+ s, outline [\d.]+ s, sheets [\d.]+ s, embeddings [\d.]+ s/);
});

it("counts the current run's history as the workflow saw it, asking Temporal only about earlier runs", async () => {
  const asked: string[] = [];
  const report = await buildRunReport(
    { db: stack.app.services.db, prices: {}, historyLength: async (_workflowId, runId) => (asked.push(runId), 40) },
    { workflowId: `history-${Date.now()}`, runIds: ['run-1', 'run-2'], kind: 'ingestScript', scriptId: null, status: 'completed', wallMs: 1, phasesMs: {}, currentHistoryLength: 17 },
  );
  expect(asked).toEqual(['run-1']);
  expect(report.history).toEqual({ events: 57, runs: 2 });
});

it('a smoke run gets a report too, and an unknown model costs "unknown", not 0', async () => {
  const priced = await startApp(stack.env, testConfig(stack.sim, { STORYLOOM_MODEL_SMOKE: 'anthropic:some-unpriced-model' }), 'report-unpriced');
  try {
    const handle = await stack.env.client.workflow.start(smokeTest, { taskQueue: priced.taskQueue, workflowId: `report-smoke-${Date.now()}`, args: [{ prompt: 'Price me.', useCache: false }] });
    await handle.result();
    const report = await reportOf(handle.firstExecutionRunId);
    expect(report.kind).toBe('smokeTest');
    expect(report.totals.costUsd).toBeNull();
    expect(report.totals.unpricedModels).toEqual(['some-unpriced-model']);
    expect(formatReport(report)).toContain('estimated cost unknown (no price for some-unpriced-model)');
  } finally {
    await priced.stop();
  }
});

describe('report arithmetic', () => {
  it('percentiles are nearest-rank', () => {
    expect(percentile([10, 20, 30, 40], 50)).toBe(20);
    expect(percentile([10, 20, 30, 40], 95)).toBe(40);
    expect(percentile([], 50)).toBe(0);
  });

  it('a window bound is the longest job or the work spread over the slots', () => {
    expect(windowBound([2000, 2000, 2000, 2000], 2)).toBe(4000);
    expect(windowBound([5000, 100], 10)).toBe(5000);
  });

  it('the critical path is summaries then the longest phase-2 branch (or all, when sequential)', () => {
    const calls = [
      ...Array.from({ length: 10 }, () => ({ purpose: 'summary', latencyMs: 2000 })),
      { purpose: 'outline', latencyMs: 5000 },
      ...Array.from({ length: 10 }, () => ({ purpose: 'sheet', latencyMs: 3000 })),
      { purpose: 'embedding', latencyMs: 2000 },
    ].map((c) => ({ ...c, provider: 'anthropic', model: 'm', outcome: 'ok', errorType: null, inputTokens: 1, outputTokens: 1, attempt: 1 }));
    const base = { workflowId: 'w', runIds: ['r'], kind: 'ingestScript', scriptId: null, status: 'completed', wallMs: 9000, phasesMs: {}, calls, prices: {}, db: null, historyEvents: 10 };
    const parallel = computeRunReport({ ...base, ingestion: { flags: { parallelSceneSummaries: true, parallelCharacterSheets: true, batchEmbeddings: true, parallelPhase2: true, useCache: true }, concurrency: { summaries: 10, sheets: 5 } } });
    expect(parallel.criticalPath.steps.map((s) => [s.name, s.boundMs])).toEqual([['summaries', 2000], ['sheets', 6000]]);
    expect(parallel.criticalPath.lowerBoundMs).toBe(8000);
    expect(parallel.criticalPath.overheadMs).toBe(1000);
    expect(parallel.totals.costUsd).toBeNull();
    const sequential = computeRunReport({ ...base, ingestion: { flags: { parallelSceneSummaries: false, parallelCharacterSheets: false, batchEmbeddings: false, parallelPhase2: false, useCache: true }, concurrency: { summaries: 10, sheets: 5 } } });
    expect(sequential.criticalPath.lowerBoundMs).toBe(20000 + 5000 + 30000 + 2000);
  });
});
