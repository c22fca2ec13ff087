/**
 * SQL for ingestion. Plain objects in and out (no entities travel into workflows); reads are
 * one query per need (no N+1), writes are multi-row upserts in one transaction per batch, and
 * every write is idempotent so a retried activity never duplicates a row.
 */
import type { DataSource } from 'typeorm';
import { upsertRows } from './multi-row';

export interface SceneRef {
  id: number;
  position: number;
  heading: string;
}

export interface SceneSummaryState extends SceneRef {
  /** True when a summary exists for the scene's current content, model and prompt version. */
  fresh: boolean;
}

export interface SummaryRow {
  sceneId: number;
  contentHash: string;
  model: string;
  promptVersion: string;
  summary: string;
}

export interface SummarisedScene extends SceneRef {
  summary: string;
}

export interface SheetRow {
  characterId: number;
  sheet: unknown;
  model: string;
  promptVersion: string;
  inputHash: string;
}

export interface EmbeddingRow {
  sceneId: number;
  inputHash: string;
  model: string;
  vector: number[];
}

export interface RunRow {
  workflowId: string;
  runId: string;
  scriptId: string;
  mode: string;
  flags: unknown;
  concurrency: unknown;
}

export class IngestionRepository {
  constructor(private readonly db: DataSource) {}

  async scriptTitle(scriptId: string): Promise<string> {
    const rows: { title: string }[] = await this.db.query('SELECT title FROM scripts WHERE id = $1', [scriptId]);
    if (!rows[0]) throw new Error(`No script with id ${scriptId}`);
    return rows[0].title;
  }

  /** Every scene of the script with whether its summary is current: the one pre-fetch of phase 1. */
  async sceneSummaryStates(scriptId: string, model: string, promptVersion: string): Promise<SceneSummaryState[]> {
    const rows: { id: string; position: number; heading: string; fresh: boolean }[] = await this.db.query(
      `SELECT s.id, s.position, s.heading,
              (ss.scene_id IS NOT NULL AND ss.content_hash = s.content_hash AND ss.model = $2 AND ss.prompt_version = $3) AS fresh
         FROM scenes s LEFT JOIN scene_summaries ss ON ss.scene_id = s.id
        WHERE s.script_id = $1 ORDER BY s.position`,
      [scriptId, model, promptVersion],
    );
    return rows.map((r) => ({ id: Number(r.id), position: r.position, heading: r.heading, fresh: r.fresh }));
  }

  async sceneForSummary(sceneId: number): Promise<{ position: number; heading: string; text: string; contentHash: string }> {
    const rows: { position: number; heading: string; text: string; content_hash: string }[] = await this.db.query(
      'SELECT position, heading, text, content_hash FROM scenes WHERE id = $1',
      [sceneId],
    );
    if (!rows[0]) throw new Error(`Scene ${sceneId} no longer exists (the script was re-imported?)`);
    return { position: rows[0].position, heading: rows[0].heading, text: rows[0].text, contentHash: rows[0].content_hash };
  }

  /** One transaction for the batch; a repeat overwrites the same rows. */
  async saveSummaries(rows: SummaryRow[]): Promise<void> {
    if (!rows.length) return;
    await this.db.transaction((tx) =>
      upsertRows(
        tx,
        { table: 'scene_summaries', columns: ['scene_id', 'content_hash', 'model', 'prompt_version', 'summary'], casts: ['::bigint'], key: 'scene_id', parent: { table: 'scenes', column: 'scene_id' } },
        rows.map((r) => [r.sceneId, r.contentHash, r.model, r.promptVersion, r.summary]),
      ),
    );
  }

  /** Summaries of the script in scene order (scenes without one are left out). */
  async summariesInOrder(scriptId: string): Promise<SummarisedScene[]> {
    const rows: { id: string; position: number; heading: string; summary: string }[] = await this.db.query(
      `SELECT s.id, s.position, s.heading, ss.summary FROM scenes s JOIN scene_summaries ss ON ss.scene_id = s.id
        WHERE s.script_id = $1 ORDER BY s.position`,
      [scriptId],
    );
    return rows.map((r) => ({ id: Number(r.id), position: r.position, heading: r.heading, summary: r.summary }));
  }

