/**
 * Story sessions when things break for real: a write tool whose first attempt wrote and then
 * failed is retried and writes once; a worker process SIGKILLed mid-turn, and the turn still
 * completes on a new worker, retried after the turn's heartbeat timeout, its workflow task
 * released by the dead worker's sticky queue after 3 s. Real dev server, Postgres, simulator.
 */
import { Context } from '@temporalio/activity';
import { temporal } from '@temporalio/proto';
import { tsMs } from '../../bench/history';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { randomUUID } from 'node:crypto';
import { createSessionActivities, type SessionToolInput } from '../../src/activities/sessions.activities';
import { sendTurn } from '../../src/cli/session-client';
import { SessionsRepository } from '../../src/db/repositories/sessions.repository';
import { startSimulator, type RunningSimulator } from '../../src/llm/simulator';
import { createServices, type AppServices } from '../../src/runtime';
import { sessionWorkflowId } from '../../src/shared/sessions';
import { sessionProgressQuery } from '../../src/workflows';
import { queueFor, startApp, startTestTemporal, testConfig } from '../helpers/harness';
import { waitFor } from '../helpers/wait';
import { startWorkerProcess, workerEnv, type WorkerProcess } from '../helpers/worker-process';

let env: TestWorkflowEnvironment;
let sim: RunningSimulator;
let services: AppServices;
let repo: SessionsRepository;

beforeAll(async () => {
  [env, sim] = await Promise.all([startTestTemporal(), startSimulator()]);
  services = await createServices(testConfig(sim));
  repo = new SessionsRepository(services.db);
});
afterAll(async () => {
  await services?.close();
  await sim?.close();
  await env?.teardown();
});

it('a write tool that wrote and then failed is retried and writes once', async () => {
  const config = testConfig(sim);
  const real = createSessionActivities({ repo, llm: services.llm, config });
  let failedAfterWriting = 0;
  const app = await startApp(env, config, 'session-write-retry', {}, undefined, {
    async runSessionTool(input: SessionToolInput) {
      const outcome = await real.runSessionTool(input);
      // The write is committed; the attempt then dies before Temporal hears of it.
      if (input.call.name === 'add_memory' && Context.current().info.attempt === 1) {
        failedAfterWriting++;
        throw new Error('worker lost after the write');
      }
      return outcome;
    },
  });
  try {
    const sessionId = randomUUID();
    const result = await sendTurn(env.client, { sessionId, title: 'Retry', taskQueue: app.taskQueue, text: 'I carve my name [tools: add_memory, update_state]' });
    expect(failedAfterWriting).toBe(1);
    expect(result.toolCalls.map((c) => [c.name, c.ok])).toEqual([['add_memory', true], ['update_state', true]]);
    expect(await repo.recentMemories(sessionId, 10)).toEqual([expect.objectContaining({ text: 'I carve my name' })]);
    const writes = await services.db.query('SELECT tool_name FROM session_tool_writes WHERE session_id = $1 ORDER BY tool_name', [sessionId]);
    expect(writes).toEqual([{ tool_name: 'add_memory' }, { tool_name: 'update_state' }]);
  } finally {
    await app.stop();
  }
});

it('a worker SIGKILLed mid-turn: the turn completes on another worker and is answered to the waiting caller', async () => {
  const taskQueue = queueFor('session-crash');
  // The model's answer takes 1.5 s: the kill lands while the first call is in flight.
  sim.configure({ latency: { byPurpose: { session: { fixedMs: 1500 } } } });
  const vars = workerEnv({ sim, address: env.address, taskQueue });
  let worker: WorkerProcess | undefined = await startWorkerProcess(vars);
  let replacement: WorkerProcess | undefined;
  try {
    const sessionId = randomUUID();
    // The simulator is shared with the file's other tests: count this turn's requests only.
    const sessionRequests = () => sim.stats().byPurpose.session?.requests ?? 0;
    const before = sessionRequests();
    const answer = sendTurn(env.client, { sessionId, title: 'Crash', taskQueue, text: 'I ring the bell' });
    answer.catch(() => undefined);
    await waitFor(() => sessionRequests() > before);
    await worker.kill();
    worker = undefined;
    sim.configure({ latency: { byPurpose: { session: { fixedMs: 200 } } } });
    replacement = await startWorkerProcess(vars);
    const result = await answer;
    expect(result).toMatchObject({ turnNumber: 1, metrics: { tools: 5, readOnly: 3, writes: 2 } });
    expect(await repo.turn(sessionId, 1)).toMatchObject({ status: 'completed', reply: result.reply });
    expect(await repo.recentMemories(sessionId, 10)).toHaveLength(1);
    const handle = env.client.workflow.getHandle(sessionWorkflowId(sessionId));
    const progress = await handle.query(sessionProgressQuery);
    expect(progress).toMatchObject({ status: 'idle', turns: 1 });
    // The player's wait: the dead worker's model call was ended by the turn's 5 s heartbeat
    // timeout, and the tools run under the same one.
    const events = (await handle.fetchHistory()).events ?? [];
    const heartbeatTimeoutS = (type: string) => [
      ...new Set(
        events
          .filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === type)
          .map((e) => Number(e.activityTaskScheduledEventAttributes?.heartbeatTimeout?.seconds)),
      ),
    ];
    expect(heartbeatTimeoutS('sessionLlmStep')).toEqual([5]);
    expect(heartbeatTimeoutS('runSessionTool')).toEqual([5]);
    const retried = events.filter((e) => (e.activityTaskStartedEventAttributes?.attempt ?? 1) > 1);
    expect(retried.map((e) => e.activityTaskStartedEventAttributes?.lastFailure?.timeoutFailureInfo?.timeoutType)).toEqual([
      temporal.api.enums.v1.TimeoutType.TIMEOUT_TYPE_HEARTBEAT,
    ]);
    // The next workflow task went first to the dead worker's sticky queue and left it after the
    // worker's 3 s (STICKY_QUEUE_TIMEOUT), not the SDK's default 10 s.
    const atMs = (e: (typeof events)[number]) => tsMs(e.eventTime);
    const stickyWaits = events
      .filter((e) => e.workflowTaskTimedOutEventAttributes?.timeoutType === temporal.api.enums.v1.TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START)
      .map((e) => atMs(e) - atMs(events.find((s) => Number(s.eventId) === Number(e.workflowTaskTimedOutEventAttributes?.scheduledEventId))!));
    expect(stickyWaits).toHaveLength(1);
    expect(stickyWaits[0]).toBeGreaterThanOrEqual(2_900);
    expect(stickyWaits[0]).toBeLessThan(10_000);
  } finally {
    await worker?.kill();
    await replacement?.stop();
    sim.configure({ latency: null });
  }
}, 120_000);
