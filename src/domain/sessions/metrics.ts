/**
 * The seed's performance metrics, computed from recorded operations: per operation type
 * (llm_calls, tool_executions, tool_batches, turn_processing) count, total, avg, min, max, p50,
 * p95 (ms) and the last 20 operations. Pure: the repository feeds it rows.
 */

export const METRIC_OPERATIONS = {
  llm_calls: 'llm_call',
  tool_executions: 'tool_execution',
  tool_batches: 'tool_batch',
  turn_processing: 'turn',
} as const;
export type MetricGroup = keyof typeof METRIC_OPERATIONS;
export type MetricOperation = (typeof METRIC_OPERATIONS)[MetricGroup];

export const RECENT_OPERATIONS = 20;

export interface RecordedOperation {
  operation: MetricOperation;
  durationMs: number;
  sessionId: string | null;
  turnNumber: number | null;
  toolName: string | null;
  toolKind: string | null;
  ok: boolean;
  errorType: string | null;
  inputTokens: number;
  outputTokens: number;
  details: Record<string, unknown>;
  createdAt: Date;
}

export interface RecentOperation {
  operation: MetricOperation;
  duration_ms: number;
  session_id: string | null;
  turn: number | null;
  tool_name?: string;
  tool_kind?: string;
  ok: boolean;
  error_type?: string;
  input_tokens?: number;
  output_tokens?: number;
  metadata: Record<string, unknown>;
  timestamp: string;
}

export interface OperationStats {
  count: number;
  total_time_ms: number;
  avg_time_ms: number;
  min_time_ms: number;
  max_time_ms: number;
  p50_time_ms: number;
  p95_time_ms: number;
  errors: number;
  recent_operations: RecentOperation[];
}

/** The shape of GET /optimization/performance/metrics (the seed's, plus p50/p95 and the window). */
export interface PerformanceMetricsResponse {
  status: 'success';
  window: { id: number; started_at: string };
  session_id: string | null;
  enabled: boolean;
  metrics: Record<MetricGroup, OperationStats>;
}

export const roundMs = (ms: number): number => Math.round(ms * 100) / 100;

/** Nearest-rank percentile of sorted values (p in 0..100): what Postgres's percentile_disc gives. */
export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

export function emptyStats(): OperationStats {
  return { count: 0, total_time_ms: 0, avg_time_ms: 0, min_time_ms: 0, max_time_ms: 0, p50_time_ms: 0, p95_time_ms: 0, errors: 0, recent_operations: [] };
}

/** One recorded operation as the metrics' `recent_operations` lists it. */
export function recentOperation(r: RecordedOperation): RecentOperation {
  return {
    operation: r.operation,
    duration_ms: roundMs(r.durationMs),
    session_id: r.sessionId,
    turn: r.turnNumber,
    ...(r.toolName ? { tool_name: r.toolName } : {}),
    ...(r.toolKind ? { tool_kind: r.toolKind } : {}),
    ok: r.ok,
    ...(r.errorType ? { error_type: r.errorType } : {}),
    ...(r.operation === 'llm_call' ? { input_tokens: r.inputTokens, output_tokens: r.outputTokens } : {}),
    metadata: r.details,
    timestamp: r.createdAt.toISOString(),
  };
}
