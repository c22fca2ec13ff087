/**
 * Where a Temporal activity round goes inside the dev server, from the server's own Prometheus
 * metrics (its `--metrics-port`): the bench reads them before and after the bare round probe
 * (temporal-round.ts) and reports the mean of each step over the probe's rounds. The server's
 * timers are histograms in seconds; a step's mean is the change of its `_sum` over the change of
 * its `_count`, summed over every label set that names the step.
 */

/** One sample line: metric name, its labels, its value. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text format (comments and blank lines skipped). */
export function parsePrometheus(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const match = /^([A-Za-z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[key] = value;
    out.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return out;
}

/** A histogram step of the round: its metric and the labels that pick it out. */
interface Step {
  metric: string;
  labels: Record<string, string>;
}

/** The steps of a round, in its order (the worker's own time is not the server's to report). */
export const ROUND_STEPS = {
  /** `RespondActivityTaskCompleted` at the frontend: the completion written to history. */
  activityCompleted: { metric: 'service_latency', labels: { service_name: 'frontend', operation: 'RespondActivityTaskCompleted' } },
  /** The workflow task's transfer task: written → read → matched to the worker's poll. */
  workflowTaskDispatch: { metric: 'task_latency_queue', labels: { operation: 'TransferActiveTaskWorkflowTask' } },
  /** `RespondWorkflowTaskCompleted` at the frontend: the next activity scheduled. */
  workflowTaskCompleted: { metric: 'service_latency', labels: { service_name: 'frontend', operation: 'RespondWorkflowTaskCompleted' } },
  /** The activity's transfer task: written → read → matched to the worker's poll. */
  activityDispatch: { metric: 'task_latency_queue', labels: { operation: 'TransferActiveTaskActivity' } },
  /** One write of the workflow's state (each completion and each task's start makes one). */
  historyWrite: { metric: 'persistence_latency', labels: { service_name: 'history', operation: 'UpdateWorkflowExecution' } },
} satisfies Record<string, Step>;

export type RoundStep = keyof typeof ROUND_STEPS;
export type ServerRoundBreakdown = Record<RoundStep, number | null>;

function total(samples: Sample[], name: string, labels: Record<string, string>): number {
  let sum = 0;
  for (const s of samples) {
    if (s.name !== name) continue;
    if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) sum += s.value;
  }
  return sum;
}

/** Mean ms of each step between two scrapes; null for a step with no new samples. */
export function roundBreakdown(before: Sample[], after: Sample[]): ServerRoundBreakdown {
  const mean = ({ metric, labels }: Step): number | null => {
    const count = total(after, `${metric}_count`, labels) - total(before, `${metric}_count`, labels);
    if (count <= 0) return null;
    return ((total(after, `${metric}_sum`, labels) - total(before, `${metric}_sum`, labels)) / count) * 1000;
  };
  return Object.fromEntries(Object.entries(ROUND_STEPS).map(([step, def]) => [step, mean(def)])) as ServerRoundBreakdown;
}

/** "inside the server: activity completion 5.4, workflow task dispatch 9.3, …" (ms). */
export function breakdownLine(b: ServerRoundBreakdown): string {
  const f = (x: number | null) => (x === null ? '—' : x.toFixed(1));
  return (
    `inside the server: activity completion ${f(b.activityCompleted)}, workflow task dispatch ${f(b.workflowTaskDispatch)}, ` +
    `workflow task completion ${f(b.workflowTaskCompleted)}, activity dispatch ${f(b.activityDispatch)} (a history write ${f(b.historyWrite)})`
  );
}

/** The server's metrics now; an empty list when they cannot be read (the breakdown is then all —). */
export async function scrapeMetrics(url: string | undefined): Promise<Sample[]> {
  if (!url) return [];
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    return res.ok ? parsePrometheus(await res.text()) : [];
  } catch {
    return [];
  }
}
