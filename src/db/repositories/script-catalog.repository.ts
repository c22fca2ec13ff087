/** Scripts read back for the HTTP API: the list, and one script's scenes and characters. Plain objects. */
import type { DataSource } from 'typeorm';

export interface ScriptListItem {
  id: string;
  title: string;
  format: string;
  sourceName: string;
  scenes: number;
  characters: number;
  createdAt: string;
  updatedAt: string;
}

export interface ScriptScene {
  /** 0-based. */
  position: number;
  heading: string;
  sceneNumber: string | null;
  /** The ingestion's summary, when made. */
  summary: string | null;
}

export interface ScriptCharacter {
  name: string;
  /** Scenes the character speaks in. */
  scenes: number;
}

const LIST_SQL = `
  SELECT s.id, s.title, s.format, s.source_name AS "sourceName", s.created_at AS "createdAt", s.updated_at AS "updatedAt",
         (SELECT count(*) FROM scenes sc WHERE sc.script_id = s.id)::int AS scenes,
         (SELECT count(*) FROM characters c WHERE c.script_id = s.id)::int AS characters
    FROM scripts s`;

export class ScriptCatalogRepository {
  constructor(private readonly db: DataSource) {}

  /** Newest first. */
  async list(limit: number, offset: number): Promise<{ total: number; scripts: ScriptListItem[] }> {
    const [rows, count] = await Promise.all([
      this.db.query(`${LIST_SQL} ORDER BY s.created_at DESC, s.id LIMIT $1 OFFSET $2`, [limit, offset]) as Promise<(ScriptListItem & { createdAt: Date; updatedAt: Date })[]>,
      this.db.query('SELECT count(*)::int AS n FROM scripts') as Promise<{ n: number }[]>,
    ]);
    return { total: count[0].n, scripts: rows.map((r) => ({ ...r, createdAt: new Date(r.createdAt).toISOString(), updatedAt: new Date(r.updatedAt).toISOString() })) };
  }

  /** One script by id (a text that is no uuid finds nothing). */
  async get(id: string): Promise<ScriptListItem | undefined> {
    const rows = (await this.db.query(`${LIST_SQL} WHERE s.id::text = $1`, [id])) as (ScriptListItem & { createdAt: Date; updatedAt: Date })[];
    const r = rows[0];
    return r && { ...r, createdAt: new Date(r.createdAt).toISOString(), updatedAt: new Date(r.updatedAt).toISOString() };
  }

  async scenes(scriptId: string): Promise<ScriptScene[]> {
    return this.db.query(
      `SELECT sc.position, sc.heading, sc.scene_number AS "sceneNumber", ss.summary
         FROM scenes sc LEFT JOIN scene_summaries ss ON ss.scene_id = sc.id
        WHERE sc.script_id = $1 ORDER BY sc.position`,
      [scriptId],
    ) as Promise<ScriptScene[]>;
  }

  async characters(scriptId: string): Promise<ScriptCharacter[]> {
    return this.db.query(
      `SELECT c.name, count(scc.scene_id)::int AS scenes
         FROM characters c LEFT JOIN scene_characters scc ON scc.character_id = c.id
        WHERE c.script_id = $1 GROUP BY c.id, c.name ORDER BY scenes DESC, c.name`,
      [scriptId],
    ) as Promise<ScriptCharacter[]>;
  }
}
