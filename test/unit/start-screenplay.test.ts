/**
 * A screenplay run's search attributes and Web UI summary are plaintext on the server (the payload
 * codec does not encrypt them): without a title, they are labelled from the run id, not the plot.
 */
import type { Client, WorkflowStartOptions } from '@temporalio/client';
import { loadConfig } from '../../src/config';
import type { OperationContext } from '../../src/operations/context';
import { startScreenplay } from '../../src/operations/start-screenplay';
import { TITLE_KEY } from '../../src/shared/search-attributes';

const PLOT = 'Marigold smugglers cross the frozen estuary at midnight while a lighthouse keeper watches';

/** A context whose client records the start options instead of starting anything. */
function recordingContext(): { ctx: OperationContext; started: WorkflowStartOptions[] } {
  const started: WorkflowStartOptions[] = [];
  const client = {
    workflow: {
      start: (_wf: unknown, options: WorkflowStartOptions) => {
        started.push(options);
        return Promise.resolve({ workflowId: options.workflowId, firstExecutionRunId: 'run-1' });
      },
    },
  } as unknown as Client;
  const ctx: OperationContext = {
    config: loadConfig({}),
    db: () => Promise.reject(new Error('no database in this test')),
    client: () => Promise.resolve(client),
  };
  return { ctx, started };
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
  // The plot still reaches the workflow, in its (encrypted) input.
  expect((started[0].args as [{ plot: string; title?: string }])[0]).toMatchObject({ plot: PLOT, title: undefined });
});

it("keeps the caller's title as the run's label", async () => {
  const { ctx, started } = recordingContext();
  await startScreenplay(ctx, { plot: PLOT, personaNames: ['Mara Quill'], title: 'The Crossing' });
  const pair = (started[0].typedSearchAttributes as { key: { name: string }; value: unknown }[]).find((p) => p.key.name === TITLE_KEY.name);
  expect(pair?.value).toBe('The Crossing');
  expect(started[0].staticSummary).toContain('"The Crossing"');
  expect((started[0].args as [{ title?: string }])[0].title).toBe('The Crossing');
});
