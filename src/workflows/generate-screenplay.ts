/**
 * `generateScreenplay`: a screenplay (or N variants) from a plot and personas. Prepares the
 * prompt once (personas in one query, contexts within a token budget), then generates the
 * variants concurrently (bounded): each streams its text to watchers outside history, is
 * checked as Fountain and saved with its story and cast in one transaction. Cancelling the run
 * cancels the activities, whose heartbeats carry the cancellation and abort the HTTP streams.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  defineQuery,
  isCancellation,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { ProviderActivities } from '../activities';
import { routeWithModel, type LlmRoute } from '../shared/llm-routing';
import {
  DEFAULT_MAX_TOKENS,
  DEFAULT_SCREENPLAY_FLAGS,
  DEFAULT_VARIANTS_IN_FLIGHT,
  MAX_VARIANTS,
  ScreenplayFailureType,
  type GenerateScreenplayInput,
  type GenerateScreenplayResult,
  type ScreenplayFlags,
  type ScreenplayProgress,
  type VariantResult,
} from '../shared/screenplay';
import { JOB_KEY, STATUS_KEY, type SearchStatus } from '../shared/search-attributes';
import { LLM_ACTIVITY_OPTIONS, llmStreamStartToClose, localActivities, mainActivities } from './activity-options';
import { describeFailure } from './failures';
import { slidingWindow } from './sliding-window';

export const screenplayProgressQuery = defineQuery<ScreenplayProgress>('progress');

/** Defaults the CLI fills from configuration; a bare client gets these. */
const DEFAULT_MAX_CONTINUATIONS = 2;
const DEFAULT_PERSONA_BUDGET_TOKENS = 4000;

/** Runs from 0.4.0 on store their report in `run_reports` when they end (an activity more at the end). */
export const SCREENPLAY_RUN_REPORT_PATCH = 'screenplay-run-report';

/**
 * Generation activities: heartbeats every second carry progress and cancellation (a dead
 * worker is noticed within 10 s), and the start-to-close limit covers the first call, a parse
 * retry and the continuations, each streaming up to `maxTokens` at the slowest pace expected.
 */
function generationActivities(route: LlmRoute, requests: number, maxTokens: number) {
  return proxyActivities<ProviderActivities>({
    ...LLM_ACTIVITY_OPTIONS,
    heartbeatTimeout: '10 seconds',
    startToCloseTimeout: llmStreamStartToClose(route, requests, maxTokens),
    taskQueue: route.taskQueue,
    retry: {
      ...LLM_ACTIVITY_OPTIONS.retry,
      nonRetryableErrorTypes: [...(LLM_ACTIVITY_OPTIONS.retry?.nonRetryableErrorTypes ?? []), ...Object.values(ScreenplayFailureType)],
    },
  });
}

