/**
 * STORYLOOM_<PROVIDER>_MAX_CONCURRENT and STORYLOOM_<PROVIDER>_MAX_PER_SECOND reach each provider
 * worker's maxConcurrentActivityTaskExecutions and maxTaskQueueActivitiesPerSecond (the Temporal
 * task-queue rate limit; left out when 0, i.e. unlimited), with Worker.create replaced (real
 * services on the test database; no Temporal server).
 */
import { Worker, type NativeConnection, type WorkerOptions } from '@temporalio/worker';
import { createLogger } from '../../src/observability/logger';
import { createServices, createWorkers, type AppServices } from '../../src/runtime';
import { llmTaskQueue, PROVIDERS, type Provider } from '../../src/shared/llm-routing';
import { testConfig } from '../helpers/harness';

const opened: AppServices[] = [];
afterEach(() => jest.restoreAllMocks());
afterAll(async () => {
  for (const s of opened) await s.close();
});

const connection = {} as NativeConnection;

/** The options of every worker createWorkers makes with this environment, by task queue. */
async function workerOptions(env: Record<string, string>): Promise<Map<string, WorkerOptions>> {
  const services = await createServices(testConfig(undefined, env), { logger: createLogger('silent') });
  opened.push(services);
  const options = new Map<string, WorkerOptions>();
  jest.spyOn(Worker, 'create').mockImplementation(async (o) => {
    options.set(o.taskQueue!, o);
    return { runUntil: jest.fn(async () => undefined) } as unknown as Worker;
  });
  await createWorkers({ connection, services, workflowBundle: { code: '' }, taskQueue: 'limits' });
  expect([...options.keys()].sort()).toEqual(['limits', ...PROVIDERS.map((p) => llmTaskQueue('limits', p))].sort());
  return options;
}

it('each provider worker gets its own provider\'s concurrency and per-second limit', async () => {
  const options = await workerOptions({
    STORYLOOM_ANTHROPIC_MAX_CONCURRENT: '3',
    STORYLOOM_ANTHROPIC_MAX_PER_SECOND: '2.5',
    STORYLOOM_OPENAI_MAX_CONCURRENT: '7',
    STORYLOOM_OPENAI_MAX_PER_SECOND: '40',
    STORYLOOM_OLLAMA_MAX_CONCURRENT: '1',
    STORYLOOM_OLLAMA_MAX_PER_SECOND: '0.5',
  });
  const limits = (p: Provider) => {
    const o = options.get(llmTaskQueue('limits', p))!;
    return { concurrent: o.maxConcurrentActivityTaskExecutions, perSecond: o.maxTaskQueueActivitiesPerSecond };
  };
  expect(limits('anthropic')).toEqual({ concurrent: 3, perSecond: 2.5 });
  expect(limits('openai')).toEqual({ concurrent: 7, perSecond: 40 });
  expect(limits('ollama')).toEqual({ concurrent: 1, perSecond: 0.5 });
  // The main queue (workflows, database activities) takes neither provider limit.
  const main = options.get('limits')!;
  expect(main.maxTaskQueueActivitiesPerSecond).toBeUndefined();
  expect(main.maxConcurrentActivityTaskExecutions).toBeUndefined();
});

it('0 (the default) leaves the task-queue rate limit out; the concurrency defaults to 10', async () => {
  const defaults = await workerOptions({});
  for (const p of PROVIDERS) {
    const o = defaults.get(llmTaskQueue('limits', p))!;
    expect(o.maxConcurrentActivityTaskExecutions).toBe(10);
    expect('maxTaskQueueActivitiesPerSecond' in o).toBe(false);
  }
  jest.restoreAllMocks();

  // One provider limited, the others explicitly 0: only that one's worker carries a rate limit.
  const one = await workerOptions({
    STORYLOOM_ANTHROPIC_MAX_PER_SECOND: '0',
    STORYLOOM_OPENAI_MAX_PER_SECOND: '12',
    STORYLOOM_OLLAMA_MAX_PER_SECOND: '0',
  });
  expect(one.get('limits-llm-openai')!.maxTaskQueueActivitiesPerSecond).toBe(12);
  expect('maxTaskQueueActivitiesPerSecond' in one.get('limits-llm-anthropic')!).toBe(false);
  expect('maxTaskQueueActivitiesPerSecond' in one.get('limits-llm-ollama')!).toBe(false);
});
