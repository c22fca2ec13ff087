/**
 * Articles and stories. An import is one transaction (upsert by article key); a run loads its
 * articles with their embeddings in one query, and writes its stories, links, supersessions and
 * run row in one transaction (`writeStories`). A run too large for one write stores its earlier
 * writes' stories `pending` (never listed or searched); its last write makes them current in the
 * transaction that supersedes the older ones, so readers never see a half-written run. Plain
 * objects out, never entities.
 */
import { randomUUID } from 'node:crypto';
import { isUuid } from '../../shared/uuid';
import type { DataSource, EntityManager } from 'typeorm';
import { articleContentHash, articleKey, type ParsedArticle } from '../../domain/news/articles';
import type { StorySynthesis, SynthesisArticle } from '../../domain/news/synthesis';
import type { StoryScope } from '../../shared/stories';
import { ArticleEmbeddingEntity, ArticleEntity, StoryArticleEntity, StoryEntity, StoryRunEntity } from '../entities';
import { deferredLlmStatements, type DeferredLlmWrites } from './deferred-llm-writes';
import { buildUpsert, upsertInChunks, writeInOneStatement } from './multi-row';

export interface ArticleImportResult {
  created: number;
  updated: number;
  unchanged: number;
}

/** An article as a run needs it: everything clustering, synthesis and time windows use, in one row. */
export interface ArticleForRun extends SynthesisArticle {
  contentHash: string;
  topic: string | null;
  /** The stored embedding and what it was made from (null when there is none). */
  embedding: number[] | null;
  embeddingHash: string | null;
}

export interface EmbeddingRow {
  articleId: number;
  inputHash: string;
  model: string;
  vector: number[];
}

/**
 * A cluster as the write sees it: its identity and members, its synthesis, and the synthesis
 * call's `llm_calls` row and cache entry (DeferredLlmWrites), written in the same transaction.
 */
export interface ClusterWrite extends DeferredLlmWrites {
  storyHash: string;
  articleIds: number[];
  topic: string | null;
  windowStart: number;
  windowEnd: number;
  synthesis: StorySynthesis;
}

/**
 * A story no reader lists yet: stored by a run's earlier write, made current by its last one.
 * A run that ends before its last write leaves it pending; a later run making the same story
 * hash reuses it (storiesByHash) and makes it current.
 */
export const PENDING_STORY = 'pending';

export interface StoriesWrite {
  model: string;
  promptVersion: string;
  /**
   * New or changed syntheses to store with their links: new rows are current on the last write
   * (with `finish`), pending on an earlier one (an existing row keeps its status there).
   */
  made: ClusterWrite[];
  /** Story hashes this run keeps (reused without a call): marked current again. */
  keptHashes: string[];
  /** Present on a run's last write: make the run's stories current, supersede what vanished and record the run. */
  finish?: {
    scope: StoryScope;
    /** Every story hash current after this run (made, kept, and made by earlier writes of it: those are made current here). */
    currentHashes: string[];
    /** Articles of clusters that failed: stories holding them are left as they are. */
    failedArticleIds: number[];
    /**
     * The run's row. Its result's `stories` counts are completed here with what this write
     * superseded, so the row holds the run's final counts.
     */
    run: { runId: string; workflowId: string; status: string; result: { stories: StoriesWriteResult }; failures: object[] };
  };
}

/** What a write did: stories it made (stored from this run's syntheses), kept (reused) and superseded. */
export interface StoriesWriteResult {
  created: number;
  kept: number;
  superseded: number;
}

export interface StoryListItem {
  id: string;
  headline: string;
  topic: string | null;
  windowStart: Date;
  windowEnd: Date;
  articleCount: number;
  status: string;
}

export interface StoryDetail extends StoryListItem {
  summary: string;
  keyPoints: string[];
  citedArticleIds: number[];
  storyHash: string;
  model: string;
  promptVersion: string;
  supersededBy: string | null;
  supersededAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
  articles: { id: number; title: string; url: string | null; sourceName: string | null; publishedAt: Date }[];
}

