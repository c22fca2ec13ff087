/**
 * What a session knows and shows, on a real dev server, Postgres and the simulator: turns that
 * leave the history window are summarised by an LLM (once per range, reused by the next
 * prompts), the run's search attributes (job, title, status, turns) as the client lists them,
 * and a session tied to an ingested script (`play --script`): its characters seed the world and
 * semantic_search finds its scenes.
 */
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { sendTurn } from '../../src/cli/session-client';
import { SessionsRepository } from '../../src/db/repositories/sessions.repository';
import { ingestionWorkflowId } from '../../src/shared/ingestion';
import { JOB_KEY, STATUS_KEY, TITLE_KEY, TURNS_KEY } from '../../src/shared/search-attributes';
import { sessionWorkflowId } from '../../src/shared/sessions';
import { endSessionUpdate, ingestScript } from '../../src/workflows';
import { cliEnvironment, runCli } from '../helpers/cli';
import { useTestStack } from '../helpers/harness';
import { importSynthetic } from '../helpers/scripts';
import { waitFor } from '../helpers/wait';

const stack = useTestStack('story-session-context', { env: { MAX_TURN_HISTORY: '2' } });
const db = () => stack.app.services.db;
const turn = (sessionId: string, text: string, title = 'Summaries') => sendTurn(stack.env.client, { sessionId, title, taskQueue: stack.app.taskQueue, text, searchAttributes: true });

beforeEach(() => {
  stack.sim.configure({ faults: [], latency: null });
});

it('turns that leave the history window are summarised once per range, and the next prompts carry the summary', async () => {
  const sessionId = randomUUID();
  const lines = ['I find a brass key [tools: none]', 'I open the cellar door [tools: none]', 'I light a candle [tools: none]', 'I read the letter [tools: none]', 'I hear footsteps [tools: none]'];
  for (const line of lines) await turn(sessionId, line);
  // With 2 turns in full, turn 4 needs turn 1 summarised, turn 5 turns 1-2, turn 6 turns 1-3 (made after turn 5).
  const summaries = async () =>
    (await db().query('SELECT through_turn, from_turn, summary FROM session_summaries WHERE session_id = $1 ORDER BY through_turn', [sessionId])) as { through_turn: number; from_turn: number; summary: string }[];
  await waitFor(async () => (await summaries()).length === 3);
  const rows = await summaries();
  expect(rows.map((r) => [r.through_turn, r.from_turn])).toEqual([[1, 0], [2, 1], [3, 2]]);
  expect(rows.every((r) => r.summary.length > 0)).toBe(true);
  const calls = await db().query(`SELECT count(*)::int AS n FROM llm_calls WHERE purpose = 'session-summary' AND workflow_id = $1 AND outcome = 'ok'`, [sessionWorkflowId(sessionId)]);
  expect(calls[0].n).toBe(3);

  await turn(sessionId, 'I hide under the stairs [tools: none]');
  // The prompt of each turn says how far its summary reached (the metric row of its LLM call).
  const steps: { turn_number: number; through: number }[] = await db().query(
    `SELECT turn_number, (details->>'summary_through_turn')::int AS through FROM performance_metrics WHERE session_id = $1 AND operation = 'llm_call' ORDER BY turn_number`,
    [sessionId],
  );
  const byTurn = Object.fromEntries(steps.map((s) => [s.turn_number, s.through]));
  expect(byTurn[1]).toBe(0);
  expect(byTurn[6]).toBe(3);
  // Turn 6 reused the summary of turns 1-3 (no new call for it); after it, turns 1-4 are folded in with one more call.
  await waitFor(async () => (await summaries()).length === 4);
  expect((await summaries()).map((r) => r.through_turn)).toEqual([1, 2, 3, 4]);
  const after = await db().query(`SELECT count(*)::int AS n FROM llm_calls WHERE purpose = 'session-summary' AND workflow_id = $1`, [sessionWorkflowId(sessionId)]);
  expect(after[0].n).toBe(4);
  await stack.env.client.workflow.getHandle(sessionWorkflowId(sessionId)).executeUpdate(endSessionUpdate);
});

