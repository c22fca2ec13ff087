/**
 * generateScreenplay on real parts (dev server, Postgres, the simulator through the SDKs):
 * streaming reaches a watcher before generation ends, cancel aborts the stream, truncation is
 * continued, unknown personas fail at once, variants run concurrently, and a retried save
 * makes no second version.
 */
import { WorkflowFailedError } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createScreenplayActivities } from '../../src/activities/screenplay.activities';
import { randomUUID } from 'node:crypto';
import { LlmCallEntity } from '../../src/db/entities/llm-call.entity';
import { RunRepository } from '../../src/db/repositories/run.repository';
import { ScreenplayRepository } from '../../src/db/repositories/screenplay.repository';
import { subscribeToStream, type StreamEvent } from '../../src/db/stream-channel';
import { checkFountain } from '../../src/domain/generation/fountain-check';
import { DEFAULT_MAX_TOKENS, screenplayWorkflowId, type GenerateScreenplayInput } from '../../src/shared/screenplay';
import { generateScreenplay } from '../../src/workflows';
import type { OperationContext } from '../../src/operations/context';
import { startScreenplay } from '../../src/operations/start-screenplay';
import { StreamPrinter } from '../../src/cli/generate.command';
import { testDataConverter, testDatabaseUrl, useTestStack } from '../helpers/harness';
import { CREW, HARBOUR_PLOT, importCrew } from '../helpers/personas';
import { waitFor } from '../helpers/wait';

/** ~100 tokens a second: the harbour screenplay (~1,900 tokens) streams for ~20 s unless cut. */
const SLOW = { latency: { default: { fixedMs: 5 }, byPurpose: { screenplay: { fixedMs: 50, perOutputTokenMs: 10 } } } };
const stack = useTestStack('generate-screenplay', { simulator: { latency: { default: { fixedMs: 5 } } } });
afterEach(() => stack.sim.configure({ faults: [], latency: { default: { fixedMs: 5 }, byPurpose: null } }));

beforeAll(async () => {
  await importCrew(stack.app.services.db);
});

const repo = () => new ScreenplayRepository(stack.app.services.db);
function start(args: Partial<GenerateScreenplayInput> = {}) {
  const workflowId = screenplayWorkflowId(randomUUID());
  return stack.env.client.workflow.start(generateScreenplay, {
    taskQueue: stack.app.taskQueue,
    workflowId,
    args: [{ plot: HARBOUR_PLOT, personaNames: CREW.slice(0, 3), title: 'The Crossing', ...args }],
  });
}

it('a run started through storyloom (CLI, API) carries no plot: the activity reads it from screenplay_requests', async () => {
  const ctx: OperationContext = { config: stack.app.config, db: async () => stack.app.services.db, client: async () => stack.env.client };
  const { handle } = await startScreenplay(ctx, { plot: HARBOUR_PLOT, personaNames: CREW.slice(0, 2), title: `Plot by id ${randomUUID()}` });
  const result = await handle.result();
  expect(result.variants[0]).toMatchObject({ created: true, version: 1 });
  expect((await repo().findStory(result.storyId))?.plot).toBe(HARBOUR_PLOT);
});

