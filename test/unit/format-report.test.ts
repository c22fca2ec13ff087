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
