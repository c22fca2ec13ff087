/**
 * Records generateStories histories with `batch: true` (one provider batch with an item retried
 * by a call; a run cancelled mid-batch, the batch cancelled at the provider) and checks each
 * replays against today's code. STORYLOOM_RECORD_HISTORIES=1 writes them to
 * test/replay/histories/v<version>/ (only missing ones) for replay.test.ts.
 */
import { NewsRepository } from '../../src/db/repositories/news.repository';
import { syntheticNews } from '../../src/domain/news/synthetic-articles';
import { storyloomSearchAttributes } from '../../src/shared/search-attributes';
import { DAY_MS, describeScope, resolveScope, storiesWorkflowId, type StoryScopeInput } from '../../src/shared/stories';
import { generateStories, storiesProgressQuery } from '../../src/workflows';
import { useTestStack } from '../helpers/harness';
import { waitFor } from '../helpers/wait';
import { recordAndReplay } from './recorder';

const stack = useTestStack('record-stories-batch', { simulator: { batches: { processingMs: 1000 } } });
let day = Date.UTC(2035, 0, 1) + Math.floor(Math.random() * 1000) * 10 * DAY_MS;

async function newDay(articles: number, clusters: number): Promise<StoryScopeInput> {
  day += 10 * DAY_MS;
  await new NewsRepository(stack.app.services.db).importArticles(syntheticNews({ articles, clusters, dayMs: day, salt: `record-batch-${day}` }));
  return { fromMs: day, toMs: day + DAY_MS };
}

/** Started as the CLI starts runs (`stories generate --batch`), with a quick poll. */
function start(scope: StoryScopeInput) {
  const resolved = resolveScope(scope, Date.now());
  return stack.env.client.workflow.start(generateStories, {
    taskQueue: stack.app.taskQueue,
    workflowId: storiesWorkflowId(resolved),
    args: [{ scope, batch: true, batchPoll: { initialMs: 300, factor: 1.5, maxMs: 2000 } }],
    typedSearchAttributes: storyloomSearchAttributes('stories', `stories ${describeScope(resolved)}`, 'running'),
  });
}

it('records a batch run with an item retried by a call', async () => {
  stack.sim.configure({ batches: { processingMs: 1000, itemFaults: [{ kind: 'http500', times: 1 }] } });
  const handle = await start(await newDay(9, 3));
  expect(await handle.result()).toMatchObject({ synthesisMode: 'batch', status: 'completed', stories: { created: 3 } });
  await recordAndReplay(stack.env.address, 'stories-batch', handle.workflowId, handle.firstExecutionRunId);
});

it('records a batch run cancelled mid-batch', async () => {
  stack.sim.configure({ batches: { processingMs: 120_000, itemFaults: [] } });
  const handle = await start(await newDay(4, 2));
  await waitFor(async () => ((await handle.query(storiesProgressQuery)).batch?.polls ?? 0) >= 1, 30_000, 'batch polled');
  await handle.cancel();
  await expect(handle.result()).rejects.toThrow();
  expect(stack.sim.stats().batches.cancelled).toBe(1);
  await recordAndReplay(stack.env.address, 'stories-batch-cancelled', handle.workflowId, handle.firstExecutionRunId);
});
