/**
 * What a workflow execution chain (first run → continue-as-new → …) cost Temporal: events per
 * run (`describe().historyLength`), history bytes, the largest payload in any event, and the
 * latencies that explain wall time above the bound — activity schedule-to-start (the
 * ActivityTaskScheduled → ActivityTaskStarted timestamps) and workflow-task turnaround.
 */
import type { Client } from '@temporalio/client';

export interface RunHistory {
  runId: string;
  historyLength: number;
  historySizeBytes: number | undefined;
  status: string;
  /** Largest single Payloads field (a whole activity input/result …), bytes of data + metadata. */
  largestPayloadBytes: number;
  largestPayloadWhere: string;
}

export interface LatencyStats {
  count: number;
  meanMs: number;
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
}

export interface ChainHistory {
  workflowId: string;
  runs: RunHistory[];
  totalEvents: number;
  maxEventsPerRun: number;
  largestPayloadBytes: number;
  largestPayloadWhere: string;
  /** Activity schedule-to-start, by activity type. */
  scheduleToStart: Record<string, LatencyStats>;
  /** Activity start-to-close, by activity type (provider latency + activity overhead). */
  startToClose: Record<string, LatencyStats>;
  /** WorkflowTaskScheduled → WorkflowTaskCompleted (queueing + replay/processing + response). */
  workflowTask: LatencyStats;
  /** The workflow task's two parts: scheduled → started (dispatch to a poller), started → completed (the worker's turn, RPCs included). */
  workflowTaskParts: { queue: LatencyStats; worker: LatencyStats };
  /**
   * For LLM activities after the first window: ActivityTaskCompleted of a call → the next
   * ActivityTaskScheduled of the same type, FIFO (how long a freed window slot stays empty).
   */
  refill: LatencyStats;
  /**
   * When each activity type ran, in ms from the chain's first event: first scheduled, last
   * closed. With `closedMs` (the last run's last event) this is the run's timeline.
   */
  spans: Record<string, { count: number; firstScheduledMs: number; lastClosedMs: number }>;
  closedMs: number;
}

export type Ts = { seconds?: unknown; nanos?: number | null } | null | undefined;
/** A history event's time in epoch ms. */
export const tsMs = (t: Ts): number => (t ? Number(String(t.seconds ?? 0)) * 1000 + (t.nanos ?? 0) / 1e6 : NaN);

export function stats(values: number[]): LatencyStats {
  if (!values.length) return { count: 0, meanMs: 0, p50Ms: 0, p95Ms: 0, maxMs: 0 };
  const s = [...values].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * (s.length - 1) + 0.5))];
  const round = (x: number) => Math.round(x * 10) / 10;
  return { count: s.length, meanMs: round(s.reduce((a, b) => a + b, 0) / s.length), p50Ms: round(q(0.5)), p95Ms: round(q(0.95)), maxMs: round(s[s.length - 1]) };
}

/** The event's type from which `…EventAttributes` field is set (no proto enum import needed). */
function eventKind(ev: Record<string, unknown>): string {
  for (const [k, v] of Object.entries(ev)) if (k.endsWith('EventAttributes') && v) return k.replace(/EventAttributes$/, '');
  return 'unknown';
}

/** Largest Payloads (sum of its payloads) anywhere inside `obj`. */
function largestPayloads(obj: unknown, path: string, best: { bytes: number; where: string }, depth = 0): void {
  if (!obj || typeof obj !== 'object' || depth > 12) return;
  if (ArrayBuffer.isView(obj)) return;
  const rec = obj as Record<string, unknown>;
  if (Array.isArray(rec.payloads)) {
    let bytes = 0;
    for (const p of rec.payloads as { data?: Uint8Array | null; metadata?: Record<string, Uint8Array> | null }[]) {
      bytes += p?.data?.length ?? 0;
      for (const [k, v] of Object.entries(p?.metadata ?? {})) bytes += k.length + (v?.length ?? 0);
    }
    if (bytes > best.bytes) {
      best.bytes = bytes;
      best.where = path;
    }
  }
  for (const [k, v] of Object.entries(rec)) {
    if (k === 'payloads') continue;
    if (v && typeof v === 'object') largestPayloads(v, path, best, depth + 1);
  }
}

/** The SDK core's local-activity marker: the activity type from its JSON data. */
function localActivityMarker(attrs: Record<string, any> | undefined): string | undefined {
  if (!attrs || attrs.markerName !== 'core_local_activity') return undefined;
  try {
    const data = attrs.details?.data?.payloads?.[0]?.data as Uint8Array | undefined;
    const json = data ? JSON.parse(Buffer.from(data).toString('utf8')) : {};
    return String(json.activity_type ?? json.activityType ?? 'localActivity');
  } catch {
    return 'localActivity';
  }
}