  async outlineInputHash(scriptId: string): Promise<string | undefined> {
    const rows: { input_hash: string }[] = await this.db.query('SELECT input_hash FROM script_outlines WHERE script_id = $1', [scriptId]);
    return rows[0]?.input_hash;
  }

  async saveOutline(o: { scriptId: string; outline: string; model: string; promptVersion: string; sections: number; inputHash: string }): Promise<void> {
    await this.db.query(
      `INSERT INTO script_outlines (script_id, outline, model, prompt_version, sections, input_hash) VALUES ($1,$2,$3,$4,$5,$6)
       ON CONFLICT (script_id) DO UPDATE SET outline = EXCLUDED.outline, model = EXCLUDED.model, prompt_version = EXCLUDED.prompt_version,
         sections = EXCLUDED.sections, input_hash = EXCLUDED.input_hash, updated_at = now()`,
      [o.scriptId, o.outline, o.model, o.promptVersion, o.sections, o.inputHash],
    );
  }

  /** Characters with the summaries of the scenes they speak in, and their sheet's input hash: one query. */
  async charactersWithScenes(
    scriptId: string,
  ): Promise<{ id: number; name: string; sheetInputHash: string | null; scenes: SummarisedScene[] }[]> {
    const rows: { id: string; name: string; input_hash: string | null; scene_id: string | null; position: number | null; heading: string | null; summary: string | null }[] =
      await this.db.query(
        `SELECT c.id, c.name, cs.input_hash, s.id AS scene_id, s.position, s.heading, ss.summary
           FROM characters c
           LEFT JOIN character_sheets cs ON cs.character_id = c.id
           LEFT JOIN scene_characters sc ON sc.character_id = c.id
           LEFT JOIN scenes s ON s.id = sc.scene_id
           LEFT JOIN scene_summaries ss ON ss.scene_id = s.id
          WHERE c.script_id = $1 ORDER BY c.id, s.position`,
        [scriptId],
      );
    const byId = new Map<number, { id: number; name: string; sheetInputHash: string | null; scenes: SummarisedScene[] }>();
    for (const r of rows) {
      const id = Number(r.id);
      let c = byId.get(id);
      if (!c) byId.set(id, (c = { id, name: r.name, sheetInputHash: r.input_hash, scenes: [] }));
      if (r.scene_id !== null && r.summary !== null) {
        c.scenes.push({ id: Number(r.scene_id), position: r.position!, heading: r.heading!, summary: r.summary });
      }
    }
    return [...byId.values()];
  }

  async characterWithScenes(characterId: number): Promise<{ scriptId: string; title: string; name: string; scenes: SummarisedScene[] }> {
    const rows: { script_id: string; title: string; name: string; scene_id: string | null; position: number | null; heading: string | null; summary: string | null }[] =
      await this.db.query(
        `SELECT c.script_id, sc2.title, c.name, s.id AS scene_id, s.position, s.heading, ss.summary
           FROM characters c JOIN scripts sc2 ON sc2.id = c.script_id
           LEFT JOIN scene_characters sc ON sc.character_id = c.id
           LEFT JOIN scenes s ON s.id = sc.scene_id
           LEFT JOIN scene_summaries ss ON ss.scene_id = s.id
          WHERE c.id = $1 ORDER BY s.position`,
        [characterId],
      );
    if (!rows[0]) throw new Error(`Character ${characterId} no longer exists (the script was re-imported?)`);
    return {
      scriptId: rows[0].script_id,
      title: rows[0].title,
      name: rows[0].name,
      scenes: rows
        .filter((r) => r.scene_id !== null && r.summary !== null)
        .map((r) => ({ id: Number(r.scene_id), position: r.position!, heading: r.heading!, summary: r.summary! })),
    };
  }

