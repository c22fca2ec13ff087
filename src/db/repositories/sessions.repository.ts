/**
 * Story sessions in Postgres: the world (state, characters, relationships, memories), turns,
 * write-once tool effects, and the performance metrics with their measurement windows.
 * Returns plain objects; every write is idempotent (a retried activity never writes twice).
 */
import { LessThan, type DataSource, type EntityManager } from 'typeorm';
import { isUuid } from '../../shared/uuid';
import { cosineSimilarity } from '../../domain/ingestion/embedding-batches';
import type { ContextTurn } from '../../domain/sessions/context';
import {
  emptyStats,
  METRIC_OPERATIONS,
  recentOperation,
  RECENT_OPERATIONS,
  roundMs,
  type MetricGroup,
  type MetricOperation,
  type PerformanceMetricsResponse,
  type RecordedOperation,
} from '../../domain/sessions/metrics';
import { NO_OVERRIDE, type PromptSettingsChange, type PromptSettingsOverride } from '../../domain/sessions/settings';
import {
  PerformanceMetricEntity,
  PerformanceWindowEntity,
  SessionCharacterEntity,
  SessionMemoryEntity,
  SessionRelationshipEntity,
  SessionSummaryEntity,
  SessionToolWriteEntity,
  SessionTurnEntity,
  StorySessionEntity,
  type PerformanceMetric,
  type SessionCharacter,
  type SessionTurn,
  type StoredToolCall,
  type StorySession,
} from '../entities';

export type MetricRow = Omit<PerformanceMetric, 'id' | 'createdAt' | 'inputTokens' | 'outputTokens' | 'details' | 'toolName' | 'toolKind' | 'errorType' | 'sessionId' | 'turnNumber'> &
  Partial<Pick<PerformanceMetric, 'inputTokens' | 'outputTokens' | 'details' | 'toolName' | 'toolKind' | 'errorType' | 'sessionId' | 'turnNumber'>>;

export interface SessionSummary {
  id: string;
  title: string;
  scriptId: string | null;
  status: string;
  turns: number;
  createdAt: Date;
  updatedAt: Date;
}

/** A session with its world and its last turns (SessionsRepository.sessionView). */
export interface SessionView {
  session: StorySession;
  characters: SessionCharacter[];
  relationships: { source: string; target: string; kind: string }[];
  memories: { id: number; text: string; turnNumber: number | null }[];
  turns: SessionTurn[];
}

export interface ScoredHit {
  source: 'memory' | 'scene';
  id: number;
  text: string;
  score: number;
  turn?: number | null;
}

/** Dotted path → nested keys ("places.lighthouse.lamp"). */
export function pathKeys(path: string): string[] {
  return path.split('.').map((k) => k.trim()).filter(Boolean);
}

export class SessionsRepository {
  constructor(private readonly db: DataSource) {}

  /**
   * Creates the session once (a repeat changes nothing); a session tied to a script starts with
   * the script's characters and the relationships from their sheets.
   */
  async openSession(s: { id: string; title: string; scriptId: string | null }): Promise<{ created: boolean; characters: number; turns: number; ended?: boolean }> {
    return this.db.transaction(async (tx) => {
      const inserted = await tx
        .createQueryBuilder()
        .insert()
        .into(StorySessionEntity)
        .values({ id: s.id, title: s.title, scriptId: s.scriptId, status: 'active', world: {}, turns: 0 })
        .orIgnore()
        .returning(['id'])
        .updateEntity(false)
        .execute();
      if (!inserted.raw.length) {
        const [row]: { turns: number; status: string }[] = await tx.query('SELECT turns, status FROM story_sessions WHERE id = $1', [s.id]);
        return { created: false, characters: 0, turns: row?.turns ?? 0, ...(row?.status === 'ended' ? { ended: true } : {}) };
      }
      if (!s.scriptId) return { created: true, characters: 0, turns: 0 };
      const rows: { name: string; sheet: { role?: string; traits?: string[]; relationships?: { character: string; relationship: string }[] } | null }[] = await tx.query(
        `SELECT c.name, cs.sheet FROM characters c LEFT JOIN character_sheets cs ON cs.character_id = c.id WHERE c.script_id = $1 ORDER BY c.name`,
        [s.scriptId],
      );
      for (const r of rows) {
        await this.upsertCharacter(tx, s.id, { name: r.name, description: r.sheet?.role ?? '', traits: r.sheet?.traits ?? [] });
        for (const rel of r.sheet?.relationships ?? []) await this.upsertRelationship(tx, s.id, r.name, rel.character, rel.relationship);
      }
      return { created: true, characters: rows.length, turns: 0 };
    });
  }

