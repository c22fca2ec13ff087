/**
 * A screenplay run's search attributes and Web UI summary are plaintext on the server (the payload
 * codec does not encrypt them): without a title, they are labelled from the run id, not the plot.
 * The plot itself is stored in Postgres under the workflow id before the start; the input carries
 * none of it.
 */
import { WorkflowNotFoundError, type Client, type WorkflowStartOptions } from '@temporalio/client';
import type { DataSource } from 'typeorm';
import { loadConfig } from '../../src/config';
import type { OperationContext } from '../../src/operations/context';
import { screenplayRunWorkflowId, startScreenplay, UnknownPersonasRefusal } from '../../src/operations/start-screenplay';
import { TITLE_KEY } from '../../src/shared/search-attributes';

const PLOT = 'Marigold smugglers cross the frozen estuary at midnight while a lighthouse keeper watches';

/**
 * A context whose client records the start options (or refuses the start) and whose database
 * records its statements; its personas are every name asked but `unknownPersonas`.
 */
function recordingContext(opts: { refuseStart?: boolean; unknownPersonas?: string[] } = {}) {
  const started: WorkflowStartOptions[] = [];
  const statements: { sql: string; params: unknown[] }[] = [];
  const client = {
    workflow: {
      start: (_wf: unknown, options: WorkflowStartOptions) => {
        if (opts.refuseStart) return Promise.reject(new Error('the server refused the start'));
        started.push(options);
        return Promise.resolve({ workflowId: options.workflowId, firstExecutionRunId: 'run-1' });
      },
      // No run under a titled story's id yet.
      getHandle: (workflowId: string) => ({ describe: () => Promise.reject(new WorkflowNotFoundError('not found', workflowId, undefined)) }),
    },
  } as unknown as Client;
  const answer = (sql: string, params: unknown[]) => {
    if (/^SELECT name FROM personas WHERE/.test(sql)) return (params[0] as string[]).filter((n) => !opts.unknownPersonas?.includes(n)).map((name) => ({ name }));
    if (/^SELECT name FROM personas$/.test(sql)) return [{ name: 'Mara Quill' }, { name: 'Tobias Wren' }];
    return [];
  };
  const query = (sql: string, params: unknown[]) => (statements.push({ sql, params }), Promise.resolve(answer(sql, params)));
  // The lock a titled new story's start holds (its statements are recorded too).
  const createQueryRunner = () => ({ connect: () => Promise.resolve(), query, release: () => Promise.resolve() });
  const db = { query, createQueryRunner } as unknown as DataSource;
  const ctx: OperationContext = {
    config: loadConfig({}),
    db: () => Promise.resolve(db),
    client: () => Promise.resolve(client),
  };
  return { ctx, started, statements };
}

/** Everything about the start that the server keeps unencrypted. */
function plaintext(options: WorkflowStartOptions): string {
  return JSON.stringify({ searchAttributes: options.typedSearchAttributes, summary: options.staticSummary });
}

it('labels an untitled screenplay by its run id: no plot word in its search attributes or summary', async () => {
  const { ctx, started } = recordingContext();
  await startScreenplay(ctx, { plot: PLOT, personaNames: ['Mara Quill'], workflowId: 'screenplay-0a1b2c3d-4e5f-4789-abcd-ef0123456789' });
  expect(started).toHaveLength(1);
  const shown = plaintext(started[0]).toLowerCase();
  for (const word of PLOT.toLowerCase().split(/\s+/).filter((w) => w.length > 3)) expect(shown).not.toContain(word);
  expect(shown).toContain('screenplay 0a1b2c3d');
});

it('stores the plot under the workflow id before the start; the input carries none of it', async () => {
  const { ctx, started, statements } = recordingContext();
  const workflowId = 'screenplay-0a1b2c3d-4e5f-4789-abcd-ef0123456789';
  await startScreenplay(ctx, { plot: PLOT, personaNames: ['Mara Quill'], workflowId });
  expect(statements).toEqual([
    { sql: expect.stringMatching(/^SELECT name FROM personas WHERE name = ANY/), params: [['Mara Quill']] },
    { sql: expect.stringMatching(/^INSERT INTO screenplay_requests/), params: [workflowId, PLOT] },
  ]);
  expect(JSON.stringify(started[0].args)).not.toContain('Marigold');
  expect((started[0].args as [Record<string, unknown>])[0]).not.toHaveProperty('plot');
});

it('a start the server refuses leaves no plot stored', async () => {
  const { ctx, statements } = recordingContext({ refuseStart: true });
  const workflowId = 'screenplay-1a1b2c3d-4e5f-4789-abcd-ef0123456789';
  await expect(startScreenplay(ctx, { plot: PLOT, personaNames: ['Mara Quill'], workflowId })).rejects.toThrow('the server refused the start');
  expect(statements.slice(1).map((s) => [s.sql.split(' ')[0], s.params[0]])).toEqual([['INSERT', workflowId], ['DELETE', workflowId]]);
});

it('an unknown persona is refused before the plot is stored or a run starts, with the closest names', async () => {
  const { ctx, started, statements } = recordingContext({ unknownPersonas: ['Tobias Wrenn'] });
  const err = await startScreenplay(ctx, { plot: PLOT, personaNames: ['Mara Quill', 'Tobias Wrenn'] }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(UnknownPersonasRefusal);
  expect(err).toMatchObject({ code: 'not_found', message: 'no persona "Tobias Wrenn" (closest: "Tobias Wren"). See `storyloom personas list`.', unknown: [{ name: 'Tobias Wrenn', closest: ['Tobias Wren'] }] });
  expect(started).toEqual([]);
  expect(statements.map((s) => s.sql)).toEqual([expect.stringMatching(/^SELECT name FROM personas WHERE/), 'SELECT name FROM personas']);
});

it("keeps the caller's title as the run's label", async () => {
  const { ctx, started } = recordingContext();
  await startScreenplay(ctx, { plot: PLOT, personaNames: ['Mara Quill'], title: 'The Crossing' });
  const pair = (started[0].typedSearchAttributes as { key: { name: string }; value: unknown }[]).find((p) => p.key.name === TITLE_KEY.name);
  expect(pair?.value).toBe('The Crossing');
  expect(started[0].staticSummary).toContain('"The Crossing"');
  expect((started[0].args as [{ title?: string }])[0].title).toBe('The Crossing');
});

it('a titled start given a run id other than its title\'s is refused before anything is stored or started', async () => {
  const { ctx, started, statements } = recordingContext();
  const title = 'The Crossing';
  await expect(
    startScreenplay(ctx, { plot: PLOT, personaNames: ['Mara Quill'], title, workflowId: 'screenplay-0a1b2c3d-4e5f-4789-abcd-ef0123456789' }),
  ).rejects.toThrow(`a titled screenplay runs as ${screenplayRunWorkflowId({ title })}`);
  expect(started).toHaveLength(0);
  expect(statements).toHaveLength(0);
});
