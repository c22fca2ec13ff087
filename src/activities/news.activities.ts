/**
 * Story generation's activities. On the embedding provider's queue: `clusterStories` (the run's
 * one article query, embeddings of new or changed articles, clustering, the story-hash lookup).
 * On the synthesis provider's queue: `synthesizeStory` (one structured-JSON call per cluster).
 * On the main queue: the writes. Every one is idempotent: a retry rewrites the same rows and a
 * repeated call may be served by the cache.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { ArticleForRun, ClusterWrite, EmbeddingRow, NewsRepository, StoriesWrite, StoriesWriteResult } from '../db/repositories/news.repository';
import type { ProviderBatchRepository } from '../db/repositories/provider-batch.repository';
import { clusterArticlesYielding, DEFAULT_CLUSTER_WINDOW_MS, DEFAULT_SIMILARITY_THRESHOLD } from '../domain/news/clustering';
import {
  articleEmbeddingText,
  parseSynthesis,
  STORY_SYNTHESIS_SCHEMA,
  SYNTHESIS_PROMPT_VERSION,
  synthesisPrompt,
  type StorySynthesis,
  type SynthesisArticle,
} from '../domain/news/synthesis';
import { embeddingBatches } from '../domain/ingestion/embedding-batches';
import { inputHash } from '../domain/ingestion/input-hash';
import type { DeferredLlmWrites } from '../db/repositories/deferred-llm-writes';
import { deferredWrites, type LlmService } from '../llm/llm-service';
import type { ChatRequest } from '../llm/types';
import { LlmFailureType } from '../shared/failure-types';
import type { LlmRoute } from '../shared/llm-routing';
import type { StoryScope } from '../shared/stories';
import { withActivityContext } from './activity-context';
import { untilDatabaseAnswersIn } from './attempt-budget';

export const ARTICLE_EMBEDDING_PROMPT_VERSION = 'article-embedding-v1';

/**
 * The articles a run loaded, kept in this worker process for the run's syntheses (the seed
 * queried them again per cluster). A synthesis that runs in another process, or after a
 * restart, finds no snapshot and reads its articles by id: correct either way, one query more.
 */
export class ArticleSnapshots {
  private readonly runs = new Map<string, Map<number, SynthesisArticle>>();
  constructor(private readonly maxRuns = 16) {}

  put(runKey: string, articles: SynthesisArticle[]): void {
    this.runs.delete(runKey);
    this.runs.set(runKey, new Map(articles.map((a) => [a.id, a])));
    while (this.runs.size > this.maxRuns) this.runs.delete(this.runs.keys().next().value as string);
  }

  /** The articles when every one is in the run's snapshot, else undefined. */
  get(runKey: string, ids: number[]): SynthesisArticle[] | undefined {
    const run = this.runs.get(runKey);
    if (!run) return undefined;
    const found = ids.map((id) => run.get(id));
    return found.every((a) => a !== undefined) ? (found as SynthesisArticle[]) : undefined;
  }
}

export interface ClusterStoriesInput {
  /** The run's key for the article snapshot (workflow id / run id). */
  runKey: string;
  scope: StoryScope;
  embeddingRoute: LlmRoute;
  /** Stories of this model and SYNTHESIS_PROMPT_VERSION are reused by story hash. */
  synthesisRoute: LlmRoute;
  useCache: boolean;
  threshold?: number;
  windowMs?: number;
}

export interface PlannedCluster {
  index: number;
  storyHash: string;
  articleIds: number[];
  topic: string | null;
  windowStart: number;
  windowEnd: number;
  /** For the Web UI and progress: `cluster 7, "Wildfires", 12 articles`. */
  label: string;
  /** A story already made from this story hash by the same model and prompt: reused, no call. */
  reusedStoryId?: string;
}

export interface StoryPlan {
  articles: number;
  embedded: number;
  embeddingRequests: number;
  clusters: PlannedCluster[];
}