/**
 * A `real[]` in Postgres's text form (`{0.12,-3.4e-05}`) as numbers. Finite floats print as JSON
 * numbers; a NaN or Infinity (never in a stored embedding) makes the vector unusable: null, so
 * the article is embedded again.
 */
export function realArray(text: string): number[] | null {
  try {
    return JSON.parse(`[${text.slice(1, -1)}]`) as number[];
  } catch {
    return null;
  }
}

/** The stories a listing shows: current ones, or (`all`) superseded ones too; never pending ones. */
const listedStatus = (all?: boolean) => (all ? `status <> '${PENDING_STORY}'` : `status = 'current'`);

const LIST_COLUMNS = `id, headline, topic, window_start AS "windowStart", window_end AS "windowEnd", article_count AS "articleCount", status`;

/** Stories an ambiguous id prefix lists. */
const LISTED_MATCHES = 5;

/** What `stories show` and `GET /api/stories/:id` take, said in their refusals of anything else. */
export const STORY_ID_FORM = 'a story id or the start of one (hex digits and dashes)';

/**
 * Whether `text` can be a story's id or the start of one (any case): anything else is malformed
 * (the API's 400, the CLI's exit 2), never "no such story".
 */
export function isStoryIdOrPrefix(text: string): boolean {
  return /^[0-9a-f-]{1,36}$/i.test(text);
}

/** An id prefix that several stories' ids start with: `matches` holds the first few (newest first), `total` counts them all. */
export class AmbiguousStoryIdError extends Error {
  constructor(
    readonly prefix: string,
    readonly matches: StoryListItem[],
    readonly total: number,
  ) {
    super(`"${prefix}" is the start of ${total} story ids (${matches.map((m) => m.id).join(', ')}${total > matches.length ? ', …' : ''})`);
  }
}

export class NewsRepository {
  constructor(private readonly db: DataSource) {}

  /**
   * Stores parsed articles in one transaction: a new key inserts, a known key with another
   * content hash updates that row, the same content is left alone. Within one file the last
   * article with a key wins.
   */
  async importArticles(articles: ParsedArticle[]): Promise<ArticleImportResult> {
    const byKey = new Map<string, ParsedArticle & { key: string; contentHash: string }>();
    for (const a of articles) byKey.set(articleKey(a), { ...a, key: articleKey(a), contentHash: articleContentHash(a) });
    const rows = [...byKey.values()];
    return this.db.transaction(async (tx) => {
      const existing = new Map<string, string>();
      for (let i = 0; i < rows.length; i += 5000) {
        const found: { key: string; hash: string }[] = await tx.query(
          'SELECT article_key AS key, content_hash AS hash FROM articles WHERE article_key = ANY($1)',
          [rows.slice(i, i + 5000).map((r) => r.key)],
        );
        for (const f of found) existing.set(f.key, f.hash);
      }
      const changed = rows.filter((r) => existing.get(r.key) !== r.contentHash);
      await upsertInChunks(
        tx,
        ArticleEntity,
        changed.map((r) => ({
          articleKey: r.key, url: r.url, sourceId: r.sourceId, title: r.title, body: r.body, topic: r.topic,
          publishedAt: r.publishedAt, sourceName: r.sourceName, contentHash: r.contentHash,
        })),
        {
          columns: ['articleKey', 'url', 'sourceId', 'title', 'body', 'topic', 'publishedAt', 'sourceName', 'contentHash'],
          conflict: ['article_key'],
          overwrite: ['url', 'source_id', 'title', 'body', 'topic', 'published_at', 'source_name', 'content_hash', 'updated_at'],
          chunkSize: 200,
        },
      );
      const updated = changed.filter((r) => existing.has(r.key)).length;
      return { created: changed.length - updated, updated, unchanged: rows.length - changed.length };
    });
  }

