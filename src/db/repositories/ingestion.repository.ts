/**
 * Ingestion's reads and writes, through TypeORM. Plain objects in and out (no entities travel
 * into workflows); reads are one query per need (no N+1), writes are multi-row upserts, one
 * statement per batch, and every write is idempotent so a retried activity never duplicates a row.
 */
import type { DataSource, SelectQueryBuilder } from 'typeorm';
import {
  CharacterEntity,
  CharacterSheetEntity,
  IngestionRunEntity,
  SceneCharacterEntity,
  SceneEmbeddingEntity,
  SceneEntity,
  SceneSummaryEntity,
  ScriptEntity,
  ScriptOutlineEntity,
  type Scene,
} from '../entities';
import { deferredLlmStatements, type DeferredLlmWrites } from './deferred-llm-writes';
import { buildUpsert, isForeignKeyViolation, ROWS_PER_STATEMENT, upsertChildRows, upsertInChunks, writeInOneStatement, type BuiltStatement } from './multi-row';

export type { DeferredLlmWrites } from './deferred-llm-writes';

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
    const script = await this.db.getRepository(ScriptEntity).findOne({ select: { title: true }, where: { id: scriptId } });
    if (!script) throw new Error(`No script with id ${scriptId}`);
    return script.title;
  }

  /** Every scene of the script with whether its summary is current: the one pre-fetch of phase 1. */
  async sceneSummaryStates(scriptId: string, model: string, promptVersion: string): Promise<SceneSummaryState[]> {
    const rows: { id: string; position: number; heading: string; fresh: boolean }[] = await this.scenesOf(scriptId)
      .leftJoin(SceneSummaryEntity.options.name, 'ss', 'ss.sceneId = s.id')
      .select(['s.id AS id', 's.position AS position', 's.heading AS heading'])
      .addSelect('(ss.sceneId IS NOT NULL AND ss.contentHash = s.contentHash AND ss.model = :model AND ss.promptVersion = :promptVersion)', 'fresh')
      .setParameters({ model, promptVersion })
      .getRawMany();
    return rows.map((r) => ({ id: Number(r.id), position: r.position, heading: r.heading, fresh: r.fresh }));
  }

  async sceneForSummary(sceneId: number): Promise<{ position: number; heading: string; text: string; contentHash: string }> {
    const scene = await this.db.getRepository(SceneEntity).findOne({
      select: { position: true, heading: true, text: true, contentHash: true },
      where: { id: sceneId },
    });
    if (!scene) throw new Error(`Scene ${sceneId} no longer exists (the script was re-imported?)`);
    return { position: scene.position, heading: scene.heading, text: scene.text, contentHash: scene.contentHash };
  }

  /** Every scene of the script that holds scene `sceneId`, as sceneForSummary reads one: one query. */
  async scenesOfScriptWith(sceneId: number): Promise<Map<number, { position: number; heading: string; text: string; contentHash: string }>> {
    const rows: { id: string; position: number; heading: string; text: string; content_hash: string }[] = await this.db
      .getRepository(SceneEntity)
      .createQueryBuilder('s')
      .select(['s.id AS id', 's.position AS position', 's.heading AS heading', 's.text AS text', 's.contentHash AS content_hash'])
      .where('s.scriptId = (SELECT s2.script_id FROM scenes s2 WHERE s2.id = :sceneId)', { sceneId })
      .getRawMany();
    return new Map(rows.map((r) => [Number(r.id), { position: r.position, heading: r.heading, text: r.text, contentHash: r.content_hash }]));
  }

  /** Every character of the script that holds character `characterId`, as characterWithScenes reads one: one query. */
  async charactersOfScriptWith(characterId: number): Promise<Map<number, { scriptId: string; title: string; name: string; scenes: SummarisedScene[] }>> {
    const rows: { id: string; script_id: string; title: string; name: string; scene_id: string | null; position: number | null; heading: string | null; summary: string | null }[] =
      await this.charactersWithSummaries()
        .innerJoin(ScriptEntity.options.name, 'script', 'script.id = c.scriptId')
        .addSelect(['c.scriptId AS script_id', 'script.title AS title'])
        .where('c.scriptId = (SELECT c2.script_id FROM characters c2 WHERE c2.id = :characterId)', { characterId })
        .orderBy('c.id')
        .addOrderBy('s.position')
        .getRawMany();
    const out = new Map<number, { scriptId: string; title: string; name: string; scenes: SummarisedScene[] }>();
    for (const r of rows) {
      const id = Number(r.id);
      let c = out.get(id);
      if (!c) out.set(id, (c = { scriptId: r.script_id, title: r.title, name: r.name, scenes: [] }));
      if (r.scene_id !== null && r.summary !== null) c.scenes.push({ id: Number(r.scene_id), position: r.position!, heading: r.heading!, summary: r.summary });
    }
    return out;
  }

  /**
   * One statement for the batch, with the LLM call rows and cache entries the rows carry; a
   * repeat overwrites the same rows (a call row is written once: its key).
   */
  async saveSummaries(rows: (SummaryRow & DeferredLlmWrites)[]): Promise<void> {
    if (!rows.length) return;
    const spec = { conflict: ['scene_id'], overwrite: ['content_hash', 'model', 'prompt_version', 'summary'] };
    const plain = rows.map(({ calls: _c, cacheEntries: _e, ...r }) => ({ ...r }));
    await this.withDeferred(rows, buildUpsert(this.db.manager, SceneSummaryEntity, plain, spec), () =>
      upsertChildRows(this.db, SceneSummaryEntity, plain, { ...spec, parent: SceneEntity, parentKey: 'sceneId' }),
    );
  }

  /**
   * `main` and the deferred LLM writes of `rows` as one statement (one commit). When a row's
   * parent is gone (a re-import deleted it mid-run), `fallback` writes the rest the careful way
   * and the deferred writes follow on their own.
   */
  private async withDeferred(rows: DeferredLlmWrites[], main: BuiltStatement, fallback: () => Promise<void>): Promise<void> {
    const deferred = deferredLlmStatements(this.db.manager, rows);
    if (!deferred.length || rows.length > ROWS_PER_STATEMENT) {
      await fallback();
      if (deferred.length) await writeInOneStatement(this.db, deferred);
      return;
    }
    try {
      await writeInOneStatement(this.db, [...deferred, main]);
    } catch (err) {
      if (!isForeignKeyViolation(err)) throw err;
      await fallback();
      await writeInOneStatement(this.db, deferred);
    }
  }

  /** Summaries of the script in scene order (scenes without one are left out). */
  async summariesInOrder(scriptId: string): Promise<SummarisedScene[]> {
    return summarised(await this.summarisedScenes().where('s.scriptId = :scriptId', { scriptId }).getRawMany());
  }

  async outlineInputHash(scriptId: string): Promise<string | undefined> {
    const outline = await this.db.getRepository(ScriptOutlineEntity).findOne({ select: { inputHash: true }, where: { scriptId } });
    return outline?.inputHash;
  }

  async saveOutline(o: { scriptId: string; outline: string; model: string; promptVersion: string; sections: number; inputHash: string }): Promise<void> {
    await upsertInChunks(this.db.manager, ScriptOutlineEntity, [{ ...o }], {
      conflict: ['script_id'],
      overwrite: ['outline', 'model', 'prompt_version', 'sections', 'input_hash'],
    });
  }

  /** Characters with the summaries of the scenes they speak in, and their sheet's input hash: one query. */
  async charactersWithScenes(
    scriptId: string,
  ): Promise<{ id: number; name: string; sheetInputHash: string | null; scenes: SummarisedScene[] }[]> {
    const rows: { id: string; name: string; input_hash: string | null; scene_id: string | null; position: number | null; heading: string | null; summary: string | null }[] =
      await this.charactersWithSummaries()
        .leftJoin(CharacterSheetEntity.options.name, 'cs', 'cs.characterId = c.id')
        .addSelect('cs.inputHash', 'input_hash')
        .where('c.scriptId = :scriptId', { scriptId })
        .orderBy('c.id')
        .addOrderBy('s.position')
        .getRawMany();
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
      await this.charactersWithSummaries()
        .innerJoin(ScriptEntity.options.name, 'script', 'script.id = c.scriptId')
        .addSelect(['c.scriptId AS script_id', 'script.title AS title'])
        .where('c.id = :characterId', { characterId })
        .orderBy('s.position')
        .getRawMany();
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

  /** One statement for the batch, with the LLM call rows and cache entries the rows carry. */
  async saveSheets(rows: (SheetRow & DeferredLlmWrites)[]): Promise<void> {
    if (!rows.length) return;
    const spec = { conflict: ['character_id'], overwrite: ['sheet', 'model', 'prompt_version', 'input_hash'] };
    const plain = rows.map(({ calls: _c, cacheEntries: _e, ...r }) => ({ ...r, sheet: r.sheet as object }));
    await this.withDeferred(rows, buildUpsert(this.db.manager, CharacterSheetEntity, plain, spec), () =>
      upsertChildRows(this.db, CharacterSheetEntity, plain, { ...spec, parent: CharacterEntity, parentKey: 'characterId' }),
    );
  }

  /** Summarised scenes with their embedding's input hash and model (null when none): one query. */
  async embeddingStates(scriptId: string): Promise<(SummarisedScene & { inputHash: string | null; model: string | null; dimensions: number | null })[]> {
    const rows: { id: string; position: number; heading: string; summary: string; input_hash: string | null; model: string | null; dimensions: number | null }[] =
      await this.summarisedScenes()
        .leftJoin(SceneEmbeddingEntity.options.name, 'se', 'se.sceneId = s.id')
        .addSelect(['se.inputHash AS input_hash', 'se.model AS model', 'se.dimensions AS dimensions'])
        .where('s.scriptId = :scriptId', { scriptId })
        .getRawMany();
    return rows.map((r) => ({
      id: Number(r.id), position: r.position, heading: r.heading, summary: r.summary,
      inputHash: r.input_hash, model: r.model, dimensions: r.dimensions,
    }));
  }

  /**
   * What planning phase 2 reads, in two queries at once: every summarised scene with its
   * embedding's state (in scene order), and every character with its sheet's input hash and the
   * summarised scenes it speaks in (each summary read once, not once per speaker).
   */
  async phase2State(scriptId: string): Promise<{
    scenes: Awaited<ReturnType<IngestionRepository['embeddingStates']>>;
    characters: { id: number; name: string; sheetInputHash: string | null; scenes: SummarisedScene[] }[];
  }> {
    const [scenes, rows] = await Promise.all([
      this.embeddingStates(scriptId),
      this.db
        .getRepository(CharacterEntity)
        .createQueryBuilder('c')
        .leftJoin(SceneCharacterEntity.options.name, 'sc', 'sc.characterId = c.id')
        .leftJoin(SceneEntity.options.name, 's', 's.id = sc.sceneId')
        .leftJoin(CharacterSheetEntity.options.name, 'cs', 'cs.characterId = c.id')
        .select(['c.id AS id', 'c.name AS name', 'cs.inputHash AS input_hash', 's.id AS scene_id'])
        .where('c.scriptId = :scriptId', { scriptId })
        .orderBy('c.id')
        .addOrderBy('s.position')
        .getRawMany<{ id: string; name: string; input_hash: string | null; scene_id: string | null }>(),
    ]);
    const summarised = new Map(scenes.map((s) => [s.id, { id: s.id, position: s.position, heading: s.heading, summary: s.summary }]));
    const byId = new Map<number, { id: number; name: string; sheetInputHash: string | null; scenes: SummarisedScene[] }>();
    for (const r of rows) {
      const id = Number(r.id);
      let c = byId.get(id);
      if (!c) byId.set(id, (c = { id, name: r.name, sheetInputHash: r.input_hash, scenes: [] }));
      const scene = r.scene_id === null ? undefined : summarised.get(Number(r.scene_id));
      if (scene) c.scenes.push(scene);
    }
    return { scenes, characters: [...byId.values()] };
  }

  async summariesOf(sceneIds: number[]): Promise<SummarisedScene[]> {
    return summarised(await this.summarisedScenes().where('s.id = ANY(:sceneIds::bigint[])', { sceneIds }).getRawMany());
  }

  /** Every vector of the request(s): one statement per 200 (one transaction when more). */
  async saveEmbeddings(rows: EmbeddingRow[]): Promise<void> {
    if (!rows.length) return;
    await upsertChildRows(
      this.db,
      SceneEmbeddingEntity,
      rows.map((r) => ({ sceneId: r.sceneId, inputHash: r.inputHash, model: r.model, dimensions: r.vector.length, embedding: r.vector })),
      { conflict: ['scene_id'], overwrite: ['input_hash', 'model', 'dimensions', 'embedding'], parent: SceneEntity, parentKey: 'sceneId', chunkSize: 200 },
    );
  }

  async startRun(r: RunRow): Promise<void> {
    // Overwriting nothing: a retried start leaves the first row as it was.
    await upsertInChunks(
      this.db.manager,
      IngestionRunEntity,
      [{ workflowId: r.workflowId, runId: r.runId, scriptId: r.scriptId, mode: r.mode, flags: r.flags as object, concurrency: r.concurrency as object, status: 'running' }],
      { conflict: ['run_id'], overwrite: [] },
    );
  }

  async finishRun(runId: string, status: string, result: unknown, failures: unknown[]): Promise<void> {
    await this.db
      .createQueryBuilder()
      .update(IngestionRunEntity)
      .set({ status, result: result as object, failures: failures as object[], finishedAt: () => 'now()' })
      .where({ runId })
      .execute();
  }

  private scenesOf(scriptId: string): SelectQueryBuilder<Scene> {
    return this.db.getRepository(SceneEntity).createQueryBuilder('s').where('s.scriptId = :scriptId', { scriptId }).orderBy('s.position');
  }

  /** Scenes with a summary, in scene order, selected as {id, position, heading, summary}. */
  private summarisedScenes(): SelectQueryBuilder<Scene> {
    return this.db
      .getRepository(SceneEntity)
      .createQueryBuilder('s')
      .innerJoin(SceneSummaryEntity.options.name, 'ss', 'ss.sceneId = s.id')
      .select(['s.id AS id', 's.position AS position', 's.heading AS heading', 'ss.summary AS summary'])
      .orderBy('s.position');
  }

  /** Characters with the scenes they speak in and those scenes' summaries (null when none). */
  private charactersWithSummaries() {
    return this.db
      .getRepository(CharacterEntity)
      .createQueryBuilder('c')
      .leftJoin(SceneCharacterEntity.options.name, 'sc', 'sc.characterId = c.id')
      .leftJoin(SceneEntity.options.name, 's', 's.id = sc.sceneId')
      .leftJoin(SceneSummaryEntity.options.name, 'ss', 'ss.sceneId = s.id')
      .select(['c.id AS id', 'c.name AS name', 's.id AS scene_id', 's.position AS position', 's.heading AS heading', 'ss.summary AS summary']);
  }

  // What the CLI asks before it writes or starts anything.

  /** The workflow id of the script's run recorded as running, if any (the latest one). */
  async runningWorkflowId(scriptId: string): Promise<string | undefined> {
    const run = await this.db
      .getRepository(IngestionRunEntity)
      .findOne({ select: { workflowId: true }, where: { scriptId, status: 'running' }, order: { startedAt: 'DESC' } });
    return run?.workflowId;
  }
}

function summarised(rows: { id: string; position: number; heading: string; summary: string }[]): SummarisedScene[] {
  return rows.map((r) => ({ id: Number(r.id), position: r.position, heading: r.heading, summary: r.summary }));
}
