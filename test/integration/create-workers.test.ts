/**
 * The options the app's workers are created with, and what a failed creation leaves behind, with
 * Worker.create replaced (real services on the test database; no Temporal server).
 */
import { Worker, type NativeConnection, type WorkerOptions } from '@temporalio/worker';
import { createLogger } from '../../src/observability/logger';
import { createServices, createWorkers, shutdownGraceTimeMs, type AppServices } from '../../src/runtime';
import { testConfig } from '../helpers/harness';

let services: AppServices;
beforeAll(async () => {
  services = await createServices(testConfig(undefined), { logger: createLogger('silent') });
});
afterAll(async () => {
  await services?.close();
});
afterEach(() => jest.restoreAllMocks());

const fakeWorker = () => ({ runUntil: jest.fn(async () => undefined) });
const connection = {} as NativeConnection;

it('gives every worker a shutdown grace time of the LLM request timeout plus a margin', async () => {
  const options: WorkerOptions[] = [];
  jest.spyOn(Worker, 'create').mockImplementation(async (o) => {
    options.push(o);
    return fakeWorker() as unknown as Worker;
  });
  const workers = await createWorkers({ connection, services, workflowBundle: { code: '' } });
  expect(workers).toHaveLength(4); // main + anthropic, openai, ollama
  expect(services.config.llm.requestTimeoutMs).toBe(5000);
  expect(shutdownGraceTimeMs(services.config)).toBeGreaterThan(services.config.llm.requestTimeoutMs);
  expect(options.map((o) => o.shutdownGraceTime)).toEqual(Array(4).fill(shutdownGraceTimeMs(services.config)));
});

it('a provider worker that cannot be created: the workers already created are released, and its error comes out', async () => {
  const created = [fakeWorker(), fakeWorker(), fakeWorker()];
  let calls = 0;
  jest.spyOn(Worker, 'create').mockImplementation(async (o) => {
    if (o.taskQueue?.endsWith('openai')) throw new Error('openai queue refused');
    return created[calls++] as unknown as Worker;
  });
  await expect(createWorkers({ connection, services, workflowBundle: { code: '' }, taskQueue: 'q' })).rejects.toThrow('openai queue refused');
  // The main worker and the other provider workers: each run and shut down at once, so none holds the connection.
  expect(calls).toBe(3);
  for (const w of created) expect(w.runUntil).toHaveBeenCalledTimes(1);
});
