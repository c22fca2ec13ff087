/**
 * The fault matrix: each case says what it breaks, when, for how long, and what a good outcome
 * is. `inject` runs beside the ingestion; it waits for its moment on the run's progress (or on
 * the traffic through the Postgres proxy), breaks something, repairs it and says when.
 */
import type { DeepPartial, FaultRule, SimulatorConfig } from '../../src/llm/simulator';
import type { IngestionProgress } from '../../src/shared/ingestion';
import { readSse, type SseEvent } from '../../test/helpers/api';
import { killAndRestartWorker } from './measure';
import type { ChaosStack } from './stack';
import { STORY_CHAIN_CLUSTERS, STORY_CHAIN_PER_RUN } from './stories-case';
import type { ChaosWorker } from './worker-process';

export interface FaultRecord {
  /** ms since the run started. */
  faultAt: number;
  /** Simulator requests open at the fault (calls a kill can make repeat). */
  inFlight: number;
  /** ms since the run started when the fault was repaired (worker back, server back, proxy back, faults cleared). */
  restoredAt: number;
  note?: string;
  /**
   * A worker was SIGKILLed: its calls in flight are answered (and billed) by the provider, which
   * sees only a half-closed connection, but the process that would log them is gone.
   */
  killedWorker?: boolean;
  /** The fault's own check failed (e.g. a second worker could not start). */
  miss?: string;
  /** Recovery as the case measures it (ms from `restoredAt`), instead of to the next item done. */
  recoveryMs?: number;
}

export interface CaseCtx {
  stack: ChaosStack;
  timeScale: number;
  taskQueue: string;
  /** The case's worker processes (the first is started before the run). */
  workers: ChaosWorker[];
  workerEnv: Record<string, string>;
  workerEntry: boolean;
  /** ms since the run started. */
  now(): number;
  /** Resolves with the first progress sample that satisfies `pred`. */
  waitFor(pred: (p: IngestionProgress) => boolean, what: string): Promise<IngestionProgress>;
  sleep(ms: number): Promise<void>;
  log(msg: string): void;
  /** Resolves once the run has ended (completed, failed, or terminated at the deadline). */
  runEnded: Promise<void>;
  /** Cases with `viaApi`: the case's API process, which started the run. */
  api?: {
    url: string;
    token: string;
    workflowId: string;
    kill(): Promise<void>;
    /** Starts it again on the same port (resolves once it listens). */
    restart(): Promise<void>;
  };
}

export type Expectation = 'completes' | 'ends-at-once';

export interface ChaosCase {
  id: string;
  title: string;
  expect: Expectation;
  /** Simulator settings for the whole run (faults, keys), reset afterwards. */
  sim?: (ctx: { timeScale: number; keys: ChaosStack['keys'] }) => DeepPartial<SimulatorConfig>;
  workerEnv?: Record<string, string>;
  /** Workers run the product's entry (src/worker.ts, with its metrics server) instead of the test child. */
  workerEntry?: boolean;
  /**
   * The job the case runs: a script's ingestion (the default), a generateStories run over a day
   * of synthetic news (stories-case.ts), a generateScreenplay run (screenplay-case.ts) or a
   * story session's turns (session-case.ts).
   */
  job?: 'ingest' | 'stories' | 'stories-chain' | 'screenplay' | 'session';
  /**
   * Stories cases: the fault once this share of the syntheses is done: a worker SIGKILL (another
   * started at once), the dev server killed and started again 2 s later, or Postgres cut for `ms`.
   */
  synthesisFault?: { at: number; kind: 'worker-kill' | 'dev-server-kill' | 'postgres-cut'; ms?: number };
  /** Screenplay cases: SIGKILL the worker (and start another) once every variant's first text deltas arrived on the run's stream. */
  killWhileStreaming?: boolean;
  /** Session cases: SIGKILL the worker (and start another) during this turn, at `killDuring`. */
  killAtTurn?: number;
  /** When in the turn: while its first model call is open at the provider (the default), or right after its first write tool sent its COMMIT. */
  killDuring?: 'model-call' | 'write-commit';
  /** The run is started through the HTTP API (`storyloom serve`, a process of its own) instead of the Temporal client. */
  viaApi?: boolean;
  /** Extra time the case may take beyond the usual deadline (an outage's length). */
  extraDeadlineMs?: (timeScale: number) => number;
  inject?: (ctx: CaseCtx) => Promise<FaultRecord | undefined>;
  /** The id of the case's fault-free reference run, when it is not its job's baseline (the chains of runs have their own). */
  baseline?: string;
  /** Ingestion cases: the run continues as new after this many scenes (`scenesPerRun`, 400 by default). */
  scenesPerRun?: number;
  /** Not run on this branch: why. */
  notApplicable?: string;
  /**
   * A 429 storm: judge the wall time against what the provider's answers permit (rate-bound.ts),
   * each 429 followed by the wait it asked for; `target` is the largest wall/bound that passes.
   */
  rateBound?: { retryAfterMs: (timeScale: number) => number; target?: number };
}

