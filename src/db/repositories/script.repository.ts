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
  /** Unchanged scenes out of their old order: the fewest that, moved, give the new order (two neighbours swapped: 1). */
  movedScenes: number;
}

export class ScriptNotFoundError extends Error {}

/** A script as a refusal lists it: its id and its title as stored. */
export interface TitledScript {
  id: string;
  title: string;
}

/** `3f0c… ("The Night Ferry"), 9a1b… ("the night ferry")`, with how many more when `total` says so. */
function listScripts(scripts: TitledScript[], total = scripts.length): string {
  const listed = scripts.map((s) => `${s.id} ("${s.title}")`).join(', ');
  return total > scripts.length ? `${listed} and ${total - scripts.length} more` : listed;
}

/**
 * Several scripts share a title (case ignored), so a title alone cannot say which one is meant:
 * every lookup and import by title refuses with this one message, listing the ids and titles.
 */
export class AmbiguousTitleError extends Error {
  constructor(
    readonly title: string,
    readonly scripts: TitledScript[],
    /** What to do instead (the default suits a lookup; an import says `--script-id`). */
    hint = 'give the script id instead of the title',
    total = scripts.length,
  ) {
    super(`${total} scripts are titled "${title}": ${listScripts(scripts, total)}; ${hint}.`);
  }
}

/** An import would give a script the title another script has (a rename): two scripts would share a title. */
export class TitleTakenError extends Error {
  constructor(
    readonly title: string,
    readonly scripts: TitledScript[],
  ) {
    super(
      `Another script is titled "${title}": ${listScripts(scripts)}. Two scripts may not share a title (it would name neither), so nothing was written; ` +
        `choose another title, or update that script by its id.`,
    );
  }
}

/** Scripts listed by name in a refusal: enough to choose from. */
const LISTED_SCRIPTS = 10;

export class ScriptRepository {
  constructor(private readonly db: DataSource) {}

  /**
   * The script an import should update: by id, else by title (case-insensitive), else none.
   * An update by id that would rename the script onto another script's title is refused
   * (TitleTakenError); several scripts with the title and no id is AmbiguousTitleError.
   */
  async findTarget(tx: EntityManager, opts: ImportOptions): Promise<string | undefined> {
    const scripts = tx.getRepository(ScriptEntity).createQueryBuilder('s').select('s.id', 'id').addSelect('s.title', 'title');
    if (opts.scriptId) {
      // Compared as text: an id that is no uuid is "not found", not a Postgres error. One query
      // finds the script and any other script with the title it is to have.
      const rows: (TitledScript & { sameTitle: boolean })[] = await scripts
        .addSelect('lower(s.title) = lower(:title)', 'sameTitle')
        .where('s.id::text = :id OR lower(s.title) = lower(:title)', { id: opts.scriptId, title: opts.title })
        .orderBy('s.createdAt')
        .getRawMany();
      const target = rows.find((r) => r.id === opts.scriptId);
      if (!target) throw new ScriptNotFoundError(`No script with id ${opts.scriptId}; import without --script-id to create one.`);
      const others = rows.filter((r) => r !== target).map(({ id, title }) => ({ id, title }));
      // A script that has the title already keeps it (scripts that shared it before stay as they were).
      if (others.length && !target.sameTitle) throw new TitleTakenError(opts.title, others);
      return target.id;
    }
    const rows: TitledScript[] = await scripts.where('lower(s.title) = lower(:title)', { title: opts.title }).orderBy('s.createdAt').getRawMany();
    if (rows.length > 1) throw new AmbiguousTitleError(opts.title, rows, 'pass the id of the one to update (--script-id)');
    return rows[0]?.id;
  }

  async importScreenplay(parsed: ParsedScreenplay, opts: ImportOptions): Promise<ImportResult> {
    return this.db.transaction(async (tx) => {
      // Imports of one title wait for each other until commit: two at once of a new title would
      // otherwise both find none and make two scripts, and every later import by it would be refused.
      // An update by id takes the lock of the title it gives too, so a rename onto a title and an
      // import (or another rename) of that title cannot both pass findTarget's check.
      await tx.query('SELECT pg_advisory_xact_lock(hashtextextended(lower($1), 0))', [opts.title]);
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
      const oldPosition = new Map(old.map((s) => [s.id, s.position]));
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
        movedScenes: movedCount(keptIds.filter((id): id is number => id !== undefined).map((id) => oldPosition.get(id)!)),
      };
    });
  }

  /**
   * A script by id or title (case-insensitive); undefined when none. Several scripts with the
   * title (and none with it as id) is AmbiguousTitleError, listing them.
   */
  async findScript(idOrTitle: string): Promise<{ id: string; title: string; scenes: number; characters: number } | undefined> {
    const rows: { id: string; title: string; scenes: string; characters: string; total: string }[] = await this.db
      .getRepository(ScriptEntity)
      .createQueryBuilder('s')
      .select(['s.id AS id', 's.title AS title'])
      .addSelect((qb) => qb.select('count(*)').from(SceneEntity, 'sc').where('sc.scriptId = s.id'), 'scenes')
      .addSelect((qb) => qb.select('count(*)').from(CharacterEntity, 'c').where('c.scriptId = s.id'), 'characters')
      .addSelect('count(*) OVER ()', 'total')
      .where('s.id::text = :idOrTitle OR lower(s.title) = lower(:idOrTitle)', { idOrTitle })
      .orderBy('s.createdAt')
      .limit(LISTED_SCRIPTS)
      .getRawMany();
    const r = rows.length > 1 ? rows.find((row) => row.id === idOrTitle) : rows[0];
    if (rows.length > 1 && !r) throw new AmbiguousTitleError(idOrTitle, rows.map(({ id, title }) => ({ id, title })), undefined, Number(rows[0].total));
    return r && { id: r.id, title: r.title, scenes: Number(r.scenes), characters: Number(r.characters) };
  }
}

/**
 * How many of these items (their old positions, in their new order) moved: all but the longest
 * run that kept its order (a longest increasing subsequence, O(n log n)).
 */
export function movedCount(oldPositions: number[]): number {
  const tails: number[] = [];
  for (const p of oldPositions) {
    let lo = 0;
    let hi = tails.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (tails[mid] < p) lo = mid + 1;
      else hi = mid;
    }
    tails[lo] = p;
  }
  return oldPositions.length - tails.length;
}
