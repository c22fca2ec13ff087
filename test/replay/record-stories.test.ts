/**
 * Records generateStories histories (a first run, an unchanged rerun that reuses every story, a
 * run with one failed cluster, a run steered by pause / setConcurrency / resume, a run cancelled
 * after some syntheses, a run with more stories than one write holds, a run that continued as new)
 * and checks each
 * replays against today's code. STORYLOOM_RECORD_HISTORIES=1 writes them to
 * test/replay/histories/v<version>/ (only missing ones) for replay.test.ts.
 */
import { NewsRepository } from '../../src/db/repositories/news.repository';
import { syntheticNews } from '../../src/domain/news/synthetic-articles';
import { storyloomSearchAttributes } from '../../src/shared/search-attributes';
import { DAY_MS, describeScope, resolveScope, storiesWorkflowId, type StoryScopeInput } from '../../src/shared/stories';
import { generateStories, storiesPauseUpdate, storiesResumeUpdate, storiesSetConcurrencyUpdate } from '../../src/workflows';
import type { GenerateStoriesInput } from '../../src/workflows/generate-stories';
import { useTestStack } from '../helpers/harness';
import { recordAndReplay } from './recorder';

const stack = useTestStack('record-stories');
let day = Date.UTC(2033, 0, 1) + Math.floor(Math.random() * 1000) * 10 * DAY_MS;

async function newDay(articles: number, clusters: number): Promise<StoryScopeInput> {
  day += 10 * DAY_MS;
  await new NewsRepository(stack.app.services.db).importArticles(syntheticNews({ articles, clusters, dayMs: day, salt: `record-${day}` }));
  return { fromMs: day, toMs: day + DAY_MS };
}

/** Started as the CLI starts runs: an id from the scope, search attributes set. */
function start(scope: StoryScopeInput, extra: Partial<GenerateStoriesInput> = {}) {
  const resolved = resolveScope(scope, Date.now());
  return stack.env.client.workflow.start(generateStories, {
    taskQueue: stack.app.taskQueue,
    workflowId: storiesWorkflowId(resolved),
    args: [{ scope, ...extra }],
    typedSearchAttributes: storyloomSearchAttributes('stories', `stories ${describeScope(resolved)}`, 'running'),
  });
}

beforeEach(() => stack.sim.configure({ faults: [], latency: null }));

it('records a first run and an unchanged rerun', async () => {
  const scope = await newDay(12, 3);
  const first = await start(scope);
  expect((await first.result()).stories.created).toBe(3);
  await recordAndReplay(stack.env.address, 'stories-first', first.workflowId, first.firstExecutionRunId);
  const again = await start(scope);
  expect((await again.result()).synthesis.reused).toBe(3);
  await recordAndReplay(stack.env.address, 'stories-unchanged', again.workflowId, again.firstExecutionRunId);
});

it('records a run with one failed cluster', async () => {
  const scope = await newDay(6, 2);
  const marker = syntheticNews({ articles: 2, clusters: 2, dayMs: day })[1].title.split(':')[0];
  stack.sim.configure({ faults: [{ kind: 'http400', purpose: 'synthesis', contains: marker }] });
  const handle = await start(scope);
  expect((await handle.result()).status).toBe('completed_with_failures');
  await recordAndReplay(stack.env.address, 'stories-one-failure', handle.workflowId, handle.firstExecutionRunId);
});

it('records a run steered by pause, setConcurrency and resume', async () => {
  const scope = await newDay(8, 4);
  stack.sim.configure({ latency: { byPurpose: { synthesis: { fixedMs: 200 } } } });
  const handle = await start(scope, { concurrency: 1 });
  await handle.executeUpdate(storiesPauseUpdate);
  await handle.executeUpdate(storiesSetConcurrencyUpdate, { args: [{ synthesis: 3 }] });
  await handle.executeUpdate(storiesResumeUpdate);
  expect((await handle.result()).stories.created).toBe(4);
  await recordAndReplay(stack.env.address, 'stories-steered', handle.workflowId, handle.firstExecutionRunId);
});

it('records a run cancelled after some syntheses, which keeps their paid calls before its row', async () => {
  const scope = await newDay(8, 4);
  stack.sim.configure({ latency: { byPurpose: { synthesis: { fixedMs: 1500 } } } });
  stack.sim.resetStats();
  const handle = await start(scope, { concurrency: 2 });
  // Two syntheses answered (held for the run's write), two more in flight.
  for (let i = 0; i < 200 && (stack.sim.stats().byPurpose.synthesis?.ok ?? 0) < 2; i++) await new Promise((r) => setTimeout(r, 50));
  await handle.cancel();
  await expect(handle.result()).rejects.toThrow();
  const { events } = await handle.fetchHistory();
  expect(events!.some((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'keepStoryCalls')).toBe(true);
  await recordAndReplay(stack.env.address, 'stories-cancelled-after-syntheses', handle.workflowId, handle.firstExecutionRunId);
});

it('records a run with more stories than one write holds, written as they are made', async () => {
  day += 10 * DAY_MS;
  // An article a topic: 60 clusters, more than one write's STORIES_PER_WRITE.
  const news = syntheticNews({ articles: 60, clusters: 10, dayMs: day, salt: `record-many-${day}` }).map((a, i) => ({ ...a, topic: `Topic ${i}` }));
  await new NewsRepository(stack.app.services.db).importArticles(news);
  const handle = await start({ fromMs: day, toMs: day + DAY_MS }, { concurrency: 10 });
  expect((await handle.result()).stories.created).toBe(60);
  await recordAndReplay(stack.env.address, 'stories-written-as-made', handle.workflowId, handle.firstExecutionRunId);
});

it('records a run that continued as new twice (20 syntheses a run)', async () => {
  day += 10 * DAY_MS;
  const news = syntheticNews({ articles: 60, clusters: 10, dayMs: day, salt: `record-continued-${day}` }).map((a, i) => ({ ...a, topic: `Topic ${i}` }));
  await new NewsRepository(stack.app.services.db).importArticles(news);
  const handle = await start({ fromMs: day, toMs: day + DAY_MS }, { concurrency: 10, synthesesPerRun: 20 });
  expect((await handle.result()).stories.created).toBe(60);
  // Every run of the chain: the first hands over, the second is carried and hands over, the last writes.
  let runId: string | undefined = handle.firstExecutionRunId;
  const names = ['stories-continued-as-new', 'stories-continued-as-new-run2', 'stories-continued-as-new-run3'];
  for (let run = 0; runId; run++) {
    const json = await recordAndReplay(stack.env.address, names[run], handle.workflowId, runId);
    const events = (JSON.parse(json) as { events: { workflowExecutionContinuedAsNewEventAttributes?: { newExecutionRunId: string } }[] }).events;
    runId = events[events.length - 1].workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
    expect(run < names.length).toBe(true);
  }
});