/** The chains of runs: an ingestion continuing as new every 50 scenes (three runs at 120 scenes), a session every 2 turns (three runs of 5 turns). */
export const INGEST_CHAIN_PER_RUN = 50;
export const SESSION_CHAIN_TURNS_PER_RUN = 2;

const summariesAt = (fraction: number) => (p: IngestionProgress) =>
  p.phases.summaries.total > 0 && p.phases.summaries.done + p.phases.summaries.failed >= Math.ceil(p.phases.summaries.total * fraction);
const inPhase2 = (p: IngestionProgress) => p.phase === 'phase2' && p.phases.sheets.done + p.phases.outline.done >= 1;

/** Once `when` holds, the next INSERT into `table` is held at the proxy and the worker dies with it in flight, then restarts. */
const killDuringInsert = (when: (p: IngestionProgress) => boolean, whenLabel: string, table: string) => async (ctx: CaseCtx): Promise<FaultRecord | undefined> => {
  await ctx.waitFor(when, whenLabel);
  const held = new Promise<void>((resolve) => {
    ctx.stack.proxy.onClientData = (chunk) => {
      if (!chunk.includes(`INSERT INTO "${table}"`)) return false;
      ctx.stack.proxy.onClientData = undefined;
      resolve();
      return true;
    };
  });
  await held;
  return killAndRestartWorker(
    ctx.stack,
    ctx.workers,
    () => ctx.stack.startWorker(ctx.taskQueue, ctx.workerEnv, { entry: ctx.workerEntry }),
    ctx.now,
    `killed with an INSERT INTO ${table} held at the proxy`,
  );
};

/** SIGKILL the case's worker once `when` holds; start a new one at once. */
function killWorker(when: (p: IngestionProgress) => boolean, what: string) {
  return async (ctx: CaseCtx): Promise<FaultRecord> => {
    await ctx.waitFor(when, what);
    return killAndRestartWorker(ctx.stack, ctx.workers, () => ctx.stack.startWorker(ctx.taskQueue, ctx.workerEnv, { entry: ctx.workerEntry }), ctx.now);
  };
}

/** Cuts the Postgres proxy for `ms` once the summaries are a third done. */
function cutPostgres(ms: (timeScale: number) => number, note: string) {
  return async (ctx: CaseCtx): Promise<FaultRecord> => {
    await ctx.waitFor(summariesAt(0.3), 'summaries 30% done');
    const inFlight = ctx.stack.sim.stats().currentConcurrent;
    const faultAt = ctx.now();
    await ctx.stack.proxy.cut();
    await ctx.sleep(ms(ctx.timeScale));
    await ctx.stack.proxy.restore();
    return { faultAt, inFlight, restoredAt: ctx.now(), note };
  };
}

