/**
 * `ingestScript`: the durable plan for one script. Phase 1 summarises scenes (a sliding window
 * of LLM calls, writes in batches); phase 2 makes the outline, the character sheets and the
 * embeddings (concurrently with `parallelPhase2`). Long scripts continue-as-new every
 * `scenesPerRun` scenes so history stays bounded; progress, pause and concurrency survive it.
 */
import {
  ApplicationFailure,
  CancellationScope,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  defineUpdate,
  isCancellation,
  makeContinueAsNewFunc,
  patched,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { PlannedScene } from '../activities/ingestion.activities';
import type { SheetRow, SummaryRow } from '../db/repositories/ingestion.repository';
import { RUN_FATAL_LLM_FAILURES, type LlmFailureType } from '../shared/failure-types';
import {
  concurrencyChangeError,
  DEFAULT_CONCURRENCY,
  DEFAULT_FLAGS,
  MAX_CONCURRENCY,
  type IngestionConcurrency,
  type IngestionFailure,
  type IngestionFlags,
  type IngestionMode,
  type IngestionProgress,
  type IngestionResult,
  type IngestionStatus,
  type PhaseName,
  type PhaseProgress,
  type SteeringState,
} from '../shared/ingestion';
import type { LlmRoute } from '../shared/llm-routing';
import { JOB_KEY, STATUS_KEY, storyloomSearchAttributes, type SearchStatus } from '../shared/search-attributes';
import { llmActivities, localActivities, mainActivities } from './activity-options';
import { describeFailure } from './failures';
import { batchWriter } from './batch-writer';
import { slidingWindow } from './sliding-window';

export const progressQuery = defineQuery<IngestionProgress>('progress');
/** Steering: updates validate the request and answer the new state (a rejected one changes nothing). */
export const pauseUpdate = defineUpdate<SteeringState>('pause');
export const resumeUpdate = defineUpdate<SteeringState>('resume');
export const setConcurrencyUpdate = defineUpdate<SteeringState, [Partial<IngestionConcurrency>]>('setConcurrency');
/** The signals the updates replaced: kept for runs and clients that still send them (no validation, no answer). */
export const pauseSignal = defineSignal('pause');
export const resumeSignal = defineSignal('resume');
export const setConcurrencySignal = defineSignal<[Partial<IngestionConcurrency>]>('setConcurrency');
/** Search attributes are upserted commands: histories recorded before them must replay without. */
const SEARCH_ATTRIBUTES_PATCH = 'search-attributes';

export interface IngestScriptInput {
  scriptId: string;
  mode: IngestionMode;
  flags?: Partial<IngestionFlags>;
  concurrency?: Partial<IngestionConcurrency>;
  /** Scenes summarised per workflow run before continue-as-new (bounds history). Default 400. */
  scenesPerRun?: number;
  /** Summaries written per transaction. Default 25. */
  writeBatchSize?: number;
  /** Set by the workflow itself when it continues as new. */
  carried?: CarriedState;
}

interface Routes {
  summary: LlmRoute;
  outline: LlmRoute;
  sheet: LlmRoute;
  embedding: LlmRoute;
}

interface CarriedState {
  runId: string;
  title: string;
  routes: Routes;
  startedAt: number;
  afterPosition: number;
  phases: Record<PhaseName, PhaseProgress>;
  failures: IngestionFailure[];
  failureCount: number;
  paused: boolean;
  concurrency: IngestionConcurrency;
  /** Every run of this execution chain (continue-as-new starts a new one). */
  runIds: string[];
}

const MAX_FAILURES_KEPT = 50;
/**
 * Batch writes run outside the run's cancellation: a cancel keeps what was summarised, and the
 * run's bookkeeping after it is not stopped by a write cancelled half-way.
 */
export const WRITES_SURVIVE_CANCELLATION_PATCH = 'batch-writes-survive-cancellation';
/** Phase 2 waits for every step to settle before a failure or cancellation ends the run. */
export const PHASE2_SETTLES_EVERY_STEP_PATCH = 'phase2-settles-every-step';
/** A sheet is ~0.5 KB: 50 per write keeps each payload far under Temporal's 256 KB warning. */
const SHEETS_PER_WRITE = 50;
const emptyPhase = (): PhaseProgress => ({ total: 0, done: 0, failed: 0, reused: 0 });

export async function ingestScript(input: IngestScriptInput): Promise<IngestionResult> {
  const flags: IngestionFlags = { ...DEFAULT_FLAGS, ...input.flags };
  const scenesPerRun = input.scenesPerRun ?? 400;
  const writeBatchSize = input.writeBatchSize ?? 25;
  const info = workflowInfo();
  const state: CarriedState = input.carried ?? {
    runId: info.firstExecutionRunId,
    title: '',
    routes: undefined as unknown as Routes,
    startedAt: Date.now(),
    afterPosition: -1,
    phases: { summaries: emptyPhase(), outline: emptyPhase(), sheets: emptyPhase(), embeddings: emptyPhase() },
    failures: [],
    failureCount: 0,
    paused: false,
    concurrency: { ...DEFAULT_CONCURRENCY, ...input.concurrency },
    runIds: [],
  };
  state.runIds.push(info.runId);
  let phase: IngestionProgress['phase'] = input.carried ? 'summaries' : 'starting';
  let fatal: { type: string; message: string } | undefined;
  // When the cancel was asked for: phases it cuts short end there in the report.
  let cancelledAt: number | undefined;
  CancellationScope.current().cancelRequested.catch(() => {
    cancelledAt ??= Date.now();
  });

  const progress = (): IngestionProgress => {
    const s = state.phases.summaries;
    const elapsedMs = Date.now() - state.startedAt;
    const finished = s.done + s.failed;
    const left = s.total - s.reused - finished;
    const phaseElapsed = s.startedAt !== undefined ? Date.now() - s.startedAt : 0;
    return {
      phase,
      status: 'running',
      paused: state.paused,
      concurrency: state.concurrency,
      phases: state.phases,
      elapsedMs,
      estimatedRemainingMs: finished > 0 && phase === 'summaries' ? Math.round((phaseElapsed / finished) * left) : undefined,
    };
  };
  const showDetails = () => {
    const p = state.phases;
    const line = (name: string, x: PhaseProgress) => `${name}: ${x.done + x.reused}/${x.total}${x.failed ? ` (${x.failed} failed)` : ''}`;
    setCurrentDetails(
      [`**${state.title || input.scriptId}** — ${phase}${state.paused ? ' (paused)' : ''}`,
        line('summaries', p.summaries), line('outline', p.outline), line('sheets', p.sheets), line('embeddings', p.embeddings),
        `concurrency: summaries ${state.concurrency.summaries}, sheets ${state.concurrency.sheets}`].join('\n\n'),
    );
  };

  setHandler(progressQuery, progress);
  const steeringState = (): SteeringState => ({ paused: state.paused, concurrency: { ...state.concurrency } });
  const rejectArguments = (name: string) => (...args: unknown[]) => {
    if (args.length) throw ApplicationFailure.nonRetryable(`${name} takes no arguments`, 'InvalidSteeringRequest');
  };
  setHandler(pauseUpdate, () => { state.paused = true; showDetails(); return steeringState(); }, {
    validator: rejectArguments('pause'),
    description: 'Stop starting calls (calls in flight finish); answers the new state.',
  });
  setHandler(resumeUpdate, () => { state.paused = false; showDetails(); return steeringState(); }, {
    validator: rejectArguments('resume'),
    description: 'Start calls again after pause; answers the new state.',
  });
  setHandler(setConcurrencyUpdate, (change) => {
    for (const key of ['summaries', 'sheets'] as const) if (change[key] !== undefined) state.concurrency[key] = change[key];
    showDetails();
    return steeringState();
  }, {
    validator: (change) => {
      const error = concurrencyChangeError(change);
      if (error) throw ApplicationFailure.nonRetryable(error, 'InvalidConcurrency');
    },
    description: `Calls in flight per phase, e.g. { "summaries": 20, "sheets": 5 } (1 to ${MAX_CONCURRENCY}); answers the new state.`,
  });
  setHandler(pauseSignal, () => { state.paused = true; showDetails(); });
  setHandler(resumeSignal, () => { state.paused = false; showDetails(); });
  setHandler(setConcurrencySignal, (c) => {
    for (const key of ['summaries', 'sheets'] as const) {
      const v = c[key];
      if (v !== undefined && Number.isInteger(v) && v >= 1 && v <= MAX_CONCURRENCY) state.concurrency[key] = v;
    }
    showDetails();
  });

  const keepFailure = (failure: IngestionFailure) => {
    state.failureCount++;
    if (state.failures.length < MAX_FAILURES_KEPT) state.failures.push(failure);
  };
  /** A batch write that failed for good: the run ends failed, and says why. */
  const recordWriteFailure = (phaseName: PhaseName, err: unknown) => {
    const { type, message } = describeFailure(err);
    keepFailure({ phase: phaseName, item: 'batch write', errorType: type, message });
  };
  const recordFailure = (phaseName: PhaseName, item: string, err: unknown) => {
    if (isCancellation(err)) throw err;
    const { type, message } = describeFailure(err);
    state.phases[phaseName].failed++;
    keepFailure({ phase: phaseName, item, errorType: type, message });
    // Bad credentials or an unknown model will fail every item the same way: stop the run.
    if (!fatal && RUN_FATAL_LLM_FAILURES.includes(type as LlmFailureType)) fatal = { type, message };
    showDetails();
  };
  const throwIfFatal = () => {
    const f = fatal as { type: string; message: string } | undefined;
    if (f) throw ApplicationFailure.nonRetryable(f.message, f.type);
  };
  // Full redoes every step with fresh provider calls: stored results and cached answers are not reused (answers are still cached).
  const refreshCache = input.mode === 'full';
  const writeEvenIfCancelled = (write: () => Promise<void>): Promise<void> =>
    patched(WRITES_SURVIVE_CANCELLATION_PATCH) ? CancellationScope.nonCancellable(write) : write();

  // Batched writes: a transaction per batch, flushed in order, never more than one at a time.
  const summaryWriter = batchWriter<SummaryRow>((rows) => writeEvenIfCancelled(() => mainActivities.saveSceneSummaries(rows)), writeBatchSize);
  const canStart = () => !state.paused;
  const stopped = () => fatal !== undefined || summaryWriter.failure() !== undefined;
  /** Phases a cancel or failure cut short end at `at`, so their reported time is what they ran. */
  const endUnfinishedPhases = (at: number) => {
    for (const p of Object.values(state.phases)) if (p.startedAt !== undefined && p.finishedAt === undefined) p.finishedAt = Math.max(p.startedAt, at);
  };

  // What the Web UI and `temporal workflow list --query` filter on (see src/shared/search-attributes.ts).
  // Only a run started with them sets them: its start proved the server has them registered,
  // whereas an upsert of an unregistered one fails every workflow task and the run hangs.
  const searchable = info.typedSearchAttributes.get(JOB_KEY) !== undefined;
  const setsSearchAttributes = () => patched(SEARCH_ATTRIBUTES_PATCH) && searchable;
  const markStatus = (status: SearchStatus) => {
    if (setsSearchAttributes()) upsertSearchAttributes([{ key: STATUS_KEY, value: status }]);
  };

  const finish = async (status: IngestionStatus, error?: { type: string; message: string }): Promise<IngestionResult> => {
    markStatus(status);
    const p = state.phases;
    const span = (x: PhaseProgress) => (x.startedAt !== undefined && x.finishedAt !== undefined ? x.finishedAt - x.startedAt : 0);
    const result: IngestionResult = {
      scriptId: input.scriptId,
      status,
      mode: input.mode,
      phases: p,
      failures: state.failures,
      failureCount: state.failureCount,
      timingsMs: {
        total: Date.now() - state.startedAt,
        summaries: span(p.summaries),
        phase2: Math.max(p.outline.finishedAt ?? 0, p.sheets.finishedAt ?? 0, p.embeddings.finishedAt ?? 0) -
          (p.outline.startedAt ?? p.sheets.startedAt ?? p.embeddings.startedAt ?? Date.now()),
        outline: span(p.outline),
        sheets: span(p.sheets),
        embeddings: span(p.embeddings),
      },
      runs: state.runIds.length,
      ...(error ? { error } : {}),
    };
    if (result.timingsMs.phase2 < 0) result.timingsMs.phase2 = 0;
    const { total: _total, ...phasesMs } = result.timingsMs;
    // Independent writes: one round trip for both.
    await Promise.all([
      localActivities.finishIngestionRun({ runId: state.runId, status, result, failures: state.failures }),
      mainActivities.storeRunReport({
        workflowId: info.workflowId,
        runIds: state.runIds,
        kind: 'ingestScript',
        scriptId: input.scriptId,
        status,
        wallMs: result.timingsMs.total,
        phasesMs,
        ingestion: { flags, concurrency: state.concurrency },
        ...(error ? { error } : {}),
      }),
    ]);
    phase = 'done';
    showDetails();
    return result;
  };

  let more = false;
  try {
    if (!input.carried) {
      const [routes, started] = await Promise.all([
        localActivities.resolveLlmRoutes(['summary', 'outline', 'sheet', 'embedding']),
        localActivities.startIngestionRun({
          workflowId: info.workflowId, runId: state.runId, scriptId: input.scriptId, mode: input.mode, flags, concurrency: state.concurrency,
        }),
      ]);
      state.routes = routes as unknown as Routes;
      state.title = started.title;
      if (setsSearchAttributes()) upsertSearchAttributes(storyloomSearchAttributes('ingest', state.title, 'running'));
    }
    const { routes } = state;

    // Phase 1: summaries.
    phase = 'summaries';
    const plan = await localActivities.planSummaries({ scriptId: input.scriptId, route: routes.summary, afterPosition: state.afterPosition, limit: scenesPerRun, mode: input.mode });
    const s = state.phases.summaries;
    if (!input.carried) {
      s.total = plan.totalScenes;
      s.reused = plan.totalScenes - plan.staleScenes;
      s.startedAt = Date.now();
    }
    showDetails();
    const summarize = llmActivities(routes.summary);
    await slidingWindow(
      plan.scenes,
      () => (flags.parallelSceneSummaries ? state.concurrency.summaries : 1),
      async (scene: PlannedScene) => {
        try {
          const { cached: _cached, ...row } = await summarize.summarizeScene.executeWithOptions(
            { summary: `summary: ${scene.label}` },
            [{ sceneId: scene.id, route: routes.summary, useCache: flags.useCache, refreshCache }],
          );
          summaryWriter.add(row);
          s.done++;
          showDetails();
        } catch (err) {
          recordFailure('summaries', scene.label, err);
        }
      },
      canStart,
      stopped,
    );
    await summaryWriter.flush();
    if (plan.scenes.length) state.afterPosition = plan.scenes[plan.scenes.length - 1].position;
    more = plan.more && !fatal;
    if (!more) s.finishedAt = Date.now();
    throwIfFatal();

    if (!more) {
      // Phase 2: outline ∥ sheets ∥ embeddings (or one after another).
      phase = 'phase2';
      const todo = await localActivities.planPhase2({ scriptId: input.scriptId, mode: input.mode, routes });
      state.phases.outline.total = todo.outline ? 1 : 0;
      state.phases.sheets.total = todo.characters.length;
      state.phases.embeddings.total = todo.embedSceneIds.length;
      showDetails();
      const steps = [
        () => outlineStep(todo.outline, todo.summarisedScenes),
        () => sheetsStep(todo.characters),
        () => embeddingsStep(todo.embedSceneIds),
      ];
      if (flags.parallelPhase2) {
        const running = steps.map((step) => step());
        try {
          await Promise.all(running);
        } catch (stepErr) {
          // Runs recorded before this patch ended with steps still running; replay them that way.
          if (patched(PHASE2_SETTLES_EVERY_STEP_PATCH)) await Promise.allSettled(running);
          throw stepErr;
        }
      } else for (const step of steps) await step();
      throwIfFatal();
    }
  } catch (err) {
    if (isCancellation(err)) {
      endUnfinishedPhases(cancelledAt ?? Date.now());
      // Keep what was written, record the run as cancelled, then let the cancellation end it.
      await CancellationScope.nonCancellable(async () => {
        try {
          await summaryWriter.flush();
        } catch (writeErr) {
          // Before the patch a write cancelled with the run ended it here, unrecorded.
          if (!patched(WRITES_SURVIVE_CANCELLATION_PATCH)) throw writeErr;
          recordWriteFailure('summaries', writeErr);
        }
        await finish('cancelled');
      });
      throw err;
    }
    endUnfinishedPhases(Date.now());
    if (summaryWriter.failure() !== undefined && err === summaryWriter.failure()) recordWriteFailure('summaries', err);
    await CancellationScope.nonCancellable(async () => {
      await summaryWriter.flush().catch(() => undefined);
      await finish('failed', describeFailure(err));
    });
    throw err;
  }
  if (more) {
    if (!setsSearchAttributes()) return continueAsNew<typeof ingestScript>({ ...input, carried: state });
    // This run closes as "continued"; the next one starts as "running" with the same job and title.
    markStatus('continued');
    const next = makeContinueAsNewFunc<typeof ingestScript>({
      typedSearchAttributes: storyloomSearchAttributes('ingest', state.title, 'running'),
    });
    return next({ ...input, carried: state });
  }
  return finish(state.failureCount ? 'completed_with_failures' : 'completed');

  async function outlineStep(needed: boolean, summarisedScenes: number): Promise<void> {
    const p = state.phases.outline;
    p.startedAt = Date.now();
    if (needed && !fatal) {
      await condition(() => !state.paused);
      await CancellationScope.cancellable(async () => {
        try {
          // At most one section per scene, plus the outline over the sections.
          await llmActivities(state.routes.outline, { requests: summarisedScenes + 1 }).writeOutline.executeWithOptions(
            { summary: `outline: ${state.title}` },
            [{ scriptId: input.scriptId, title: state.title, route: state.routes.outline, useCache: flags.useCache, refreshCache }],
          );
          p.done++;
        } catch (err) {
          recordFailure('outline', 'outline', err);
        }
      });
    }
    p.finishedAt = Date.now();
    showDetails();
  }

  async function sheetsStep(characters: { id: number; name: string }[]): Promise<void> {
    const p = state.phases.sheets;
    p.startedAt = Date.now();
    const sheets = llmActivities(state.routes.sheet);
    // Sheets are written in batches too, so a large cast never makes one oversized payload.
    const sheetWriter = batchWriter<SheetRow>((rows) => writeEvenIfCancelled(() => mainActivities.saveCharacterSheets(rows)), SHEETS_PER_WRITE);
    try {
      await slidingWindow(
        characters,
        () => (flags.parallelCharacterSheets ? state.concurrency.sheets : 1),
        async (c) => {
          try {
            const { cached: _cached, ...row } = await sheets.generateCharacterSheet.executeWithOptions(
              { summary: `sheet: ${c.name}` },
              [{ characterId: c.id, route: state.routes.sheet, useCache: flags.useCache, refreshCache }],
            );
            sheetWriter.add(row);
            p.done++;
            showDetails();
          } catch (err) {
            recordFailure('sheets', c.name, err);
          }
        },
        canStart,
        stopped,
      );
    } finally {
      // What is left is written on cancellation too, so finished sheets are kept.
      try {
        await CancellationScope.nonCancellable(() => sheetWriter.flush());
      } catch (writeErr) {
        if (!isCancellation(writeErr)) recordWriteFailure('sheets', writeErr);
        throw writeErr;
      }
    }
    p.finishedAt = Date.now();
    showDetails();
  }

  async function embeddingsStep(sceneIds: number[]): Promise<void> {
    const p = state.phases.embeddings;
    p.startedAt = Date.now();
    if (sceneIds.length && !fatal) {
      await condition(() => !state.paused);
      try {
        // At most one request per scene.
        const r = await llmActivities(state.routes.embedding, { requests: sceneIds.length }).embedScenes.executeWithOptions(
          { summary: `embeddings: ${sceneIds.length} scenes${flags.batchEmbeddings ? '' : ', one request each'}` },
          [{ sceneIds, batch: flags.batchEmbeddings, route: state.routes.embedding, useCache: flags.useCache, refreshCache }],
        );
        p.done += r.embedded;
      } catch (err) {
        recordFailure('embeddings', `${sceneIds.length} scenes`, err);
      }
    }
    p.finishedAt = Date.now();
    showDetails();
  }
}