  /**
   * Articles published in the scope, with their stored embedding for `model`: one query. The
   * vectors come as text and are read with JSON.parse: node-pg's parser for `real[]` took most of
   * an unchanged re-run's clustering activity (25–70 ms for 150 × 256 floats, 6× that at 1536).
   */
  async articlesInScope(scope: StoryScope, model: string): Promise<ArticleForRun[]> {
    const rows: (Omit<ArticleForRun, 'publishedAt' | 'id' | 'embedding'> & { id: string; publishedAt: Date; embedding: string | null })[] = await this.db.query(
      `SELECT a.id, a.title, a.body, a.topic, a.published_at AS "publishedAt", a.source_name AS "sourceName", a.content_hash AS "contentHash",
              e.embedding::text AS embedding, e.input_hash AS "embeddingHash"
         FROM articles a LEFT JOIN article_embeddings e ON e.article_id = a.id AND e.model = $4
        WHERE a.published_at >= $1 AND a.published_at < $2 AND ($3::text IS NULL OR lower(a.topic) = lower($3))
        ORDER BY a.published_at, a.id`,
      [new Date(scope.fromMs), new Date(scope.toMs), scope.topic, model],
    );
    return rows.map((r) => ({ ...r, id: Number(r.id), publishedAt: r.publishedAt.getTime(), embedding: r.embedding === null ? null : realArray(r.embedding) }));
  }

  /** The articles one synthesis needs, by id (when the run's snapshot is not at hand). */
  async articlesByIds(ids: number[]): Promise<SynthesisArticle[]> {
    const rows: { id: string; title: string; body: string; sourceName: string | null; publishedAt: Date }[] = await this.db.query(
      `SELECT id, title, body, source_name AS "sourceName", published_at AS "publishedAt" FROM articles WHERE id = ANY($1) ORDER BY id`,
      [ids],
    );
    return rows.map((r) => ({ ...r, id: Number(r.id), publishedAt: r.publishedAt.getTime() }));
  }

  /**
   * Writes embeddings with the embedding calls' deferred `llm_calls` rows and cache entries: one
   * statement (one commit) when they fit one of 200 rows, else one transaction. Idempotent.
   */
  async saveArticleEmbeddings(rows: EmbeddingRow[], llm: DeferredLlmWrites = {}): Promise<void> {
    const values = rows.map((r) => ({ articleId: r.articleId, inputHash: r.inputHash, model: r.model, dimensions: r.vector.length, embedding: r.vector }));
    const spec = { conflict: ['article_id'], overwrite: ['input_hash', 'model', 'dimensions', 'embedding', 'updated_at'], chunkSize: 200 };
    if (values.length <= spec.chunkSize) {
      await writeInOneStatement(this.db, [...deferredLlmStatements(this.db.manager, [llm]), buildUpsert(this.db.manager, ArticleEmbeddingEntity, values, spec)]);
      return;
    }
    await this.db.transaction(async (tx) => {
      await writeInOneStatement(tx, deferredLlmStatements(tx, [llm]));
      await upsertInChunks(tx, ArticleEmbeddingEntity, values, spec);
    });
  }

  /** Deferred call-log rows and cache entries on their own (one statement): for a call whose result is not written. */
  async saveLlmWrites(llm: DeferredLlmWrites): Promise<void> {
    await writeInOneStatement(this.db, deferredLlmStatements(this.db.manager, [llm]));
  }

  /** Stories already made from these hashes by this model and prompt version (current, superseded, or pending from a run that ended early). */
  async storiesByHash(hashes: string[], model: string, promptVersion: string): Promise<{ id: string; storyHash: string }[]> {
    if (!hashes.length) return [];
    return this.db.query(
      `SELECT id, story_hash AS "storyHash" FROM stories WHERE story_hash = ANY($1) AND model = $2 AND prompt_version = $3`,
      [hashes, model, promptVersion],
    );
  }

  /**
   * The run's stories in one transaction, with their syntheses' call-log rows and cache entries:
   * see StoriesWrite. Idempotent (a retry rewrites the same rows; a call row is written once).
   */
  async writeStories(input: StoriesWrite, opts: { retry?: boolean } = {}): Promise<StoriesWriteResult> {
    return this.db.transaction(async (tx) => {
      // Last writes take turns (runs whose scopes overlap may end at once): each supersedes the
      // current stories of its scope, and one running beside another would miss the stories the
      // other is making current, leaving both runs' stories current over the same articles.
      // (The two-key form: a key space apart from the one-key locks of script imports.)
      if (input.finish) await tx.query(`SELECT pg_advisory_xact_lock(hashtext('storyloom'), hashtext('stories last write'))`);
      if (input.finish && opts.retry) {
        // A retry of a last write that committed (its answer was lost) answers what that write
        // did: the stories it superseded are no longer current, so counting again would say 0.
        const [done] = await tx.query(`SELECT result -> 'stories' AS stories FROM story_runs WHERE run_id = $1 AND status = $2`, [input.finish.run.runId, input.finish.run.status]);
        if (done?.stories) return done.stories as StoriesWriteResult;
      }
      return this.writeStoriesIn(tx, input);
    });
  }

