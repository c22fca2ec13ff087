/**
 * Row S1.6's peer: the default ingestion on DBOS Transact (@dbos-inc/dbos-sdk) — durable
 * workflows on Postgres alone, what a user who wants durability without a Temporal server
 * would pick. The same pipeline as storyloom's defaults: the same prompts, LLM service
 * (adapters, cache, call log), simulator and repository writes; summaries 10 at a time, then
 * outline ∥ sheets (5 at a time) ∥ embeddings. Every provider call is a DBOS step (its output
 * checkpointed in DBOS's system tables, here in the bench database behind the wire counter).
 *
 * Steps start in a fixed order (a FIFO limiter starts queued work in submission order), so a
 * recovered workflow replays its steps by the same ids. The summaries are written as storyloom's
 * batch writer writes them, while phase 1 runs: in batches of 25, each a step, in scene order,
 * each batch as soon as its scenes are answered (one at a time, in order), only a remainder of
 * fewer than 25 after the last summary (`summarizeAndSave`). The run's own bookkeeping is
 * storyloom's too: its `ingestion_runs` row written with the plan, then finished, and its
 * `run_reports` row built from the call log when it ends.
 */
import { DBOS } from '@dbos-inc/dbos-sdk';
import type { DataSource } from 'typeorm';
import type { AppConfig } from '../../src/config';
import { IngestionRepository, type DeferredLlmWrites, type EmbeddingRow, type SheetRow, type SummaryRow } from '../../src/db/repositories/ingestion.repository';
import { CHARACTER_SHEET_SCHEMA, parseCharacterSheet } from '../../src/domain/ingestion/character-sheet';
import { embeddingBatches } from '../../src/domain/ingestion/embedding-batches';
import { characterSheetPrompt, outlinePrompt, PROMPT_VERSIONS, sceneEmbeddingText, sceneSummaryPrompt, summariesDigest } from '../../src/domain/ingestion/prompts';
import { deferredWrites, type CallContext, type LlmService } from '../../src/llm/llm-service';
import { embeddingInputHash, outlineInputHash, sheetInputHash } from '../../src/activities/ingestion.activities';
import type { LlmRoute } from '../../src/shared/llm-routing';
import { DEFAULT_FLAGS } from '../../src/shared/ingestion';
import { buildRunReport, saveRunReport } from '../../src/reporting/load-run-report';
import { mapLimit } from '../limiter';

const WRITE_BATCH = 25;
const SYSTEM_POOL_SIZE = 10;

export interface DbosPeerDeps {
  config: AppConfig;
  db: DataSource;
  repo: IngestionRepository;
  llm: LlmService;
  concurrency: { summaries: number; sheets: number };
  /** Writes the worker's buffered call-log rows and statement counts, as storyloom's report does first. */
  flushRecorders: () => Promise<void>;
}

export interface DbosPeer {
  /** Launches DBOS; `ingest` runs only between `launch` and `shutdown`. */
  launch(): Promise<void>;
  ingest(scriptId: string): Promise<DbosPeerResult>;
  shutdown(): Promise<void>;
}

/** What the peer made, and its workflow id (its `ingestion_runs` and `run_reports` rows are keyed by it). */
export interface DbosPeerResult {
  workflowId: string;
  summaries: number;
  sheets: number;
  embedded: number;
}

/**
 * How the workflow runs a step and knows its id: DBOS's own in the bench, a fake in the unit
 * test (test/unit/bench-dbos-peer.test.ts).
 */
export interface StepRunner {
  workflowId(): string;
  runStep<T>(fn: () => Promise<T>, config: { name: string; retriesAllowed?: boolean; maxAttempts?: number }): Promise<T>;
}

const dbosSteps: StepRunner = {
  workflowId: () => DBOS.workflowID!,
  runStep: (fn, config) => DBOS.runStep(fn, config),
};

/**
 * Phase 1 with its writes: `summarize` of each item as a step, `concurrency` at a time (the FIFO
 * limiter starts them in item order), and `save` of the results in batches of `batchSize`, in
 * item order, each a step, chained after the one before. A full batch is written as soon as its
 * items are done (while later summaries run: the writes take no summary slot); a remainder of
 * fewer than `batchSize` once every item is done. Resolves with the results in item order once
 * every batch is written.
 *
 * DBOS gives a step its id when the step is called (`functionIDGetIncrement` in `callStepFunction`)
 * and a recovered workflow must call the same steps in the same order (DBOSUnexpectedStepError
 * otherwise). So a batch's step is called at a fixed place — right after the step of its last
 * item is called — and waits inside for its items and for the batch before it: calling it when
 * the batch fills would give it an id that depends on how many summaries had started by then.
 */
