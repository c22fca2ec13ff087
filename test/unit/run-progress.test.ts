/** A progress bar's poll (`ingest --wait`, `stories generate --wait`) and `stories status`: bounded, and saying why there is no progress. */
import { defineQuery } from '@temporalio/workflow';
import { QueryNotRegisteredError, type WorkflowHandle } from '@temporalio/client';
import { progressLineOrWhy, withLiveElapsed } from '../../src/operations/run-progress';
import { progressLine, storiesProgressLine } from '../../src/cli/progress-bar';
import type { IngestionProgress } from '../../src/shared/ingestion';
import type { StoriesProgress } from '../../src/shared/stories';

const progress = defineQuery<{ done: number }>('progress');

/** A handle whose query answers with `answer`, or never (like a run no worker polls), under the client's deadline. */
function handleAnswering(answer: (() => Promise<{ done: number }>) | 'never' | 'cancelled at the deadline'): { handle: WorkflowHandle; deadlines: number[] } {
  const deadlines: number[] = [];
  const client = {
    async withDeadline<R>(deadline: number | Date, fn: () => Promise<R>): Promise<R> {
      deadlines.push(Number(deadline));
      if (answer === 'cancelled at the deadline') {
        // The call torn down at the deadline: gRPC's CANCELLED rather than DEADLINE_EXCEEDED.
        await new Promise((r) => setTimeout(r, Math.max(0, Number(deadline) - Date.now())));
        throw Object.assign(new Error('1 CANCELLED: Call cancelled'), { code: 1, details: 'Call cancelled', metadata: {} });
      }
      if (answer !== 'never') return fn();
      // The connection's deadline passing: the error @temporalio/client's isGrpcDeadlineError knows.
      throw Object.assign(new Error('4 DEADLINE_EXCEEDED: Deadline exceeded'), { code: 4, details: 'Deadline exceeded', metadata: {} });
    },
  };
  const handle = { client, query: () => (typeof answer === 'function' ? answer() : new Promise(() => undefined)) } as unknown as WorkflowHandle;
  return { handle, deadlines };
}

describe('progressLineOrWhy', () => {
  it('draws the run\'s own line when a worker answers', async () => {
    const { handle, deadlines } = handleAnswering(async () => ({ done: 7 }));
    const before = Date.now();
    expect(await progressLineOrWhy(handle, progress, (p) => `${p.done} done`)).toBe('7 done');
    // Each poll is bounded (5 s), not left to the server's 30 s.
    expect(deadlines[0] - before).toBeGreaterThanOrEqual(5_000);
    expect(deadlines[0] - before).toBeLessThan(6_000);
  });

  it('says no worker answered instead of waiting for the server', async () => {
    const { handle } = handleAnswering('never');
    expect(await progressLineOrWhy(handle, progress, () => 'never drawn')).toBe('(no progress: no worker answered within 5 s)');
  });

  it('says no worker answered when the call is cancelled at the deadline (gRPC CANCELLED)', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate'] });
    try {
      const { handle } = handleAnswering('cancelled at the deadline');
      const line = progressLineOrWhy(handle, progress, () => 'never drawn');
      await jest.advanceTimersByTimeAsync(5_000);
      expect(await line).toBe('(no progress: no worker answered within 5 s)');
    } finally {
      jest.useRealTimers();
    }
  });

  it('says to set STORYLOOM_PAYLOAD_KEYS when the answer is encrypted and this process has no keys', async () => {
    // What the SDK's default converter throws for a payload our codec encrypted.
    const { handle } = handleAnswering(() => Promise.reject(Object.assign(new Error('Unknown encoding: binary/encrypted'), { name: 'ValueError' })));
    expect(await progressLineOrWhy(handle, progress, () => 'never drawn')).toBe(
      "(no progress: the progress query failed: Unknown encoding: binary/encrypted: the run's payloads are encrypted; set STORYLOOM_PAYLOAD_KEYS to the workers' keys to read them)",
    );
  });

  it('says the run has no progress query', async () => {
    const { handle } = handleAnswering(() => Promise.reject(new QueryNotRegisteredError('no query', 1)));
    expect(await progressLineOrWhy(handle, progress, () => 'never drawn')).toBe('(no progress: the run has no progress query)');
  });
});

describe('progressLine (ingestion)', () => {
  const phase = (total: number, done: number) => ({ total, done, reused: 0, failed: 0 });
  const running: IngestionProgress = {
    phase: 'summaries',
    status: 'running',
    paused: false,
    concurrency: { summaries: 2, sheets: 5 },
    phases: { summaries: phase(200, 20), outline: phase(0, 0), sheets: phase(0, 0), embeddings: phase(0, 0) },
    elapsedMs: 3600,
    estimatedRemainingMs: 32_000,
  };

  it('shows the estimate of a running run', () => {
    expect(progressLine(running)).toMatch(/summaries 20\/200 .* 3\.6s elapsed, ~32s left$/);
  });

  it('shows no time left while the run is paused (it waits for resume, however long)', () => {
    const line = progressLine({ ...running, paused: true });
    expect(line).toContain('summaries (paused)');
    expect(line).not.toContain('left');
  });
});

describe('withLiveElapsed', () => {
  it('counts the time since the run began on this clock, where the workflow\'s clock stood still (a paused run)', () => {
    const startedAt = Date.now() - 60_000;
    // The workflow's clock last moved 50 s ago, 10 s into the run.
    const live = withLiveElapsed({ elapsedMs: 10_000, startedAt, estimatedRemainingMs: 80_000 });
    expect(live.elapsedMs).toBeGreaterThanOrEqual(60_000);
    expect(live.elapsedMs).toBeLessThan(61_000);
    // The estimate, made 50 s ago, has 30 s left of it.
    expect(live.estimatedRemainingMs).toBeGreaterThan(29_000);
    expect(live.estimatedRemainingMs).toBeLessThanOrEqual(30_000);
    // An estimate run out says nothing: none, rather than "~0s left" for a stalled run.
    expect(withLiveElapsed({ elapsedMs: 10_000, startedAt, estimatedRemainingMs: 20_000 })).not.toHaveProperty('estimatedRemainingMs');
  });

  it('keeps the figures of a run that does not say when it began (runs before 0.8.2), and never goes back', () => {
    expect(withLiveElapsed({ elapsedMs: 10_000, estimatedRemainingMs: 5 })).toEqual({ elapsedMs: 10_000, estimatedRemainingMs: 5 });
    // A start on a clock ahead of this one: the workflow's own figure stands.
    expect(withLiveElapsed({ elapsedMs: 10_000, startedAt: Date.now() + 5_000 }).elapsedMs).toBe(10_000);
    expect(withLiveElapsed(null)).toBeNull();
  });
});

describe('storiesProgressLine', () => {
  const running: StoriesProgress = {
    phase: 'synthesis', status: 'running', paused: false, concurrency: { synthesis: 4 }, articles: 40, clusters: 10,
    synthesis: { total: 10, done: 2, reused: 1, failed: 0 }, elapsedMs: 4000, estimatedRemainingMs: 12_000,
  };

  it('shows the estimate of a running run, and none while it is paused', () => {
    expect(storiesProgressLine(running)).toMatch(/~12s left$/);
    expect(storiesProgressLine({ ...running, paused: true })).not.toContain('left');
  });
});