export interface SynthesizeStoryInput {
  runKey: string;
  storyHash: string;
  articleIds: number[];
  route: LlmRoute;
  useCache: boolean;
  /** Off: the articles are queried again (the seed's way), never taken from the run's snapshot. */
  loadOnce: boolean;
}

export type SynthesizedStory = StorySynthesis & DeferredLlmWrites & {
  storyHash: string;
  cached: boolean;
  /** Whether the articles were queried (no snapshot of the run here, or loadOnce off). */
  queriedArticles?: boolean;
};

function clusterLabel(index: number, topic: string | null, articles: { title: string }[]): string {
  const name = topic ?? articles[0]?.title ?? '';
  const short = name.length > 40 ? `${name.slice(0, 39)}…` : name;
  return `cluster ${index + 1}, "${short}", ${articles.length} article${articles.length === 1 ? '' : 's'}`;
}

/** One synthesis as a chat request: what synthesizeStory sends, and what a provider batch would carry. */
export function synthesisRequest(articles: SynthesisArticle[], model: string): ChatRequest {
  return { ...synthesisPrompt(articles), model, jsonSchema: { name: 'story_synthesis', schema: STORY_SYNTHESIS_SCHEMA as unknown as Record<string, unknown> } };
}

export interface StoryBatchInput {
  runKey: string;
  /** providerBatchKey(workflow id, 'synthesis'). */
  batchKey: string;
  /** The syntheses to batch; each item's custom id is the cluster's story hash. */
  clusters: { storyHash: string; articleIds: number[] }[];
  route: LlmRoute;
  useCache: boolean;
  loadOnce: boolean;
}

export interface StoryBatchCollected {
  stories: SynthesizedStory[];
  /** Answers that passed the schema but could not be read as a story (retried by calls). */
  unreadable: { storyHash: string; message: string }[];
}

