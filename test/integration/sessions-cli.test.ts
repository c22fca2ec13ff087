/**
 * The story session commands in-process against the test database, a dev server and the
 * simulator: play (lines from stdin), turn, sessions list/show/end, metrics, refusals, --help.
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { COMMAND_HELP } from '../../src/cli/help';
import { turnLine } from '../../src/cli/sessions.command';
import { SessionsRepository } from '../../src/db/repositories/sessions.repository';
import { sessionWorkflowId } from '../../src/shared/sessions';
import { storySession } from '../../src/workflows';
import { cliEnvironment, runCli } from '../helpers/cli';
import { useTestStack } from '../helpers/harness';
import { withMetricsWindow } from '../helpers/metrics-window';

const stack = useTestStack('sessions-cli');
let restoreEnv: () => void;
beforeAll(() => {
  restoreEnv = cliEnvironment(stack.env, stack.app, stack.sim);
});
afterAll(() => restoreEnv?.());

/** Runs `storyloom play …` with `lines` typed at the prompt (stdin ends after them). */
async function play(lines: string[], ...argv: string[]) {
  const saved = Object.getOwnPropertyDescriptor(process, 'stdin')!;
  Object.defineProperty(process, 'stdin', { value: Readable.from(lines.map((l) => `${l}\n`)), configurable: true });
  // Replies are written as they stream (process.stdout.write): kept apart from the lines.
  let streamed = '';
  const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((streamed += String(chunk)), true));
  try {
    return { ...(await runCli('play', ...argv)), streamed };
  } finally {
    write.mockRestore();
    Object.defineProperty(process, 'stdin', saved);
  }
}

const LINE = /^\d+ tools?: .*read-only.* · LLM \d+ calls? [\d.]+ s · turn [\d.]+ s$/m;

it('turnLine says what a turn took, as the issue shows it', () => {
  expect(turnLine({ tools: 5, readOnly: 3, writes: 2, readOnlyMs: 210, writeMs: 60, llmCalls: 2, llmMs: 3400, steps: 1, turnMs: 3800 }))
    .toBe('5 tools: 3 read-only in parallel 0.21 s, 2 writes 0.06 s · LLM 2 calls 3.40 s · turn 3.80 s');
  expect(turnLine({ tools: 0, readOnly: 0, writes: 0, readOnlyMs: 0, writeMs: 0, llmCalls: 1, llmMs: 900, steps: 0, turnMs: 1000 })).toBe('no tools · LLM 1 call 0.90 s · turn 1.00 s');
});

it('play takes each line as a turn, prints the reply and the figures, and resumes with --session', async () => {
  const first = await play(['I walk along the cliff', 'I remember the storm'], '--title', 'Cliffs');
  expect(first.code).toBe(0);
  const id = /session ([0-9a-f-]{36})/.exec(first.out)![1];
  const replies = await Promise.all([1, 2].map(async (n) => (await new SessionsRepository(stack.app.services.db).turn(id, n))!.reply));
  expect(first.streamed).toBe(replies.map((r) => `\n${r}`).join(''));
  expect(first.out.match(new RegExp(LINE.source, 'gm'))).toHaveLength(2);
  expect(first.out).toContain(`storyloom play --session ${id}`);

  const resumed = await play(['I go home [tools: none]'], '--session', id);
  expect(resumed.out).toContain('"Cliffs" — session');
  expect(resumed.out).toContain('(2 turns so far)');

  const shown = await runCli('sessions', 'show', id);
  expect(shown.code).toBe(0);
  expect(shown.out).toContain('# Cliffs');
  expect(shown.out).toMatch(/active, 3 turns/);
  expect(shown.out).toContain('[turn 1] I walk along the cliff');
  expect(shown.out).toContain('- turn 3 (completed): > I go home [tools: none]');

  // The reply is written as it streams (process.stdout.write), then the figures' line.
  let streamed = '';
  const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((streamed += String(chunk)), true));
  const turn = await runCli('turn', id, 'I sleep [tools: read_state]').finally(() => write.mockRestore());
  expect(turn.code).toBe(0);
  expect(turn.out).toMatch(/1 tool: 1 read-only [\d.]+ s · LLM 2 calls/);
  expect(streamed).toBe(`\n${(await new SessionsRepository(stack.app.services.db).turn(id, 4))!.reply}`);

  expect((await runCli('sessions', 'list')).out).toMatch(new RegExp(`${id}  active     4 turns .* Cliffs`));
  expect((await runCli('sessions', 'end', id)).out).toContain('Ended "Cliffs" after 4 turns.');
  const again = await runCli('turn', id, 'Hello?');
  expect(again.code).toBe(2);
  expect(again.err).toContain('has ended');
});