  /** A session by id; null for none, or for text that is no UUID (found by the primary key, not a scan of ids as text). */
  async getSession(id: string): Promise<StorySession | null> {
    if (!isUuid(id)) return null;
    return this.db.getRepository(StorySessionEntity).findOneBy({ id: id.toLowerCase() });
  }

  /**
   * Sessions from `offset`: the last played first (`updatedAt`, as `sessions list`), or the newest
   * first (`createdAt`, which a turn never changes, so pages stay put while sessions are played).
   * The id orders sessions of the same moment.
   */
  async listSessions(limit = 50, offset = 0, by: 'updatedAt' | 'createdAt' = 'updatedAt'): Promise<SessionSummary[]> {
    const rows = await this.db.getRepository(StorySessionEntity).find({ order: { [by]: 'DESC', id: 'ASC' }, take: limit, skip: offset });
    return rows.map(({ id, title, scriptId, status, turns, createdAt, updatedAt }) => ({ id, title, scriptId, status, turns, createdAt, updatedAt }));
  }

  /** A page of sessions, the newest first (`listSessions` by `createdAt`), and how many sessions it pages through. */
  async pageSessions(opts: { limit: number; offset: number }): Promise<{ total: number; sessions: SessionSummary[] }> {
    const [sessions, total] = await Promise.all([this.listSessions(opts.limit, opts.offset, 'createdAt'), this.db.getRepository(StorySessionEntity).count()]);
    return { total, sessions };
  }

  /**
   * A session with its world, as `sessions show` and `GET /api/sessions/:id` show it: characters,
   * relationships, the last `memories` memories (newest first) and the last `turns` turns (oldest first).
   */
  async sessionView(session: StorySession, opts: { turns: number; memories: number }): Promise<SessionView> {
    const [characters, relationships, memories, turns] = await Promise.all([
      this.characters(session.id),
      this.relationships(session.id),
      this.recentMemories(session.id, opts.memories),
      this.turns(session.id, opts.turns),
    ]);
    return { session, characters, relationships, memories, turns };
  }

  async endSession(id: string): Promise<void> {
    await this.db.query(`UPDATE story_sessions SET status = 'ended', ended_at = COALESCE(ended_at, now()), updated_at = now() WHERE id = $1`, [id]);
  }

  async characters(sessionId: string): Promise<SessionCharacter[]> {
    return this.db.getRepository(SessionCharacterEntity).find({ where: { sessionId }, order: { name: 'ASC' } });
  }

  async relationships(sessionId: string, character?: string): Promise<{ source: string; target: string; kind: string }[]> {
    const rows: { source: string; target: string; kind: string }[] = await this.db.query(
      `SELECT source, target, kind FROM session_relationships WHERE session_id = $1 AND ($2::text IS NULL OR lower(source) = lower($2) OR lower(target) = lower($2)) ORDER BY source, target`,
      [sessionId, character ?? null],
    );
    return rows;
  }

  async recentMemories(sessionId: string, limit: number): Promise<{ id: number; text: string; turnNumber: number | null }[]> {
    const rows = await this.db.getRepository(SessionMemoryEntity).find({ where: { sessionId }, order: { id: 'DESC' }, take: limit });
    return rows.map((r) => ({ id: r.id, text: r.text, turnNumber: r.turnNumber }));
  }

