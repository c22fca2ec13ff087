/**
 * The story sessions' prompt settings changed at runtime (max_context_tokens, max_turn_history),
 * on a dev server, the simulator and real Postgres: the stored override (partial, null back to the
 * environment's value, idempotent), a running session's next model step using a change at once
 * while its run keeps its summary cadence until it continues as new, and the HTTP routes and the
 * CLI with their refusals and presets.
 *
 * The override is global: every session of a database uses it. This file runs on a database of
 * its own (migrated from empty in beforeAll, dropped after), so the sessions other test files play
 * meanwhile never see its changes and its assertions never see theirs; each test still restores
 * the override when it ends.
 */
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { sendTurn } from '../../src/cli/session-client';
import { COMMAND_HELP } from '../../src/cli/help';
import { dropDatabase, migrateDatabase } from '../../src/db/data-source';
import { SessionsRepository } from '../../src/db/repositories/sessions.repository';
import { SEED_ONLY_SETTINGS } from '../../src/domain/sessions/settings';
import { startTestApi, type TestApi } from '../helpers/api';
import { cliEnvironment, runCli } from '../helpers/cli';
import { testDatabaseUrl, useTestStack } from '../helpers/harness';
import { waitFor } from '../helpers/wait';

const databaseUrl = (() => {
  const url = new URL(testDatabaseUrl());
  url.pathname = `${url.pathname}_settings_${process.pid}`;
  return url.toString();
})();
/** The environment's values, stated so the expectations do not depend on the machine's. */
const ENV = { MAX_CONTEXT_TOKENS: '4000', MAX_TURN_HISTORY: '5' };
const TURNS_PER_RUN = 3;

beforeAll(async () => {
  await dropDatabase(databaseUrl); // a leftover of an interrupted run
  await migrateDatabase(databaseUrl);
});
const stack = useTestStack('session-settings', { env: { DATABASE_URL: databaseUrl, ...ENV, STORYLOOM_SESSION_TURNS_PER_RUN: String(TURNS_PER_RUN) } });
let api: TestApi;
let restoreEnv: (() => void) | undefined;
beforeAll(async () => {
  api = await startTestApi({ config: stack.app.config, db: stack.app.services.db, client: stack.env.client });
  restoreEnv = cliEnvironment(stack.env, stack.app, stack.sim);
  Object.assign(process.env, { DATABASE_URL: databaseUrl, ...ENV });
});
// After the stack's own afterAll (hooks run in the order they were declared): nothing uses the database any more.
afterAll(async () => {
  restoreEnv?.();
  await api?.close();
  await dropDatabase(databaseUrl);
});

const repo = () => new SessionsRepository(stack.app.services.db);
afterEach(async () => {
  await repo().setSessionSettingsOverride({ maxContextTokens: null, maxTurnHistory: null });
});

const json = async (res: Response) => (await res.json()) as Record<string, any>;
const get = async (path: string, headers: Record<string, string> = {}) => {
  const res = await api.call(path, { headers });
  return { status: res.status, body: await json(res) };
};
const post = async (path: string, body?: unknown) => {
  const res = await api.call(path, body === undefined ? { method: 'POST' } : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: await json(res) };
};
const refused = (message: string | RegExp) => ({ error: { code: 'invalid_request', message: typeof message === 'string' ? message : expect.stringMatching(message) } });

const ENVIRONMENT = { max_context_tokens: 4000, max_turn_history: 5 };
const ALL_ENVIRONMENT = { status: 'success', config: ENVIRONMENT, sources: { max_context_tokens: 'environment', max_turn_history: 'environment' }, environment: ENVIRONMENT };

