/**
 * Story sessions on a real dev server, real Postgres and the simulator (tool calling through
 * the official SDK): update-with-start, turns in arrival order, read-only tools overlapping and
 * writes in order (from the times the tools recorded), invalid arguments answered as an error
 * result, a failed LLM call failing the turn but not the session, the step limit, metrics.
 */
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { sendTurn } from '../../src/cli/session-client';
import { SessionsRepository } from '../../src/db/repositories/sessions.repository';
import { sessionWorkflowId } from '../../src/shared/sessions';
import { endSessionUpdate, sessionProgressQuery, takeTurnUpdate } from '../../src/workflows';
import { useTestStack } from '../helpers/harness';

const stack = useTestStack('story-session', { env: { STORYLOOM_MAX_TOOL_STEPS: '3' } });
let repo: SessionsRepository;
beforeAll(() => {
  repo = new SessionsRepository(stack.app.services.db);
});
beforeEach(() => {
  stack.sim.configure({ faults: [], latency: null });
});

const turn = (sessionId: string, text: string) =>
  sendTurn(stack.env.client, { sessionId, title: 'The Lighthouse', taskQueue: stack.app.taskQueue, text });

it('the first turn starts the session (update-with-start) and answers the reply with its figures', async () => {
  const sessionId = randomUUID();
  const result = await turn(sessionId, 'I climb the stairs of the lighthouse');
  expect(result.turnNumber).toBe(1);
  expect(result.reply.length).toBeGreaterThan(0);
  expect(result.toolCalls.map((c) => c.name)).toEqual(['read_state', 'search_memories', 'query_relationships', 'add_memory', 'update_state']);
  expect(result.toolCalls.every((c) => c.ok)).toBe(true);
  expect(result.metrics).toMatchObject({ tools: 5, readOnly: 3, writes: 2, llmCalls: 2, steps: 1 });
  const stored = await repo.turn(sessionId, 1);
  expect(stored).toMatchObject({ status: 'completed', input: 'I climb the stairs of the lighthouse', reply: result.reply });
  expect(stored!.toolCalls).toHaveLength(5);
  expect(await repo.recentMemories(sessionId, 10)).toEqual([expect.objectContaining({ text: 'I climb the stairs of the lighthouse', turnNumber: 1 })]);

  const second = await turn(sessionId, 'I light the lamp');
  expect(second.turnNumber).toBe(2);
  const progress = await stack.env.client.workflow.getHandle(sessionWorkflowId(sessionId)).query(sessionProgressQuery);
  expect(progress).toMatchObject({ status: 'idle', turns: 2, queued: 0, lastTurn: { turnNumber: 2 } });
});