/** Provider faults on for a window once the summaries are under way, then off. */
function providerWindow(rules: (ts: number) => FaultRule[], windowMs: (ts: number) => number, note: string) {
  return async (ctx: CaseCtx): Promise<FaultRecord> => {
    await ctx.waitFor(summariesAt(0.1), 'summaries 10% done');
    const faultAt = ctx.now();
    ctx.stack.sim.configure({ faults: rules(ctx.timeScale) });
    await ctx.sleep(windowMs(ctx.timeScale));
    ctx.stack.sim.configure({ faults: [] });
    return { faultAt, inFlight: 0, restoredAt: ctx.now(), note };
  };
}

/**
 * The API process dies under an SSE client following the run: SIGKILL once the summaries are a
 * third done, started again on the same port, and the client reconnects with the last event id it
 * holds, as a browser's EventSource does. Recovery is from the restart to the client's next event;
 * the client must get the run's final event.
 */
async function killApi(ctx: CaseCtx): Promise<FaultRecord> {
  const api = ctx.api;
  if (!api) throw new Error('api-kill runs with viaApi');
  const url = `${api.url}/api/runs/${encodeURIComponent(api.workflowId)}/events`;
  const auth = { authorization: `Bearer ${api.token}` };
  const events: { t: number; event: SseEvent }[] = [];
  let lastId: string | undefined;
  const onEvent = (event: SseEvent) => {
    events.push({ t: ctx.now(), event });
    if (event.id) lastId = event.id;
  };
  const isFinal = (e: SseEvent) => e.event === 'final';
  // Gives up a while after the run ended: a client that never hears the final event is a miss, not a hang.
  const giveUp = new AbortController();
  ctx.runEnded.then(() => ctx.sleep(30_000)).then(
    () => giveUp.abort(),
    () => giveUp.abort(),
  );
  const read = (headers: Record<string, string>) =>
    readSse(url, { headers: { ...auth, ...headers }, until: isFinal, onEvent, signal: giveUp.signal }).catch((err: unknown) => ({
      status: 0,
      events: [] as SseEvent[],
      ended: true,
      error: (err as Error).message,
    }));

  const first = read({});
  await ctx.waitFor(summariesAt(0.3), 'summaries 30% done');
  const inFlight = ctx.stack.sim.stats().currentConcurrent;
  const faultAt = ctx.now();
  await api.kill();
  const beforeKill = (await first).events.length;
  const idAtKill = lastId;
  await api.restart();
  const restoredAt = ctx.now();
  let reconnects = 0;
  let resumedFrom: string | undefined;
  let got: SseEvent[] = [];
  while (!giveUp.signal.aborted && !got.some(isFinal)) {
    reconnects++;
    resumedFrom = lastId;
    got = (await read(lastId ? { 'last-event-id': lastId } : {})).events;
    if (!got.some(isFinal)) await ctx.sleep(500);
  }
  const next = events.find((e) => e.t > restoredAt);
  const final = got.find(isFinal);
  const finalStatus = final ? (final.data as { status?: string }).status : undefined;
  const repeated = got.filter((e) => e.event === 'progress' && e.id === resumedFrom).length;
  const note =
    `SSE: ${beforeKill} event(s) before the kill (first at ${secs(events[0]?.t)}, kill at ${secs(faultAt)}, last id ${idAtKill ?? 'none'}); ` +
    `API down ${secs(restoredAt - faultAt)} (kill to listening, sources compiled on load); ${reconnects} reconnect(s) with Last-Event-ID, ` +
    `${got.length} event(s) after${final ? `, final ${finalStatus}` : ', no final event'}${repeated ? `, ${repeated} repeated` : ''}`;
  const misses = [
    ...(final ? [] : ['the SSE client never got the final event']),
    ...(final && finalStatus !== 'COMPLETED' ? [`the final event says ${finalStatus}`] : []),
    ...(repeated ? [`the resumed stream repeated the event ${resumedFrom}`] : []),
    ...(idAtKill ? [] : ['no event before the kill to resume from']),
  ];
  return {
    faultAt,
    inFlight,
    restoredAt,
    note,
    recoveryMs: next ? next.t - restoredAt : undefined,
    ...(misses.length ? { miss: misses.join('; ') } : {}),
  };
}

