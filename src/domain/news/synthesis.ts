/**
 * The synthesis of one cluster: its prompt, the JSON schema the answer must satisfy, and the
 * parse of the answer. Pure (no I/O).
 */

export { SYNTHESIS_PROMPT_VERSION } from '../../shared/stories';

/** Characters of each article's body the prompt quotes (the lead carries the news). */
export const ARTICLE_EXCERPT_CHARS = 1200;

export const STORY_SYNTHESIS_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['headline', 'summary', 'key_points', 'time_window', 'cited_article_ids'],
  properties: {
    headline: { type: 'string', minLength: 1, maxLength: 200 },
    summary: { type: 'string', minLength: 1, maxLength: 4000 },
    key_points: { type: 'array', minItems: 1, maxItems: 8, items: { type: 'string', minLength: 1, maxLength: 400 } },
    time_window: {
      type: 'object',
      additionalProperties: false,
      required: ['start', 'end'],
      properties: { start: { type: 'string' }, end: { type: 'string' } },
    },
    cited_article_ids: { type: 'array', minItems: 1, items: { type: 'integer', minimum: 1 } },
  },
} as const;

export interface SynthesisArticle {
  id: number;
  title: string;
  body: string;
  sourceName: string | null;
  publishedAt: number;
}

export interface StorySynthesis {
  headline: string;
  summary: string;
  keyPoints: string[];
  /** Cited ids that belong to the cluster (others are dropped); every article when none is left. */
  citedArticleIds: number[];
}

export function synthesisPrompt(articles: SynthesisArticle[]): { system: string; messages: { role: 'user'; content: string }[]; maxTokens: number } {
  const digest = [...articles]
    .sort((a, b) => a.publishedAt - b.publishedAt || a.id - b.id)
    .map((a) => {
      const body = a.body.length > ARTICLE_EXCERPT_CHARS ? `${a.body.slice(0, ARTICLE_EXCERPT_CHARS)}…` : a.body;
      return `[article ${a.id}] ${new Date(a.publishedAt).toISOString()}${a.sourceName ? ` — ${a.sourceName}` : ''}\n${a.title}\n${body}`;
    })
    .join('\n\n');
  return {
    system:
      'You are a news editor. From the articles given, all about one story, write that story: a neutral headline, a summary of ' +
      'what happened (3-6 sentences), the key points, the time window the events span, and the ids of the articles you used. ' +
      'Use only what the articles say. Answer with JSON only.',
    messages: [{ role: 'user', content: `${articles.length} article(s):\n\n${digest}` }],
    maxTokens: 1200,
  };
}

/** Reads a validated answer; cited ids outside the cluster are dropped. */
export function parseSynthesis(text: string, clusterArticleIds: number[]): StorySynthesis {
  const raw = JSON.parse(text) as { headline: string; summary: string; key_points: string[]; cited_article_ids: number[] };
  const members = new Set(clusterArticleIds);
  const cited = [...new Set(raw.cited_article_ids.filter((id) => members.has(id)))].sort((a, b) => a - b);
  return {
    headline: raw.headline.trim(),
    summary: raw.summary.trim(),
    keyPoints: raw.key_points.map((p) => p.trim()).filter(Boolean),
    citedArticleIds: cited.length ? cited : [...clusterArticleIds],
  };
}

/** The text an article is embedded by: its title and the lead of its body. */
export function articleEmbeddingText(a: { title: string; body: string }): string {
  return `${a.title}\n${a.body.slice(0, 2000)}`;
}