describe('the stored override (SessionsRepository)', () => {
  it('sets one setting at a time, null goes back to the environment, and a repeated change writes nothing', async () => {
    expect(await repo().sessionSettingsOverride()).toMatchObject({ maxContextTokens: null, maxTurnHistory: null });
    await repo().setSessionSettingsOverride({ maxContextTokens: 2500 });
    const both = await repo().setSessionSettingsOverride({ maxTurnHistory: 0 });
    expect(both).toMatchObject({ maxContextTokens: 2500, maxTurnHistory: 0 });
    // The same change again: no write, so the time of the last change stays.
    const again = await repo().setSessionSettingsOverride({ maxContextTokens: 2500, maxTurnHistory: 0 });
    expect(again).toEqual(both);
    // Nothing to change: nothing written.
    expect(await repo().setSessionSettingsOverride({})).toEqual(both);
    const cleared = await repo().setSessionSettingsOverride({ maxContextTokens: null });
    expect(cleared).toMatchObject({ maxContextTokens: null, maxTurnHistory: 0 });
    expect(cleared.updatedAt!.getTime()).toBeGreaterThanOrEqual(both.updatedAt!.getTime());
    // Concurrent changes of different settings both land (one statement each).
    await Promise.all([repo().setSessionSettingsOverride({ maxContextTokens: 900 }), repo().setSessionSettingsOverride({ maxTurnHistory: 7 })]);
    expect(await repo().sessionSettingsOverride()).toMatchObject({ maxContextTokens: 900, maxTurnHistory: 7 });
  });

  it('a database not migrated yet (no table) has no override; other errors are thrown', async () => {
    const failing = (code: string) => new SessionsRepository({ query: async () => Promise.reject(Object.assign(new Error(code), { code })) } as unknown as DataSource);
    expect(await failing('42P01').sessionSettingsOverride()).toEqual({ maxContextTokens: null, maxTurnHistory: null, updatedAt: null });
    await expect(failing('57P03').sessionSettingsOverride()).rejects.toThrow('57P03');
  });

  it('the table holds one row and only values a prompt can use', async () => {
    const db = stack.app.services.db;
    await expect(db.query('INSERT INTO session_settings (id) VALUES (2)')).rejects.toThrow(/session_settings_singleton/);
    await expect(db.query('INSERT INTO session_settings (id, max_context_tokens) VALUES (1, 499) ON CONFLICT (id) DO UPDATE SET max_context_tokens = 499')).rejects.toThrow(/max_context_tokens_range/);
    await expect(db.query('INSERT INTO session_settings (id, max_turn_history) VALUES (1, 1001) ON CONFLICT (id) DO UPDATE SET max_turn_history = 1001')).rejects.toThrow(/max_turn_history_range/);
  });
});

describe('a session in play', () => {
  const turn = (sessionId: string, text: string) => sendTurn(stack.env.client, { sessionId, title: 'Settings', taskQueue: stack.app.taskQueue, text: `${text} [tools: none]`, searchAttributes: true });
  /** The prompt figures of each turn's model step, as its step recorded them, with the run that took it (from the row's key). */
  const steps = async (sessionId: string) => {
    const rows: { turn_number: number; op_key: string; details: Record<string, number> }[] = await stack.app.services.db.query(
      `SELECT turn_number, op_key, details FROM performance_metrics WHERE session_id = $1 AND operation = 'llm_call' AND ok ORDER BY turn_number`,
      [sessionId],
    );
    return Object.fromEntries(rows.map((r) => [r.turn_number, { ...r.details, runId: r.op_key.split('/')[2] }]));
  };
  const summaries = async (sessionId: string) =>
    ((await stack.app.services.db.query('SELECT through_turn FROM session_summaries WHERE session_id = $1 ORDER BY through_turn', [sessionId])) as { through_turn: number }[]).map((r) => r.through_turn);

  it("uses a change at its next model step; its run keeps its summaries' cadence until it continues as new", async () => {
    const sessionId = randomUUID();
    await turn(sessionId, 'I find a brass key');
    await turn(sessionId, 'I open the cellar door');
    const before = await steps(sessionId);
    expect(before[2]).toMatchObject({ full_turns: 1, summarised_turns: 0, max_turn_history: 5, max_context_tokens: 4000 });

    const changed = await post('/optimization/configure', { max_turn_history: 0, max_context_tokens: 1000 });
    expect(changed.status).toBe(200);
    expect(changed.body.config).toEqual({ max_context_tokens: 1000, max_turn_history: 0 });

    // The same run, its next step: no turn in full; turns 1-2 come as one-line extracts (nothing dropped).
    await turn(sessionId, 'I light a candle');
    const third = (await steps(sessionId))[3];
    expect(third).toMatchObject({ full_turns: 0, summarised_turns: 2, summary_through_turn: 0, max_turn_history: 0, max_context_tokens: 1000 });
    expect(third.runId).toBe(before[2].runId);
    // That run summarises with the window it started with (5): nothing has left it after 3 turns.
    // After its third turn it continues as new, and the new run reads max_turn_history 0: after turn 4, turns 1-4 are summarised.
    await turn(sessionId, 'I read the letter');
    await waitFor(async () => (await summaries(sessionId)).includes(4), 20_000, 'the summary of turns 1-4');
    expect(await summaries(sessionId)).toEqual([4]);
    const fourth = (await steps(sessionId))[4];
    expect(fourth.runId).not.toBe(before[2].runId);
    expect(fourth).toMatchObject({ full_turns: 0, summarised_turns: 3, max_turn_history: 0 });
    await turn(sessionId, 'I hear footsteps');
    expect((await steps(sessionId))[5]).toMatchObject({ full_turns: 0, summarised_turns: 4, summary_through_turn: 4 });
    await waitFor(async () => (await summaries(sessionId)).includes(5), 20_000, 'the summary of turns 1-5');

    // Back to the environment: the next step carries the recent turns in full again (also told
    // by the summary, which this run made with its window of 0: nothing is missing, some is said twice).
    expect((await post('/optimization/presets/balanced/apply')).body).toMatchObject(ALL_ENVIRONMENT);
    await turn(sessionId, 'I hide under the stairs');
    expect((await steps(sessionId))[6]).toMatchObject({ full_turns: 5, summary_through_turn: 5, max_turn_history: 5, max_context_tokens: 4000 });
  });
});

