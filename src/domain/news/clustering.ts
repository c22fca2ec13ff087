/**
 * Clustering articles into stories. Pure and deterministic: the same articles (and vectors) give
 * the same clusters in the same order, whatever order they come in.
 *
 * 1. Articles are grouped by topic (case-insensitive; none is a group of its own) and by time
 *    window: the UTC-aligned window of `windowMs` (default 24 h) their publication falls in.
 *    Windows are aligned so that a run's scope, widened to whole windows, never cuts a cluster.
 * 2. Within a group, articles are taken in publication order (then id) and each joins the
 *    cluster whose centroid is most similar to its embedding when that cosine similarity is at
 *    least `threshold` (DEFAULT_SIMILARITY_THRESHOLD), else starts a new cluster.
 *
 * A cluster's identity is its story hash: sha256 of its sorted (article id, content hash) pairs,
 * so any change of membership or of a member's content makes a new story hash.
 */
import { createHash } from 'node:crypto';
import { cosineSimilarity } from '../ingestion/embedding-batches';

/**
 * Cosine similarity at or above which an article joins a cluster. 0.5 separates same-event from
 * different-event news in text-embedding-3-small's space (same event ≈ 0.55–0.8, unrelated news
 * ≈ 0.1–0.35) and in the simulator's bag-of-words vectors (shared vocabulary vs none).
 */
export const DEFAULT_SIMILARITY_THRESHOLD = 0.5;
export const DEFAULT_CLUSTER_WINDOW_MS = 24 * 3600_000;

export interface ClusterInput {
  id: number;
  contentHash: string;
  topic: string | null;
  publishedAt: number;
  vector: ArrayLike<number>;
}

export interface ArticleCluster {
  storyHash: string;
  /** Sorted ascending. */
  articleIds: number[];
  topic: string | null;
  /** Earliest and latest publication of its articles (ms). */
  windowStart: number;
  windowEnd: number;
}

export interface ClusterOptions {
  threshold?: number;
  windowMs?: number;
}

export function storyHash(members: { id: number; contentHash: string }[]): string {
  const pairs = [...members].sort((a, b) => a.id - b.id).map((m) => `${m.id}:${m.contentHash}`);
  return createHash('sha256').update(pairs.join('\n'), 'utf8').digest('hex');
}

/** The UTC-aligned window a time falls in: [start, start + windowMs). */
export function windowStartOf(ms: number, windowMs = DEFAULT_CLUSTER_WINDOW_MS): number {
  return Math.floor(ms / windowMs) * windowMs;
}

export function clusterArticles(articles: ClusterInput[], opts: ClusterOptions = {}): ArticleCluster[] {
  const steps = clusterSteps(articles, opts);
  for (let step = steps.next(); ; step = steps.next()) if (step.done) return step.value;
}

/**
 * clusterArticles, giving the event loop a turn every `sliceMs` of work: a day of thousands of
 * articles compares each with every cluster (seconds of CPU), during which an activity's
 * heartbeats, and every other activity and workflow task of its worker, would otherwise wait.
 */
export async function clusterArticlesYielding(articles: ClusterInput[], opts: ClusterOptions & { sliceMs?: number } = {}): Promise<ArticleCluster[]> {
  const sliceMs = opts.sliceMs ?? 20;
  const steps = clusterSteps(articles, opts);
  let sliceStart = performance.now();
  for (let step = steps.next(); ; step = steps.next()) {
    if (step.done) return step.value;
    if (performance.now() - sliceStart >= sliceMs) {
      await new Promise((resolve) => setImmediate(resolve));
      sliceStart = performance.now();
    }
  }
}

/** The clustering, yielding after each article placed (the callers decide when to pause). */
function* clusterSteps(articles: ClusterInput[], opts: ClusterOptions): Generator<void, ArticleCluster[]> {
  const threshold = opts.threshold ?? DEFAULT_SIMILARITY_THRESHOLD;
  const windowMs = opts.windowMs ?? DEFAULT_CLUSTER_WINDOW_MS;
  const groups = new Map<string, ClusterInput[]>();
  for (const a of articles) {
    const key = `${windowStartOf(a.publishedAt, windowMs)}\u0000${a.topic?.trim().toLowerCase() ?? ''}`;
    const group = groups.get(key);
    if (group) group.push(a);
    else groups.set(key, [a]);
  }
  const clusters: ArticleCluster[] = [];
  for (const group of groups.values()) {
    group.sort((a, b) => a.publishedAt - b.publishedAt || a.id - b.id);
    const built: { members: ClusterInput[]; sum: Float64Array }[] = [];
    for (const a of group) {
      let best = -1;
      let bestScore = -Infinity;
      built.forEach((c, i) => {
        const score = cosineSimilarity(a.vector, c.sum);
        if (score > bestScore) [best, bestScore] = [i, score];
      });
      if (best >= 0 && bestScore >= threshold) {
        const c = built[best];
        c.members.push(a);
        for (let d = 0; d < c.sum.length; d++) c.sum[d] += a.vector[d] ?? 0;
      } else {
        built.push({ members: [a], sum: Float64Array.from(a.vector) });
      }
      yield;
    }
    for (const c of built) {
      clusters.push({
        storyHash: storyHash(c.members),
        articleIds: c.members.map((m) => m.id).sort((x, y) => x - y),
        topic: c.members[0].topic,
        // Not Math.min(...): a cluster of a great many articles would overflow the stack.
        windowStart: c.members.reduce((t, m) => Math.min(t, m.publishedAt), Infinity),
        windowEnd: c.members.reduce((t, m) => Math.max(t, m.publishedAt), -Infinity),
      });
    }
  }
  return clusters.sort((a, b) => a.windowStart - b.windowStart || (a.topic ?? '').localeCompare(b.topic ?? '') || a.articleIds[0] - b.articleIds[0]);
}