  /**
   * One story the way the seed wrote it (the benchmark's "optimisations off" row): the story,
   * committed, then its links, committed — two commits.
   */
  async writeStoryAlone(model: string, promptVersion: string, cluster: ClusterWrite): Promise<void> {
    const [row] = await this.upsertStories(this.db.manager, model, promptVersion, [cluster], 'current');
    await this.insertLinks(this.db.manager, [{ id: row.id, articleIds: cluster.articleIds }]);
    await writeInOneStatement(this.db, deferredLlmStatements(this.db.manager, [cluster]));
  }

  /**
   * Inserts or updates stories by identity. `pending` (a run's earlier write): new rows are
   * pending and an existing row keeps its status, so a story another run made current stays listed.
   */
  private async upsertStories(tx: EntityManager, model: string, promptVersion: string, made: ClusterWrite[], status: 'current' | typeof PENDING_STORY) {
    if (!made.length) return [];
    const overwrite = ['headline', 'summary', 'key_points', 'cited_article_ids', 'topic', 'window_start', 'window_end', 'article_count', 'updated_at'];
    if (status === 'current') overwrite.push('status', 'superseded_at', 'superseded_by');
    const rows = made.map((c) => ({
      id: randomUUID(), storyHash: c.storyHash, model, promptVersion,
      headline: c.synthesis.headline, summary: c.synthesis.summary,
      keyPoints: c.synthesis.keyPoints, citedArticleIds: c.synthesis.citedArticleIds,
      topic: c.topic, windowStart: new Date(c.windowStart), windowEnd: new Date(c.windowEnd),
      articleCount: c.articleIds.length, status, supersededAt: null, supersededBy: null,
    }));
    const returned: Record<string, unknown>[] = [];
    for (let i = 0; i < rows.length; i += 100) {
      const result = await tx
        .createQueryBuilder()
        .insert()
        .into(StoryEntity)
        .values(rows.slice(i, i + 100))
        .orUpdate(overwrite, ['story_hash', 'model', 'prompt_version'])
        // An existing story keeps its id.
        .returning('id, story_hash')
        .updateEntity(false)
        .execute();
      returned.push(...(result.raw as Record<string, unknown>[]));
    }
    const byHash = new Map(returned.map((r) => [r.story_hash as string, r]));
    return made.map((c) => {
      const r = byHash.get(c.storyHash)!;
      return { id: r.id as string };
    });
  }

  private async insertLinks(tx: EntityManager, stories: { id: string; articleIds: number[] }[]): Promise<void> {
    const links = stories.flatMap((s) => s.articleIds.map((articleId) => ({ storyId: s.id, articleId })));
    for (let i = 0; i < links.length; i += 1000) {
      await tx.createQueryBuilder().insert().into(StoryArticleEntity).values(links.slice(i, i + 1000)).orIgnore().updateEntity(false).execute();
    }
  }

