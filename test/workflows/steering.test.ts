/**
 * Steering and finding a running ingestion, on a real dev server, real Postgres and the
 * simulator: the pause/resume/setConcurrency updates (validated, answering the new state, shown
 * in the Web UI's current details) and the search attributes the Web UI filters on.
 */
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ingestionWorkflowId } from '../../src/shared/ingestion';
import { JOB_KEY, STATUS_KEY, TITLE_KEY } from '../../src/shared/search-attributes';
import { ingestScript, pauseUpdate, progressQuery, resumeUpdate, setConcurrencyUpdate } from '../../src/workflows';
import type { IngestScriptInput } from '../../src/workflows/ingest-script';
import { startApp, startTestTemporal, testConfig, useTestStack } from '../helpers/harness';
import { importSynthetic } from '../helpers/scripts';
import { waitFor } from '../helpers/wait';

const stack = useTestStack('steering');
let n = 0;
const title = (name: string) => `${name} ${Date.now()}-${n++}`;

beforeEach(() => {
  stack.sim.configure({ faults: [], latency: null });
  stack.sim.resetStats();
});

const start = (scriptId: string, extra: Partial<IngestScriptInput> = {}) =>
  stack.env.client.workflow.start(ingestScript, {
    taskQueue: stack.app.taskQueue,
    workflowId: ingestionWorkflowId(scriptId),
    args: [{ scriptId, mode: 'full', ...extra }],
  });

/** What the Web UI shows as the run's current details. */
async function currentDetails(handle: WorkflowHandle): Promise<string> {
  return ((await handle.query('__temporal_workflow_metadata')) as { currentDetails?: string }).currentDetails ?? '';
}

const rejection = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('the update was accepted');
    },
    (err: unknown) => {
      expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
      return (err as WorkflowUpdateFailedError).cause?.message ?? '';
    },
  );

describe('steering updates', () => {
  it('setConcurrency answers the new state, shows it in the details and widens the window', async () => {
    const script = await importSynthetic(stack.app.services.db, 20, 3, title('Widen'));
    // Long enough that the call in flight at the update still runs when the three new ones start, on a busy machine too.
    stack.sim.configure({ latency: { byPurpose: { summary: { fixedMs: 400 } } } });
    const handle = await start(script.scriptId, { concurrency: { summaries: 1, sheets: 1 } });
    await waitFor(() => (stack.sim.stats().byPurpose.summary?.ok ?? 0) >= 1);
    expect(stack.sim.stats().byPurpose.summary.peakConcurrent).toBe(1);

    const state = await handle.executeUpdate(setConcurrencyUpdate, { args: [{ summaries: 4 }] });
    expect(state).toEqual({ paused: false, concurrency: { summaries: 4, sheets: 1 } });
    expect(await currentDetails(handle)).toContain('concurrency: summaries 4, sheets 1');
    expect((await handle.query(progressQuery)).concurrency).toEqual({ summaries: 4, sheets: 1 });

    expect((await handle.result()).status).toBe('completed');
    expect(stack.sim.stats().byPurpose.summary.peakConcurrent).toBe(4);
  });

  it('rejects invalid values with a message the caller sees, leaving the run as it was', async () => {
    const script = await importSynthetic(stack.app.services.db, 8, 3, title('Invalid'));
    const handle = await start(script.scriptId, { concurrency: { summaries: 2, sheets: 2 } });
    // Paused, the run waits for as long as the requests below take.
    await handle.executeUpdate(pauseUpdate);

    const invalid: [unknown, RegExp][] = [
      [{ summaries: 0 }, /summaries must be an integer from 1 to 200; got 0/],
      [{ summaries: 201 }, /summaries must be an integer from 1 to 200; got 201/],
      [{ sheets: 2.5 }, /sheets must be an integer from 1 to 200; got 2.5/],
      [{ sheets: 'many' }, /sheets must be an integer from 1 to 200; got "many"/],
      [{ summaries: 3, threads: 3 }, /unknown key "threads"/],
      [{}, /needs summaries, sheets or both/],
      [null, /takes an object like/],
    ];
    for (const [change, message] of invalid) {
      expect(await rejection(handle.executeUpdate('setConcurrency', { args: [change] }))).toMatch(message);
    }
    expect(await rejection(handle.executeUpdate('pause', { args: [true] }))).toBe('pause takes no arguments');

    const progress = await handle.query(progressQuery);
    expect(progress.concurrency).toEqual({ summaries: 2, sheets: 2 });
    expect(progress.paused).toBe(true);
    await handle.executeUpdate(resumeUpdate);
    const result = await handle.result();
    expect(result.status).toBe('completed');
    expect(result.phases.summaries.done).toBe(8);
    // A rejected update leaves no trace in the history (only accepted ones are recorded).
    const history = await handle.fetchHistory();
    const accepted = history.events?.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes) ?? [];
    expect(accepted.map((e) => e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name)).toEqual(['pause', 'resume']);
  });

  it('pause and resume answer the new state and show it in the details', async () => {
    const script = await importSynthetic(stack.app.services.db, 10, 3, title('PauseUpdate'));
    stack.sim.configure({ latency: { byPurpose: { summary: { fixedMs: 300 } } } });
    const handle = await start(script.scriptId, { concurrency: { summaries: 2, sheets: 2 } });
    await waitFor(async () => (await handle.query(progressQuery)).phase === 'summaries');

    expect(await handle.executeUpdate(pauseUpdate)).toEqual({ paused: true, concurrency: { summaries: 2, sheets: 2 } });
    expect(await currentDetails(handle)).toMatch(/— summaries \(paused\)/);
    await waitFor(() => stack.sim.stats().currentConcurrent === 0);
    const requestsWhenPaused = stack.sim.stats().byPurpose.summary.requests;
    expect(requestsWhenPaused).toBeLessThan(10);
    // Paused: the run waits; a query later still finds it paused with no new calls.
    expect((await handle.query(progressQuery)).paused).toBe(true);
    expect(stack.sim.stats().byPurpose.summary.requests).toBe(requestsWhenPaused);

    expect(await handle.executeUpdate(resumeUpdate)).toEqual({ paused: false, concurrency: { summaries: 2, sheets: 2 } });
    expect(await currentDetails(handle)).not.toContain('(paused)');
    expect((await handle.result()).status).toBe('completed');
    expect(stack.sim.stats().byPurpose.summary.requests).toBe(10);
  });

  it('a paused run that is cancelled shows it ended cancelled, no longer paused, in the details and its progress', async () => {
    const script = await importSynthetic(stack.app.services.db, 10, 3, title('PauseCancel'));
    stack.sim.configure({ latency: { byPurpose: { summary: { fixedMs: 300 } } } });
    const handle = await start(script.scriptId, { concurrency: { summaries: 2, sheets: 2 } });
    await waitFor(async () => (await handle.query(progressQuery)).phase === 'summaries');
    await handle.executeUpdate(pauseUpdate);
    await handle.cancel();
    await handle.result().catch(() => undefined);
    const details = await currentDetails(handle);
    expect(details).toMatch(/— cancelled\n/);
    expect(details).not.toContain('(paused)');
    // "n of m": the Web UI draws "n/m" as a fraction glyph.
    expect(details).toMatch(/summaries: \d+ of 10/);
    expect((await handle.query(progressQuery)).status).toBe('cancelled');
  });
});