it('sessions end of a session no worker serves: stops waiting after the steering timeout (exit 1, says why and that a worker may still apply it)', async () => {
  const id = randomUUID();
  await new SessionsRepository(stack.app.services.db).openSession({ id, title: `Unserved ${Date.now()}`, scriptId: null });
  // Its run on a queue no worker polls: the end update can never be taken.
  const handle = await stack.env.client.workflow.start(storySession, { taskQueue: `${stack.app.taskQueue}-nobody`, workflowId: sessionWorkflowId(id), args: [{ sessionId: id, title: 'Unserved', scriptId: null }] });
  try {
    const started = Date.now();
    const r = await runCli('sessions', 'end', id);
    expect(Date.now() - started).toBeLessThan(25_000);
    expect(r.code).toBe(1);
    expect(r.err).toContain('did not take the request within 15 s: is a worker running');
    expect(r.err).toContain('It may still be applied when one starts.');
    expect((await new SessionsRepository(stack.app.services.db).getSession(id))?.status).toBe('active');
  } finally {
    await handle.terminate('test over').catch((err: unknown) => {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    });
  }
}, 40_000);

it('refuses bad input with exit 2 and writes nothing', async () => {
  // Sessions these calls could have made: other test files write sessions to the same database
  // meanwhile, so a count of every session is not theirs.
  const missing = '0b5a2a57-4c1e-4e58-9d39-2c0b7a8a3e11';
  const refusedTitle = `Refused ${Date.now()}`;
  const count = async () =>
    Number((await stack.app.services.db.query('SELECT count(*) AS n FROM story_sessions WHERE id = $1 OR title = $2', [missing, refusedTitle]))[0].n);
  expect((await runCli('turn', missing, 'hi')).err).toMatch(/No session 0b5a2a57/);
  expect((await runCli('turn', 'not-a-uuid', 'hi')).code).toBe(2);
  const empty = await runCli('turn', missing, '  ');
  expect([empty.code, empty.err]).toEqual([2, expect.stringContaining('A turn needs some text')]);
  expect((await runCli('play', '--script', 'No Such Script', '--title', refusedTitle)).code).toBe(2);
  expect((await runCli('sessions', 'explode')).code).toBe(2);
  expect(await count()).toBe(0);
});

it('metrics prints the table and the JSON of the HTTP API; --reset opens a new window', async () => {
  // Other suites play turns meanwhile: counts are read for this test's session.
  await withMetricsWindow(stack.app.services.db, async () => {
    const before = await play(['I look at the sky']);
    const id = /session ([0-9a-f-]{36})/.exec(before.out)![1];
    const reset = await runCli('metrics', '--reset');
    expect(reset.out).toMatch(/New measurement window from/);
    const emptied = JSON.parse((await runCli('metrics', '--session', id, '--json')).out);
    expect(Object.values(emptied.metrics as Record<string, { count: number }>).map((m) => m.count)).toEqual([0, 0, 0, 0]);

    await play(['I count the stars'], '--session', id);
    const json = JSON.parse((await runCli('metrics', '--session', id, '--json')).out);
    expect(json).toMatchObject({ status: 'success', metrics: { llm_calls: { count: 2 }, tool_executions: { count: 5 }, tool_batches: { count: 1 }, turn_processing: { count: 1 } } });
    expect(Object.keys(json.metrics.llm_calls)).toEqual(['count', 'total_time_ms', 'avg_time_ms', 'min_time_ms', 'max_time_ms', 'p50_time_ms', 'p95_time_ms', 'errors', 'recent_operations']);
    const table = (await runCli('metrics', '--session', id)).out;
    expect(table).toMatch(/^llm_calls\s+2\s/m);
    expect(table).toMatch(/^turn_processing\s+1\s/m);
    const all = JSON.parse((await runCli('metrics', '--json')).out);
    expect(all.window).toEqual(json.window);
    expect(all.metrics.turn_processing.count).toBeGreaterThanOrEqual(1);
  });
});

it.each(['play', 'turn', 'sessions', 'metrics'])('%s --help prints its usage', async (name) => {
  const { code, out } = await runCli(name, '--help');
  expect(code).toBe(0);
  expect(out).toContain(`usage: storyloom ${name} ${COMMAND_HELP[name].usage}`);
});