export async function summarizeAndSave<S, R>(
  steps: StepRunner,
  items: readonly S[],
  opts: {
    concurrency: number;
    batchSize: number;
    summarize: { name: string; retriesAllowed?: boolean; maxAttempts?: number; run: (item: S) => Promise<R> };
    save: { name: string; run: (rows: R[]) => Promise<void> };
  },
): Promise<R[]> {
  const { batchSize } = opts;
  const results: Promise<R>[] = [];
  const writes: Promise<void>[] = [];
  const rows = await mapLimit(items, opts.concurrency, (item, i) => {
    const { run, ...config } = opts.summarize;
    const result = steps.runStep(() => run(item), config);
    results[i] = result;
    const full = (i + 1) % batchSize === 0;
    if (full || i === items.length - 1) {
      const from = i - (i % batchSize);
      const previous = writes.at(-1);
      const write = steps.runStep(async () => {
        await previous;
        const done = await Promise.all(full ? results.slice(from, i + 1) : results);
        await opts.save.run(full ? done : done.slice(from));
      }, { name: opts.save.name });
      // Observed here and awaited below (or by the next batch): a failed batch fails phase 1.
      write.catch(() => undefined);
      writes.push(write);
    }
    return result;
  });
  await Promise.all(writes);
  return rows;
}

let registered = false;

/**
 * Registers the peer's workflow with DBOS (once per process: DBOS is a singleton) against
 * `systemDatabaseUrl` (its tables go in schema `dbos`). DBOS polls its system tables while
 * launched, even idle, so the bench launches it only around the peer's own runs.
 */
export function createDbosPeer(systemDatabaseUrl: string, deps: DbosPeerDeps): DbosPeer {
  if (registered) throw new Error('the DBOS peer is registered once per process');
  registered = true;
  const workflow = DBOS.registerWorkflow(peerIngestion(deps), { name: 'ingestScriptDbos' });
  // DBOS.launch() builds a new system-database pool each time and the peer is launched around each
  // of its runs: before timing, `launch` opens as many of its connections as the run's widest burst
  // of steps uses (the summary window), as storyloom's pools are open from its warm-up and earlier runs.
  const warm = DBOS.registerWorkflow(
    async (n: number) => {
      await Promise.all(Array.from({ length: n }, (_, i) => DBOS.runStep(() => Promise.resolve(i), { name: 'warm' })));
    },
    { name: 'warmDbosPeer' },
  );
  return {
    async launch() {
      DBOS.setConfig({ name: 'storyloom-bench-peer', systemDatabaseUrl, logLevel: 'error', systemDatabasePoolSize: SYSTEM_POOL_SIZE });
      await DBOS.launch();
      const handle = await DBOS.startWorkflow(warm)(Math.min(SYSTEM_POOL_SIZE, deps.concurrency.summaries));
      await handle.getResult();
    },
    async ingest(scriptId) {
      const handle = await DBOS.startWorkflow(workflow)(scriptId);
      return handle.getResult();
    },
    shutdown: () => DBOS.shutdown(),
  };
}