  /** Memories ranked by cosine similarity to `vector` (only those embedded by `model`), top `k`. */
  async searchMemories(sessionId: string, vector: number[], model: string, k: number): Promise<ScoredHit[]> {
    const rows: { id: string; text: string; turn_number: number | null; embedding: number[] }[] = await this.db.query(
      `SELECT id, text, turn_number, embedding FROM session_memories WHERE session_id = $1 AND model = $2 AND array_length(embedding, 1) = $3`,
      [sessionId, model, vector.length],
    );
    return topK(rows.map((r) => ({ source: 'memory' as const, id: Number(r.id), text: r.text, turn: r.turn_number, score: cosineSimilarity(vector, r.embedding) })), k);
  }

  /** The script's scenes ranked by their embedding's similarity to `vector`, top `k`. */
  async searchScenes(scriptId: string, vector: number[], model: string, k: number): Promise<ScoredHit[]> {
    const rows: { id: string; heading: string; position: number; embedding: number[] }[] = await this.db.query(
      `SELECT s.id, s.heading, s.position, e.embedding FROM scenes s JOIN scene_embeddings e ON e.scene_id = s.id
       WHERE s.script_id = $1 AND e.model = $2 AND e.dimensions = $3`,
      [scriptId, model, vector.length],
    );
    return topK(rows.map((r) => ({ source: 'scene' as const, id: Number(r.id), text: `Scene ${r.position + 1}: ${r.heading}`, score: cosineSimilarity(vector, r.embedding) })), k);
  }

  /** Completed turns for the prompt: the last `limit`, oldest first, and how many came before them. */
  async contextTurns(sessionId: string, beforeTurn: number, limit: number): Promise<{ turns: ContextTurn[]; olderTurns: number }> {
    const rows: { turn_number: number; input: string; reply: string }[] = await this.db.query(
      `SELECT turn_number, input, reply FROM session_turns WHERE session_id = $1 AND status = 'completed' AND turn_number < $2 ORDER BY turn_number DESC LIMIT $3`,
      [sessionId, beforeTurn, limit],
    );
    const [{ n }]: { n: string }[] = await this.db.query(
      `SELECT count(*) AS n FROM session_turns WHERE session_id = $1 AND status = 'completed' AND turn_number < $2`,
      [sessionId, beforeTurn],
    );
    return { turns: rows.reverse().map((r) => ({ turnNumber: r.turn_number, input: r.input, reply: r.reply })), olderTurns: Math.max(0, Number(n) - rows.length) };
  }

  /** Completed turns `from`..`through` (inclusive), oldest first: what a summary folds in. */
  async completedTurns(sessionId: string, from: number, through: number): Promise<ContextTurn[]> {
    const rows: { turn_number: number; input: string; reply: string }[] = await this.db.query(
      `SELECT turn_number, input, reply FROM session_turns WHERE session_id = $1 AND status = 'completed' AND turn_number BETWEEN $2 AND $3 ORDER BY turn_number`,
      [sessionId, from, through],
    );
    return rows.map((r) => ({ turnNumber: r.turn_number, input: r.input, reply: r.reply }));
  }

  /** The summary reaching furthest, of turns before `beforeTurn` (undefined: none yet). */
  async latestSummary(sessionId: string, beforeTurn: number): Promise<{ throughTurn: number; summary: string } | undefined> {
    const row = await this.db.getRepository(SessionSummaryEntity).findOne({
      where: { sessionId, throughTurn: LessThan(beforeTurn) },
      order: { throughTurn: 'DESC' },
    });
    return row ? { throughTurn: row.throughTurn, summary: row.summary } : undefined;
  }