/** Generates, checks and saves screenplay versions; returns the run's report (the text stays in Postgres). */
export async function generateScreenplay(input: GenerateScreenplayInput): Promise<GenerateScreenplayResult> {
  const info = workflowInfo();
  const flags: ScreenplayFlags = { ...DEFAULT_SCREENPLAY_FLAGS, ...input.flags };
  const variants = Math.min(MAX_VARIANTS, Math.max(1, input.variants ?? 1));
  const maxContinuations = input.maxContinuations ?? DEFAULT_MAX_CONTINUATIONS;
  const startedAt = Date.now();
  const storyId = input.storyId ?? uuid4();
  const runKey = `${info.workflowId}/${info.runId}`;
  const progress: ScreenplayProgress = {
    phase: 'preparing',
    storyId,
    title: input.title,
    elapsedMs: 0,
    variants: Array.from({ length: variants }, (_, variant) => ({ variant, status: 'waiting' as const })),
  };
  // A reader counts a running run's time from its start; an ended run's is its own.
  const running = () => progress.phase === 'preparing' || progress.phase === 'generating';
  setHandler(screenplayProgressQuery, () => ({ ...progress, elapsedMs: Date.now() - startedAt, ...(running() ? { startedAt } : {}) }));
  const searchable = info.typedSearchAttributes.get(JOB_KEY) !== undefined;
  const markStatus = (status: SearchStatus) => {
    if (searchable) upsertSearchAttributes([{ key: STATUS_KEY, value: status }]);
  };
  const showDetails = () =>
    setCurrentDetails(
      [
        `**${progress.title ?? 'screenplay'}** (story ${storyId}): ${progress.phase}`,
        ...progress.variants.map((v) => `variant ${v.variant + 1}: ${v.status}${v.version ? `, version ${v.version}` : ''}${v.truncated ? ' (truncated)' : ''}`),
        'Live tokens and scenes: the pending generation activities\' heartbeat details.',
      ].join('\n\n'),
    );

  const [resolved] = Object.values(await localActivities.resolveLlmRoutes(['screenplay']));
  const route = routeWithModel(resolved, input.model, info.taskQueue);
  const activities = generationActivities(route, 2 + 2 * maxContinuations, input.maxTokens ?? DEFAULT_MAX_TOKENS);
  const variantsInFlight = input.variantsInFlight ?? DEFAULT_VARIANTS_IN_FLIGHT;
  const phasesMs: Record<string, number> = {};
  let phaseStartedAt = startedAt;
  const endPhase = (name: string) => {
    phasesMs[name] = Date.now() - phaseStartedAt;
    phaseStartedAt = Date.now();
  };
  let personaQueries: number | undefined;
  const results: VariantResult[] = [];
  /** The run's report in `run_reports`, as the other jobs store theirs (idempotent: one row per run). */
  const storeReport = (status: string, error?: { type: string; message: string }) => {
    const saved = results.filter(Boolean);
    return mainActivities.storeRunReport({
      workflowId: info.workflowId,
      runIds: [info.runId],
      kind: 'generateScreenplay',
      scriptId: null,
      status,
      wallMs: Date.now() - startedAt,
      phasesMs,
      screenplay: {
        storyId,
        variants,
        variantsInFlight,
        ...(personaQueries !== undefined ? { personaQueries } : {}),
        versions: saved.map((r) => r.version),
        ...(saved.length ? { firstTokenMs: Math.min(...saved.map((r) => r.ttftMs)) } : {}),
        truncated: saved.filter((r) => r.truncated).length,
        saveCommits: saved.reduce((n, r) => n + r.save.commits, 0),
      },
      ...(error ? { error } : {}),
    });
  };

  try {
    showDetails();
    const prepared = await activities.prepareScreenplay.executeWithOptions({ summary: `prepare: ${input.title ?? `story ${storyId}`}` }, [{
      runKey,
      workflowId: info.workflowId,
      storyId,
      existingStory: input.storyId !== undefined,
      title: input.title,
      plot: input.plot,
      personaNames: input.personaNames,
      route,
      personaBudgetTokens: input.personaBudgetTokens ?? DEFAULT_PERSONA_BUDGET_TOKENS,
      batchPersonaLoad: flags.batchPersonaLoad,
    }]);
    personaQueries = prepared.personaQueries;
    endPhase('preparing');
    progress.title = prepared.title;
    progress.prompt = prepared.prompt;
    progress.phase = 'generating';
    showDetails();

    await slidingWindow(
      progress.variants.map((v) => v.variant),
      () => variantsInFlight,
      async (variant) => {
        const entry = progress.variants[variant];
        entry.status = 'generating';
        showDetails();
        try {
          // The summary is the Web UI's name for the pending activity (metadata: replays as before).
          const result = await activities.generateScreenplayVariant.executeWithOptions({ summary: `variant ${variant + 1} of ${variants}: ${route.provider} ${route.model}` }, [{
            runKey,
            workflowId: info.workflowId,
            variant,
            route,
            maxTokens: input.maxTokens ?? DEFAULT_MAX_TOKENS,
            maxContinuations,
            useCache: flags.useCache,
            stream: flags.stream,
            oneTransactionSave: flags.oneTransactionSave,
          }]);
          Object.assign(entry, { status: 'saved', version: result.version, truncated: result.truncated, outputTokens: result.outputTokens });
          results[variant] = result;
        } catch (err) {
          entry.status = 'failed';
          throw err;
        } finally {
          showDetails();
        }
      },
    );
    endPhase('generating');
    if (patched(SCREENPLAY_RUN_REPORT_PATCH)) await storeReport('completed');
    progress.phase = 'done';
    showDetails();
    markStatus('completed');
    const outputTokens = results.reduce((n, r) => n + r.outputTokens, 0);
    const wallMs = Date.now() - startedAt;
    // A variant from the cache comes back in milliseconds: its rate says nothing about the model.
    const generated = results.filter((r) => !r.cached);
    return {
      storyId,
      title: prepared.title,
      provider: route.provider,
      model: route.model,
      prompt: prepared.prompt,
      personaQueries: prepared.personaQueries,
      variants: results,
      totals: {
        outputTokens,
        costUsd: results.reduce((n, r) => n + r.costUsd, 0),
        wallMs,
        // A cached variant's "first token" is its cache lookup: the generated ones say what the model took.
        firstTokenMs: Math.min(...(generated.length ? generated : results).map((r) => r.ttftMs)),
        // Each generated variant's output over its time after the first token (the whole call when not streamed), averaged.
        ...(generated.length
          ? { tokensPerSecond: Math.round(generated.reduce((n, r) => n + (r.outputTokens * 1000) / Math.max(1, flags.stream ? r.durationMs - r.ttftMs : r.durationMs), 0) / generated.length) }
          : {}),
      },
    };
  } catch (err) {
    const cancelled = isCancellation(err) || CancellationScope.current().consideredCancelled;
    progress.phase = cancelled ? 'cancelled' : 'failed';
    showDetails();
    markStatus(cancelled ? 'cancelled' : 'failed');
    if (patched(SCREENPLAY_RUN_REPORT_PATCH)) {
      endPhase(personaQueries === undefined ? 'preparing' : 'generating');
      // A cancelled run's report is written all the same.
      await CancellationScope.nonCancellable(() => storeReport(cancelled ? 'cancelled' : 'failed', describeFailure(err)));
    }
    // A persona or story problem is the run's own failure, with the activity's message.
    if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.nonRetryable) {
      throw ApplicationFailure.create({ type: err.cause.type ?? undefined, message: err.cause.message, nonRetryable: true });
    }
    throw err;
  }
}