/** Follows the chain from `firstRunId` through continue-as-new, reading each run's history. */
export async function chainHistory(client: Client, workflowId: string, firstRunId: string): Promise<ChainHistory> {
  const runs: RunHistory[] = [];
  const sched2start: Record<string, number[]> = {};
  const start2close: Record<string, number[]> = {};
  const wft: number[] = [];
  const wftQueue: number[] = [];
  const wftWorker: number[] = [];
  const refill: number[] = [];
  const best = { bytes: 0, where: '' };
  const spans: ChainHistory['spans'] = {};
  let origin: number | undefined;
  let lastEventMs = 0;
  let runId: string | undefined = firstRunId;
  const seen = new Set<string>();
  while (runId && !seen.has(runId)) {
    seen.add(runId);
    const handle = client.workflow.getHandle(workflowId, runId);
    const [desc, history] = await Promise.all([handle.describe(), handle.fetchHistory()]);
    const events = (history.events ?? []) as unknown as Record<string, unknown>[];
    const runBest = { bytes: 0, where: '' };
    const scheduled = new Map<string, { t: number; type: string; queue: string }>();
    const started = new Map<string, number>();
    const wftScheduled = new Map<string, number>();
    const wftStarted = new Map<string, number>();
    // Per LLM activity type: completions not yet followed by a scheduling of the same type (FIFO).
    const pendingCompletions = new Map<string, number[]>();
    let next: string | undefined;
    for (const ev of events) {
      const kind = eventKind(ev);
      const id = String(ev.eventId ?? '');
      const t = tsMs(ev.eventTime as Ts);
      origin ??= t;
      lastEventMs = t;
      const attrs = ev[`${kind}EventAttributes`] as Record<string, any>;
      const activityType = kind === 'activityTaskScheduled' ? attrs.activityType?.name : scheduled.get(String(attrs?.scheduledEventId))?.type;
      largestPayloads(ev, `${activityType ? `${activityType} ` : ''}${kind.replace(/^activityTask/, '')}, run ${runs.length + 1}`, runBest);
      switch (kind) {
        case 'activityTaskScheduled': {
          const type = attrs.activityType?.name ?? '?';
          const queue = attrs.taskQueue?.name ?? '';
          scheduled.set(id, { t, type, queue });
          const span = (spans[type] ??= { count: 0, firstScheduledMs: t - origin, lastClosedMs: 0 });
          span.count++;
          const pend = pendingCompletions.get(type);
          if (pend?.length) refill.push(t - pend.shift()!);
          break;
        }
        case 'activityTaskStarted': {
          const s = scheduled.get(String(attrs.scheduledEventId));
          if (s) {
            (sched2start[s.type] ??= []).push(t - s.t);
            started.set(String(attrs.scheduledEventId), t);
          }
          break;
        }
        case 'activityTaskCompleted':
        case 'activityTaskFailed':
        case 'activityTaskTimedOut': {
          const key = String(attrs.scheduledEventId);
          const s = scheduled.get(key);
          const st = started.get(key);
          if (s && st !== undefined) (start2close[s.type] ??= []).push(t - st);
          if (s && spans[s.type]) spans[s.type].lastClosedMs = Math.max(spans[s.type].lastClosedMs, t - (origin ?? t));
          if (s && /-llm-/.test(s.queue)) {
            const list = pendingCompletions.get(s.type) ?? [];
            list.push(t);
            pendingCompletions.set(s.type, list);
          }
          break;
        }
        case 'workflowTaskScheduled':
          wftScheduled.set(id, t);
          break;
        case 'workflowTaskStarted': {
          const s = wftScheduled.get(String(attrs.scheduledEventId));
          if (s !== undefined) wftQueue.push(t - s);
          wftStarted.set(String(attrs.scheduledEventId), t);
          break;
        }
        case 'workflowTaskCompleted': {
          const s = wftScheduled.get(String(attrs.scheduledEventId));
          if (s !== undefined) wft.push(t - s);
          const st = wftStarted.get(String(attrs.scheduledEventId));
          if (st !== undefined) wftWorker.push(t - st);
          break;
        }
        case 'markerRecorded': {
          // A local activity runs inside the workflow task and is recorded as a marker when that
          // task completes: its time here is the marker's (the clocks inside the marker's data
          // are the worker's and the workflow's, not comparable with event times).
          const la = localActivityMarker(attrs);
          if (la) {
            const type = `${la}(local)`;
            const at = t - origin!;
            const span = (spans[type] ??= { count: 0, firstScheduledMs: at, lastClosedMs: at });
            span.count++;
            span.lastClosedMs = Math.max(span.lastClosedMs, at);
          }
          break;
        }
        case 'workflowExecutionContinuedAsNew':
          next = attrs.newExecutionRunId ?? undefined;
          break;
      }
    }
    runs.push({
      runId,
      historyLength: desc.historyLength,
      historySizeBytes: desc.historySize,
      status: desc.status.name,
      largestPayloadBytes: runBest.bytes,
      largestPayloadWhere: runBest.where,
    });
    if (runBest.bytes > best.bytes) Object.assign(best, runBest);
    runId = next;
  }
  const byType = (m: Record<string, number[]>) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, stats(v)]));
  return {
    workflowId,
    runs,
    totalEvents: runs.reduce((a, r) => a + r.historyLength, 0),
    maxEventsPerRun: Math.max(0, ...runs.map((r) => r.historyLength)),
    largestPayloadBytes: best.bytes,
    largestPayloadWhere: best.where,
    scheduleToStart: byType(sched2start),
    startToClose: byType(start2close),
    workflowTask: stats(wft),
    workflowTaskParts: { queue: stats(wftQueue), worker: stats(wftWorker) },
    refill: stats(refill),
    spans,
    closedMs: origin === undefined ? 0 : lastEventMs - origin,
  };
}

/** Several chains' latency samples merged (S2: ten workflows). */
export function mergeLatency(chains: ChainHistory[], pick: (c: ChainHistory) => LatencyStats): LatencyStats {
  // Only summary statistics are kept per chain: merge by count-weighted mean and the max.
  const all = chains.map(pick).filter((s) => s.count);
  if (!all.length) return stats([]);
  const count = all.reduce((a, s) => a + s.count, 0);
  return {
    count,
    meanMs: Math.round((all.reduce((a, s) => a + s.meanMs * s.count, 0) / count) * 10) / 10,
    p50Ms: Math.max(...all.map((s) => s.p50Ms)),
    p95Ms: Math.max(...all.map((s) => s.p95Ms)),
    maxMs: Math.max(...all.map((s) => s.maxMs)),
  };
}