  /** Stores a summary once per (session, throughTurn); a second writer keeps the first. */
  async saveSummary(s: { sessionId: string; throughTurn: number; fromTurn: number; summary: string; model: string }): Promise<void> {
    await this.db.query(
      `INSERT INTO session_summaries (session_id, through_turn, from_turn, summary, model) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
      [s.sessionId, s.throughTurn, s.fromTurn, s.summary, s.model],
    );
  }

  async turns(sessionId: string, limit = 10): Promise<SessionTurn[]> {
    const rows = await this.db.getRepository(SessionTurnEntity).find({ where: { sessionId }, order: { turnNumber: 'DESC' }, take: limit });
    return rows.reverse();
  }

  async turn(sessionId: string, turnNumber: number): Promise<SessionTurn | null> {
    return this.db.getRepository(SessionTurnEntity).findOne({ where: { sessionId, turnNumber } });
  }

  /** The turn's row, created once: a retry (or a turn taken again after a failure) keeps the row and sets it running. */
  async beginTurn(sessionId: string, turnNumber: number, input: string): Promise<void> {
    await this.db.query(
      `INSERT INTO session_turns (session_id, turn_number, input, status) VALUES ($1, $2, $3, 'running')
       ON CONFLICT (session_id, turn_number) DO UPDATE SET input = EXCLUDED.input, status = 'running', error = NULL
       WHERE session_turns.status <> 'completed'`,
      [sessionId, turnNumber, input],
    );
  }

  /** Ends the turn (completed or failed); the session counts completed turns. Repeating it writes the same. */
  async finishTurn(
    sessionId: string,
    turnNumber: number,
    end: { status: 'completed' | 'failed'; reply: string | null; error: string | null; toolCalls: StoredToolCall[]; timings: Record<string, unknown> },
  ): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query(
        `UPDATE session_turns SET status = $3, reply = $4, error = $5, tool_calls = $6, timings = $7, finished_at = now() WHERE session_id = $1 AND turn_number = $2`,
        [sessionId, turnNumber, end.status, end.reply, end.error, JSON.stringify(end.toolCalls), JSON.stringify(end.timings)],
      );
      const turns = end.status === 'completed' ? turnNumber : 0;
      await tx.query(`UPDATE story_sessions SET turns = GREATEST(turns, $2), updated_at = now() WHERE id = $1`, [sessionId, turns]);
    });
  }

  /**
   * Runs a write tool's effect once per (session, turn, tool call): the first attempt claims the
   * key and writes in the same transaction; a later attempt (a retry after a crash or a timeout)
   * gets the stored result and writes nothing. `write` runs inside the transaction, holding one
   * of the pool's connections: it must only write through `tx`, never wait on a network call
   * (an LLM or embedding request) or take another connection; do that before calling writeOnce.
   */
  async writeOnce<T>(key: { sessionId: string; turnNumber: number; toolCallId: string; toolName: string }, write: (tx: EntityManager) => Promise<T>): Promise<{ result: T; replayed: boolean }> {
    return this.db.transaction(async (tx) => {
      const claimed = await tx
        .createQueryBuilder()
        .insert()
        .into(SessionToolWriteEntity)
        .values({ ...key, result: {} })
        .orIgnore()
        .returning(['toolCallId'])
        .updateEntity(false)
        .execute();
      if (!claimed.raw.length) {
        const stored = await tx.getRepository(SessionToolWriteEntity).findOneByOrFail({ sessionId: key.sessionId, turnNumber: key.turnNumber, toolCallId: key.toolCallId });
        return { result: stored.result as T, replayed: true };
      }
      const result = await write(tx);
      await tx.query(`UPDATE session_tool_writes SET result = $4 WHERE session_id = $1 AND turn_number = $2 AND tool_call_id = $3`, [
        key.sessionId,
        key.turnNumber,
        key.toolCallId,
        JSON.stringify(result ?? null),
      ]);
      return { result, replayed: false };
    });
  }

  async addMemories(tx: EntityManager, sessionId: string, turnNumber: number, memories: { text: string; embedding: number[] | null; model: string | null }[]): Promise<number[]> {
    const result = await tx
      .createQueryBuilder()
      .insert()
      .into(SessionMemoryEntity)
      .values(memories.map((m) => ({ sessionId, turnNumber, text: m.text, embedding: m.embedding, model: m.model })))
      .returning(['id'])
      .updateEntity(false)
      .execute();
    return (result.raw as { id: string }[]).map((r) => Number(r.id));
  }

  /** Top-level keys of `changes` replace the world's; answers the keys now in the world. */
  async mergeWorld(tx: EntityManager, sessionId: string, changes: Record<string, unknown>): Promise<string[]> {
    const rows: { world: Record<string, unknown> }[] = await tx.query(
      `UPDATE story_sessions SET world = world || $2::jsonb, updated_at = now() WHERE id = $1 RETURNING world`,
      [sessionId, JSON.stringify(changes)],
    );
    return Object.keys(rows[0]?.world ?? {});
  }

  /**
   * Sets one value at a dotted path, creating the objects on the way. The path is the model's:
   * every key is read and written as the object's own property, so `__proto__` or `constructor`
   * is a key of the world like any other, never the prototype shared by every object in the worker.
   */
  async setWorldPath(tx: EntityManager, sessionId: string, path: string[], value: unknown): Promise<void> {
    const [row]: { world: Record<string, unknown> }[] = await tx.query(`SELECT world FROM story_sessions WHERE id = $1 FOR UPDATE`, [sessionId]);
    const world = row?.world ?? {};
    const setOwn = (node: Record<string, unknown>, key: string, v: unknown) =>
      Object.defineProperty(node, key, { value: v, enumerable: true, writable: true, configurable: true });
    let node: Record<string, unknown> = world;
    for (const key of path.slice(0, -1)) {
      const next = Object.hasOwn(node, key) ? node[key] : undefined;
      const child = next && typeof next === 'object' && !Array.isArray(next) ? (next as Record<string, unknown>) : {};
      setOwn(node, key, child);
      node = child;
    }
    setOwn(node, path[path.length - 1], value);
    await tx.query(`UPDATE story_sessions SET world = $2::jsonb, updated_at = now() WHERE id = $1`, [sessionId, JSON.stringify(world)]);
  }

  async upsertCharacter(tx: EntityManager, sessionId: string, c: { name: string; description: string; traits: string[] }): Promise<number> {
    const rows: { id: string }[] = await tx.query(
      `INSERT INTO session_characters (session_id, name, description, traits) VALUES ($1, $2, $3, $4)
       ON CONFLICT (session_id, name) DO UPDATE SET description = CASE WHEN EXCLUDED.description = '' THEN session_characters.description ELSE EXCLUDED.description END,
         traits = CASE WHEN EXCLUDED.traits = '[]'::jsonb THEN session_characters.traits ELSE EXCLUDED.traits END
       RETURNING id`,
      [sessionId, c.name, c.description, JSON.stringify(c.traits)],
    );
    return Number(rows[0].id);
  }

  async upsertRelationship(tx: EntityManager, sessionId: string, source: string, target: string, kind: string): Promise<void> {
    await tx.query(
      `INSERT INTO session_relationships (session_id, source, target, kind) VALUES ($1, $2, $3, $4)
       ON CONFLICT (session_id, source, target) DO UPDATE SET kind = EXCLUDED.kind`,
      [sessionId, source, target, kind],
    );
  }

  // --- prompt settings changed at runtime (POST /optimization/configure, sessions configure) ---

  /**
   * The stored override of the prompt settings (session_settings' one row): nulls where the
   * environment's value applies, and with no row. One primary-key read of a one-row table: every
   * model step of every session makes it. A database not migrated yet (no table: a worker
   * upgraded before `storyloom migrate`) has no override, so turns go on with the environment's values.
   */
  async sessionSettingsOverride(): Promise<PromptSettingsOverride> {
    let rows: { max_context_tokens: number | null; max_turn_history: number | null; updated_at: Date }[];
    try {
      rows = await this.db.query('SELECT max_context_tokens, max_turn_history, updated_at FROM session_settings WHERE id = 1');
    } catch (err) {
      if ((err as { code?: unknown }).code === UNDEFINED_TABLE) return NO_OVERRIDE;
      throw err;
    }
    const row = rows[0];
    return row ? { maxContextTokens: row.max_context_tokens, maxTurnHistory: row.max_turn_history, updatedAt: row.updated_at } : NO_OVERRIDE;
  }

  /**
   * Changes the override in one statement, then reads it back (concurrent changes of different settings both land): a
   * number sets a setting, null clears it (the environment's value again), undefined leaves it.
   * Idempotent: a change that changes nothing writes nothing (`updated_at` stays; clearing with
   * no row stored creates none). Answers the override as it is after the change. Raw SQL: an
   * upsert that keeps a column as it is per call and skips a no-op update (`ON CONFLICT … WHERE`)
   * is beyond TypeORM's orUpdate.
   */
  async setSessionSettingsOverride(change: PromptSettingsChange): Promise<PromptSettingsOverride> {
    const setTokens = change.maxContextTokens !== undefined;
    const setHistory = change.maxTurnHistory !== undefined;
    const params = [change.maxContextTokens ?? null, change.maxTurnHistory ?? null, setTokens, setHistory];
    const assign = `max_context_tokens = CASE WHEN $3 THEN $1::integer ELSE s.max_context_tokens END,
           max_turn_history = CASE WHEN $4 THEN $2::integer ELSE s.max_turn_history END,
           updated_at = now()`;
    const changes = `($3 AND s.max_context_tokens IS DISTINCT FROM $1::integer) OR ($4 AND s.max_turn_history IS DISTINCT FROM $2::integer)`;
    if (change.maxContextTokens != null || change.maxTurnHistory != null) {
      await this.db.query(
        `INSERT INTO session_settings AS s (id, max_context_tokens, max_turn_history) VALUES (1, $1, $2)
         ON CONFLICT (id) DO UPDATE SET ${assign} WHERE ${changes}`,
        params,
      );
    } else if (setTokens || setHistory) {
      await this.db.query(`UPDATE session_settings AS s SET ${assign} WHERE id = 1 AND (${changes})`, params);
    }
    return this.sessionSettingsOverride();
  }

  // --- performance metrics ---

  /** Writes metric rows; a row whose key was written before is skipped. */
  async recordMetrics(rows: MetricRow[]): Promise<void> {
    if (!rows.length) return;
    await this.db.createQueryBuilder().insert().into(PerformanceMetricEntity).values(rows as PerformanceMetric[]).orIgnore().updateEntity(false).execute();
  }

  /** The current measurement window (the first one is opened on demand). */
  async currentWindow(): Promise<{ id: number; startedAt: Date }> {
    const rows = await this.db.getRepository(PerformanceWindowEntity).find({ order: { id: 'DESC' }, take: 1 });
    if (rows[0]) return rows[0];
    await this.db.query(`INSERT INTO performance_windows (started_at) VALUES ('1970-01-01T00:00:00Z')`);
    return this.currentWindow();
  }

  /** Starts a new measurement window: metrics count from now on; earlier rows stay. */
  async resetMetrics(): Promise<{ id: number; startedAt: Date }> {
    const rows: { id: number; started_at: Date }[] = await this.db.query(`INSERT INTO performance_windows DEFAULT VALUES RETURNING id, started_at`);
    return { id: rows[0].id, startedAt: rows[0].started_at };
  }

  /** Metric rows of the current window (tests and the benchmark compare them with their own measurements). */
  async metricRows(opts: { sessionId?: string; operation?: MetricOperation } = {}): Promise<PerformanceMetric[]> {
    const window = await this.currentWindow();
    const q = this.db.getRepository(PerformanceMetricEntity).createQueryBuilder('m').where('m.createdAt >= :start', { start: window.startedAt });
    if (opts.sessionId) q.andWhere('m.sessionId = :session', { session: opts.sessionId });
    if (opts.operation) q.andWhere('m.operation = :op', { op: opts.operation });
    return q.orderBy('m.id', 'ASC').getMany();
  }

  /**
   * The seed's metrics over the current window (all sessions, or one): per operation type
   * count, total, avg, min, max, p50, p95 (ms), errors, and the last 20 operations. The same
   * function serves `storyloom metrics` and GET /optimization/performance/metrics.
   */
  async performanceMetrics(opts: { sessionId?: string; enabled?: boolean } = {}): Promise<PerformanceMetricsResponse> {
    const window = await this.currentWindow();
    const params = [window.startedAt, opts.sessionId ?? null];
    const filter = `created_at >= $1 AND ($2::uuid IS NULL OR session_id = $2::uuid)`;
    const stats: { operation: string; count: string; total: number; avg: number; min: number; max: number; p50: number; p95: number; errors: string }[] = await this.db.query(
      `SELECT operation, count(*) AS count, sum(duration_ms) AS total, avg(duration_ms) AS avg, min(duration_ms) AS min, max(duration_ms) AS max,
              percentile_disc(0.5) WITHIN GROUP (ORDER BY duration_ms) AS p50, percentile_disc(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95,
              count(*) FILTER (WHERE NOT ok) AS errors
       FROM performance_metrics WHERE ${filter} GROUP BY operation`,
      params,
    );
    const recent: {
      operation: MetricOperation; duration_ms: number; session_id: string | null; turn_number: number | null; tool_name: string | null; tool_kind: string | null;
      ok: boolean; error_type: string | null; input_tokens: number; output_tokens: number; details: Record<string, unknown>; created_at: Date;
    }[] = await this.db.query(
      `SELECT * FROM (
         SELECT *, row_number() OVER (PARTITION BY operation ORDER BY created_at DESC, id DESC) AS rank FROM performance_metrics WHERE ${filter}
       ) ranked WHERE rank <= ${RECENT_OPERATIONS} ORDER BY operation, rank`,
      params,
    );
    const metrics = {} as PerformanceMetricsResponse['metrics'];
    for (const [group, op] of Object.entries(METRIC_OPERATIONS) as [MetricGroup, MetricOperation][]) {
      const s = stats.find((r) => r.operation === op);
      metrics[group] = s
        ? {
            count: Number(s.count),
            total_time_ms: roundMs(Number(s.total)),
            avg_time_ms: roundMs(Number(s.avg)),
            min_time_ms: roundMs(Number(s.min)),
            max_time_ms: roundMs(Number(s.max)),
            p50_time_ms: roundMs(Number(s.p50)),
            p95_time_ms: roundMs(Number(s.p95)),
            errors: Number(s.errors),
            recent_operations: [],
          }
        : emptyStats();
      metrics[group].recent_operations = recent
        .filter((r) => r.operation === op)
        .map((r): RecordedOperation =>
          ({ operation: r.operation, durationMs: r.duration_ms, sessionId: r.session_id, turnNumber: r.turn_number, toolName: r.tool_name, toolKind: r.tool_kind, ok: r.ok,
            errorType: r.error_type, inputTokens: r.input_tokens, outputTokens: r.output_tokens, details: r.details, createdAt: new Date(r.created_at) }))
        .map(recentOperation);
    }
    return {
      status: 'success',
      window: { id: window.id, started_at: window.startedAt.toISOString() },
      session_id: opts.sessionId ?? null,
      enabled: opts.enabled ?? true,
      metrics,
    };
  }
}

/** Postgres: relation does not exist. */
const UNDEFINED_TABLE = '42P01';

function topK(hits: ScoredHit[], k: number): ScoredHit[] {
  return hits.sort((a, b) => b.score - a.score || a.id - b.id).slice(0, k).map((h) => ({ ...h, score: Math.round(h.score * 1000) / 1000 }));
}
