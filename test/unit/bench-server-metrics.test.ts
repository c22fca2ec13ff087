import { breakdownLine, parsePrometheus, roundBreakdown } from '../../bench/server-metrics';

// The shape of the dev server's own lines (timers are histograms in seconds), cut to what the
// breakdown reads plus lines it must ignore.
const scrape = (respondActivity: [number, number], respondWorkflow: [number, number], wfDispatch: [number, number], otherOperation: [number, number]) => `
# HELP service_latency service_latency histogram
# TYPE service_latency histogram
service_latency_bucket{namespace="default",operation="RespondActivityTaskCompleted",service_name="frontend",le="0.005"} 3
service_latency_sum{namespace="default",operation="RespondActivityTaskCompleted",service_name="frontend"} ${respondActivity[0]}
service_latency_count{namespace="default",operation="RespondActivityTaskCompleted",service_name="frontend"} ${respondActivity[1]}
service_latency_sum{namespace="default",operation="RespondActivityTaskCompleted",service_name="history"} 99
service_latency_count{namespace="default",operation="RespondActivityTaskCompleted",service_name="history"} 99
service_latency_sum{namespace="default",operation="RespondWorkflowTaskCompleted",service_name="frontend"} ${respondWorkflow[0]}
service_latency_count{namespace="default",operation="RespondWorkflowTaskCompleted",service_name="frontend"} ${respondWorkflow[1]}
task_latency_queue_sum{namespace="default",operation="TransferActiveTaskWorkflowTask",queue_reader_id="0",service_name="history",task_priority="high"} ${wfDispatch[0]}
task_latency_queue_count{namespace="default",operation="TransferActiveTaskWorkflowTask",queue_reader_id="0",service_name="history",task_priority="high"} ${wfDispatch[1]}
task_latency_queue_sum{namespace="system",operation="TransferActiveTaskWorkflowTask",queue_reader_id="0",service_name="history",task_priority="high"} ${otherOperation[0]}
task_latency_queue_count{namespace="system",operation="TransferActiveTaskWorkflowTask",queue_reader_id="0",service_name="history",task_priority="high"} ${otherOperation[1]}
`;

describe('bench server metrics (where a Temporal round goes inside the server)', () => {
  it('parses names, labels and values, skipping comments', () => {
    const samples = parsePrometheus('# TYPE x counter\n\nx_total{a="1",b="two words"} 3.5\nup 1\n');
    expect(samples).toEqual([
      { name: 'x_total', labels: { a: '1', b: 'two words' }, value: 3.5 },
      { name: 'up', labels: {}, value: 1 },
    ]);
  });

  it('gives each step the mean ms of the samples between two scrapes, over every label set that names it', () => {
    const before = parsePrometheus(scrape([0.5, 100], [1, 100], [2, 100], [0, 0]));
    // 10 completions took 0.054 s in all; 10 workflow tasks 0.051 s; 20 dispatches 0.180 s across two namespaces.
    const after = parsePrometheus(scrape([0.554, 110], [1.051, 110], [2.1, 110], [0.08, 10]));
    const b = roundBreakdown(before, after);
    expect(b.activityCompleted).toBeCloseTo(5.4, 6); // the history service's own line is not the frontend's
    expect(b.workflowTaskCompleted).toBeCloseTo(5.1, 6);
    expect(b.workflowTaskDispatch).toBeCloseTo(9, 6);
    expect(b.activityDispatch).toBeNull(); // no samples at all
    expect(breakdownLine(b)).toBe(
      'inside the server: activity completion 5.4, workflow task dispatch 9.0, workflow task completion 5.1, activity dispatch — (a history write —)',
    );
  });

  it('reports nothing when the metrics could not be read', () => {
    const b = roundBreakdown([], []);
    expect(Object.values(b).every((v) => v === null)).toBe(true);
  });
});
