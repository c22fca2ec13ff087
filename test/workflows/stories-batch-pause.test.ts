/**
 * `stories pause` means "stop starting LLM calls". A `--batch` run paused before its synthesis
 * (during clustering) waits, paused, before it prepares its provider batch, and submits it once
 * resumed: a batch once sent is paid for whole. Before 0.8.7 (STORIES_BATCH_WAITS_WHILE_PAUSED_PATCH)
 * it submitted the batch all the same while it said it was paused.
 */
import { NewsRepository } from '../../src/db/repositories/news.repository';
import { syntheticNews } from '../../src/domain/news/synthetic-articles';
import { DAY_MS, resolveScope, storiesWorkflowId } from '../../src/shared/stories';
import { generateStories, storiesPauseUpdate, storiesProgressQuery, storiesResumeUpdate } from '../../src/workflows';
import { useTestStack } from '../helpers/harness';
import { waitFor } from '../helpers/wait';

const stack = useTestStack('stories-batch-pause');

it('a --batch run paused during clustering submits no batch until it is resumed', async () => {
  const day = Date.UTC(2034, 0, 1) + Math.floor(Math.random() * 3000) * 10 * DAY_MS;
  await new NewsRepository(stack.app.services.db).importArticles(syntheticNews({ articles: 9, clusters: 3, dayMs: day, salt: `pause-${day}` }));
  // Clustering embeds the articles: slow enough for the pause to land during it.
  stack.sim.configure({ faults: [], latency: { default: { fixedMs: 0 }, byPurpose: { embedding: { fixedMs: 2000 } } }, batches: { processingMs: 500, itemFaults: [] } });
  stack.sim.resetStats();
  const scope = { fromMs: day, toMs: day + DAY_MS };
  const handle = await stack.env.client.workflow.start(generateStories, {
    taskQueue: stack.app.taskQueue,
    workflowId: storiesWorkflowId(resolveScope(scope, Date.now())),
    args: [{ scope, batch: true, batchPoll: { initialMs: 200, factor: 1.5, maxMs: 1000 } }],
  });
  await waitFor(async () => (await handle.query(storiesProgressQuery)).phase === 'clustering', 20_000, 'clustering');
  expect(await handle.executeUpdate(storiesPauseUpdate)).toMatchObject({ paused: true });

  // Clustering ends; the run then either waits (paused: no activity, no workflow task pending) or
  // goes on to its batch. Wait for whichever comes first.
  await waitFor(async () => {
    if (stack.sim.stats().batches.created > 0) return true;
    const progress = await handle.query(storiesProgressQuery);
    const { raw } = await handle.describe();
    return progress.phase === 'synthesis' && !raw.pendingActivities?.length && !raw.pendingWorkflowTask;
  }, 30_000, 'the run settles after clustering');
  expect((await handle.query(storiesProgressQuery)).paused).toBe(true);
  // Paused: nothing was submitted.
  expect(stack.sim.stats().batches.created).toBe(0);

  await handle.executeUpdate(storiesResumeUpdate);
  expect(await handle.result()).toMatchObject({ synthesisMode: 'batch', clusters: 3 });
  expect(stack.sim.stats().batches.created).toBe(1);
});
