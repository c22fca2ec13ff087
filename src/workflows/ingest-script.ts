/**
 * `ingestScript`: the durable plan for one script. Phase 1 summarises scenes (a sliding window
 * of LLM calls, writes in batches); phase 2 makes the outline, the character sheets and the
 * embeddings (concurrently with `parallelPhase2`). Long scripts continue-as-new every
 * `scenesPerRun` scenes so history stays bounded; progress, pause and concurrency survive it.
 */
import {
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  defineUpdate,
  isCancellation,
  log,
  makeContinueAsNewFunc,
  patched,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { PlannedScene, PlanPhase2Result, PlanSummariesResult } from '../activities/ingestion.activities';
import type { SheetRow, SummaryRow } from '../db/repositories/ingestion.repository';
import { DEFAULT_RATE_LIMIT_DEADLINE_MS, LlmFailureType, RUN_FATAL_LLM_FAILURES } from '../shared/failure-types';
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
import { LLM_ACTIVITY_OPTIONS, llmActivities, localActivities, mainActivities } from './activity-options';
import { describeFailure } from './failures';
import { batchWriter } from './batch-writer';
import { askPatchesFirst, patchedFromStart } from './patches-first';
import { SETTLE_STARTED_TASKS_PATCH, slidingWindow } from './sliding-window';

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
  /**
   * A pause the run made by itself on a provider outage ends by itself: after `afterMs`
   * (default 15 s, doubling up to 5 min) one item probes the provider — one attempt — and the
   * run resumes when it is answered; after `maxProbes` (default 12) failed probes a human must
   * `resume` it.
   */
  autoResume?: { afterMs?: number; maxProbes?: number };
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
  /** Why the run paused itself (a provider outage); cleared by resume. */
  pauseReason?: string;
  concurrency: IngestionConcurrency;
  /**
   * The widest window each phase was given (the report's lower bound uses it: a window narrowed
   * mid-run would otherwise give a bound the run could not have met). Absent in runs carried
   * from releases before it.
   */
  peakConcurrency?: IngestionConcurrency;
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
/** A provider outage pauses the run and its items wait for resume (issue 14, gap 2). */
export const PAUSE_ON_OUTAGE_PATCH = 'pause-on-provider-outage';
/**
 * A pause on a provider outage ends by itself: after a back-off the item that paused the run
 * probes the provider with one attempt (a timer, then an activity without retries).
 */
export const AUTO_RESUME_PATCH = 'auto-resume-after-provider-outage';
/**
 * A phase's last batch write and the run's report are local activities (issue 15): the last
 * rows go with the plan of the next step (or the end of the run) in one workflow task, with no
 * task-queue round trip between a phase's last LLM call and what follows it.
 */
export const FINAL_WRITES_LOCAL_PATCH = 'final-writes-as-local-activities';
/**
 * One local activity where there were two rounds (issue 15): the start (routes, the run's row,
 * phase 1's plan) and, after phase 1's last rows are held, their write with phase 2's plan. Each
 * local-activity round is a workflow activation and back, 6–18 ms on the project's machine.
 */
export const ONE_LOCAL_ROUND_PATCH = 'start-and-phase2-plan-in-one-local-activity';
/**
 * The sheets' window stops starting characters once a sheet batch has failed for good, as the
 * summaries' does: every sheet after it would be paid for and then thrown away.
 */
export const SHEETS_STOP_AFTER_FAILED_WRITE_PATCH = 'sheets-stop-after-a-failed-write';
/**
 * A cancel that lands while a write runs shielded from it (writeEvenIfCancelled) ends the run
 * cancelled once the write is done, rather than being lost when the run continues as new, or
 * failing the run's last bookkeeping.
 */
export const CANCEL_AFTER_SHIELDED_WRITE_PATCH = 'cancel-seen-after-a-shielded-write';
const LLM_PURPOSES = ['summary', 'outline', 'sheet', 'embedding'] as const;
const AUTO_RESUME_AFTER_MS = 15_000;
const AUTO_RESUME_MAX_DELAY_MS = 5 * 60_000;
const AUTO_RESUME_MAX_PROBES = 12;
/** A probe failing this way finds the provider still down (a timed-out attempt included). */
const STILL_DOWN: readonly string[] = [LlmFailureType.ProviderUnavailable, LlmFailureType.Transient, LlmFailureType.Timeout, 'TimeoutFailure'];
/** A probe is one attempt: its failure goes back to the workflow, which waits longer. */
const PROBE_OPTIONS = { retry: { ...LLM_ACTIVITY_OPTIONS.retry, maximumAttempts: 1 } };
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
  const notePeakConcurrency = () => {
    const peak = state.peakConcurrency ?? state.concurrency;
    state.peakConcurrency = { summaries: Math.max(peak.summaries, state.concurrency.summaries), sheets: Math.max(peak.sheets, state.concurrency.sheets) };
  };
  notePeakConcurrency();
  let phase: IngestionProgress['phase'] = input.carried ? 'summaries' : 'starting';
  let fatal: { type: string; message: string } | undefined;
  /** How the run ended, once it has: the progress query answers it (a closed run is queried too). */
  let endedAs: IngestionStatus | undefined;
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
      status: endedAs ?? 'running',
      paused: state.paused,
      ...(state.pauseReason ? { pauseReason: state.pauseReason } : {}),
      concurrency: state.concurrency,
      phases: state.phases,
      elapsedMs,
      // A reader counts a running run's time from its start; an ended run's is its own.
      ...(endedAs ? {} : { startedAt: state.startedAt }),
      estimatedRemainingMs: finished > 0 && phase === 'summaries' ? Math.round((phaseElapsed / finished) * left) : undefined,
    };
  };
  const showDetails = () => {
    const p = state.phases;
    // "n of m", not "n/m": the Web UI draws that as a fraction glyph.
    const line = (name: string, x: PhaseProgress) => `${name}: ${x.done + x.reused} of ${x.total}${x.failed ? ` (${x.failed} failed)` : ''}`;
    setCurrentDetails(
      // An ended run shows how it ended (a paused one that was cancelled is no longer paused).
      [`**${state.title || input.scriptId}** — ${endedAs ?? `${phase}${state.paused ? ' (paused)' : ''}`}`,
        line('summaries', p.summaries), line('outline', p.outline), line('sheets', p.sheets), line('embeddings', p.embeddings),
        `concurrency: summaries ${state.concurrency.summaries}, sheets ${state.concurrency.sheets}`,
        ...(state.paused && state.pauseReason ? [`paused by itself: ${state.pauseReason}`] : [])].join('\n\n'),
    );
  };

  setHandler(progressQuery, progress);
  /** A user's pause: it replaces a pause on an outage, so no probe ends it (only `resume` does). */
  const userPause = () => {
    state.paused = true;
    state.pauseReason = undefined;
    showDetails();
  };
  const steeringState = (): SteeringState => ({ paused: state.paused, concurrency: { ...state.concurrency } });
  const rejectArguments = (name: string) => (...args: unknown[]) => {
    if (args.length) throw ApplicationFailure.nonRetryable(`${name} takes no arguments`, 'InvalidSteeringRequest');
  };
  setHandler(pauseUpdate, () => { userPause(); return steeringState(); }, {
    validator: rejectArguments('pause'),
    description: 'Stop starting calls (calls in flight finish); answers the new state.',
  });
  setHandler(resumeUpdate, () => { state.paused = false; state.pauseReason = undefined; showDetails(); return steeringState(); }, {
    validator: rejectArguments('resume'),
    description: 'Start calls again after pause; answers the new state.',
  });
  setHandler(setConcurrencyUpdate, (change) => {
    for (const key of ['summaries', 'sheets'] as const) if (change[key] !== undefined) state.concurrency[key] = change[key];
    notePeakConcurrency();
    showDetails();
    return steeringState();
  }, {
    validator: (change) => {
      const error = concurrencyChangeError(change);
      if (error) throw ApplicationFailure.nonRetryable(error, 'InvalidConcurrency');
    },
    description: `Calls in flight per phase, e.g. { "summaries": 20, "sheets": 5 } (1 to ${MAX_CONCURRENCY}); answers the new state.`,
  });
  setHandler(pauseSignal, userPause);
  setHandler(resumeSignal, () => { state.paused = false; state.pauseReason = undefined; showDetails(); });
  setHandler(setConcurrencySignal, (c) => {
    // A signal has no validator: one without an object (a bare `temporal workflow signal`) is ignored, not a failed task.
    if (typeof c !== 'object' || c === null) return;
    for (const key of ['summaries', 'sheets'] as const) {
      const v = c[key];
      if (v !== undefined && Number.isInteger(v) && v >= 1 && v <= MAX_CONCURRENCY) state.concurrency[key] = v;
    }
    notePeakConcurrency();
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
  /**
   * A provider outage (most recent calls failing the same way, see src/llm/outage-detector.ts)
   * is nobody's item's fault: the run pauses itself — the state `resume` leaves — and the item
   * waits for resume, then goes again. No attempts are spent meanwhile. With AUTO_RESUME_PATCH
   * the item that paused the run probes the provider after a back-off (one attempt: `call(true)`)
   * and the run resumes by itself once the provider answers; other items wait for that.
   */
  const autoResumeAfterMs = input.autoResume?.afterMs ?? AUTO_RESUME_AFTER_MS;
  const maxProbes = input.autoResume?.maxProbes ?? AUTO_RESUME_MAX_PROBES;
  let probes = 0;
  const endOutagePause = () => {
    if (!state.paused || state.pauseReason === undefined) return;
    state.paused = false;
    state.pauseReason = undefined;
    log.info('ingestion resumed itself: the provider answers again', { scriptId: input.scriptId, probes });
    probes = 0;
    showDetails();
  };
  /** The prober's wait: true when it should probe now, false when a user's resume or pause took over. */
  const waitToProbe = async (): Promise<boolean> => {
    if (probes >= maxProbes) {
      state.pauseReason = `${state.pauseReason ?? ''} Still down after ${probes} probes: \`resume\` it once the provider answers.`.trim();
      log.warn('ingestion stays paused: the provider is still down after the probes', { scriptId: input.scriptId, probes });
      showDetails();
      // After the human's resume, a later outage gets its probes again.
      probes = 0;
      return false;
    }
    const delay = Math.min(AUTO_RESUME_MAX_DELAY_MS, autoResumeAfterMs * 2 ** probes);
    const userTookOver = await condition(() => !state.paused || state.pauseReason === undefined, delay);
    if (userTookOver) {
      // A user's resume or pause ends this outage's probes; a later outage starts from the first back-off.
      probes = 0;
      return false;
    }
    probes++;
    return true;
  };
  const untilProviderAnswers = async (call: (probe: boolean) => Promise<void>): Promise<void> => {
    let probing = false;
    for (;;) {
      try {
        await call(probing);
        if (probing) endOutagePause();
        return;
      } catch (err) {
        const { type, message } = describeFailure(err);
        if (probing) {
          probing = false;
          if (isCancellation(err)) throw err;
          if (!STILL_DOWN.includes(type)) {
            // The provider answered (the item's own failure is retried the usual way).
            endOutagePause();
            continue;
          }
          probing = state.paused && state.pauseReason !== undefined && (await waitToProbe());
          if (!probing) await condition(() => !state.paused);
          continue;
        }
        if (type !== LlmFailureType.ProviderUnavailable || !patched(PAUSE_ON_OUTAGE_PATCH)) throw err;
        if (!state.paused) {
          state.paused = true;
          state.pauseReason = message;
          log.warn('ingestion paused itself: provider outage', { scriptId: input.scriptId, reason: message });
          showDetails();
          // This item probes the provider; the others wait for the run to resume.
          if (patched(AUTO_RESUME_PATCH)) probing = await waitToProbe();
        }
        if (!probing) await condition(() => !state.paused);
      }
    }
  };
  const throwIfFatal = () => {
    const f = fatal as { type: string; message: string } | undefined;
    if (f) throw ApplicationFailure.nonRetryable(f.message, f.type);
  };
  /** Rate limits are waited out until then: the run's deadline (activity input only: replay-safe). */
  const deadlineAt = (route: LlmRoute) => state.startedAt + (route.rateLimitDeadlineMs ?? DEFAULT_RATE_LIMIT_DEADLINE_MS);
  // Full redoes every step with fresh provider calls: stored results and cached answers are not reused (answers are still cached).
  const refreshCache = input.mode === 'full';
  const writeEvenIfCancelled = (write: () => Promise<void>): Promise<void> =>
    patched(WRITES_SURVIVE_CANCELLATION_PATCH) ? CancellationScope.nonCancellable(write) : write();
  const finalWritesLocal = () => patched(FINAL_WRITES_LOCAL_PATCH);
  /**
   * Once a window has started its last item, its writer holds the rows still to come: they are
   * written together by the final `flush`, as a local activity where the patch applies.
   */
  const holdAfterLastStart = (writer: { hold(): void }, index: number, count: number) => {
    if (index === count - 1 && finalWritesLocal()) writer.hold();
  };

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
      (finalWritesLocal() ? localActivities : mainActivities).storeRunReport({
        workflowId: info.workflowId,
        runIds: state.runIds,
        currentHistoryLength: workflowInfo().historyLength,
        kind: 'ingestScript',
        scriptId: input.scriptId,
        status,
        wallMs: result.timingsMs.total,
        phasesMs,
        ingestion: { flags, concurrency: state.peakConcurrency ?? state.concurrency },
        ...(error ? { error } : {}),
      }),
    ]);
    phase = 'done';
    endedAs = status;
    showDetails();
    return result;
  };

  let more = false;
  try {
    // Before the first local activity (see patches-first.ts).
    askPatchesFirst([
      SEARCH_ATTRIBUTES_PATCH, ONE_LOCAL_ROUND_PATCH, FINAL_WRITES_LOCAL_PATCH, WRITES_SURVIVE_CANCELLATION_PATCH,
      PHASE2_SETTLES_EVERY_STEP_PATCH, PAUSE_ON_OUTAGE_PATCH, AUTO_RESUME_PATCH, SETTLE_STARTED_TASKS_PATCH,
      SHEETS_STOP_AFTER_FAILED_WRITE_PATCH, CANCEL_AFTER_SHIELDED_WRITE_PATCH,
    ]);
    const runStart = { workflowId: info.workflowId, runId: state.runId, scriptId: input.scriptId, mode: input.mode, flags, concurrency: state.concurrency };
    const planRequest = { scriptId: input.scriptId, afterPosition: state.afterPosition, limit: scenesPerRun, mode: input.mode };
    let plan: PlanSummariesResult | undefined;
    if (!input.carried && patched(ONE_LOCAL_ROUND_PATCH)) {
      const started = await localActivities.startIngestion({ purposes: [...LLM_PURPOSES], run: runStart, plan: planRequest });
      state.routes = started.routes as unknown as Routes;
      state.title = started.title;
      plan = started.plan;
    } else if (!input.carried) {
      const [routes, started] = await Promise.all([localActivities.resolveLlmRoutes([...LLM_PURPOSES]), localActivities.startIngestionRun(runStart)]);
      state.routes = routes as unknown as Routes;
      state.title = started.title;
    }
    // Either way before phase 1's plan is asked for, as runs recorded before the patch did.
    if (!input.carried && setsSearchAttributes()) upsertSearchAttributes(storyloomSearchAttributes('ingest', state.title, 'running'));
    const { routes } = state;

    // Phase 1: summaries.
    phase = 'summaries';
    plan ??= await localActivities.planSummaries({ ...planRequest, route: routes.summary });
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
      async (scene: PlannedScene, index: number) => {
        holdAfterLastStart(summaryWriter, index, plan.scenes.length);
        try {
          await untilProviderAnswers(async (probe) => {
            const { cached, ...row } = await summarize.summarizeScene.executeWithOptions(
              { summary: `summary: ${scene.label}`, ...(probe ? PROBE_OPTIONS : {}) },
              [{ sceneId: scene.id, route: routes.summary, useCache: flags.useCache, refreshCache, deadlineAt: deadlineAt(routes.summary) }],
            );
            summaryWriter.add(row);
            s.done++;
            if (cached) s.cached = (s.cached ?? 0) + 1;
            showDetails();
          });
        } catch (err) {
          recordFailure('summaries', scene.label, err);
        }
      },
      canStart,
      stopped,
    );
    const phase2Request = { scriptId: input.scriptId, mode: input.mode, routes };
    // The last run of phase 1 writes its held rows and plans phase 2 in one local activity.
    const planWithLastRows = !plan.more && finalWritesLocal() && patched(ONE_LOCAL_ROUND_PATCH);
    let planned: PlanPhase2Result | undefined;
    await summaryWriter.flush(
      finalWritesLocal()
        ? (rows) =>
            writeEvenIfCancelled(async () => {
              if (planWithLastRows) planned = await localActivities.saveSummariesAndPlanPhase2({ rows, plan: phase2Request });
              else await localActivities.saveSceneSummaries(rows);
            })
        : undefined,
    );
    if (plan.scenes.length) state.afterPosition = plan.scenes[plan.scenes.length - 1].position;
    more = plan.more && !fatal;
    if (!more) s.finishedAt = Date.now();
    throwIfFatal();

    if (!more) {
      // Phase 2: outline ∥ sheets ∥ embeddings (or one after another).
      phase = 'phase2';
      const todo = planned ?? (await localActivities.planPhase2(phase2Request));
      // What is current is reused; plans recorded before 0.8.2 say only what is to be made.
      const plan2 = (p: PhaseProgress, toMake: number, covered: number | undefined) => {
        p.total = Math.max(toMake, covered ?? toMake);
        p.reused = p.total - toMake;
      };
      plan2(state.phases.outline, todo.outline ? 1 : 0, todo.covers?.outline);
      plan2(state.phases.sheets, todo.characters.length, todo.covers?.sheets);
      plan2(state.phases.embeddings, todo.embedSceneIds.length, todo.covers?.embeddings);
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
    if (CancellationScope.current().consideredCancelled && patchedFromStart(CANCEL_AFTER_SHIELDED_WRITE_PATCH)) {
      throw new CancelledFailure('the run was cancelled while it was writing');
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
          await untilProviderAnswers(async (probe) => {
            const written = await llmActivities(state.routes.outline, { requests: summarisedScenes + 1 }).writeOutline.executeWithOptions(
              { summary: `outline: ${state.title}`, ...(probe ? PROBE_OPTIONS : {}) },
              [{ scriptId: input.scriptId, title: state.title, route: state.routes.outline, useCache: flags.useCache, refreshCache, deadlineAt: deadlineAt(state.routes.outline) }],
            );
            // Results of activities before 0.8.2 do not say.
            if (written.cached) p.cached = 1;
          });
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
        async (c, index) => {
          holdAfterLastStart(sheetWriter, index, characters.length);
          try {
            await untilProviderAnswers(async (probe) => {
              const { cached, ...row } = await sheets.generateCharacterSheet.executeWithOptions(
                { summary: `sheet: ${c.name}`, ...(probe ? PROBE_OPTIONS : {}) },
                [{ characterId: c.id, route: state.routes.sheet, useCache: flags.useCache, refreshCache, deadlineAt: deadlineAt(state.routes.sheet) }],
              );
              sheetWriter.add(row);
              p.done++;
              if (cached) p.cached = (p.cached ?? 0) + 1;
              showDetails();
            });
          } catch (err) {
            recordFailure('sheets', c.name, err);
          }
        },
        canStart,
        () => stopped() || (sheetWriter.failure() !== undefined && patchedFromStart(SHEETS_STOP_AFTER_FAILED_WRITE_PATCH)),
      );
    } finally {
      // What is left is written on cancellation too, so finished sheets are kept.
      try {
        await CancellationScope.nonCancellable(() =>
          sheetWriter.flush(finalWritesLocal() ? (rows) => localActivities.saveCharacterSheets(rows) : undefined),
        );
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
        await untilProviderAnswers(async (probe) => {
          const r = await llmActivities(state.routes.embedding, { requests: sceneIds.length }).embedScenes.executeWithOptions(
            { summary: `embeddings: ${sceneIds.length} scenes${flags.batchEmbeddings ? '' : ', one request each'}`, ...(probe ? PROBE_OPTIONS : {}) },
            [{ sceneIds, batch: flags.batchEmbeddings, route: state.routes.embedding, useCache: flags.useCache, refreshCache, deadlineAt: deadlineAt(state.routes.embedding) }],
          );
          p.done += r.embedded;
          if (r.cached) p.cached = (p.cached ?? 0) + r.cached;
        });
      } catch (err) {
        recordFailure('embeddings', `${sceneIds.length} scenes`, err);
      }
    }
    p.finishedAt = Date.now();
    showDetails();
  }
}
