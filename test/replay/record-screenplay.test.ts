/** Records generateScreenplay histories of this release (see recorder.ts) and replays them. */
import { WorkflowFailedError } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { ScreenplayRepository } from '../../src/db/repositories/screenplay.repository';
import { screenplayWorkflowId, type GenerateScreenplayInput } from '../../src/shared/screenplay';
import { storyloomSearchAttributes } from '../../src/shared/search-attributes';
import { generateScreenplay } from '../../src/workflows';
import { useTestStack } from '../helpers/harness';
import { CREW, HARBOUR_PLOT, importCrew } from '../helpers/personas';
import { waitFor } from '../helpers/wait';
import { recordAndReplay as record } from './recorder';

const stack = useTestStack('record-screenplay', { simulator: { latency: { default: { fixedMs: 5 } } } });
afterEach(() => stack.sim.configure({ faults: [], latency: { default: { fixedMs: 5 }, byPurpose: null } }));
beforeAll(() => importCrew(stack.app.services.db));

const recordAndReplay = (name: string, workflowId: string) => record(stack.env.address, name, workflowId);

/** As the CLI starts a generation (since 0.8.0): the plot stored under the workflow id, not in the input; with its search attributes. */
async function start(args: Partial<GenerateScreenplayInput>) {
  const workflowId = screenplayWorkflowId(randomUUID());
  await new ScreenplayRepository(stack.app.services.db).saveRequest(workflowId, HARBOUR_PLOT);
  return stack.env.client.workflow.start(generateScreenplay, {
    taskQueue: stack.app.taskQueue,
    workflowId,
    args: [{ personaNames: CREW.slice(0, 3), title: 'Replay Crossing', ...args }],
    typedSearchAttributes: storyloomSearchAttributes('screenplay', 'Replay Crossing', 'running'),
  });
}

it('records three variants, each continued after max_tokens, and replays them', async () => {
  const handle = await start({ variants: 3, maxTokens: 800, maxContinuations: 3, flags: { useCache: false } });
  const result = await handle.result();
  expect(result.variants).toHaveLength(3);
  await recordAndReplay('screenplay-variants', handle.workflowId);
});

it('records a run failed by an unknown persona, and replays it', async () => {
  const handle = await start({ personaNames: ['Nobody'] });
  await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
  await recordAndReplay('screenplay-unknown-persona', handle.workflowId);
});

it('records a cancelled run, and replays it', async () => {
  stack.sim.configure({ latency: { byPurpose: { screenplay: { fixedMs: 20, perOutputTokenMs: 10 } } } });
  stack.sim.resetStats();
  const handle = await start({ flags: { useCache: false } });
  await waitFor(() => (stack.sim.stats().byPurpose.screenplay?.requests ?? 0) >= 1);
  await handle.cancel();
  await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
  await recordAndReplay('screenplay-cancelled', handle.workflowId);
});
