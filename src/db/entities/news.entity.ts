/** News: imported articles, their embeddings, the stories made from clusters of them, and each generation run. */
import { EntitySchema } from 'typeorm';
import { bigintAsNumber, cascadingForeignKey, timestampDefaultNow } from './columns';

export interface Article {
  id: number;
  /** The row's identity on re-import: the URL, else `id:<source>:<source id>`, else `sha256:<content hash>`. */
  articleKey: string;
  url: string | null;
  sourceId: string | null;
  title: string;
  body: string;
  topic: string | null;
  publishedAt: Date;
  sourceName: string | null;
  contentHash: string;
  createdAt: Date;
  updatedAt: Date;
}

export const ArticleEntity = new EntitySchema<Article>({
  name: 'Article',
  tableName: 'articles',
  columns: {
    id: { type: 'bigint', primary: true, generated: 'increment', transformer: bigintAsNumber },
    articleKey: { name: 'article_key', type: 'text' },
    url: { type: 'text', nullable: true },
    sourceId: { name: 'source_id', type: 'text', nullable: true },
    title: { type: 'text' },
    body: { type: 'text' },
    topic: { type: 'text', nullable: true },
    publishedAt: { name: 'published_at', type: 'timestamptz' },
    sourceName: { name: 'source_name', type: 'text', nullable: true },
    contentHash: { name: 'content_hash', type: 'text' },
    createdAt: timestampDefaultNow('created_at'),
    updatedAt: timestampDefaultNow('updated_at'),
  },
  indices: [
    { name: 'articles_key_idx', columns: ['articleKey'], unique: true },
    { name: 'articles_published_idx', columns: ['publishedAt'] },
  ],
});

/** An article's embedding, current while `inputHash` matches the article's text, model and dimensions. */
export interface ArticleEmbedding {
  articleId: number;
  inputHash: string;
  model: string;
  dimensions: number;
  embedding: number[];
  updatedAt: Date;
}

export const ArticleEmbeddingEntity = new EntitySchema<ArticleEmbedding>({
  name: 'ArticleEmbedding',
  tableName: 'article_embeddings',
  columns: {
    articleId: { name: 'article_id', type: 'bigint', primary: true, transformer: bigintAsNumber },
    inputHash: { name: 'input_hash', type: 'text' },
    model: { type: 'text' },
    dimensions: { type: 'integer' },
    embedding: { type: 'real', array: true },
    updatedAt: timestampDefaultNow('updated_at'),
  },
  foreignKeys: [cascadingForeignKey('article_embeddings', 'article_id', 'articleId', 'Article')],
});

/**
 * A story: one cluster's synthesis. Its identity is (story hash, model, prompt version): the
 * same cluster synthesised by the same model and prompt is the same story, whatever run made it.
 */
export interface Story {
  id: string;
  storyHash: string;
  model: string;
  promptVersion: string;
  headline: string;
  summary: string;
  keyPoints: string[];
  citedArticleIds: number[];
  topic: string | null;
  windowStart: Date;
  windowEnd: Date;
  articleCount: number;
  /** current | superseded | pending (stored by a run's earlier write, not listed until its last write makes it current) */
  status: string;
  supersededAt: Date | null;
  /** The current story that took most of this one's articles, when one did. */
  supersededBy: string | null;
  createdAt: Date;
  updatedAt: Date;
  /** The full-text document story search matches, kept by a trigger (migration StorySearchDocument); never read or written here. */
  searchDoc?: never;
}

export const StoryEntity = new EntitySchema<Story>({
  name: 'Story',
  tableName: 'stories',
  columns: {
    id: { type: 'uuid', primary: true },
    storyHash: { name: 'story_hash', type: 'text' },
    model: { type: 'text' },
    promptVersion: { name: 'prompt_version', type: 'text' },
    headline: { type: 'text' },
    summary: { type: 'text' },
    keyPoints: { name: 'key_points', type: 'jsonb' },
    citedArticleIds: { name: 'cited_article_ids', type: 'jsonb' },
    topic: { type: 'text', nullable: true },
    windowStart: { name: 'window_start', type: 'timestamptz' },
    windowEnd: { name: 'window_end', type: 'timestamptz' },
    articleCount: { name: 'article_count', type: 'integer' },
    status: { type: 'text' },
    supersededAt: { name: 'superseded_at', type: 'timestamptz', nullable: true },
    supersededBy: { name: 'superseded_by', type: 'uuid', nullable: true },
    createdAt: timestampDefaultNow('created_at'),
    updatedAt: timestampDefaultNow('updated_at'),
    searchDoc: { name: 'search_doc', type: 'tsvector', nullable: true, select: false, insert: false, update: false },
  },
  indices: [
    { name: 'stories_identity_idx', columns: ['storyHash', 'model', 'promptVersion'], unique: true },
    { name: 'stories_window_idx', columns: ['status', 'windowStart'] },
    // A GIN index, which entity metadata cannot describe: the migration owns it.
    { name: 'stories_search_idx', columns: ['searchDoc'], synchronize: false },
  ],
});

export interface StoryArticle {
  storyId: string;
  articleId: number;
}

export const StoryArticleEntity = new EntitySchema<StoryArticle>({
  name: 'StoryArticle',
  tableName: 'story_articles',
  columns: {
    storyId: { name: 'story_id', type: 'uuid', primary: true },
    articleId: { name: 'article_id', type: 'bigint', primary: true, transformer: bigintAsNumber },
  },
  indices: [{ name: 'story_articles_article_idx', columns: ['articleId'] }],
  foreignKeys: [
    cascadingForeignKey('story_articles', 'story_id', 'storyId', 'Story'),
    cascadingForeignKey('story_articles', 'article_id', 'articleId', 'Article'),
  ],
});

/** One generateStories run: its scope, outcome and failures (written once, when it ends). */
export interface StoryRun {
  runId: string;
  workflowId: string;
  scope: object;
  /** completed | completed_with_failures | failed | cancelled */
  status: string;
  result: object | null;
  failures: object[];
  finishedAt: Date;
}

export const StoryRunEntity = new EntitySchema<StoryRun>({
  name: 'StoryRun',
  tableName: 'story_runs',
  columns: {
    runId: { name: 'run_id', type: 'text', primary: true },
    workflowId: { name: 'workflow_id', type: 'text' },
    scope: { type: 'jsonb' },
    status: { type: 'text' },
    result: { type: 'jsonb', nullable: true },
    failures: { type: 'jsonb', default: () => "'[]'" },
    finishedAt: timestampDefaultNow('finished_at'),
  },
  indices: [{ name: 'story_runs_workflow_idx', columns: ['workflowId'] }],
});