export function createNewsProviderActivities(deps: {
  repo: NewsRepository;
  llm: LlmService;
  embeddingDimensions: number;
  snapshots: ArticleSnapshots;
  batches: ProviderBatchRepository;
}) {
  const { repo, llm, snapshots } = deps;
  const articlesOf = async (runKey: string, articleIds: number[], loadOnce: boolean) =>
    (loadOnce ? snapshots.get(runKey, articleIds) : undefined) ?? (await repo.articlesByIds(articleIds));
  const embeddingHash = (route: LlmRoute, a: { title: string; body: string }) =>
    inputHash(route.provider, route.model, ARTICLE_EMBEDDING_PROMPT_VERSION, deps.embeddingDimensions, articleEmbeddingText(a));

  return {
    /**
     * Loads the scope's articles with their embeddings (one query), embeds the new or changed
     * ones in batches (each stored as it is answered), clusters them, and looks the story hashes up (one
     * query). Deterministic for the same articles. Returns ids and labels only.
     */
    async clusterStories(input: ClusterStoriesInput): Promise<StoryPlan> {
      return withActivityContext(async (ctx) => {
        const articles: ArticleForRun[] = await repo.articlesInScope(input.scope, input.embeddingRoute.model);
        snapshots.put(input.runKey, articles);
        const stale = articles.filter((a) => a.embedding === null || a.embeddingHash !== embeddingHash(input.embeddingRoute, a));
        const vectors = new Map<number, number[]>(articles.filter((a) => a.embedding).map((a) => [a.id, a.embedding as number[]]));
        const batches = embeddingBatches(stale, articleEmbeddingText);
        for (const batch of batches) {
          // Each request's embeddings are written with its call's log row and cache entry (one
          // commit) as soon as it is answered, a database restart waited out: a later failure
          // (another request, a crash) keeps what was paid for, and the retry embeds only the rest.
          const collect = deferredWrites();
          const result = await llm.embed(
            {
              purpose: 'embedding',
              provider: input.embeddingRoute.provider,
              model: input.embeddingRoute.model,
              promptVersion: ARTICLE_EMBEDDING_PROMPT_VERSION,
              texts: batch.map(articleEmbeddingText),
              dimensions: deps.embeddingDimensions,
              useCache: input.useCache,
            },
            { ...ctx, collect },
          );
          const rows: EmbeddingRow[] = batch.map((a, i) => {
            vectors.set(a.id, result.vectors[i]);
            return { articleId: a.id, inputHash: embeddingHash(input.embeddingRoute, a), model: input.embeddingRoute.model, vector: result.vectors[i] };
          });
          await untilDatabaseAnswersIn(ctx, () => repo.saveArticleEmbeddings(rows, collect));
        }
        const clusters = await clusterArticlesYielding(
          articles.map((a) => ({ id: a.id, contentHash: a.contentHash, topic: a.topic, publishedAt: a.publishedAt, vector: vectors.get(a.id)! })),
          { threshold: input.threshold ?? DEFAULT_SIMILARITY_THRESHOLD, windowMs: input.windowMs ?? DEFAULT_CLUSTER_WINDOW_MS },
        );
        const known = input.useCache
          ? new Map((await repo.storiesByHash(clusters.map((c) => c.storyHash), input.synthesisRoute.model, SYNTHESIS_PROMPT_VERSION)).map((s) => [s.storyHash, s.id]))
          : new Map<string, string>();
        const byId = new Map(articles.map((a) => [a.id, a]));
        return {
          articles: articles.length,
          embedded: stale.length,
          embeddingRequests: batches.length,
          clusters: clusters.map((c, index) => ({
            index,
            ...c,
            label: clusterLabel(index, c.topic, c.articleIds.map((id) => byId.get(id)!)),
            ...(known.has(c.storyHash) ? { reusedStoryId: known.get(c.storyHash) } : {}),
          })),
        };
      });
    },

    /**
     * One cluster's story: a structured-JSON call validated against STORY_SYNTHESIS_SCHEMA (an
     * invalid answer is a retryable failure and is never cached). Returns the small result for
     * the run's single write, with the call's `llm_calls` row and cache entry, which that write
     * stores (no statement here; a failed call's row is written at once).
     */
    async synthesizeStory(input: SynthesizeStoryInput): Promise<SynthesizedStory> {
      const articles = await articlesOf(input.runKey, input.articleIds, input.loadOnce);
      if (articles.length !== input.articleIds.length) {
        throw ApplicationFailure.nonRetryable(`${input.articleIds.length - articles.length} of the cluster's articles were deleted`, 'ArticlesGone');
      }
      // The snapshot is this process's copy of the run's one load: without it the articles were queried.
      const queriedArticles = !(input.loadOnce && snapshots.get(input.runKey, input.articleIds));
      return withActivityContext(async (ctx) => {
        const { model: _model, ...request } = synthesisRequest(articles, input.route.model);
        const collect = deferredWrites();
        const result = await llm.chat(
          { purpose: 'synthesis', provider: input.route.provider, model: input.route.model, promptVersion: SYNTHESIS_PROMPT_VERSION, request, useCache: input.useCache },
          { ...ctx, collect },
        );
        try {
          return { ...parseSynthesis(result.text, input.articleIds), storyHash: input.storyHash, cached: result.cached, queriedArticles, ...collect };
        } catch (err) {
          // A paid answer that cannot be read as a story: its row is recorded now, and it is not cached.
          await repo.saveLlmWrites({ calls: collect.calls });
          throw ApplicationFailure.create({ type: LlmFailureType.InvalidOutput, message: `story ${input.storyHash.slice(0, 12)}: ${(err as Error).message}` });
        }
      }, { rateLimitDeadlineMs: input.route.rateLimitDeadlineMs });
    },

    /**
     * Prepares the run's provider batch (`--batch`): one synthesis request per cluster, exactly
     * as synthesizeStory would send it, stored under the batch key with the story hash as custom
     * id (the batch activities submit it). Idempotent: once submitted, preparing again changes
     * nothing. Clusters whose articles were deleted are left out and returned.
     */
    async prepareStoryBatch(input: StoryBatchInput): Promise<{ items: number; missing: string[] }> {
      const items: { customId: string; request: Omit<ChatRequest, 'model'> }[] = [];
      const missing: string[] = [];
      const all = input.loadOnce ? undefined : await repo.articlesByIds([...new Set(input.clusters.flatMap((c) => c.articleIds))]);
      const byId = all && new Map(all.map((a) => [a.id, a]));
      for (const cluster of input.clusters) {
        const articles = byId
          ? cluster.articleIds.map((id) => byId.get(id)).filter((a) => a !== undefined)
          : await articlesOf(input.runKey, cluster.articleIds, true);
        if (articles.length !== cluster.articleIds.length) {
          missing.push(cluster.storyHash);
          continue;
        }
        const { model: _model, ...request } = synthesisRequest(articles, input.route.model);
        items.push({ customId: cluster.storyHash, request });
      }
      await deps.batches.prepare({
        key: input.batchKey,
        provider: input.route.provider,
        model: input.route.model,
        purpose: 'synthesis',
        promptVersion: SYNTHESIS_PROMPT_VERSION,
        useCache: input.useCache,
        workflowId: input.runKey.split('/')[0] ?? null,
        items,
      });
      return { items: items.length, missing };
    },

    /** The batch's answers read as stories (for the run's single write), by story hash. */
    async collectStoryBatch(input: { batchKey: string; clusters: { storyHash: string; articleIds: number[] }[] }): Promise<StoryBatchCollected> {
      const answers = await deps.batches.answers(input.batchKey);
      const items = new Map((await deps.batches.items(input.batchKey)).map((i) => [i.customId, i.outcome]));
      const out: StoryBatchCollected = { stories: [], unreadable: [] };
      for (const cluster of input.clusters) {
        const answer = answers.get(cluster.storyHash);
        if (!answer) continue;
        try {
          out.stories.push({ ...parseSynthesis(answer.text, cluster.articleIds), storyHash: cluster.storyHash, cached: items.get(cluster.storyHash) === 'cached' });
        } catch (err) {
          out.unreadable.push({ storyHash: cluster.storyHash, message: (err as Error).message });
        }
      }
      return out;
    },
  };
}