describe('GET|POST /optimization/configure', () => {
  it('answers the values in use and where each comes from; null resets one; fields left out keep theirs', async () => {
    const first = await get('/optimization/configure');
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ ...ALL_ENVIRONMENT, updated_at: first.body.updated_at });

    const seedBody = await post('/optimization/configure', { max_context_tokens: 2000, max_turn_history: 5 });
    expect(seedBody.status).toBe(200);
    expect(seedBody.body).toEqual({
      status: 'success',
      config: { max_context_tokens: 2000, max_turn_history: 5 },
      sources: { max_context_tokens: 'override', max_turn_history: 'override' },
      environment: ENVIRONMENT,
      updated_at: expect.any(String),
    });
    expect((await get('/optimization/configure')).body).toEqual(seedBody.body);

    const one = await post('/optimization/configure', { max_turn_history: 0 });
    expect(one.body).toMatchObject({ config: { max_context_tokens: 2000, max_turn_history: 0 }, sources: { max_context_tokens: 'override', max_turn_history: 'override' } });
    const reset = await post('/optimization/configure', { max_context_tokens: null });
    expect(reset.body).toMatchObject({ config: { max_context_tokens: 4000, max_turn_history: 0 }, sources: { max_context_tokens: 'environment', max_turn_history: 'override' } });
    // Repeating a change changes nothing, the time of the last change included.
    expect((await post('/optimization/configure', { max_context_tokens: null })).body).toEqual(reset.body);
    expect((await post('/optimization/configure', { max_context_tokens: null, max_turn_history: null })).body).toMatchObject(ALL_ENVIRONMENT);
  });

  it.each([
    [{ max_context_tokens: 499 }, 'body.max_context_tokens must be >= 500'],
    [{ max_context_tokens: 1_000_001 }, 'body.max_context_tokens must be <= 1000000'],
    [{ max_context_tokens: 2000.5 }, /^body\.max_context_tokens must be integer/],
    [{ max_context_tokens: '2000' }, 'body.max_context_tokens must be integer or null'],
    [{ max_turn_history: -1 }, 'body.max_turn_history must be >= 0'],
    [{ max_turn_history: 1001 }, 'body.max_turn_history must be <= 1000'],
    [{ max_turn_history: true }, /^body\.max_turn_history must be integer/],
    [{ max_turn_history: 3, temperature: 0.2 }, 'body: unknown field "temperature"'],
    [{}, "body: give max_context_tokens and/or max_turn_history (a number sets it, null resets it to the environment's value)"],
    [[5], 'body must be object'],
  ])('POST %j: 400 naming the field, nothing changed', async (body, message) => {
    await repo().setSessionSettingsOverride({ maxTurnHistory: 2 });
    const before = await get('/optimization/configure');
    const res = await post('/optimization/configure', body);
    expect(res).toEqual({ status: 400, body: refused(message) });
    expect(await get('/optimization/configure')).toEqual(before);
  });

  it("answers the seed's other settings with what storyloom does instead, and a request without a body with what to send", async () => {
    const caching = await post('/optimization/configure', { max_context_tokens: 2000, enable_caching: true });
    expect(caching).toEqual({ status: 400, body: refused(`body.enable_caching: not a storyloom setting; ${SEED_ONLY_SETTINGS.enable_caching}. Only max_context_tokens and max_turn_history can be set.`) });
    expect(caching.body.error.message).toContain('never answered from a cache');
    const memories = await post('/optimization/configure', { max_memories_per_entity: 5 });
    expect(memories.body.error.message).toMatch(/^body\.max_memories_per_entity: not a storyloom setting; no memories are put in the prompt: .*search_memories/);
    expect((await post('/optimization/configure')).body).toEqual(refused(/^body: give max_context_tokens and\/or max_turn_history/));
    expect((await get('/optimization/configure')).body).toMatchObject(ALL_ENVIRONMENT);
  });

  it('needs the token, and is in the OpenAPI document', async () => {
    expect((await get('/optimization/configure', { authorization: 'Bearer wrong' })).status).toBe(401);
    const res = await api.call('/optimization/presets/fast/apply', { method: 'POST', headers: { authorization: 'Bearer wrong' } });
    expect(res.status).toBe(401);
    expect((await get('/optimization/configure')).body.sources).toEqual({ max_context_tokens: 'environment', max_turn_history: 'environment' });
    const doc = await json(await fetch(`${api.url}/openapi.json`));
    for (const path of ['/optimization/configure', '/optimization/presets', '/optimization/presets/{name}/apply']) expect(Object.keys(doc.paths)).toContain(path);
    expect(doc.paths['/optimization/configure'].post.requestBody.content['application/json'].schema.properties.max_turn_history).toMatchObject({ minimum: 0, maximum: 1000 });
  });
});

