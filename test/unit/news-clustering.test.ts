/** Clustering is pure and deterministic: by topic, within a UTC window, then by embedding similarity; story hashes follow membership and content. */
import { realArray } from '../../src/db/repositories/news.repository';
import { clusterArticles, clusterArticlesYielding, DEFAULT_SIMILARITY_THRESHOLD, storyHash, type ClusterInput } from '../../src/domain/news/clustering';
import { articleEmbeddingText } from '../../src/domain/news/synthesis';
import { syntheticClusterOf, syntheticNews } from '../../src/domain/news/synthetic-articles';
import { embed } from '../../src/llm/simulator/embeddings';
import { resolveScope, storiesWorkflowId, DAY_MS } from '../../src/shared/stories';

const DAY = Date.UTC(2030, 5, 1);
const inputs = (opts: { articles: number; clusters: number; withTopics?: boolean; dayMs?: number }): ClusterInput[] =>
  syntheticNews({ dayMs: DAY, ...opts }).map((a, i) => ({
    id: i + 1, contentHash: `hash-${i}`, topic: a.topic, publishedAt: a.publishedAt.getTime(), vector: embed(articleEmbeddingText(a), 256),
  }));

it.each([true, false])('finds the known clusters (topics given: %s)', (withTopics) => {
  const clusters = clusterArticles(inputs({ articles: 60, clusters: 6, withTopics }));
  expect(clusters).toHaveLength(6);
  for (const c of clusters) {
    expect(c.articleIds).toHaveLength(10);
    expect(new Set(c.articleIds.map((id) => syntheticClusterOf(id - 1, 6))).size).toBe(1);
  }
});

it('gives the same clusters and hashes whatever order the articles come in', () => {
  const articles = inputs({ articles: 40, clusters: 4 });
  const shuffled = [...articles].sort((a, b) => (a.contentHash > b.contentHash ? -1 : 1));
  expect(clusterArticles(shuffled)).toEqual(clusterArticles(articles));
});

it('never joins articles of different topics or different days', () => {
  const [a, b] = inputs({ articles: 2, clusters: 1 });
  expect(clusterArticles([a, { ...b, topic: 'Other' }])).toHaveLength(2);
  expect(clusterArticles([a, { ...b, publishedAt: a.publishedAt + DAY_MS }])).toHaveLength(2);
  expect(clusterArticles([a, b])).toHaveLength(1);
});

it('splits by similarity at the documented threshold', () => {
  const v = (x: number, y: number) => [x, y];
  const base = { contentHash: 'h', topic: null, publishedAt: DAY };
  const cos = Math.cos(Math.acos(DEFAULT_SIMILARITY_THRESHOLD) + 0.01);
  expect(clusterArticles([{ ...base, id: 1, vector: v(1, 0) }, { ...base, id: 2, vector: v(cos, Math.sqrt(1 - cos * cos)) }])).toHaveLength(2);
  expect(clusterArticles([{ ...base, id: 1, vector: v(1, 0) }, { ...base, id: 2, vector: v(0.9, Math.sqrt(1 - 0.81)) }])).toHaveLength(1);
  expect(clusterArticles([{ ...base, id: 1, vector: v(1, 0) }, { ...base, id: 2, vector: v(0.9, 0.43) }], { threshold: 0.95 })).toHaveLength(2);
});

it('changes only the changed cluster’s story hash when an article is added or edited', () => {
  const articles = inputs({ articles: 30, clusters: 3 });
  const before = clusterArticles(articles);
  const extra = inputs({ articles: 33, clusters: 3 })[30];
  const added = clusterArticles([...articles, extra]);
  expect(added.filter((c) => !before.some((b) => b.storyHash === c.storyHash))).toHaveLength(1);
  const edited = clusterArticles(articles.map((a) => (a.id === 5 ? { ...a, contentHash: 'edited' } : a)));
  expect(edited.filter((c) => !before.some((b) => b.storyHash === c.storyHash)).map((c) => c.articleIds)).toEqual([expect.arrayContaining([5])]);
  expect(storyHash([{ id: 2, contentHash: 'b' }, { id: 1, contentHash: 'a' }])).toBe(storyHash([{ id: 1, contentHash: 'a' }, { id: 2, contentHash: 'b' }]));
});

it('widens a scope to whole UTC days, so the same --since an hour later is the same run', () => {
  const now = Date.UTC(2026, 10, 25, 14, 20);
  const scope = resolveScope({ sinceMs: DAY_MS }, now);
  expect(scope).toEqual({ fromMs: Date.UTC(2026, 10, 24), toMs: Date.UTC(2026, 10, 26), topic: null });
  expect(resolveScope({ sinceMs: DAY_MS }, now + 3600_000)).toEqual(scope);
  expect(storiesWorkflowId(scope)).toBe('stories-2026-11-24T00-2026-11-26T00-all');
  expect(storiesWorkflowId(resolveScope({ sinceMs: DAY_MS, topic: 'Wild Fires' }, now))).toBe('stories-2026-11-24T00-2026-11-26T00-wild-fires');
});

describe('realArray (stored embeddings read as text)', () => {
  it('reads Postgres real[] text as the numbers node-pg would give', () => {
    expect(realArray('{0.84147096,-1.2e-05,3,1e+20,-0}')).toEqual([0.84147096, -1.2e-5, 3, 1e20, -0]);
    expect(realArray('{}')).toEqual([]);
  });

  it('answers null for a vector that is not finite numbers (the article is embedded again)', () => {
    expect(realArray('{0.1,NaN}')).toBeNull();
    expect(realArray('{Infinity}')).toBeNull();
  });
});

it('clusterArticlesYielding gives the same clusters and lets timers (an activity\'s heartbeats) run while it works', async () => {
  const articles = inputs({ articles: 4000, clusters: 8, withTopics: false });
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  try {
    const yielded = await clusterArticlesYielding(articles, { sliceMs: 1 });
    expect(yielded).toEqual(clusterArticles(articles));
  } finally {
    clearInterval(timer);
  }
  // The synchronous clustering above holds the event loop whole: the ticks are the yielding one's.
  expect(ticks).toBeGreaterThan(2);
});