export function createNewsActivities(deps: { repo: NewsRepository }) {
  const { repo } = deps;
  return {
    /**
     * Stories, links, supersessions and (on the last write) the run's row: one transaction. An
     * earlier write's stories are pending (not listed) until the last write makes them current.
     */
    async writeStories(input: StoriesWrite): Promise<StoriesWriteResult> {
      return repo.writeStories(input, { retry: Context.current().info.attempt > 1 });
    },

    /** One story and its links, committed apart (the benchmark's one-transaction-off row). */
    async writeStoryAlone(input: { model: string; promptVersion: string; cluster: ClusterWrite }): Promise<void> {
      await repo.writeStoryAlone(input.model, input.promptVersion, input.cluster);
    },

    /**
     * Records a run that ended before its write (failed or cancelled), with the call-log rows and
     * cache entries its syntheses carried (`llm`).
     */
    async finishStoryRun(input: { run: { runId: string; workflowId: string; status: string; result: object; failures: object[] }; scope: StoryScope; llm?: DeferredLlmWrites[] }): Promise<void> {
      await repo.finishStoryRun(input.run, input.scope, input.llm);
    },

    /** A piece of the paid calls (rows and cache entries) of syntheses a run made and did not write. Idempotent. */
    async keepStoryCalls(input: { llm: DeferredLlmWrites[] }): Promise<void> {
      await repo.keepCalls(input.llm);
    },
  };
}