/** The peer's workflow function; `steps` is DBOS's (a fake in the unit test). */
export function peerIngestion(deps: DbosPeerDeps, steps: StepRunner = dbosSteps): (scriptId: string) => Promise<DbosPeerResult> {
  const { repo, llm, config } = deps;
  const route = (purpose: 'summary' | 'outline' | 'sheet' | 'embedding'): LlmRoute => ({ ...config.llm.models[purpose], taskQueue: '', requestTimeoutMs: config.llm.requestTimeoutMs });
  // Each step's calls get a row key (workflow/step/attempt/index), as an activity's do.
  const ctxFor = (step: string): CallContext => {
    let calls = 0;
    return { workflowId: steps.workflowId(), runId: steps.workflowId(), activityId: step, activityType: step.split(':')[0], attempt: 1, nextCallIndex: () => calls++ };
  };

  async function ingest(scriptId: string): Promise<DbosPeerResult> {
    const summaryRoute = route('summary');
    const startedAt = Date.now();
    const runId = steps.workflowId();
    // The run's row and phase 1's plan at once, as storyloom's start does.
    const [title, states] = await steps.runStep(
      () =>
        Promise.all([
          repo.scriptTitle(scriptId).then(async (t) => {
            await repo.startRun({ workflowId: runId, runId, scriptId, mode: 'full', flags: DEFAULT_FLAGS, concurrency: deps.concurrency });
            return t;
          }),
          repo.sceneSummaryStates(scriptId, summaryRoute.model, PROMPT_VERSIONS.summary),
        ]),
      { name: 'plan' },
    );
    const scenes = states.length ? await steps.runStep(async () => Object.fromEntries(await repo.scenesOfScriptWith(states[0].id)), { name: 'loadScenes' }) : {};

    // Phase 1: a summary step per scene, 10 at a time; the rows in batches of 25 as they fill.
    const rows = await summarizeAndSave(steps, states, {
      concurrency: deps.concurrency.summaries,
      batchSize: WRITE_BATCH,
      summarize: {
        name: 'summarizeScene',
        retriesAllowed: true,
        maxAttempts: 8,
        run: async (s): Promise<SummaryRow & DeferredLlmWrites> => {
          const scene = scenes[s.id];
          const collect = deferredWrites();
          const r = await llm.chat(
            { purpose: 'summary', provider: summaryRoute.provider, model: summaryRoute.model, promptVersion: PROMPT_VERSIONS.summary, request: sceneSummaryPrompt(scene), useCache: true, refreshCache: true },
            { ...ctxFor(`summarizeScene:${s.id}`), collect },
          );
          return { sceneId: s.id, contentHash: scene.contentHash, model: summaryRoute.model, promptVersion: PROMPT_VERSIONS.summary, summary: r.text.trim(), ...collect };
        },
      },
      save: { name: 'saveSummaries', run: (batch) => repo.saveSummaries(batch) },
    });
    const phase1Ms = Date.now() - startedAt;

    // Phase 2: outline ∥ sheets ∥ embeddings.
    const outline = steps.runStep(
      async () => {
        const r = route('outline');
        const summaries = await repo.summariesInOrder(scriptId);
        const o = await llm.chat(
          { purpose: 'outline', provider: r.provider, model: r.model, promptVersion: PROMPT_VERSIONS.outline, request: outlinePrompt(title, summariesDigest(summaries)), useCache: true, refreshCache: true },
          ctxFor('writeOutline'),
        );
        await repo.saveOutline({ scriptId, outline: o.text.trim(), model: r.model, promptVersion: PROMPT_VERSIONS.outline, sections: 1, inputHash: outlineInputHash(r, title, summaries) });
      },
      { name: 'writeOutline' },
    );
    const sheets = (async () => {
      const r = route('sheet');
      const characters = (await steps.runStep(() => repo.charactersWithScenes(scriptId), { name: 'loadCharacters' })).filter((c) => c.scenes.length > 0);
      const made = await mapLimit(characters, deps.concurrency.sheets, (c) =>
        steps.runStep(
          async (): Promise<SheetRow & DeferredLlmWrites> => {
            const collect = deferredWrites();
            const a = await llm.chat(
              {
                purpose: 'sheet', provider: r.provider, model: r.model, promptVersion: PROMPT_VERSIONS.sheet,
                request: { ...characterSheetPrompt(title, c.name, c.scenes), jsonSchema: { name: 'character_sheet', schema: CHARACTER_SHEET_SCHEMA as unknown as Record<string, unknown> } },
                useCache: true, refreshCache: true,
              },
              { ...ctxFor(`generateCharacterSheet:${c.id}`), collect },
            );
            const sheet = { ...parseCharacterSheet(a.text), name: c.name };
            return { characterId: c.id, sheet, model: r.model, promptVersion: PROMPT_VERSIONS.sheet, inputHash: sheetInputHash(r, title, c.name, c.scenes), ...collect };
          },
          { name: 'generateCharacterSheet', retriesAllowed: true, maxAttempts: 8 },
        ),
      );
      await steps.runStep(() => repo.saveSheets(made), { name: 'saveSheets' });
      return made.length;
    })();
    const embeddings = steps.runStep(
      async () => {
        const r = route('embedding');
        const summaries = await repo.summariesInOrder(scriptId);
        const out: EmbeddingRow[] = [];
        for (const batch of embeddingBatches(summaries, sceneEmbeddingText)) {
          const e = await llm.embed(
            { purpose: 'embedding', provider: r.provider, model: r.model, promptVersion: PROMPT_VERSIONS.embedding, texts: batch.map(sceneEmbeddingText), dimensions: config.llm.embeddingDimensions, useCache: true, refreshCache: true },
            ctxFor('embedScenes'),
          );
          batch.forEach((s, i) => out.push({ sceneId: s.id, inputHash: embeddingInputHash(r, s), model: r.model, vector: e.vectors[i] }));
        }
        await repo.saveEmbeddings(out);
        return out.length;
      },
      { name: 'embedScenes' },
    );
    const [, sheetCount, embedded] = await Promise.all([outline, sheets, embeddings]);
    const done = { workflowId: runId, summaries: rows.length, sheets: sheetCount, embedded };
    // The run's row finished ∥ its report, as storyloom's end does (no history: its length is unknown).
    const wallMs = Date.now() - startedAt;
    await steps.runStep(
      async () => {
        const run = {
          workflowId: runId, runIds: [runId], kind: 'ingestScript', scriptId, status: 'completed', wallMs,
          phasesMs: { summaries: phase1Ms, phase2: wallMs - phase1Ms }, ingestion: { flags: DEFAULT_FLAGS, concurrency: deps.concurrency },
        };
        await Promise.all([
          repo.finishRun(runId, 'completed', { scriptId, status: 'completed', ...done }, []),
          (async () => {
            await deps.flushRecorders();
            await saveRunReport(deps.db, run, await buildRunReport({ db: deps.db, prices: config.llm.prices, historyLength: async () => null }, run));
          })(),
        ]);
      },
      { name: 'finishRun' },
    );
    return done;
  }
  return ingest;
}

export { IngestionRepository };