it('a run with no plot in its input and none stored fails at once (PlotNotFound)', async () => {
  stack.sim.resetStats();
  const handle = await start({ plot: undefined });
  const err = await handle.result().catch((e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  expect((err as WorkflowFailedError).cause?.message).toContain(`No plot in the input and none stored for ${handle.workflowId}`);
  expect(stack.sim.stats().byPurpose.screenplay).toBeUndefined();
});

async function watch(workflowId: string) {
  const events: (StreamEvent & { at: number })[] = [];
  const sub = await subscribeToStream(testDatabaseUrl(), workflowId, (e) => events.push({ ...e, at: Date.now() }));
  return { events, close: () => sub.close(), text: (variant = 0) => events.filter((e) => e.type === 'delta' && e.variant === variant).map((e) => (e as { text: string }).text).join('') };
}

it('streams the text to a watcher before generation ends, then saves story, version and cast in one transaction', async () => {
  stack.sim.configure({ latency: { byPurpose: { screenplay: { fixedMs: 50, perOutputTokenMs: 1 } } } });
  const workflowId = screenplayWorkflowId(randomUUID());
  const watcher = await watch(workflowId);
  try {
    const handle = await stack.env.client.workflow.start(generateScreenplay, {
      taskQueue: stack.app.taskQueue, workflowId, args: [{ plot: HARBOUR_PLOT, personaNames: CREW, title: 'The Crossing', flags: { useCache: false } }],
    });
    const result = await handle.result();
    const finishedAt = Date.now();
    const firstDelta = watcher.events.find((e) => e.type === 'delta');
    expect(firstDelta!.at).toBeLessThan(finishedAt - 500);
    await waitFor(() => watcher.events.some((e) => e.type === 'done'));
    expect(result.personaQueries).toBe(1);
    expect(result.variants).toHaveLength(1);
    const [v] = result.variants;
    expect(v).toMatchObject({ version: 1, truncated: false, continuations: 0, parseRetried: false, cached: false, save: { commits: 1 } });
    expect(v.ttftMs).toBeLessThan(v.durationMs);
    expect(result.totals.costUsd).toBeGreaterThan(0);
    const saved = await repo().version(result.storyId);
    expect(saved!.fountain).toBe(watcher.text());
    expect(checkFountain(saved!.fountain)).toMatchObject({ ok: true });
    expect(saved!.cast.filter((c) => c.persona).map((c) => c.persona).sort()).toEqual([...CREW].sort());
    // A stream is timed by its silence: the variant's limit allows each of its requests (the reply, a parse
    // retry, two continuations of each) the request timeout plus max_tokens at 5 tokens a second, plus 30 s.
    const scheduled = (await handle.fetchHistory()).events!.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'generateScreenplayVariant');
    const timeout = scheduled!.activityTaskScheduledEventAttributes!.startToCloseTimeout!;
    expect(Number(timeout.seconds) + (timeout.nanos ?? 0) / 1e9).toBeCloseTo((6 * (stack.app.config.llm.requestTimeoutMs + DEFAULT_MAX_TOKENS * 200) + 30_000) / 1000, 3);
    // The Web UI names each pending activity by its summary (encrypted like every payload).
    const [codec] = testDataConverter().payloadCodecs!;
    const named = (await handle.fetchHistory()).events!.filter((e) => e.activityTaskScheduledEventAttributes && e.userMetadata?.summary);
    const summaries = (await codec.decode(named.map((e) => e.userMetadata!.summary! as Payload))).map((p) => defaultPayloadConverter.fromPayload(p));
    expect(summaries).toEqual(['prepare: The Crossing', `variant 1 of 1: ${result.provider} ${result.model}`]);
  } finally {
    await watcher.close();
  }
});

it('fails at once on an unknown persona, naming the closest ones', async () => {
  stack.sim.resetStats();
  const handle = await start({ personaNames: ['Mara Quill', 'Tobias Wrenn'] });
  const err = await handle.result().catch((e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  expect((err as WorkflowFailedError).cause?.message).toContain('no persona "Tobias Wrenn" (closest: "Tobias Wren")');
  expect(stack.sim.stats().byPurpose.screenplay).toBeUndefined();
});

it('continues a reply cut at max_tokens, and saves it marked truncated when the continuations run out', async () => {
  const whole = await start({ maxTokens: 300, maxContinuations: 10 }).then((h) => h.result());
  expect(whole.variants[0]).toMatchObject({ truncated: false });
  expect(whole.variants[0].continuations).toBeGreaterThan(2);
  const full = await start({ maxTokens: 4096 }).then((h) => h.result());
  const [a, b] = await Promise.all([repo().version(whole.storyId), repo().version(full.storyId)]);
  // The continuations join up into the screenplay one long call gives.
  expect(a!.fountain).toBe(b!.fountain);

  const cut = await start({ maxTokens: 300, maxContinuations: 1 }).then((h) => h.result());
  expect(cut.variants[0]).toMatchObject({ truncated: true, continuations: 1 });
  expect((await repo().version(cut.storyId))!.truncated).toBe(true);
});

it('retries once with the parse error when the reply is not Fountain', async () => {
  stack.sim.configure({ faults: [{ kind: 'wrongShape', purpose: 'screenplay', times: 1 }] });
  const result = await start({ flags: { useCache: false } }).then((h) => h.result());
  expect(result.variants[0]).toMatchObject({ parseRetried: true });
  expect(stack.sim.stats().byPurpose.screenplay.requests).toBeGreaterThanOrEqual(2);
});

it('never caches a reply that is not Fountain: a rerun of a run that failed on it asks the model again', async () => {
  const title = `Uncached ${randomUUID().slice(0, 8)}`;
  stack.sim.configure({ faults: [{ kind: 'wrongShape', purpose: 'screenplay', times: 2 }] });
  const failing = await start({ title });
  expect(await failing.result().catch((e: unknown) => e)).toBeInstanceOf(WorkflowFailedError);
  // Both paid replies are recorded, though neither is cached.
  await stack.app.services.callLog.flush();
  const paid = await stack.app.services.db.getRepository(LlmCallEntity).find({ where: { workflowId: failing.workflowId, purpose: 'screenplay' } });
  expect(paid.map((r) => r.outcome)).toEqual(['ok', 'ok']);
  stack.sim.configure({ faults: [] });
  await stack.app.services.llm.settle();
  stack.sim.resetStats();
  const rerun = await start({ title }).then((h) => h.result());
  expect(rerun.variants[0]).toMatchObject({ parseRetried: false, cached: false });
  expect(stack.sim.stats().byPurpose.screenplay.requests).toBe(1);
  // The reply that parsed is cached: a third run calls no model.
  await stack.app.services.llm.settle();
  const third = await start({ title }).then((h) => h.result());
  expect(third.variants[0]).toMatchObject({ parseRetried: false, cached: true });
  expect(stack.sim.stats().byPurpose.screenplay.requests).toBe(1);
});

it('takes a cached reply that does not parse (stored before replies were checked) as a miss, and replaces it', async () => {
  const title = `Stale ${randomUUID().slice(0, 8)}`;
  const first = await start({ title });
  await first.result();
  await stack.app.services.llm.settle();
  await stack.app.services.callLog.flush();
  const rows = await stack.app.services.db.getRepository(LlmCallEntity).find({ where: { workflowId: first.workflowId, purpose: 'screenplay' } });
  const keys = rows.map((r) => r.cacheKey);
  expect(keys).toHaveLength(1);
  await stack.app.services.db.query(`UPDATE llm_response_cache SET response = jsonb_set(response, '{text}', to_jsonb($2::text)) WHERE key = ANY($1)`, [
    keys,
    'Here is a summary rather than a screenplay.',
  ]);
  stack.sim.resetStats();
  const rerun = await start({ title }).then((h) => h.result());
  // The same prompt went to the model again (no parse retry), and its reply replaced the entry.
  expect(rerun.variants[0]).toMatchObject({ parseRetried: false, cached: false });
  expect(stack.sim.stats().byPurpose.screenplay.requests).toBe(1);
  await stack.app.services.llm.settle();
  expect((await start({ title }).then((h) => h.result())).variants[0]).toMatchObject({ cached: true });
});

it('aborts the HTTP stream within about a second of a cancel', async () => {
  stack.sim.configure(SLOW);
  const handle = await start({ flags: { useCache: false } });
  const watcher = await watch(handle.workflowId);
  try {
    await waitFor(() => watcher.events.some((e) => e.type === 'delta'), 20_000, 'first delta');
    const before = stack.sim.stats().aborted;
    const cancelledAt = Date.now();
    await handle.cancel();
    await waitFor(() => stack.sim.stats().aborted > before, 5_000, 'stream aborted');
    expect(Date.now() - cancelledAt).toBeLessThan(2_500);
    await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
    expect(await repo().versionByKey(`${handle.workflowId}/${handle.firstExecutionRunId}/0`)).toBeUndefined();
    // The cancelled run's report is stored all the same.
    const report = await new RunRepository(stack.app.services.db).findReport({ workflowId: handle.workflowId });
    expect(report).toMatchObject({ kind: 'generateScreenplay', status: 'cancelled', error: { type: 'CancelledFailure' }, screenplay: { versions: [], personaQueries: 1 } });
    expect(report!.phasesMs).toEqual({ preparing: expect.any(Number), generating: expect.any(Number) });
    // The stream cut short is billed for its prompt and what it had written: its row says so (it said 0 and 0).
    const [row] = await stack.app.services.db.query(
      "SELECT input_tokens, output_tokens FROM llm_calls WHERE workflow_id = $1 AND purpose = 'screenplay' AND outcome = 'error'",
      [handle.workflowId],
    );
    expect(row.input_tokens).toBeGreaterThan(0);
    expect(row.output_tokens).toBeGreaterThanOrEqual(Math.floor(watcher.text().length / 4));
    expect(report!.totals.costUsd).toBeGreaterThan(0);
  } finally {
    await watcher.close();
  }
});

it('generates three variants concurrently as versions 1 to 3 of one story', async () => {
  stack.sim.configure({ latency: { byPurpose: { screenplay: { fixedMs: 50, perOutputTokenMs: 0.5 } } } });
  stack.sim.resetStats();
  const three = await start({ variants: 3, flags: { useCache: false } }).then((h) => h.result());
  expect(three.variants.map((v) => v.version).sort()).toEqual([1, 2, 3]);
  // Concurrently: the provider saw all three streams open at one moment.
  expect(stack.sim.stats().byPurpose.screenplay).toMatchObject({ requests: 3, peakConcurrent: 3 });
  expect((await repo().versions(three.storyId)).map((v) => v.version)).toEqual([1, 2, 3]);
  // --story: a new version of an existing story.
  const again = await start({ storyId: three.storyId, title: undefined }).then((h) => h.result());
  expect(again).toMatchObject({ storyId: three.storyId, title: 'The Crossing', variants: [expect.objectContaining({ version: 4 })] });
});

it('saves once under a forced retry: the retried activity returns the saved version, with no model call and no second version', async () => {
  const handle = await start();
  const result = await handle.result();
  const { services } = stack.app;
  const activities = createScreenplayActivities({ config: services.config, db: services.db, llm: services.llm, tokens: services.tokens, streams: services.streams });
  const [first] = result.variants;
  const calls = stack.sim.stats().totalRequests;
  const retried = await new MockActivityEnvironment({ attempt: 2 }).run(activities.generateScreenplayVariant, {
    runKey: `${handle.workflowId}/${handle.firstExecutionRunId}`, workflowId: handle.workflowId, variant: 0,
    route: { provider: 'anthropic' as const, model: services.config.llm.models.screenplay.model, taskQueue: 'unused' },
    maxTokens: 3072, maxContinuations: 2, useCache: false, stream: true, oneTransactionSave: true,
  });
  expect(retried).toMatchObject({ version: first.version, versionId: first.versionId, created: false, outputTokens: first.outputTokens });
  expect(stack.sim.stats().totalRequests).toBe(calls);
  expect((await repo().versions(result.storyId)).length).toBe(1);

  // The repository's save alone, repeated with one key: one version.
  const saved = await repo().version(result.storyId);
  const input = {
    saveKey: `${handle.workflowId}/again`, storyId: result.storyId, title: 'The Crossing', plot: HARBOUR_PLOT, fountain: saved!.fountain,
    provider: 'anthropic', model: 'm', truncated: false, continuations: 0, stats: {}, cast: [],
  };
  const once = await repo().saveVersion(input);
  expect(await repo().saveVersion(input)).toEqual({ ...once, created: false });
  expect((await repo().versions(result.storyId)).length).toBe(2);
});

it('the run\'s tokens per second are those of the variants it generated: a cached variant is left out, and a run all from the cache has none', async () => {
  const title = `Rate ${randomUUID()}`;
  const rate = (v: { outputTokens: number; durationMs: number; ttftMs: number }) => (v.outputTokens * 1000) / Math.max(1, v.durationMs - v.ttftMs);
  const first = await (await start({ title, variants: 1 })).result();
  expect(first.variants[0].cached).toBe(false);
  expect(first.totals.tokensPerSecond).toBe(Math.round(rate(first.variants[0])));
  const mixed = await (await start({ title, variants: 2 })).result();
  const generated = mixed.variants.filter((v) => !v.cached);
  expect(generated).toHaveLength(1);
  expect(mixed.totals.tokensPerSecond).toBe(Math.round(rate(generated[0])));
  // So is its first token: a cached variant's is its cache lookup.
  expect(mixed.totals.firstTokenMs).toBe(generated[0].ttftMs);
  const cachedOnly = await (await start({ title, variants: 2 })).result();
  expect(cachedOnly.variants.every((v) => v.cached)).toBe(true);
  expect(cachedOnly.totals.tokensPerSecond).toBeUndefined();
});

it('a stream the provider breaks off (overloaded mid-stream) and that is sent again within the attempt starts over for watchers: stdout ends up holding the saved text, not the broken text and then the whole', async () => {
  stack.sim.configure({ faults: [{ kind: 'streamError', purpose: 'screenplay', times: 1 }], latency: { byPurpose: { screenplay: { fixedMs: 50, perOutputTokenMs: 1 } } } });
  const written: string[] = [];
  const printer = new StreamPrinter((text) => written.push(text));
  const workflowId = screenplayWorkflowId(randomUUID());
  // Listening before the run starts, as `generate --wait` does.
  const sub = await subscribeToStream(testDatabaseUrl(), workflowId, printer.onEvent);
  try {
    const handle = await stack.env.client.workflow.start(generateScreenplay, {
      taskQueue: stack.app.taskQueue,
      workflowId,
      args: [{ plot: HARBOUR_PLOT, personaNames: CREW.slice(0, 3), title: 'The Crossing', flags: { useCache: false } }],
    });
    const result = await handle.result();
    await waitFor(() => printer.done.has(0), 5_000, 'the variant\'s done event');
    const saved = (await repo().version(result.storyId, result.variants[0].version))!.fountain;
    // The broken-off text was written, then the stream said it starts over: nothing more is written as it comes.
    expect(printer.interrupted).toBe('its generation was retried (attempt 2)');
    expect(printer.complete(saved)).toBe(true);
    expect(written.join('')).toBe(saved);
    // Both requests are in the call log: the one broken off (Overloaded) and the one that answered.
    const rows = await stack.app.services.db.query(`SELECT outcome, error_type AS "errorType" FROM llm_calls WHERE workflow_id = $1 AND purpose = 'screenplay' ORDER BY created_at`, [workflowId]);
    expect(rows).toEqual([{ outcome: 'error', errorType: 'LlmOverloaded' }, { outcome: 'ok', errorType: null }]);
  } finally {
    await sub.close();
  }
});
