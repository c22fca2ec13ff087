/**
 * Two starts of one new story's title at once (the CLI and the API, two API processes) make one
 * run: the other is refused, naming the run, and nothing of it is stored. Before, each start
 * checked the title (no story yet, no run the visibility store had indexed yet) and both ran:
 * two stories of one title (every lookup by it ambiguous), each paying for its own generation.
 * A title whose run ended without a story (failed, cancelled, terminated) can be started again.
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import type { OperationContext } from '../../src/operations/context';
import { startScreenplay, type StartedScreenplay } from '../../src/operations/start-screenplay';
import { ScreenplayRepository } from '../../src/db/repositories/screenplay.repository';
import { createDataSource } from '../../src/db/data-source';
import { queueFor, testDatabaseUrl, useTestStack } from '../helpers/harness';
import { CREW, HARBOUR_PLOT, importCrew } from '../helpers/personas';

const stack = useTestStack('screenplay-title-starts');
/** Starts on a queue no worker polls: each run stays running, as a long generation does. */
let held: OperationContext;
beforeAll(async () => {
  await importCrew(stack.app.services.db);
  const config = stack.app.config;
  held = {
    config: { ...config, temporal: { ...config.temporal, taskQueue: queueFor('screenplay-title-starts-held') } },
    db: () => Promise.resolve(stack.app.services.db),
    client: () => Promise.resolve(stack.env.client),
  };
});

const fulfilled = (r: PromiseSettledResult<StartedScreenplay>): r is PromiseFulfilledResult<StartedScreenplay> => r.status === 'fulfilled';

it('two starts of one title at once make one run; the second is refused naming it, and a title whose run ended without a story starts again', async () => {
  const title = 'The Fog Crossing';
  const plots = ['A ferry crosses in fog.', HARBOUR_PLOT];
  const starts = await Promise.allSettled(plots.map((plot, i) => startScreenplay(held, { plot, personaNames: CREW.slice(0, 1 + i), title })));
  const started = starts.filter(fulfilled);
  expect(started).toHaveLength(1);
  const refused = starts.find((r): r is PromiseRejectedResult => r.status === 'rejected')!;
  const { workflowId } = started[0].value;
  expect(refused.reason).toMatchObject({ code: 'conflict', message: expect.stringContaining(workflowId) });

  // The run that started keeps its own plot (the refused start wrote none over it).
  const repo = new ScreenplayRepository(stack.app.services.db);
  const mine = plots[starts.indexOf(started[0])];
  expect(await repo.requestPlot(workflowId)).toBe(mine);
  const handle = stack.env.client.workflow.getHandle(workflowId);
  expect((await handle.describe()).status.name).toBe('RUNNING');

  // A third start while it runs: refused too.
  await expect(startScreenplay(held, { plot: 'A third plot.', personaNames: CREW.slice(0, 1), title })).rejects.toMatchObject({ code: 'conflict' });

  // Its run ends without a story (terminated: no worker would take a cancel): the title can be started again, with the new start's plot.
  await handle.terminate('ended without a story');
  const again = await startScreenplay(held, { plot: 'A fourth plot.', personaNames: CREW.slice(0, 1), title });
  expect(again.workflowId).toBe(workflowId);
  expect(again.handle.firstExecutionRunId).not.toBe(started[0].value.handle.firstExecutionRunId);
  expect(await repo.requestPlot(workflowId)).toBe('A fourth plot.');
  await stack.env.client.workflow.getHandle(workflowId).terminate('test done').catch((err: unknown) => {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
  });
});

it("ten titled starts at once through a pool of ten connections (the API's) all start: each start's checks run on its lock's connection", async () => {
  // Before, each start held one pooled connection for its lock and waited for a second for its
  // checks: as many starts as the pool has connections waited for each other until its timeout.
  const db = createDataSource(testDatabaseUrl(), { poolSize: 10 });
  await db.initialize();
  const ctx: OperationContext = { ...held, db: () => Promise.resolve(db) };
  const salt = Math.random().toString(36).slice(2, 8);
  try {
    const starts = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => startScreenplay(ctx, { plot: `Plot ${i}.`, personaNames: CREW.slice(0, 1), title: `Pool title ${salt} ${i}` })),
    );
    for (const s of starts.filter(fulfilled)) {
      await stack.env.client.workflow.getHandle(s.value.workflowId).terminate('test over').catch((e: unknown) => {
        if (!(e instanceof WorkflowNotFoundError)) throw e;
      });
    }
    expect(starts.filter((s): s is PromiseRejectedResult => s.status === 'rejected').map((s) => String((s.reason as Error).message))).toEqual([]);
  } finally {
    await db.destroy();
  }
}, 60_000);