describe('presets', () => {
  it('lists fast, balanced and thorough; applying one sets both settings, balanced clears them; an unknown one is a 404 naming them', async () => {
    const listed = await get('/optimization/presets');
    expect(listed.status).toBe(200);
    expect(listed.body.presets).toEqual({
      fast: { description: expect.any(String), max_context_tokens: 2000, max_turn_history: 2, clears_override: false },
      balanced: { description: expect.stringContaining('clears the override'), ...ENVIRONMENT, clears_override: true },
      thorough: { description: expect.any(String), max_context_tokens: 16000, max_turn_history: 20, clears_override: false },
    });

    const fast = await post('/optimization/presets/fast/apply');
    expect(fast.status).toBe(200);
    expect(fast.body).toMatchObject({ status: 'success', preset: 'fast', config: { max_context_tokens: 2000, max_turn_history: 2 }, sources: { max_context_tokens: 'override', max_turn_history: 'override' } });
    expect((await post('/optimization/presets/THOROUGH/apply')).body).toMatchObject({ preset: 'thorough', config: { max_context_tokens: 16000, max_turn_history: 20 } });
    expect((await post('/optimization/presets/balanced/apply')).body).toMatchObject({ ...ALL_ENVIRONMENT, preset: 'balanced' });

    const unknown = await post('/optimization/presets/turbo/apply');
    expect(unknown).toEqual({ status: 404, body: { error: { code: 'not_found', message: 'No preset "turbo": the presets are fast, balanced, thorough.', presets: ['fast', 'balanced', 'thorough'] } } });
    expect((await get('/optimization/configure')).body).toMatchObject(ALL_ENVIRONMENT);
  });
});