describe('search attributes', () => {
  const list = async (query: string) => {
    const found = [];
    for await (const info of stack.env.client.workflow.list({ query })) found.push(info);
    return found;
  };

  // As the CLI does: a run started with its job kind (the server has the attributes) sets the rest.
  const startSearchable = (scriptId: string, extra: Partial<IngestScriptInput> = {}) =>
    stack.env.client.workflow.start(ingestScript, {
      taskQueue: stack.app.taskQueue,
      workflowId: ingestionWorkflowId(scriptId),
      args: [{ scriptId, mode: 'full', ...extra }],
      typedSearchAttributes: [{ key: JOB_KEY, value: 'ingest' }],
    });

  it('a run is found by its title, with its job kind and final status', async () => {
    const t = title('Findable title');
    const script = await importSynthetic(stack.app.services.db, 4, 2, t);
    const handle = await startSearchable(script.scriptId);
    expect((await handle.result()).status).toBe('completed');

    const query = `StoryloomTitle = '${t}' AND StoryloomStatus = 'completed'`;
    const [run] = await waitFor(async () => {
      const runs = await list(query);
      return runs.length ? runs : undefined;
    });
    expect(run.workflowId).toBe(handle.workflowId);
    expect(run.typedSearchAttributes.get(JOB_KEY)).toBe('ingest');
    expect(run.typedSearchAttributes.get(TITLE_KEY)).toBe(t);
    expect((await list(`StoryloomJob = 'ingest' AND StoryloomTitle = '${t}'`)).map((r) => r.workflowId)).toEqual([handle.workflowId]);
  });

  it('a long run that continues as new: earlier runs say "continued", the last one its outcome', async () => {
    const t = title('Continued');
    const script = await importSynthetic(stack.app.services.db, 7, 2, t);
    const handle = await startSearchable(script.scriptId, { scenesPerRun: 4 });
    expect((await handle.result()).runs).toBe(2);
    const statuses = await waitFor(async () => {
      const runs = await list(`StoryloomTitle = '${t}'`);
      const found = runs.map((r) => r.typedSearchAttributes.get(STATUS_KEY)).sort();
      return found.length === 2 && !found.includes('running') ? found : undefined;
    });
    expect(statuses).toEqual(['completed', 'continued']);
  });

  it('a run started without them on a server that lacks them completes instead of hanging', async () => {
    const bare = await startTestTemporal({ searchAttributes: false });
    const app = await startApp(bare, testConfig(stack.sim), 'no-search-attributes');
    try {
      const script = await importSynthetic(app.services.db, 3, 2, title('Unregistered'));
      const result = await bare.client.workflow.execute(ingestScript, {
        taskQueue: app.taskQueue,
        workflowId: ingestionWorkflowId(script.scriptId),
        args: [{ scriptId: script.scriptId, mode: 'full' }],
        workflowExecutionTimeout: '60 seconds',
      });
      expect(result.status).toBe('completed');
    } finally {
      await app.stop();
      await bare.teardown();
    }
  });
});