  async saveSheets(rows: SheetRow[]): Promise<void> {
    if (!rows.length) return;
    await upsertRows(
      this.db,
      { table: 'character_sheets', columns: ['character_id', 'sheet', 'model', 'prompt_version', 'input_hash'], casts: ['::bigint', '::jsonb'], key: 'character_id', parent: { table: 'characters', column: 'character_id' } },
      rows.map((r) => [r.characterId, JSON.stringify(r.sheet), r.model, r.promptVersion, r.inputHash]),
    );
  }

  /** Summarised scenes with their embedding's input hash and model (null when none): one query. */
  async embeddingStates(scriptId: string): Promise<(SummarisedScene & { inputHash: string | null; model: string | null; dimensions: number | null })[]> {
    const rows: { id: string; position: number; heading: string; summary: string; input_hash: string | null; model: string | null; dimensions: number | null }[] =
      await this.db.query(
        `SELECT s.id, s.position, s.heading, ss.summary, se.input_hash, se.model, se.dimensions
           FROM scenes s JOIN scene_summaries ss ON ss.scene_id = s.id
           LEFT JOIN scene_embeddings se ON se.scene_id = s.id
          WHERE s.script_id = $1 ORDER BY s.position`,
        [scriptId],
      );
    return rows.map((r) => ({
      id: Number(r.id), position: r.position, heading: r.heading, summary: r.summary,
      inputHash: r.input_hash, model: r.model, dimensions: r.dimensions,
    }));
  }

  async summariesOf(sceneIds: number[]): Promise<SummarisedScene[]> {
    const rows: { id: string; position: number; heading: string; summary: string }[] = await this.db.query(
      `SELECT s.id, s.position, s.heading, ss.summary FROM scenes s JOIN scene_summaries ss ON ss.scene_id = s.id
        WHERE s.id = ANY($1::bigint[]) ORDER BY s.position`,
      [sceneIds],
    );
    return rows.map((r) => ({ id: Number(r.id), position: r.position, heading: r.heading, summary: r.summary }));
  }

  /** One transaction for every vector of the request(s). */
  async saveEmbeddings(rows: EmbeddingRow[]): Promise<void> {
    if (!rows.length) return;
    await this.db.transaction((tx) =>
      upsertRows(
        tx,
        { table: 'scene_embeddings', columns: ['scene_id', 'input_hash', 'model', 'dimensions', 'embedding'], casts: ['::bigint', '', '', '::int', '::real[]'], key: 'scene_id', parent: { table: 'scenes', column: 'scene_id' } },
        rows.map((r) => [r.sceneId, r.inputHash, r.model, r.vector.length, r.vector]),
        200,
      ),
    );
  }

  async startRun(r: RunRow): Promise<void> {
    await this.db.query(
      `INSERT INTO ingestion_runs (workflow_id, run_id, script_id, mode, flags, concurrency, status)
       VALUES ($1,$2,$3,$4,$5,$6,'running') ON CONFLICT (run_id) DO NOTHING`,
      [r.workflowId, r.runId, r.scriptId, r.mode, JSON.stringify(r.flags), JSON.stringify(r.concurrency)],
    );
  }

  async finishRun(runId: string, status: string, result: unknown, failures: unknown[]): Promise<void> {
    await this.db.query(
      `UPDATE ingestion_runs SET status = $2, result = $3, failures = $4, finished_at = now() WHERE run_id = $1`,
      [runId, status, JSON.stringify(result), JSON.stringify(failures)],
    );
  }

  // What the CLI asks before it writes or starts anything.

  /** Whether the script was ever ingested (any run, any outcome): its next default run is partial. */
  async hasIngestionRun(scriptId: string): Promise<boolean> {
    const rows: unknown[] = await this.db.query('SELECT 1 FROM ingestion_runs WHERE script_id = $1 LIMIT 1', [scriptId]);
    return rows.length > 0;
  }

  /** The workflow id of the script's run recorded as running, if any (the latest one). */
  async runningWorkflowId(scriptId: string): Promise<string | undefined> {
    const rows: { workflow_id: string }[] = await this.db.query(
      `SELECT workflow_id FROM ingestion_runs WHERE script_id = $1 AND status = 'running' ORDER BY started_at DESC LIMIT 1`,
      [scriptId],
    );
    return rows[0]?.workflow_id;
  }
}