it('a session started without search attributes (a bare server) sets none', async () => {
  const sessionId = randomUUID();
  await sendTurn(stack.env.client, { sessionId, title: 'Bare', taskQueue: stack.app.taskQueue, text: 'I wait [tools: none]' });
  const handle = stack.env.client.workflow.getHandle(sessionWorkflowId(sessionId));
  await handle.executeUpdate(endSessionUpdate);
  await handle.result();
  const attrs = (await handle.describe()).typedSearchAttributes;
  expect([attrs.get(JOB_KEY), attrs.get(TURNS_KEY), attrs.get(STATUS_KEY)]).toEqual([undefined, undefined, undefined]);
});

it('a session run is findable by its search attributes: job, title, status and turns', async () => {
  const sessionId = randomUUID();
  const title = `Searchable ${sessionId.slice(0, 8)}`;
  await turn(sessionId, 'I look around [tools: none]', title);
  await turn(sessionId, 'I wave [tools: none]', title);
  const handle = stack.env.client.workflow.getHandle(sessionWorkflowId(sessionId));
  await waitFor(async () => (await handle.describe()).typedSearchAttributes.get(TURNS_KEY) === 2);
  const running = (await handle.describe()).typedSearchAttributes;
  expect([running.get(JOB_KEY), running.get(TITLE_KEY), running.get(STATUS_KEY)]).toEqual(['session', title, 'running']);

  await handle.executeUpdate(endSessionUpdate);
  await handle.result();
  const listed = async () => {
    const ids: string[] = [];
    for await (const w of stack.env.client.workflow.list({ query: `StoryloomJob = "session" AND StoryloomTitle = "${title}" AND StoryloomStatus = "ended" AND StoryloomTurns = 2` })) ids.push(w.workflowId);
    return ids;
  };
  await waitFor(async () => (await listed()).length === 1);
  expect(await listed()).toEqual([sessionWorkflowId(sessionId)]);
});

it('play --script: the script\'s characters seed the world and semantic_search finds its scenes', async () => {
  const script = await importSynthetic(db(), 4, 2, `Session script ${randomUUID().slice(0, 8)}`);
  const ingested = await stack.env.client.workflow.execute(ingestScript, {
    taskQueue: stack.app.taskQueue,
    workflowId: ingestionWorkflowId(script.scriptId),
    args: [{ scriptId: script.scriptId, mode: 'full' }],
  });
  expect(ingested.status).toBe('completed');
  const sheets: { name: string }[] = await db().query(
    'SELECT c.name FROM characters c JOIN character_sheets cs ON cs.character_id = c.id WHERE c.script_id = $1 ORDER BY c.name',
    [script.scriptId],
  );
  expect(sheets.length).toBeGreaterThan(0);

  const restore = cliEnvironment(stack.env, stack.app, stack.sim);
  const saved = Object.getOwnPropertyDescriptor(process, 'stdin')!;
  Object.defineProperty(process, 'stdin', { value: Readable.from(['I search the script for the opening [tools: semantic_search]\n']), configurable: true });
  const write = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
  let played;
  try {
    played = await runCli('play', '--script', script.scriptId);
  } finally {
    write.mockRestore();
    Object.defineProperty(process, 'stdin', saved);
    restore();
  }
  expect(played.code).toBe(0);
  const sessionId = /session ([0-9a-f-]{36})/.exec(played.out)![1];
  const repo = new SessionsRepository(db());
  expect((await repo.getSession(sessionId))!.scriptId).toBe(script.scriptId);
  expect((await repo.characters(sessionId)).map((c) => c.name).sort()).toEqual(sheets.map((s) => s.name).sort());

  const stored = (await repo.turn(sessionId, 1))!;
  const search = stored.toolCalls.find((c) => c.name === 'semantic_search')!;
  expect(search.ok).toBe(true);
  const hits = (JSON.parse(search.result as string) as { hits: { source: string; text: string }[] }).hits;
  const scenes: { heading: string }[] = await db().query('SELECT heading FROM scenes WHERE script_id = $1', [script.scriptId]);
  const sceneHits = hits.filter((h) => h.source === 'scene');
  expect(sceneHits.length).toBeGreaterThan(0);
  expect(sceneHits.every((h) => scenes.some((s) => h.text.endsWith(s.heading)))).toBe(true);
});