describe('storyloom sessions configure', () => {
  it('prints the settings in use; sets them, applies a preset and resets', async () => {
    const shown = await runCli('sessions', 'configure');
    expect(shown.code).toBe(0);
    expect(shown.out).toMatch(/^max_context_tokens\s+4000 {2}environment MAX_CONTEXT_TOKENS$/m);
    expect(shown.out).toMatch(/^max_turn_history\s+5 {2}environment MAX_TURN_HISTORY$/m);

    const set = await runCli('sessions', 'configure', '--max-turn-history', '0');
    expect(set.code).toBe(0);
    expect(set.out).toContain('Updated the prompt settings.');
    expect(set.out).toMatch(/^max_turn_history\s+0 {2}override \(environment MAX_TURN_HISTORY: 5\)$/m);
    expect(set.out).toMatch(/^max_context_tokens\s+4000 {2}environment MAX_CONTEXT_TOKENS$/m);
    expect(await repo().sessionSettingsOverride()).toMatchObject({ maxContextTokens: null, maxTurnHistory: 0 });

    const both = await runCli('sessions', 'configure', '--max-context-tokens', '1500', '--max-turn-history', '3');
    expect(both.out).toMatch(/^max_context_tokens\s+1500 {2}override/m);
    expect((await get('/optimization/configure')).body.config).toEqual({ max_context_tokens: 1500, max_turn_history: 3 });

    const preset = await runCli('sessions', 'configure', '--preset', 'thorough');
    expect(preset.out).toContain('Applied preset "thorough"');
    expect(await repo().sessionSettingsOverride()).toMatchObject({ maxContextTokens: 16000, maxTurnHistory: 20 });

    const reset = await runCli('sessions', 'configure', '--reset');
    expect(reset.code).toBe(0);
    expect(reset.out).toContain("Reset the prompt settings to the environment's values.");
    // No override left: no "last changed" line, and a word that the environment shown is this shell's.
    expect(reset.out).not.toContain('override last changed');
    expect(reset.out).toContain("(environment: the values in this shell; a worker uses its own MAX_CONTEXT_TOKENS / MAX_TURN_HISTORY)");
    expect(await repo().sessionSettingsOverride()).toMatchObject({ maxContextTokens: null, maxTurnHistory: null });
  });

  it.each([
    [['--max-context-tokens', '499'], '--max-context-tokens must be an integer from 500 to 1000000; got "499"'],
    [['--max-context-tokens', '2e3'], '--max-context-tokens must be an integer from 500 to 1000000; got "2e3"'],
    [['--max-turn-history', '1001'], '--max-turn-history must be an integer from 0 to 1000; got "1001"'],
    [['--max-turn-history', 'five'], '--max-turn-history must be an integer from 0 to 1000; got "five"'],
    [['--preset', 'turbo'], 'No preset "turbo": the presets are fast, balanced, thorough.'],
    [['--preset', 'fast', '--reset'], 'give --max-context-tokens / --max-turn-history, --preset or --reset, not several of them'],
    [['--reset', '--max-turn-history', '2'], 'not several of them'],
    [['--enable-caching'], "Unknown option '--enable-caching'"],
    [['fast'], 'usage: storyloom sessions configure'],
  ])('refuses %j with exit 2 and changes nothing', async (args, message) => {
    await repo().setSessionSettingsOverride({ maxContextTokens: 3000 });
    const r = await runCli('sessions', 'configure', ...args);
    expect(r.code).toBe(2);
    expect(r.err).toContain(message);
    expect(await repo().sessionSettingsOverride()).toMatchObject({ maxContextTokens: 3000, maxTurnHistory: null });
  });

  it('sessions --help names configure and its options', async () => {
    const { code, out } = await runCli('sessions', '--help');
    expect(code).toBe(0);
    expect(out).toContain(`usage: storyloom sessions ${COMMAND_HELP.sessions.usage}`);
    for (const option of ['--max-context-tokens N', '--max-turn-history N', '--preset NAME', '--reset']) expect(out).toContain(option);
  });
});
