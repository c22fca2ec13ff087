/**
 * STORYLOOM_LLM_RATE_LIMIT_DEADLINE_MS bounds how long rate limits are waited out, in every job:
 * past it, a call still answered 429 fails as LlmRateLimited instead of waiting (6 h by default).
 * Ingestion counts it from the run's start, the other jobs from each call's first scheduling.
 * Real dev server, Postgres and simulator.
 */
import { NewsRepository } from '../../src/db/repositories/news.repository';
import { syntheticNews } from '../../src/domain/news/synthetic-articles';
import { DAY_MS, resolveScope, storiesWorkflowId, type StoriesResult } from '../../src/shared/stories';
import { ingestionWorkflowId, type IngestionResult } from '../../src/shared/ingestion';
import { generateStories, ingestScript } from '../../src/workflows';
import { useTestStack } from '../helpers/harness';
import { importSynthetic } from '../helpers/scripts';

const DEADLINE_MS = 2000;
const stack = useTestStack('rate-limit-deadline', { env: { STORYLOOM_LLM_RATE_LIMIT_DEADLINE_MS: String(DEADLINE_MS) } });
const DEADLINE_MESSAGE = /still rate limited at the run's deadline \(STORYLOOM_LLM_RATE_LIMIT_DEADLINE_MS\)/;

beforeEach(() => {
  stack.sim.configure({ faults: [], latency: null, limits: null, retryAfterMs: null });
  stack.sim.resetStats();
});

it('stories: a synthesis answered 429 past the deadline fails as LlmRateLimited, and the run ends', async () => {
  const day = Date.UTC(2051, 0, 1) + Math.floor(Math.random() * 3000) * 10 * DAY_MS;
  await new NewsRepository(stack.app.services.db).importArticles(syntheticNews({ articles: 6, clusters: 2, dayMs: day, salt: `deadline-${day}` }));
  stack.sim.configure({ faults: [{ kind: 'http429', purpose: 'synthesis', rate: 1, retryAfterMs: 300 }] });
  const scope = { fromMs: day, toMs: day + DAY_MS };
  const startedAt = Date.now();
  const result: StoriesResult = await (
    await stack.env.client.workflow.start(generateStories, { taskQueue: stack.app.taskQueue, workflowId: storiesWorkflowId(resolveScope(scope, Date.now())), args: [{ scope }] })
  ).result();
  expect(result).toMatchObject({ status: 'completed_with_failures', clusters: 2, failureCount: 2, synthesis: { done: 0, failed: 2 } });
  for (const failure of result.failures) {
    expect(failure.errorType).toBe('LlmRateLimited');
    expect(failure.message).toMatch(DEADLINE_MESSAGE);
  }
  // Waited out until the deadline, not given up at the first 429.
  expect(Date.now() - startedAt).toBeGreaterThanOrEqual(DEADLINE_MS);
  expect(stack.sim.stats().rateLimited).toBeGreaterThanOrEqual(2 * 2);
});

it('ingestion: a summary answered 429 past the deadline fails as LlmRateLimited', async () => {
  const script = await importSynthetic(stack.app.services.db, 4, 2, `Deadline ${Date.now()}`);
  stack.sim.configure({ faults: [{ kind: 'http429', purpose: 'summary', rate: 1, retryAfterMs: 300 }] });
  const result: IngestionResult = await (
    await stack.env.client.workflow.start(ingestScript, {
      taskQueue: stack.app.taskQueue,
      workflowId: ingestionWorkflowId(script.scriptId),
      args: [{ scriptId: script.scriptId, mode: 'full' }],
    })
  ).result();
  expect(result.phases.summaries).toMatchObject({ total: 4, done: 0, failed: 4 });
  expect(result.failures.length).toBeGreaterThan(0);
  for (const failure of result.failures.filter((f) => f.phase === 'summaries')) {
    expect(failure.errorType).toBe('LlmRateLimited');
    expect(failure.message).toMatch(DEADLINE_MESSAGE);
  }
});
