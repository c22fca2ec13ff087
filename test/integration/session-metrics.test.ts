/**
 * The performance records of story sessions, on real Postgres: one debug log line per tool batch
 * and per turn with exactly the seed's fields (none at info), a metric row per operation (written once per key),
 * the Prometheus histograms, and ENABLE_PERFORMANCE_TRACKING=false turning all of it off.
 */
import { randomUUID } from 'node:crypto';
import { createSessionActivities, type FinishTurnInput } from '../../src/activities/sessions.activities';
import { SessionsRepository } from '../../src/db/repositories/sessions.repository';
import { createLogger } from '../../src/observability/logger';
import { createMetrics } from '../../src/observability/metrics';
import { testConfig, useTestServices } from '../helpers/harness';

const stack = useTestServices();
const SEED_FIELDS = ['component', 'execution_id', 'tool_count', 'read_only_count', 'write_count', 'duration_ms', 'avg_time_per_tool_ms', 'tool_ids'];

function activities(tracking: boolean | undefined, level = 'debug') {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger(level, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  const metrics = createMetrics({ defaultMetrics: false });
  const config = testConfig(stack.sim, tracking === undefined ? {} : { ENABLE_PERFORMANCE_TRACKING: String(tracking) });
  const repo = new SessionsRepository(stack.services.db);
  return { lines, metrics, repo, acts: createSessionActivities({ repo, llm: stack.services.llm, config, logger, metrics }) };
}

const outcomes = [
  { id: 'a', name: 'read_state', kind: 'read_only' as const, ok: true, startedAt: 1_000, durationMs: 40 },
  { id: 'b', name: 'search_memories', kind: 'read_only' as const, ok: true, startedAt: 1_002, durationMs: 100 },
  { id: 'c', name: 'add_memory', kind: 'write' as const, ok: true, startedAt: 1_110, durationMs: 30 },
];

const finish = (sessionId: string): FinishTurnInput => ({
  sessionId, turnNumber: 1, startedAt: Date.now() - 2_000, status: 'completed', reply: 'r', error: null,
  toolCalls: outcomes.map((o) => ({ ...o, step: 1, content: '{}', arguments: {} })),
  llm: { calls: 2, ms: 1_500, inputTokens: 10, outputTokens: 5 }, steps: 1, stepLimitReached: false,
});

it('logs one debug line per tool batch and per turn with the seed field names, and records each once', async () => {
  const { lines, metrics, repo, acts } = activities(true);
  const sessionId = randomUUID();
  const batch = { sessionId, turnNumber: 1, turnStartedAt: 5, step: 1, outcomes };
  await acts.recordToolBatch(batch);
  await acts.recordToolBatch(batch); // a retry: no second row
  const figures = await acts.finishTurn(finish(sessionId));
  expect(figures).toMatchObject({ tools: 3, readOnly: 2, writes: 1, readOnlyMs: 102, writeMs: 30, llmCalls: 2 });

  const perf = lines.filter((l) => l.component === 'Performance');
  expect(perf).toHaveLength(3);
  expect(perf.map((l) => l.level)).toEqual(['debug', 'debug', 'debug']);
  for (const line of perf) expect(Object.keys(line)).toEqual(expect.arrayContaining(SEED_FIELDS));
  expect(perf[0]).toMatchObject({
    execution_id: `${sessionId}/1/1`, tool_count: 3, read_only_count: 2, write_count: 1, duration_ms: 140, avg_time_per_tool_ms: 46.7, tool_ids: ['a', 'b', 'c'],
  });
  expect(perf[2]).toMatchObject({ execution_id: `${sessionId}/1`, tool_count: 3, read_only_count: 2, write_count: 1 });

  const rows = await repo.metricRows({ sessionId });
  expect(rows.map((r) => r.operation)).toEqual(['tool_batch', 'turn']);
  expect(rows[0]).toMatchObject({ durationMs: 140, ok: true, details: expect.objectContaining({ read_only_ms: 102, write_ms: 30, slowest_read_only_ms: 100 }) });
  const histogram = await metrics.sessionOperations.tool_batch.get();
  expect(histogram.values.find((v) => v.metricName === 'storyloom_session_tool_batch_duration_seconds_count')?.value).toBe(2);
});

it('at info (the default level) with tracking on by default: the rows are written, and no line per tool batch or turn', async () => {
  const { lines, repo, acts } = activities(undefined, 'info');
  expect(stack.services.config.sessions.performanceTracking).toBe(true);
  const sessionId = randomUUID();
  await acts.recordToolBatch({ sessionId, turnNumber: 1, turnStartedAt: 5, step: 1, outcomes });
  await acts.finishTurn(finish(sessionId));
  expect((await repo.metricRows({ sessionId })).map((r) => r.operation)).toEqual(['tool_batch', 'turn']);
  expect(lines).toEqual([]);
});

it('ENABLE_PERFORMANCE_TRACKING=false: no rows, no lines, no histogram samples', async () => {
  const { lines, metrics, repo, acts } = activities(false);
  const sessionId = randomUUID();
  await acts.recordToolBatch({ sessionId, turnNumber: 1, turnStartedAt: 5, step: 1, outcomes });
  await acts.finishTurn(finish(sessionId));
  expect(await repo.metricRows({ sessionId })).toEqual([]);
  expect(lines.filter((l) => l.component === 'Performance')).toEqual([]);
  const histogram = await metrics.sessionOperations.turn.get();
  expect(histogram.values.find((v) => v.metricName === 'storyloom_session_turn_duration_seconds_count')?.value ?? 0).toBe(0);
});
