/** The printed run report (`storyloom report`): what it shows and in what order. */
import { computeRunReport } from '../../src/reporting/run-report';
import { formatReport } from '../../src/reporting/format-report';

it("lists a stories run's phases in the order they run, whatever order the stored report's keys came back in", () => {
  // Postgres JSONB orders keys by length, then bytes: writing, synthesis, clustering.
  const report = computeRunReport({
    workflowId: 'wf', runIds: ['r'], kind: 'generateStories', scriptId: null, status: 'completed', wallMs: 10_000,
    phasesMs: { writing: 300, synthesis: 6_000, clustering: 1_200 },
    calls: [], prices: {}, db: null, historyEvents: null,
  });
  expect(formatReport(report)).toMatch(/Phases: clustering 1\.20 s, synthesis 6\.00 s, writing 0\.30 s/);
});

it('gives each LLM line p50, p95 and p99 latencies (seed 001 tracks all three); a report stored before p99 says n/a', () => {
  const calls = Array.from({ length: 100 }, (_, i) => ({
    purpose: 'synthesis', provider: 'anthropic', model: 'm', outcome: 'ok', errorType: null, latencyMs: i + 1, inputTokens: 1, outputTokens: 1, attempt: 1,
  }));
  const report = computeRunReport({
    workflowId: 'wf', runIds: ['r'], kind: 'generateStories', scriptId: null, status: 'completed', wallMs: 1000,
    phasesMs: {}, calls, prices: {}, db: null, historyEvents: null,
  });
  expect(report.llm[0]).toMatchObject({ p50Ms: 50, p95Ms: 95, p99Ms: 99, maxMs: 100 });
  const printed = formatReport(report);
  expect(printed).toMatch(/p50\s+p95\s+p99\s+max/);
  expect(printed).toMatch(/50 ms\s+95 ms\s+99 ms\s+100 ms/);
  const { p99Ms: _dropped, ...older } = report.llm[0];
  expect(formatReport({ ...report, llm: [older] })).toMatch(/95 ms\s+n\/a\s+100 ms/);
});