  private async writeStoriesIn(tx: EntityManager, input: StoriesWrite): Promise<StoriesWriteResult> {
    await writeInOneStatement(tx, deferredLlmStatements(tx, input.made));
    const finish = input.finish;
    const made = await this.upsertStories(tx, input.model, input.promptVersion, input.made, finish ? 'current' : PENDING_STORY);
    await this.insertLinks(tx, made.map((m, i) => ({ id: m.id, articleIds: input.made[i].articleIds })));
    // On the last write the kept hashes are among currentHashes, made current below with the rest.
    if (input.keptHashes.length && !finish) {
      // A reused story whose cluster had vanished and came back is current again.
      await tx.query(
        `UPDATE stories SET status = 'current', superseded_at = NULL, superseded_by = NULL, updated_at = now()
          WHERE story_hash = ANY($1) AND model = $2 AND prompt_version = $3 AND status <> 'current'`,
        [input.keptHashes, input.model, input.promptVersion],
      );
    }
    // Counted from the input, not from which rows were new: a retry of a write that committed
    // finds its own rows and would count them kept.
    const result: StoriesWriteResult = { created: input.made.length, kept: input.keptHashes.length, superseded: 0 };
    if (finish) {
      // The run's stories become current together (pending ones from its earlier writes, reused
      // ones that had been superseded), in one statement that also returns all their ids.
      const current: { id: string }[] = await tx.query(
        `WITH made_current AS (
           UPDATE stories SET status = 'current', superseded_at = NULL, superseded_by = NULL, updated_at = now()
            WHERE story_hash = ANY($1) AND model = $2 AND prompt_version = $3 AND status <> 'current')
         SELECT id FROM stories WHERE story_hash = ANY($1) AND model = $2 AND prompt_version = $3`,
        [finish.currentHashes, input.model, input.promptVersion],
      );
      const currentIds = current.map((c) => c.id);
      const [superseded] = (await tx.query(
        `UPDATE stories s SET status = 'superseded', superseded_at = now(), updated_at = now()
          WHERE s.status = 'current' AND s.window_start >= $1 AND s.window_start < $2
            AND ($3::text IS NULL OR lower(s.topic) = lower($3))
            AND NOT (s.id = ANY($4::uuid[]))
            AND NOT EXISTS (SELECT 1 FROM story_articles sa WHERE sa.story_id = s.id AND sa.article_id = ANY($5::bigint[]))
          RETURNING s.id`,
        [new Date(finish.scope.fromMs), new Date(finish.scope.toMs), finish.scope.topic, currentIds, finish.failedArticleIds],
      )) as [{ id: string }[], number];
      result.superseded = superseded.length;
      if (superseded.length && currentIds.length) {
        await tx.query(
          `UPDATE stories s SET superseded_by = best.new_id FROM (
             SELECT DISTINCT ON (o.story_id) o.story_id, n.story_id AS new_id
               FROM story_articles o JOIN story_articles n ON n.article_id = o.article_id
              WHERE o.story_id = ANY($1::uuid[]) AND n.story_id = ANY($2::uuid[])
              GROUP BY o.story_id, n.story_id
              ORDER BY o.story_id, count(*) DESC, n.story_id) best
            WHERE s.id = best.story_id`,
          [superseded.map((s) => s.id), currentIds],
        );
      }
      const stories = { ...finish.run.result.stories, superseded: result.superseded };
      await this.saveRun(tx, { ...finish.run, result: { ...finish.run.result, stories } }, finish.scope);
    }
    return result;
  }

  /**
   * Records a run that ended without writing stories (failed or cancelled before the write),
   * with the call-log rows and cache entries of the syntheses it made (paid calls are recorded
   * even when their stories are not written): one transaction.
   */
  async finishStoryRun(run: { runId: string; workflowId: string; status: string; result: object; failures: object[] }, scope: StoryScope, llm: DeferredLlmWrites[] = []): Promise<void> {
    const deferred = deferredLlmStatements(this.db.manager, llm);
    if (!deferred.length) return this.saveRun(this.db.manager, run, scope);
    await this.db.transaction(async (tx) => {
      await writeInOneStatement(tx, deferred);
      await this.saveRun(tx, run, scope);
    });
  }

  /** Call rows and cache entries collected by activities, written on their own (idempotent: see deferredLlmStatements). */
  async keepCalls(llm: DeferredLlmWrites[]): Promise<void> {
    await writeInOneStatement(this.db, deferredLlmStatements(this.db.manager, llm));
  }

  private async saveRun(tx: EntityManager, run: { runId: string; workflowId: string; status: string; result: object; failures: object[] }, scope: StoryScope) {
    await upsertInChunks(tx, StoryRunEntity, [{ ...run, scope, finishedAt: new Date() }], {
      conflict: ['run_id'],
      overwrite: ['status', 'result', 'failures', 'finished_at'],
    });
  }