const secs = (ms: number | undefined) => (ms === undefined ? '—' : `${(ms / 1000).toFixed(1)} s`);

const UNKNOWN_MODEL = 'claude-chaos-no-such-model';

/** The storm's retry-after: the issue's 5 s, scaled, at least 1 s. */
const stormRetryAfterMs = (timeScale: number) => Math.max(1000, 5000 * timeScale);

export const CASES: ChaosCase[] = [
  { id: 'baseline', title: 'no fault (the reference run)', expect: 'completes' },
  {
    id: 'worker-kill-summaries',
    title: 'worker SIGKILL mid-summaries, restarted',
    expect: 'completes',
    inject: killWorker(summariesAt(0.4), 'summaries 40% done'),
  },
  {
    id: 'worker-kill-batch-write',
    title: 'worker SIGKILL during a summaries batch write, restarted',
    expect: 'completes',
    inject: killDuringInsert(summariesAt(0.2), 'summaries 20% done', 'scene_summaries'),
  },
  {
    id: 'worker-kill-final-write',
    title: "worker SIGKILL during the run's last write (the sheets, a local activity), restarted",
    expect: 'completes',
    // Under 50 characters the sheets are written once, at the end, by a local activity.
    inject: killDuringInsert(inPhase2, 'phase 2 under way', 'character_sheets'),
  },
  {
    id: 'worker-kill-phase1-last-write',
    title: "worker SIGKILL during phase 1's last write (its held rows with phase 2's plan, a local activity), restarted",
    expect: 'completes',
    // Batches of 25: by 90 % of the summaries every full batch is written, so the next INSERT is the last one.
    inject: killDuringInsert(summariesAt(0.9), 'summaries 90% done', 'scene_summaries'),
  },
  {
    id: 'worker-kill-phase2',
    title: 'worker SIGKILL mid-phase 2 (outline / sheets / embeddings), restarted',
    expect: 'completes',
    inject: killWorker(inPhase2, 'phase 2 under way'),
  },
  {
    id: 'ingest-chain-baseline',
    title: `an ingestion continuing as new every ${INGEST_CHAIN_PER_RUN} scenes (a run of phase 1 each, phase 2 in the last): no fault (the reference run of the ingestion chain)`,
    expect: 'completes',
    scenesPerRun: INGEST_CHAIN_PER_RUN,
    baseline: 'ingest-chain-baseline',
  },
  {
    id: 'worker-kill-ingest-handover',
    title: `an ingestion continuing as new every ${INGEST_CHAIN_PER_RUN} scenes: worker SIGKILL once ${INGEST_CHAIN_PER_RUN} summaries are done (the first run's last write and its hand-over), restarted`,
    expect: 'completes',
    scenesPerRun: INGEST_CHAIN_PER_RUN,
    baseline: 'ingest-chain-baseline',
    inject: killWorker((p) => p.phases.summaries.done >= INGEST_CHAIN_PER_RUN, `${INGEST_CHAIN_PER_RUN} summaries done`),
  },
  {
    id: 'dev-server-kill',
    title: 'dev server kill -9 mid-summaries, restarted on the same data file',
    expect: 'completes',
    inject: async (ctx) => {
      await ctx.waitFor(summariesAt(0.3), 'summaries 30% done');
      const inFlight = ctx.stack.sim.stats().currentConcurrent;
      const faultAt = ctx.now();
      await ctx.stack.server.kill();
      await ctx.sleep(2000);
      await ctx.stack.server.start();
      return { faultAt, inFlight, restoredAt: ctx.now() };
    },
  },
  {
    id: 'postgres-restart',
    title: 'Postgres restart (every connection cut, refused for 2 s)',
    expect: 'completes',
    inject: cutPostgres(() => 2000, 'proxy cut 2 s'),
  },
  {
    id: 'postgres-outage-20s',
    title: 'Postgres unreachable for 20 s',
    expect: 'completes',
    extraDeadlineMs: () => 20_000,
    inject: cutPostgres(() => 20_000, 'proxy cut 20 s (real time, not scaled)'),
  },
  {
    id: 'postgres-outage-120s',
    title: 'Postgres unreachable for 120 s (longer than the database retry budget)',
    expect: 'completes',
    extraDeadlineMs: () => 120_000,
    inject: cutPostgres(() => 120_000, 'proxy cut 120 s (real time, not scaled)'),
  },
  {
    id: 'api-kill',
    title: 'API process SIGKILL mid-summaries (run started through the API, followed by SSE), restarted; the SSE client resumes with Last-Event-ID',
    expect: 'completes',
    viaApi: true,
    inject: killApi,
  },
  {
    id: 'stories-baseline',
    title: 'news stories (generateStories, 72 articles in 12 clusters): no fault (the reference run of the stories cases)',
    expect: 'completes',
    job: 'stories',
  },
  {
    id: 'worker-kill-synthesis',
    title: 'news stories: worker SIGKILL mid-synthesis, restarted',
    expect: 'completes',
    job: 'stories',
    synthesisFault: { at: 0.4, kind: 'worker-kill' },
  },
  {
    id: 'stories-chain-baseline',
    title: `news stories at ${STORY_CHAIN_CLUSTERS} clusters, ${STORY_CHAIN_PER_RUN} syntheses a run (the run continues as new twice and writes its stories ${STORY_CHAIN_PER_RUN} at a time as they are made): no fault`,
    expect: 'completes',
    job: 'stories-chain',
  },
  {
    id: 'worker-kill-stories-handover',
    title: `news stories in a chain of runs: worker SIGKILL at 40% of the syntheses (about ${STORY_CHAIN_PER_RUN} done: the first run's last write and its hand-over), restarted`,
    expect: 'completes',
    job: 'stories-chain',
    synthesisFault: { at: 0.4, kind: 'worker-kill' },
  },
  {
    id: 'dev-server-kill-stories',
    title: 'news stories in a chain of runs: dev server kill -9 in the second run, restarted on the same data file 2 s later',
    expect: 'completes',
    job: 'stories-chain',
    synthesisFault: { at: 0.6, kind: 'dev-server-kill' },
  },
  {
    id: 'postgres-outage-20s-stories',
    title: 'news stories in a chain of runs: Postgres unreachable for 20 s while the syntheses are written as they are made',
    expect: 'completes',
    job: 'stories-chain',
    extraDeadlineMs: () => 20_000,
    synthesisFault: { at: 0.3, kind: 'postgres-cut', ms: 20_000 },
  },
  {
    id: 'screenplay-baseline',
    title: 'screenplay (generateScreenplay, 5 personas, 3 variants streamed): no fault (the reference run of the screenplay cases)',
    expect: 'completes',
    job: 'screenplay',
  },
  {
    id: 'worker-kill-screenplay-stream',
    title: 'screenplay: worker SIGKILL while the variants stream (after their first text deltas), restarted',
    expect: 'completes',
    job: 'screenplay',
    killWhileStreaming: true,
  },
  {
    id: 'session-baseline',
    title: 'story session (storySession, 5 turns as takeTurn Updates, 3 read and 2 write tools each): no fault (the reference run of the session cases)',
    expect: 'completes',
    job: 'session',
  },
  {
    id: 'worker-kill-session-turn',
    title: "story session: worker SIGKILL during turn 3's model call, restarted; the client's Update waits for the reply",
    expect: 'completes',
    job: 'session',
    killAtTurn: 3,
  },
  {
    id: 'worker-kill-session-write',
    title: "story session: worker SIGKILL right after turn 4's first write tool sent its COMMIT (written, never reported), restarted",
    expect: 'completes',
    job: 'session',
    killAtTurn: 4,
    killDuring: 'write-commit',
  },
  {
    id: 'session-chain-baseline',
    title: `story session continuing as new every ${SESSION_CHAIN_TURNS_PER_RUN} turns (STORYLOOM_SESSION_TURNS_PER_RUN, 50 by default): no fault (the reference run of the session chain)`,
    expect: 'completes',
    job: 'session',
    workerEnv: { STORYLOOM_SESSION_TURNS_PER_RUN: String(SESSION_CHAIN_TURNS_PER_RUN) },
    baseline: 'session-chain-baseline',
  },
  {
    id: 'worker-kill-session-handover',
    title: `story session continuing as new every ${SESSION_CHAIN_TURNS_PER_RUN} turns: worker SIGKILL during turn 3's model call (the first turn of the second run), restarted`,
    expect: 'completes',
    job: 'session',
    workerEnv: { STORYLOOM_SESSION_TURNS_PER_RUN: String(SESSION_CHAIN_TURNS_PER_RUN) },
    baseline: 'session-chain-baseline',
    killAtTurn: 3,
  },
  {
    id: 'two-workers-one-host',
    title: 'a second worker process (`npm run worker`) on the same host, same configuration',
    expect: 'completes',
    workerEntry: true,
    inject: async (ctx) => {
      const faultAt = ctx.now();
      try {
        ctx.workers.push(await ctx.stack.startWorker(ctx.taskQueue, ctx.workerEnv, { entry: true }));
        return { faultAt, inFlight: 0, restoredAt: ctx.now(), note: 'second worker started' };
      } catch (err) {
        const reason = (err as Error).message.split(';')[0];
        return { faultAt, inFlight: 0, restoredAt: ctx.now(), note: `second worker: ${reason}`, miss: `the second worker did not start (${reason})` };
      }
    },
  },
  {
    id: '429-retry-after',
    title: '429 storm, 50% of calls, retry-after 5 s',
    expect: 'completes',
    sim: ({ timeScale }) => ({ faults: [{ kind: 'http429', rate: 0.5, retryAfterMs: stormRetryAfterMs(timeScale) }] }),
    rateBound: { retryAfterMs: stormRetryAfterMs, target: 1.2 },
  },
  {
    id: '429-no-retry-after',
    title: '429 storm, 50% of calls, no retry-after',
    expect: 'completes',
    sim: () => ({ faults: [{ kind: 'http429NoRetryAfter', rate: 0.5 }] }),
    // Without retry-after the provider permits an immediate retry: the bound waits nothing, and
    // the run's own back-off shows as the distance to it (no target: the issue sets it with retry-after).
    rateBound: { retryAfterMs: () => 0 },
  },
  {
    id: '5xx-burst',
    title: '5xx burst: every call 500/529 for 10 s',
    expect: 'completes',
    inject: providerWindow(() => [{ kind: 'http500', rate: 0.5 }, { kind: 'http529' }], (ts) => Math.max(3000, 10_000 * ts), 'every call 500 or 529'),
  },
  {
    id: 'hang',
    title: `hangs past the request timeout (${5} s): 20 calls never answered`,
    expect: 'completes',
    sim: () => ({ faults: [{ kind: 'hang', times: 20 }] }),
  },
  {
    id: 'malformed',
    title: 'malformed bodies: 20% of calls (at most 30)',
    expect: 'completes',
    sim: () => ({ faults: [{ kind: 'malformed', rate: 0.2, times: 30 }] }),
  },
  {
    id: 'schema-breaking',
    title: 'schema-breaking JSON: 20% of calls (at most 30)',
    expect: 'completes',
    sim: () => ({ faults: [{ kind: 'wrongShape', rate: 0.2, times: 30 }] }),
  },
  {
    id: '401',
    title: '401: the provider rejects the API key',
    expect: 'ends-at-once',
    sim: ({ keys }) => ({ apiKeys: { anthropic: `${keys.anthropic}-rotated`, openai: keys.openai } }),
  },
  {
    id: '404-unknown-model',
    title: `404: unknown model (STORYLOOM_MODEL_SUMMARY=anthropic:${UNKNOWN_MODEL})`,
    expect: 'ends-at-once',
    workerEnv: { STORYLOOM_MODEL_SUMMARY: `anthropic:${UNKNOWN_MODEL}` },
    sim: () => ({ faults: [{ kind: 'http404', contains: UNKNOWN_MODEL }] }),
  },
];
