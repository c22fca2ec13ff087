/**
 * Storing an imported screenplay: script, scenes, characters and who speaks where, in one
 * transaction. A re-import updates the same script and keeps the id (and so the summaries,
 * embeddings…) of every scene whose content is unchanged.
 */
import { randomUUID } from 'node:crypto';
import { In, type DataSource, type EntityManager } from 'typeorm';
import { sceneContentHash, type ParsedScreenplay } from '../../domain/screenplay';
import { CharacterEntity, SceneCharacterEntity, SceneEntity, ScriptEntity, type Scene } from '../entities';
import { upsertInChunks } from './multi-row';

export interface ImportOptions {
  /** Update this script (must exist). */
  scriptId?: string;
  /** Title to store (defaults to the file's title page, else the file name). */
  title: string;
  sourceName: string;
}

export interface ImportResult {
  scriptId: string;
  title: string;
  created: boolean;
  scenes: number;
  characters: number;
  /** Scenes whose content is new or changed (all of them on a first import). */
  changedScenes: number;
  unchangedScenes: number;
  removedScenes: number;
}

export class ScriptNotFoundError extends Error {}
export class AmbiguousTitleError extends Error {}

export class ScriptRepository {
  constructor(private readonly db: DataSource) {}

  /** The script an import should update: by id, else by title (case-insensitive), else none. */
  async findTarget(tx: EntityManager, opts: ImportOptions): Promise<string | undefined> {
    const scripts = tx.getRepository(ScriptEntity).createQueryBuilder('s').select('s.id', 'id');
    if (opts.scriptId) {
      // Compared as text: an id that is no uuid is "not found", not a Postgres error.
      const rows: { id: string }[] = await scripts.where('s.id::text = :id', { id: opts.scriptId }).getRawMany();
      if (!rows[0]) throw new ScriptNotFoundError(`No script with id ${opts.scriptId}; import without --script-id to create one.`);
      return rows[0].id;
    }
    const rows: { id: string }[] = await scripts.where('lower(s.title) = lower(:title)', { title: opts.title }).orderBy('s.createdAt').getRawMany();
    if (rows.length > 1) {
      throw new AmbiguousTitleError(`${rows.length} scripts are titled "${opts.title}"; pass --script-id (one of ${rows.map((r) => r.id).join(', ')}).`);
    }
    return rows[0]?.id;
  }