  /** Current stories (`all`: superseded too; never pending ones), newest first, from `offset`. */
  async listStories(opts: { all?: boolean; limit?: number; offset?: number } = {}): Promise<StoryListItem[]> {
    return this.db.query(
      `SELECT ${LIST_COLUMNS} FROM stories WHERE ${listedStatus(opts.all)} ORDER BY window_start DESC, headline, id LIMIT $1 OFFSET $2`,
      [opts.limit ?? 50, opts.offset ?? 0],
    );
  }

  /** A page of `listStories` and how many stories it pages through. */
  async pageStories(opts: { all?: boolean; limit: number; offset: number }): Promise<{ total: number; stories: StoryListItem[] }> {
    const [stories, count] = await Promise.all([
      this.listStories(opts),
      this.db.query(`SELECT count(*)::int AS n FROM stories WHERE ${listedStatus(opts.all)}`) as Promise<{ n: number }[]>,
    ]);
    return { total: count[0].n, stories };
  }

  /**
   * Full-text search (English stemming) over headline, summary and key points, or the text within
   * a headline (as written: "%" and "_" are characters); current stories first, never pending ones.
   */
  async searchStories(text: string, limit = 20): Promise<StoryListItem[]> {
    // The stored document's index finds the words; the headline's text is a scan of headlines only.
    return this.db.query(
      `SELECT ${LIST_COLUMNS} FROM stories
        WHERE status <> '${PENDING_STORY}' AND id IN (
          SELECT id FROM stories WHERE search_doc @@ websearch_to_tsquery('english', $1)
          UNION ALL
          SELECT id FROM stories WHERE strpos(lower(headline), lower($1)) > 0)
        ORDER BY (status = 'current') DESC, ts_rank(search_doc, websearch_to_tsquery('english', $1)) DESC, window_start DESC
        LIMIT $2`,
      [text, limit],
    );
  }

  /**
   * A story by id (or a unique id prefix) with its articles; undefined when none matches (a
   * pending story never does). A prefix of several ids is AmbiguousStoryIdError, with the first
   * few of them (newest first).
   */
  async storyWithArticles(idOrPrefix: string): Promise<StoryDetail | undefined> {
    // A prefix compared as text (not LIKE: "%" and "_" in it are characters, not wildcards); a whole
    // id by the primary key, not by a scan.
    const whole = isUuid(idOrPrefix);
    const rows: (StoryDetail & { keyPoints: string[]; total: string })[] = await this.db.query(
      `SELECT ${LIST_COLUMNS}, summary, key_points AS "keyPoints", cited_article_ids AS "citedArticleIds", story_hash AS "storyHash",
              model, prompt_version AS "promptVersion", superseded_by AS "supersededBy", superseded_at AS "supersededAt",
              created_at AS "createdAt", updated_at AS "updatedAt", count(*) OVER () AS total
         FROM stories WHERE ${whole ? 'id = $1::uuid' : 'left(id::text, length($1)) = $1'} AND status <> '${PENDING_STORY}'
        ORDER BY window_start DESC, headline LIMIT $2`,
      [idOrPrefix.toLowerCase(), LISTED_MATCHES],
    );
    if (rows.length > 1) {
      throw new AmbiguousStoryIdError(idOrPrefix, rows.map(({ id, headline, topic, windowStart, windowEnd, articleCount, status }) => ({ id, headline, topic, windowStart, windowEnd, articleCount, status })), Number(rows[0].total));
    }
    if (!rows.length) return undefined;
    const { total: _total, ...story } = rows[0];
    const articles: { id: string; title: string; url: string | null; sourceName: string | null; publishedAt: Date }[] = await this.db.query(
      `SELECT a.id, a.title, a.url, a.source_name AS "sourceName", a.published_at AS "publishedAt"
         FROM story_articles sa JOIN articles a ON a.id = sa.article_id WHERE sa.story_id = $1 ORDER BY a.published_at, a.id`,
      [story.id],
    );
    return { ...story, articles: articles.map((a) => ({ ...a, id: Number(a.id) })) };
  }
}
