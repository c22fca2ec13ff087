/**
 * `generateStories`: turns a scope's articles into stories. The articles are loaded once and
 * clustered (one activity on the embedding provider's queue); clusters whose story hash was
 * already synthesised by the same model and prompt are reused with no call; the rest are
 * synthesised in a sliding window (default 5, settable while running) on the synthesis
 * provider's queue; then every story, link and supersession is written in one transaction (in
 * writes of STORIES_PER_WRITE when larger: since STORIES_WRITTEN_AS_MADE_PATCH the earlier writes
 * go while the syntheses are made). A cluster that still fails after its retries is recorded and
 * the run goes on (`completed_with_failures`).
 */
import {
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  ContinueAsNew,
  continueAsNew,
  defineQuery,
  defineUpdate,
  isCancellation,
  patched,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { PlannedCluster, SynthesizedStory } from '../activities/news.activities';
import type { ClusterWrite, StoriesWriteResult } from '../db/repositories/news.repository';
import { RUN_FATAL_LLM_FAILURES, type LlmFailureType } from '../shared/failure-types';
import { routeWithModel, type LlmRoute, type ModelChoice } from '../shared/llm-routing';
import { providerBatchKey, supportsBatch, type ProviderBatchProgress } from '../shared/provider-batch';
import { JOB_KEY, STATUS_KEY, storyloomSearchAttributes } from '../shared/search-attributes';
import {
  DEFAULT_STORY_FLAGS,
  DEFAULT_SYNTHESIS_CONCURRENCY,
  describeScope,
  resolveScope,
  synthesisConcurrencyError,
  SYNTHESIS_PROMPT_VERSION,
  type StoriesProgress,
  type StoriesResult,
  type StoriesStatus,
  type StoriesSteeringState,
  type StoryFailure,
  type StoryFlags,
  type StoryScopeInput,
  type StoryStep,
} from '../shared/stories';
import { llmActivities, localActivities, mainActivities } from './activity-options';
import { runProviderBatch } from './provider-batch';
import { slidingWindow } from './sliding-window';
import { describeFailure } from './failures';
import { askPatchesFirst, patchedFromStart } from './patches-first';
import { piecesOf } from '../shared/pieces';
import { batchWriter } from './batch-writer';

export const storiesProgressQuery = defineQuery<StoriesProgress>('progress');
export const storiesPauseUpdate = defineUpdate<StoriesSteeringState>('pause');
export const storiesResumeUpdate = defineUpdate<StoriesSteeringState>('resume');
export const storiesSetConcurrencyUpdate = defineUpdate<StoriesSteeringState, [{ synthesis: number }]>('setConcurrency');

/**
 * Stories per write. Runs before the patch `stories-llm-rows-in-write` wrote 100 (~1.5 KB
 * each); a story now carries its synthesis call's `llm_calls` row and cache entry (~4 KB in
 * all), so 50 keep a write's payload under Temporal's 256 KB warning.
 */
export const STORIES_PER_WRITE = 50;
const STORIES_PER_WRITE_BEFORE_PATCH = 100;
/**
 * A run that ends early stores its report after its row: the row carries the call-log rows of the
 * syntheses it made and did not write, which the report counts (side by side, the report was
 * read before them and left their calls and cost out).
 */
export const STORIES_REPORT_AFTER_RUN_ROW_PATCH = 'stories-report-after-the-run-row';
/**
 * A run that ends early keeps the paid calls of the syntheses it made and did not write in pieces
 * of this many syntheses, before its row: in one activity input, a few hundred real syntheses passed
 * Temporal's 2 MB payload limit, and the server terminated the run with none of them recorded
 * (or, past 4 MB, its workflow task failed and the run hung).
 */
export const STORIES_EARLY_END_IN_PIECES_PATCH = 'stories-early-end-keeps-calls-in-pieces';
const SYNTHESES_KEPT_PER_WRITE = 100;
/** …and of at most this much JSON (a synthesis at a high max-tokens is large), well under the 2 MB limit. */
const JSON_CHARS_KEPT_PER_WRITE = 512 * 1024;
/**
 * The syntheses are written (pending: unlisted until the run's last write makes them current) in
 * writes of STORIES_PER_WRITE as they are made, not all after the last one. Before, a run that
 * closed without its own ending (terminated by the server at the history limit, or by an
 * operator) had written none of its paid syntheses, and a re-run paid for every one again; now
 * it loses at most the last write's worth, and the end of a run has less to write.
 */
export const STORIES_WRITTEN_AS_MADE_PATCH = 'stories-written-as-they-are-made';
/**
 * A run continues as new after `synthesesPerRun` syntheses (default SYNTHESES_PER_RUN), carrying
 * the plan and its figures; what it made is written (pending) before it hands over. Before, a run
 * kept every synthesis in one history: with real-size answers (each is in history about four
 * times: the answer, its call's cache entry, and the write of both) a few thousand clusters reached
 * Temporal's 50 MB limit, where the server terminates the run.
 */
export const STORIES_CONTINUE_AS_NEW_PATCH = 'stories-continue-as-new';
export const SYNTHESES_PER_RUN = 500;
/**
 * A `--batch` run paused before its batch waits to be resumed before it prepares it: a batch once
 * sent is paid for whole. Before, only the calls' window waited, and a run paused during its
 * clustering submitted (and paid for) its batch while it said it was paused.
 */
export const STORIES_BATCH_WAITS_WHILE_PAUSED_PATCH = 'stories-batch-waits-while-paused';
/**
 * Once the run's last write (the one that makes its stories current and records its row) has
 * started, a cancel no longer reaches it: the write and the report go on and the run completes.
 * Before, the cancel stopped the wait but not the write: the run recorded itself cancelled, then
 * the write committed, made the stories current and recorded the row `completed` over it.
 */
export const STORIES_LAST_WRITE_COMPLETES_PATCH = 'stories-last-write-completes-the-run';
/** What a run may carry into the next (the plan is about 240 bytes a cluster), well under Temporal's 2 MB a payload; a larger plan stays in one run. */
const MAX_CARRIED_JSON_CHARS = 1024 * 1024;

const MAX_FAILURES_KEPT = 50;
/**
 * Embedding requests the clustering activity's time limit allows (a request carries up to about
 * 500 articles). Before 0.8.4 it allowed one, so a first run over thousands of new articles timed
 * out in every attempt; the limit is not part of the command sequence, so no patch.
 */
const CLUSTERING_REQUESTS = 10;

export interface GenerateStoriesInput {
  scope: StoryScopeInput;
  flags?: Partial<StoryFlags>;
  /** Syntheses in flight (default 5). */
  concurrency?: number;
  /**
   * Send the uncached syntheses as one provider batch (Anthropic Message Batches or OpenAI Batch,
   * by the synthesis model's provider; a provider without batches makes calls). Items that fail
   * in the batch are retried as calls (or recorded when a retry cannot help).
   */
  batch?: boolean;
  /** How often the batch is polled (default: 2 s growing by 1.5× to 5 min). */
  batchPoll?: { initialMs?: number; maxMs?: number; factor?: number };
  /** Cosine similarity for joining a cluster (default DEFAULT_SIMILARITY_THRESHOLD, 0.5). */
  similarityThreshold?: number;
  /** Clustering window (default 24 h). */
  clusterWindowMs?: number;
  /** The synthesis's provider and model (default: STORYLOOM_MODEL_SYNTHESIS); stories are reused per model. */
  model?: ModelChoice;
  /** Syntheses a run makes before it continues as new (default SYNTHESES_PER_RUN; calls, not a provider batch). */
  synthesesPerRun?: number;
  /** Set by the run that continued as new: the plan, what is left of it, and the figures so far. */
  carried?: StoriesCarried;
}

/** A run's plan and figures, carried into the next when it continues as new (STORIES_CONTINUE_AS_NEW_PATCH). */
export interface StoriesCarried {
  /** When the first run started (the scope is resolved from it), and every run's id. */
  startedAt: number;
  runIds: string[];
  routes: Record<'synthesis' | 'embedding', LlmRoute>;
  articles: number;
  articleQueries: number;
  clusters: PlannedCluster[];
  /** The clusters still to synthesise (their positions in `clusters`), in order. */
  todo: number[];
  synthesis: StoryStep;
  clusteringMs: number;
  failures: StoryFailure[];
  failureCount: number;
  /** Every failed cluster (positions in `clusters`), beyond the failures kept to show. */
  failed: number[];
  /** Syntheses the earlier runs made (written, pending). */
  created: number;
  paused: boolean;
  concurrency: number;
  peakSynthesisConcurrency: number;
}

const emptyStep = (): StoryStep => ({ total: 0, done: 0, failed: 0, reused: 0 });

/** Generates the stories of a scope; see the module comment. */
export async function generateStories(input: GenerateStoriesInput): Promise<StoriesResult> {
  const info = workflowInfo();
  const carried = input.carried;
  const flags: StoryFlags = { ...DEFAULT_STORY_FLAGS, ...input.flags };
  const startedAt = carried?.startedAt ?? Date.now();
  const scope = resolveScope(input.scope, startedAt, input.clusterWindowMs);
  const runKey = `${info.workflowId}/${info.firstExecutionRunId}`;
  /** Every run of this job (it may have continued as new): its row is keyed by the first, its report reads them all. */
  const runIds = [...(carried?.runIds ?? []), info.runId];
  const state = { paused: carried?.paused ?? false, concurrency: { synthesis: carried?.concurrency ?? input.concurrency ?? DEFAULT_SYNTHESIS_CONCURRENCY } };
  /** The widest synthesis window the run was given: the report's lower bound uses it. */
  let peakSynthesisConcurrency = carried?.peakSynthesisConcurrency ?? state.concurrency.synthesis;
  let phase: StoriesProgress['phase'] = carried ? 'synthesis' : 'starting';
  let articles = carried?.articles ?? 0;
  let clusters: PlannedCluster[] = carried?.clusters ?? [];
  const synthesis = carried ? { ...carried.synthesis } : emptyStep();
  const timings = { clustering: carried?.clusteringMs ?? 0, synthesis: 0, writing: 0 };
  /** How the run ended, once it has: the progress query answers it (a closed run is queried too). */
  let endedAs: StoriesStatus | undefined;
  let clusteringStarted: number | undefined;
  const failures: StoryFailure[] = [...(carried?.failures ?? [])];
  let failureCount = carried?.failureCount ?? 0;
  /** Every failed cluster's story hash (`failures` keeps the first MAX_FAILURES_KEPT, to show): its old story stays current. */
  const failedHashes = new Set<string>((carried?.failed ?? []).map((position) => carried!.clusters[position].storyHash));
  let articleQueries = carried?.articleQueries ?? 0;
  let fatal: { type: string; message: string } | undefined;
  let stories: StoriesWriteResult = { created: 0, kept: 0, superseded: 0 };
  let synthesisMode: StoriesResult['synthesisMode'] = 'calls';
  let batch: ProviderBatchProgress | undefined;
  /** Syntheses made by this run; and by the runs before it, which wrote theirs. */
  const made: SynthesizedStory[] = [];
  const madeBefore = carried?.created ?? 0;
  /** Writes them as they are made (STORIES_WRITTEN_AS_MADE_PATCH, one transaction); the story hashes written so far. */
  let storyWriter: ReturnType<typeof batchWriter<SynthesizedStory>> | undefined;
  const writtenHashes = new Set<string>();
  const keepMade = (story: SynthesizedStory) => {
    made.push(story);
    // After a failed write nothing more is queued: the run stops and keeps the rest's calls (endEarly).
    if (storyWriter && storyWriter.failure() === undefined) storyWriter.add(story);
  };

  const progress = (): StoriesProgress => {
    const finished = synthesis.done + synthesis.failed;
    const left = synthesis.total - synthesis.reused - finished;
    const elapsed = synthesis.startedAt !== undefined ? Date.now() - synthesis.startedAt : 0;
    return {
      phase,
      status: endedAs ?? 'running',
      paused: state.paused,
      concurrency: { ...state.concurrency },
      articles,
      clusters: clusters.length,
      synthesis: { ...synthesis },
      ...(batch ? { batch: { id: batch.batchId, state: batch.providerStatus, polls: batch.polls } } : {}),
      elapsedMs: Date.now() - startedAt,
      // A reader counts a running run's time from its start; an ended run's is its own.
      ...(endedAs ? {} : { startedAt }),
      estimatedRemainingMs: finished > 0 && phase === 'synthesis' ? Math.round((elapsed / finished) * left) : undefined,
    };
  };
  const showDetails = () =>
    setCurrentDetails(
      // An ended run shows how it ended. "n of m", not "n/m": the Web UI draws that as a fraction glyph.
      [`**stories** ${describeScope(scope)} — ${endedAs ?? `${phase}${state.paused ? ' (paused)' : ''}`}`,
        `articles: ${articles}, clusters: ${clusters.length}`,
        `synthesis: ${synthesis.done + synthesis.reused} of ${synthesis.total} (${synthesis.reused} reused${synthesis.failed ? `, ${synthesis.failed} failed` : ''})`,
        ...(batch ? [`batch: ${batch.batchId ?? 'all cached'} ${batch.providerStatus}, ${batch.total} items, poll ${batch.polls}`] : []),
        `concurrency: ${state.concurrency.synthesis}`].join('\n\n'),
    );
  const steering = (): StoriesSteeringState => ({ paused: state.paused, concurrency: { ...state.concurrency } });
  const noArguments = (name: string) => (...args: unknown[]) => {
    if (args.length) throw ApplicationFailure.nonRetryable(`${name} takes no arguments`, 'InvalidSteeringRequest');
  };
  setHandler(storiesProgressQuery, progress);
  setHandler(storiesPauseUpdate, () => { state.paused = true; showDetails(); return steering(); }, {
    validator: noArguments('pause'), description: 'Stop starting syntheses (calls in flight finish); answers the new state.',
  });
  setHandler(storiesResumeUpdate, () => { state.paused = false; showDetails(); return steering(); }, {
    validator: noArguments('resume'), description: 'Start syntheses again after pause; answers the new state.',
  });
  setHandler(storiesSetConcurrencyUpdate, (change) => {
    state.concurrency.synthesis = change.synthesis;
    peakSynthesisConcurrency = Math.max(peakSynthesisConcurrency, change.synthesis);
    showDetails();
    return steering();
  }, {
    validator: (change) => {
      const error = synthesisConcurrencyError(change);
      if (error) throw ApplicationFailure.nonRetryable(error, 'InvalidConcurrency');
    },
    description: 'Syntheses in flight, e.g. { "synthesis": 8 }; answers the new state.',
  });

  const searchable = info.typedSearchAttributes.get(JOB_KEY) !== undefined;
  const markStatus = (status: StoriesStatus) => {
    if (searchable) upsertSearchAttributes([{ key: STATUS_KEY, value: status }]);
  };
  const recordFailure = (cluster: PlannedCluster, err: unknown) => {
    if (isCancellation(err)) throw err;
    const { type, message } = describeFailure(err);
    synthesis.failed++;
    failureCount++;
    failedHashes.add(cluster.storyHash);
    if (failures.length < MAX_FAILURES_KEPT) failures.push({ cluster: cluster.index + 1, storyHash: cluster.storyHash, label: cluster.label, errorType: type, message });
    if (!fatal && RUN_FATAL_LLM_FAILURES.includes(type as LlmFailureType)) fatal = { type, message };
    showDetails();
  };

  const result = (status: StoriesStatus, error?: { type: string; message: string }): StoriesResult => ({
    scope, status, articles, clusters: clusters.length, synthesis, stories, failures, failureCount,
    synthesisMode,
    timingsMs: { total: Date.now() - startedAt, ...timings },
    articleQueries,
    ...(error ? { error } : {}),
  });
  const report = (r: StoriesResult) =>
    mainActivities.storeRunReport({
      workflowId: info.workflowId,
      runIds,
      kind: 'generateStories',
      scriptId: null,
      status: r.status,
      wallMs: r.timingsMs.total,
      phasesMs: timings,
      stories: { parallelSynthesis: flags.parallelSynthesis, concurrency: peakSynthesisConcurrency, batch: synthesisMode === 'batch' },
      ...(r.error ? { error: r.error } : {}),
    });
  /**
   * Decided at the start, where its patch is asked for: the SDK answers `patched()` false while it
   * replays a run without the marker but does not keep that answer, so a run begun by 0.8.4 that
   * asked again when it ends, live, would take the new branch half-way.
   */
  let keepsCallsInPieces = false;
  /** Decided at the start too (STORIES_WRITTEN_AS_MADE_PATCH). */
  let writesAsMade = false;
  /** A run that ends before its write: its row and report. */
  const endEarly = async (status: StoriesStatus, error?: { type: string; message: string }) => {
    phase = 'done';
    endedAs = status;
    // The phase cut short ends here: its time is what it ran.
    if (clusteringStarted !== undefined && synthesis.startedAt === undefined) timings.clustering = Date.now() - clusteringStarted;
    if (synthesis.startedAt !== undefined && synthesis.finishedAt === undefined) timings.synthesis = Date.now() - synthesis.startedAt;
    const r = result(status, error);
    markStatus(status);
    showDetails();
    // A write in flight is waited for (a cancelled one has stopped waiting); the syntheses queued
    // for a write are not written as stories.
    if (storyWriter) await storyWriter.flush(async () => undefined).catch(() => undefined);
    // The paid calls of syntheses made but not written: their log rows (and cache entries) are kept.
    const unwritten = flags.oneTransaction
      ? made.filter((s) => !writtenHashes.has(s.storyHash)).map(({ calls, cacheEntries }) => ({ calls, cacheEntries }))
      : [];
    const inPieces = unwritten.length > 0 && keepsCallsInPieces;
    if (inPieces) {
      for (const piece of piecesOf(unwritten, (item) => JSON.stringify(item).length, { maxItems: SYNTHESES_KEPT_PER_WRITE, maxSize: JSON_CHARS_KEPT_PER_WRITE })) {
        await mainActivities.keepStoryCalls({ llm: piece });
      }
    }
    const finishRun = () =>
      mainActivities.finishStoryRun({
        run: { runId: runIds[0], workflowId: info.workflowId, status, result: r, failures },
        scope,
        ...(flags.oneTransaction && !inPieces ? { llm: unwritten } : {}),
      });
    if (patchedFromStart(STORIES_REPORT_AFTER_RUN_ROW_PATCH)) {
      await finishRun();
      await report(r);
    } else await Promise.all([finishRun(), report(r)]);
    return r;
  };

  let routes: Record<'synthesis' | 'embedding', LlmRoute>;
  try {
    // Before the first local activity (see patches-first.ts).
    askPatchesFirst([
      STORIES_REPORT_AFTER_RUN_ROW_PATCH, STORIES_EARLY_END_IN_PIECES_PATCH, STORIES_WRITTEN_AS_MADE_PATCH,
      STORIES_CONTINUE_AS_NEW_PATCH, STORIES_BATCH_WAITS_WHILE_PAUSED_PATCH, STORIES_LAST_WRITE_COMPLETES_PATCH,
    ]);
    keepsCallsInPieces = patchedFromStart(STORIES_EARLY_END_IN_PIECES_PATCH);
    writesAsMade = patchedFromStart(STORIES_WRITTEN_AS_MADE_PATCH);
    const continues = patchedFromStart(STORIES_CONTINUE_AS_NEW_PATCH);
    const batchWaitsWhilePaused = patchedFromStart(STORIES_BATCH_WAITS_WHILE_PAUSED_PATCH);
    const lastWriteCompletes = patchedFromStart(STORIES_LAST_WRITE_COMPLETES_PATCH);
    let uncached: PlannedCluster[];
    if (carried) {
      // A continued run: the plan, its routes and what is left of it come from the run before.
      routes = carried.routes;
      uncached = carried.todo.map((position) => clusters[position]);
      showDetails();
    } else {
      const resolved = (await localActivities.resolveLlmRoutes(['synthesis', 'embedding'])) as Record<'synthesis' | 'embedding', LlmRoute>;
      routes = { ...resolved, synthesis: routeWithModel(resolved.synthesis, input.model, info.taskQueue) };
      if (searchable) upsertSearchAttributes(storyloomSearchAttributes('stories', `stories ${describeScope(scope)}`, 'running'));

      // 1–2. Load once, embed what is new, cluster, look the story hashes up.
      phase = 'clustering';
      showDetails();
      clusteringStarted = Date.now();
      // Its limit allows CLUSTERING_REQUESTS embedding requests (about 5,000 new articles); an
      // attempt cut short keeps what it embedded (each request is stored as it is answered).
      const plan = await llmActivities(routes.embedding, { requests: CLUSTERING_REQUESTS }).clusterStories.executeWithOptions(
        { summary: `clustering: ${describeScope(scope)}` },
        [{ runKey, scope, embeddingRoute: routes.embedding, synthesisRoute: routes.synthesis, useCache: flags.useCache,
          threshold: input.similarityThreshold, windowMs: input.clusterWindowMs }],
      );
      timings.clustering = Date.now() - clusteringStarted;
      articleQueries = 1;
      articles = plan.articles;
      clusters = plan.clusters;
      uncached = clusters.filter((c) => c.reusedStoryId === undefined);
      synthesis.total = clusters.length;
      synthesis.reused = clusters.length - uncached.length;

      // 3. Synthesise what is not reused: by calls in a sliding window, or (`--batch`) as one
      // provider batch whose failed items are then retried by calls.
      phase = 'synthesis';
      synthesis.startedAt = Date.now();
      showDetails();
    }
    // By calls, a run hands over after this many syntheses (STORIES_CONTINUE_AS_NEW_PATCH), unless
    // its plan is too large to carry; a provider batch's run does not (a `--batch` run whose
    // provider has none makes calls, and hands over).
    const byBatch = input.batch === true && supportsBatch(routes.synthesis.provider);
    const perRun = continues && !byBatch && JSON.stringify(clusters).length <= MAX_CARRIED_JSON_CHARS
      ? Math.max(1, input.synthesesPerRun ?? SYNTHESES_PER_RUN)
      : Infinity;
    let startedThisRun = 0;
    const byHash = new Map(clusters.map((c) => [c.storyHash, c]));
    const toWrite = (s: SynthesizedStory): ClusterWrite => {
      const c = byHash.get(s.storyHash)!;
      const { storyHash: _h, cached: _c, queriedArticles: _q, calls, cacheEntries, ...syn } = s;
      return {
        storyHash: c.storyHash, articleIds: c.articleIds, topic: c.topic, windowStart: c.windowStart, windowEnd: c.windowEnd, synthesis: syn,
        // The call's log row and cache entry travel with the story into its write (no commit of their own).
        ...(calls ? { calls } : {}),
        ...(cacheEntries ? { cacheEntries } : {}),
      };
    };
    if (writesAsMade && flags.oneTransaction) {
      storyWriter = batchWriter<SynthesizedStory>(async (rows) => {
        await mainActivities.writeStories({ model: routes.synthesis.model, promptVersion: SYNTHESIS_PROMPT_VERSION, made: rows.map(toWrite), keptHashes: [] });
        for (const row of rows) writtenHashes.add(row.storyHash);
      }, STORIES_PER_WRITE);
    }
    const synthesize = llmActivities(routes.synthesis);
    const synthesiseByCalls = (todo: PlannedCluster[]) =>
      slidingWindow(
        todo,
        () => (flags.parallelSynthesis ? state.concurrency.synthesis : 1),
        async (cluster) => {
          startedThisRun++;
          try {
            const story = await synthesize.synthesizeStory.executeWithOptions(
              { summary: `synthesis: ${cluster.label}` },
              [{ runKey, storyHash: cluster.storyHash, articleIds: cluster.articleIds, route: routes.synthesis, useCache: flags.useCache, loadOnce: flags.loadOnce }],
            );
            if (!flags.oneTransaction) {
              await mainActivities.writeStoryAlone({ model: routes.synthesis.model, promptVersion: SYNTHESIS_PROMPT_VERSION, cluster: toWrite(story) });
            }
            keepMade(story);
            if (story.queriedArticles) articleQueries++;
            synthesis.done++;
            if (story.cached) synthesis.cached = (synthesis.cached ?? 0) + 1;
            showDetails();
          } catch (err) {
            recordFailure(cluster, err);
          }
        },
        () => !state.paused,
        () => fatal !== undefined || storyWriter?.failure() !== undefined || startedThisRun >= perRun,
      );
    /**
     * One provider batch over `todo` (custom id = story hash): prepared from the run's articles,
     * submitted, polled with durable timers and read back. Returns the clusters to retry by
     * calls; failures a retry cannot fix are recorded. Cancelling the run cancels the batch.
     */
    const synthesiseByBatch = async (todo: PlannedCluster[]): Promise<PlannedCluster[]> => {
      synthesisMode = 'batch';
      const batchKey = providerBatchKey(runKey, 'synthesis');
      const refs = todo.map((c) => ({ storyHash: c.storyHash, articleIds: c.articleIds }));
      const prepared = await synthesize.prepareStoryBatch({ runKey, batchKey, clusters: refs, route: routes.synthesis, useCache: flags.useCache, loadOnce: flags.loadOnce });
      const missing = new Set(prepared.missing);
      const outcome = await runProviderBatch({
        key: batchKey,
        route: routes.synthesis,
        poll: input.batchPoll,
        onProgress: (p) => {
          batch = p;
          showDetails();
        },
      });
      const collected = await synthesize.collectStoryBatch({ batchKey, clusters: refs });
      for (const story of collected.stories) {
        keepMade(story);
        synthesis.done++;
        if (story.cached) synthesis.cached = (synthesis.cached ?? 0) + 1;
      }
      const retry = new Set([...missing, ...collected.unreadable.map((u) => u.storyHash)]);
      for (const item of outcome.items) {
        if (item.status !== 'failed') continue;
        const cluster = byHash.get(item.customId);
        if (!cluster) continue;
        if (item.retryable) retry.add(item.customId);
        else recordFailure(cluster, ApplicationFailure.create({ type: item.errorType, message: item.message ?? 'failed in the batch', nonRetryable: true }));
      }
      showDetails();
      return todo.filter((c) => retry.has(c.storyHash));
    };
    if (input.batch && uncached.length > 0 && supportsBatch(routes.synthesis.provider)) {
      if (batchWaitsWhilePaused) await condition(() => !state.paused);
      await synthesiseByCalls(await synthesiseByBatch(uncached));
    } else {
      await synthesiseByCalls(uncached);
    }
    const left = perRun === Infinity ? [] : uncached.slice(startedThisRun);
    if (left.length > 0 && !fatal) {
      // What this run made is written (pending) before the next run goes on with what is left.
      if (storyWriter) await storyWriter.flush();
      const position = new Map(clusters.map((c, i) => [c.storyHash, i]));
      const next: StoriesCarried = {
        startedAt, runIds, routes, articles, articleQueries, clusters, todo: left.map((c) => position.get(c.storyHash)!),
        synthesis, clusteringMs: timings.clustering, failures, failureCount, created: madeBefore + made.length,
        failed: clusters.flatMap((c, i) => (failedHashes.has(c.storyHash) ? [i] : [])),
        paused: state.paused, concurrency: state.concurrency.synthesis, peakSynthesisConcurrency,
      };
      await condition(allHandlersFinished);
      return await continueAsNew<typeof generateStories>({ ...input, carried: next });
    }
    synthesis.finishedAt = Date.now();
    timings.synthesis = synthesis.finishedAt - synthesis.startedAt!;
    if (fatal) throw ApplicationFailure.nonRetryable(fatal.message, fatal.type);

    // 4. Write once: stories, links, supersessions and the run's row.
    phase = 'writing';
    showDetails();
    const writingStarted = Date.now();
    const status: StoriesStatus = failureCount ? 'completed_with_failures' : 'completed';
    const currentHashes = clusters.filter((c) => !failedHashes.has(c.storyHash)).map((c) => c.storyHash);
    const failedArticleIds = clusters.filter((c) => failedHashes.has(c.storyHash)).flatMap((c) => c.articleIds);
    const keptHashes = clusters.filter((c) => c.reusedStoryId !== undefined).map((c) => c.storyHash);
    // The earlier writes store their stories pending (never listed); the last write makes them
    // current in the transaction that supersedes the old ones and records the run, so a run that
    // ends between writes leaves the previous stories current (NewsRepository.writeStories).
    let lastWrite: ClusterWrite[];
    if (storyWriter) {
      // The earlier writes went as the syntheses were made; those still queued go with the last.
      const queued: SynthesizedStory[] = [];
      await storyWriter.flush(async (rows) => {
        queued.push(...rows);
      });
      lastWrite = queued.map(toWrite);
    } else {
      const writes = flags.oneTransaction ? made.map(toWrite) : [];
      // Histories from before the patch wrote 100 a time: replaying them keeps their writes.
      const perWrite = writes.length > STORIES_PER_WRITE && !patched('stories-llm-rows-in-write') ? STORIES_PER_WRITE_BEFORE_PATCH : STORIES_PER_WRITE;
      for (let i = perWrite; i < writes.length; i += perWrite) {
        await mainActivities.writeStories({ model: routes.synthesis.model, promptVersion: SYNTHESIS_PROMPT_VERSION, made: writes.slice(i, i + perWrite), keptHashes: [] });
      }
      lastWrite = writes.slice(0, perWrite);
    }
    timings.writing = Date.now() - writingStarted;
    // Known before the last write but for what it supersedes, which it adds to the run's row; the
    // run reports them only once that write is done (a run that fails it made none current).
    const counts: StoriesWriteResult = { created: madeBefore + made.length, kept: keptHashes.length, superseded: 0 };
    const final = { ...result(status), stories: counts };
    const writeLast = () =>
      mainActivities.writeStories({
        model: routes.synthesis.model,
        promptVersion: SYNTHESIS_PROMPT_VERSION,
        made: lastWrite,
        keptHashes,
        finish: { scope, currentHashes, failedArticleIds, run: { runId: runIds[0], workflowId: info.workflowId, status, result: final, failures } },
      });
    const last = lastWriteCompletes ? await CancellationScope.nonCancellable(writeLast) : await writeLast();
    stories = { ...counts, superseded: last.superseded };
    timings.writing = Date.now() - writingStarted;
    phase = 'done';
    endedAs = status;
    markStatus(status);
    const r = result(status);
    // Its stories are current and its row says so: a cancel that came during the write changes neither.
    if (lastWriteCompletes) await CancellationScope.nonCancellable(() => report(r));
    else await report(r);
    showDetails();
    return r;
  } catch (err) {
    if (err instanceof ContinueAsNew) throw err;
    if (isCancellation(err)) {
      await CancellationScope.nonCancellable(() => endEarly('cancelled'));
      throw err;
    }
    const error = describeFailure(err);
    await CancellationScope.nonCancellable(() => endEarly('failed', error));
    throw err;
  }
}
