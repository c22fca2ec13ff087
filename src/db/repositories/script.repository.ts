/**
 * Storing an imported screenplay: script, scenes, characters and who speaks where, in one
 * transaction. A re-import updates the same script and keeps the id (and so the summaries,
 * embeddings…) of every scene whose content is unchanged.
 */
import { randomUUID } from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import { sceneContentHash, type ParsedScreenplay } from '../../domain/screenplay';
import { queryPerChunk } from './multi-row';

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
    if (opts.scriptId) {
      const rows: { id: string }[] = await tx.query('SELECT id FROM scripts WHERE id::text = $1', [opts.scriptId]);
      if (!rows[0]) throw new ScriptNotFoundError(`No script with id ${opts.scriptId}; import without --script-id to create one.`);
      return rows[0].id;
    }
    const rows: { id: string }[] = await tx.query('SELECT id FROM scripts WHERE lower(title) = lower($1) ORDER BY created_at', [opts.title]);
    if (rows.length > 1) {
      throw new AmbiguousTitleError(`${rows.length} scripts are titled "${opts.title}"; pass --script-id (one of ${rows.map((r) => r.id).join(', ')}).`);
    }
    return rows[0]?.id;
  }

  async importScreenplay(parsed: ParsedScreenplay, opts: ImportOptions): Promise<ImportResult> {
    return this.db.transaction(async (tx) => {
      const existingId = await this.findTarget(tx, opts);
      const scriptId = existingId ?? randomUUID();
      if (existingId) {
        await tx.query('UPDATE scripts SET title = $2, format = $3, source_name = $4, updated_at = now() WHERE id = $1', [scriptId, opts.title, parsed.format, opts.sourceName]);
      } else {
        await tx.query('INSERT INTO scripts (id, title, format, source_name) VALUES ($1,$2,$3,$4)', [scriptId, opts.title, parsed.format, opts.sourceName]);
      }

      // Match new scenes to old ones: same content first (wherever it moved), then same position.
      const old: { id: string; position: number; content_hash: string }[] = existingId
        ? await tx.query('SELECT id, position, content_hash FROM scenes WHERE script_id = $1', [scriptId])
        : [];
      const byHash = new Map<string, string[]>();
      for (const s of old) byHash.set(s.content_hash, [...(byHash.get(s.content_hash) ?? []), s.id]);
      const used = new Set<string>();
      const hashes = parsed.scenes.map((s) => sceneContentHash(s));
      const keptIds: (string | undefined)[] = hashes.map((h) => {
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
      if (removed.length) await tx.query('DELETE FROM scenes WHERE id = ANY($1::bigint[])', [removed]);
      // Positions are unique per script: park the kept scenes out of the way before renumbering.
      if (old.length) await tx.query('UPDATE scenes SET position = -1 - position WHERE script_id = $1', [scriptId]);

      const updates = parsed.scenes.map((s, i) => ({ s, i, id: reusedIds[i] })).filter((x) => x.id);
      await queryPerChunk(
        tx,
        (values) => `UPDATE scenes SET position = v.position, heading = v.heading, scene_number = v.scene_number, text = v.text,
                       content_hash = v.content_hash, updated_at = CASE WHEN scenes.content_hash = v.content_hash THEN scenes.updated_at ELSE now() END
                     FROM (VALUES ${values}) AS v(id, position, heading, scene_number, text, content_hash) WHERE scenes.id = v.id RETURNING scenes.id`,
        updates.map(({ s, i, id }) => [id, i, s.heading, s.sceneNumber, s.text, hashes[i]]),
        ['::bigint', '::int', '', '::text'],
      );
      const inserts = parsed.scenes.map((s, i) => ({ s, i })).filter(({ i }) => !reusedIds[i]);
      const inserted = await queryPerChunk(
        tx,
        (values) => `INSERT INTO scenes (script_id, position, heading, scene_number, text, content_hash) VALUES ${values} RETURNING id, position`,
        inserts.map(({ s, i }) => [scriptId, i, s.heading, s.sceneNumber, s.text, hashes[i]]),
        ['::uuid', '::int', '', '::text'],
      );
      const sceneIds = [...reusedIds];
      for (const row of inserted) sceneIds[row.position as number] = String(row.id);

      // Characters: keep existing rows (and their sheets) for names still present.
      await tx.query('DELETE FROM characters WHERE script_id = $1 AND NOT (name = ANY($2::text[]))', [scriptId, parsed.characters]);
      if (parsed.characters.length) {
        await queryPerChunk(tx, (values) => `INSERT INTO characters (script_id, name) VALUES ${values} ON CONFLICT (script_id, name) DO NOTHING`,
          parsed.characters.map((name) => [scriptId, name]), ['::uuid']);
      }
      const chars: { id: string; name: string }[] = await tx.query('SELECT id, name FROM characters WHERE script_id = $1', [scriptId]);
      const charId = new Map(chars.map((c) => [c.name, c.id]));
      await tx.query('DELETE FROM scene_characters WHERE scene_id IN (SELECT id FROM scenes WHERE script_id = $1)', [scriptId]);
      const links = parsed.scenes.flatMap((s, i) => s.characters.filter((n) => charId.has(n)).map((n) => [sceneIds[i], charId.get(n)]));
      if (links.length) {
        await queryPerChunk(tx, (values) => `INSERT INTO scene_characters (scene_id, character_id) VALUES ${values} ON CONFLICT DO NOTHING`, links, ['::bigint', '::bigint']);
      }
      const unchanged = keptIds.filter(Boolean).length;
      return {
        scriptId,
        title: opts.title,
        created: !existingId,
        scenes: parsed.scenes.length,
        characters: parsed.characters.length,
        changedScenes: parsed.scenes.length - unchanged,
        unchangedScenes: unchanged,
        removedScenes: removed.length,
      };
    });
  }

  async findScript(idOrTitle: string): Promise<{ id: string; title: string; scenes: number; characters: number } | undefined> {
    const rows: { id: string; title: string; scenes: string; characters: string }[] = await this.db.query(
      `SELECT s.id, s.title, (SELECT count(*) FROM scenes WHERE script_id = s.id) AS scenes,
              (SELECT count(*) FROM characters WHERE script_id = s.id) AS characters
         FROM scripts s WHERE s.id::text = $1 OR lower(s.title) = lower($1) ORDER BY s.created_at LIMIT 2`,
      [idOrTitle],
    );
    if (rows.length > 1) throw new AmbiguousTitleError(`Several scripts are titled "${idOrTitle}"; use the script id.`);
    const r = rows[0];
    return r && { id: r.id, title: r.title, scenes: Number(r.scenes), characters: Number(r.characters) };
  }
}
