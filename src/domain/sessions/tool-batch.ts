/**
 * Figures of one step's tools (reads in parallel, then writes in order) and of a whole turn,
 * from the times each tool activity measured itself: the seed's log fields and the CLI's line.
 */
import type { ToolKind } from '../../shared/sessions';

export interface TimedTool {
  id: string;
  name: string;
  kind: ToolKind;
  ok: boolean;
  /** Epoch ms when the tool's activity started its work. */
  startedAt: number;
  durationMs: number;
}

export interface BatchFigures {
  toolCount: number;
  readOnlyCount: number;
  writeCount: number;
  /** From the first tool's start to the last tool's end. */
  durationMs: number;
  readOnlyMs: number;
  writeMs: number;
  slowestReadOnlyMs: number;
  avgTimePerToolMs: number;
  toolIds: string[];
}

/** From the first start to the last end of `tools` (0 for none). */
export function span(tools: TimedTool[]): number {
  if (!tools.length) return 0;
  const start = Math.min(...tools.map((t) => t.startedAt));
  const end = Math.max(...tools.map((t) => t.startedAt + t.durationMs));
  return end - start;
}

export function batchFigures(tools: TimedTool[]): BatchFigures {
  const reads = tools.filter((t) => t.kind === 'read_only');
  const writes = tools.filter((t) => t.kind === 'write');
  const durationMs = span(tools);
  return {
    toolCount: tools.length,
    readOnlyCount: reads.length,
    writeCount: writes.length,
    durationMs,
    readOnlyMs: span(reads),
    writeMs: span(writes),
    slowestReadOnlyMs: Math.max(0, ...reads.map((t) => t.durationMs)),
    avgTimePerToolMs: tools.length ? durationMs / tools.length : 0,
    toolIds: tools.map((t) => t.id),
  };
}

/** The seed's structured log fields for a tool batch or a turn. */
export function performanceLogFields(executionId: string, f: Pick<BatchFigures, 'toolCount' | 'readOnlyCount' | 'writeCount' | 'toolIds'>, durationMs: number) {
  const r = (ms: number) => Math.round(ms * 10) / 10;
  return {
    component: 'Performance',
    execution_id: executionId,
    tool_count: f.toolCount,
    read_only_count: f.readOnlyCount,
    write_count: f.writeCount,
    duration_ms: r(durationMs),
    avg_time_per_tool_ms: f.toolCount ? r(durationMs / f.toolCount) : 0,
    tool_ids: f.toolIds,
  };
}