  async importScreenplay(parsed: ParsedScreenplay, opts: ImportOptions): Promise<ImportResult> {
    return this.db.transaction(async (tx) => {
      // Imports of one title wait for each other until commit: two at once of a new title would
      // otherwise both find none and make two scripts, and every later import by it would be refused.
      if (!opts.scriptId) await tx.query('SELECT pg_advisory_xact_lock(hashtextextended(lower($1), 0))', [opts.title]);
      const existingId = await this.findTarget(tx, opts);
      const scriptId = existingId ?? randomUUID();
      const script = { title: opts.title, format: parsed.format, sourceName: opts.sourceName };
      if (existingId) {
        await tx.createQueryBuilder().update(ScriptEntity).set(script).where({ id: scriptId }).updateEntity(false).execute();
      } else {
        await tx.createQueryBuilder().insert().into(ScriptEntity).values({ id: scriptId, ...script }).updateEntity(false).execute();
      }

      // Match new scenes to old ones: same content first (wherever it moved), then same position.
      const old: Pick<Scene, 'id' | 'position' | 'contentHash'>[] = existingId
        ? await tx.find(SceneEntity, { select: { id: true, position: true, contentHash: true }, where: { scriptId } })
        : [];
      const byHash = new Map<string, number[]>();
      for (const s of old) byHash.set(s.contentHash, [...(byHash.get(s.contentHash) ?? []), s.id]);
      const used = new Set<number>();
      const hashes = parsed.scenes.map((s) => sceneContentHash(s));
      const keptIds: (number | undefined)[] = hashes.map((h) => {
        const id = byHash.get(h)?.find((candidate) => !used.has(candidate));
        if (id) used.add(id);
        return id;
      });
      const oldByPosition = new Map(old.map((s) => [s.position, s.id]));
      const reusedIds = keptIds.map((id, i) => {
        if (id) return id;
        const candidate = oldByPosition.get(i);
        if (candidate && !used.has(candidate)) {
          used.add(candidate);
          return candidate;
        }
        return undefined;
      });
      const removed = old.filter((s) => !used.has(s.id)).map((s) => s.id);
      if (removed.length) await tx.delete(SceneEntity, { id: In(removed) });
      // Positions are unique per script: park the kept scenes out of the way before renumbering.
      if (old.length) {
        await tx.createQueryBuilder().update(SceneEntity).set({ position: () => '-1 - position' }).where({ scriptId }).updateEntity(false).execute();
      }

      // Scenes whose content is unchanged keep their updated_at; changed and new ones are written
      // together (a new scene has no id: DEFAULT, so the conflict on id never fires for it).
      const sceneRows = parsed.scenes.map((s, i) => ({
        id: reusedIds[i], scriptId, position: i, heading: s.heading, sceneNumber: s.sceneNumber, text: s.text, contentHash: hashes[i],
      }));
      const columns = ['id', 'scriptId', 'position', 'heading', 'sceneNumber', 'text', 'contentHash'];
      const content = ['position', 'heading', 'scene_number', 'text', 'content_hash'];
      const unchanged = sceneRows.filter((_, i) => keptIds[i]);
      const written = [
        ...(await upsertInChunks(tx, SceneEntity, unchanged, { columns, conflict: ['id'], overwrite: content, returning: ['id', 'position'] })),
        ...(await upsertInChunks(tx, SceneEntity, sceneRows.filter((_, i) => !keptIds[i]).map((r) => ({ ...r, updatedAt: () => 'now()' })), {
          columns: [...columns, 'updatedAt'], conflict: ['id'], overwrite: [...content, 'updated_at'], returning: ['id', 'position'],
        })),
      ];
      const sceneIds: number[] = [];
      for (const row of written) sceneIds[row.position as number] = Number(row.id);

      // Characters: keep existing rows (and their sheets) for names still present.
      await tx.createQueryBuilder().delete().from(CharacterEntity).where({ scriptId }).andWhere('NOT (name = ANY(:names))', { names: parsed.characters }).execute();
      // The upsert returns every named character's row, new or kept (DO UPDATE, unlike DO NOTHING, returns conflicting rows).
      const chars = await upsertInChunks(tx, CharacterEntity, parsed.characters.map((name) => ({ scriptId, name })), {
        conflict: ['script_id', 'name'], overwrite: ['name'], returning: ['id', 'name'],
      });
      const charId = new Map(chars.map((c) => [c.name as string, Number(c.id)]));
      const scenesOfScript = tx.createQueryBuilder().subQuery().select('s.id').from(SceneEntity, 's').where('s.scriptId = :scriptId').getQuery();
      await tx.createQueryBuilder().delete().from(SceneCharacterEntity).where(`scene_id IN ${scenesOfScript}`, { scriptId }).execute();
      const links = parsed.scenes.flatMap((s, i) => s.characters.filter((n) => charId.has(n)).map((n) => ({ sceneId: sceneIds[i], characterId: charId.get(n)! })));
      await upsertInChunks(tx, SceneCharacterEntity, links, { conflict: ['scene_id', 'character_id'], overwrite: [] });
      return {
        scriptId,
        title: opts.title,
        created: !existingId,
        scenes: parsed.scenes.length,
        characters: parsed.characters.length,
        changedScenes: parsed.scenes.length - unchanged.length,
        unchangedScenes: unchanged.length,
        removedScenes: removed.length,
      };
    });
  }

  async findScript(idOrTitle: string): Promise<{ id: string; title: string; scenes: number; characters: number } | undefined> {
    const rows: { id: string; title: string; scenes: string; characters: string }[] = await this.db
      .getRepository(ScriptEntity)
      .createQueryBuilder('s')
      .select(['s.id AS id', 's.title AS title'])
      .addSelect((qb) => qb.select('count(*)').from(SceneEntity, 'sc').where('sc.scriptId = s.id'), 'scenes')
      .addSelect((qb) => qb.select('count(*)').from(CharacterEntity, 'c').where('c.scriptId = s.id'), 'characters')
      .where('s.id::text = :idOrTitle OR lower(s.title) = lower(:idOrTitle)', { idOrTitle })
      .orderBy('s.createdAt')
      .limit(2)
      .getRawMany();
    if (rows.length > 1) throw new AmbiguousTitleError(`Several scripts are titled "${idOrTitle}"; use the script id.`);
    const r = rows[0];
    return r && { id: r.id, title: r.title, scenes: Number(r.scenes), characters: Number(r.characters) };
  }
}
