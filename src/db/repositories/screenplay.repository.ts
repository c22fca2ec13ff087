/**
 * Personas, stories and their screenplay versions. Persona contexts load in one statement
 * (`WHERE name = ANY($1)`); a version is saved with its story and cast in one transaction,
 * idempotently by its save key.
 */
import type { DataSource, EntityManager } from 'typeorm';

type Queryable = Pick<EntityManager, 'query'>;
import { closestNames, UnknownPersonasError, type PersonaInput } from '../../domain/generation/personas';
import type { Persona, PersonaConfig, ScreenplayRun, ScreenplayStory, ScreenplayVersion } from '../entities/screenplay.entity';

export interface LoadedPersona {
  id: number;
  name: string;
  config: PersonaConfig;
}

/** A version to save (its `saveKey` is `<workflowId>/<runId>/<variant>`) with its story's title and plot. */
export type SaveVersionInput = Pick<ScreenplayVersion, 'saveKey' | 'storyId' | 'fountain' | 'provider' | 'model' | 'truncated' | 'continuations' | 'stats'> & {
  title: string;
  plot: string;
  /** Characters of the screenplay, each with the persona written for it (null: none). */
  cast: { character: string; personaId: number | null }[];
  /**
   * A version of the story with this very text answers the save (a cached reply again: the same
   * text is not a new version). Off for a paid reply, which is kept even when it repeats one.
   */
  reuseSameText?: boolean;
};

export interface SavedVersion {
  versionId: number;
  version: number;
  /**
   * False when nothing new was saved: the key was saved before (a retried save), or the story
   * already has this very text as a version and the reply came from the cache: that version is answered.
   */
  created: boolean;
}

export interface StorySummary {
  id: string;
  title: string;
  versions: number;
  updatedAt: Date;
}

export type VersionRow = Pick<ScreenplayVersion, 'id' | 'storyId' | 'version' | 'fountain' | 'provider' | 'model' | 'truncated' | 'continuations' | 'stats' | 'scriptId' | 'createdAt'> & {
  title: string;
  cast: { character: string; persona: string | null }[];
};

export class StoryNotFoundError extends Error {}

/** One character of a version and the persona it was written for (null: none). */
export type CastEntry = VersionRow['cast'][number];

/** A story in a page of the list: its version count, its latest version and that version's cast. */
export interface ScreenplayStoryListItem {
  id: string;
  title: string;
  versions: number;
  updatedAt: Date;
  /** The highest version number and when it was saved (null: a story with no version yet). */
  latestVersion: number | null;
  latestCreatedAt: Date | null;
  /** The latest version's cast (empty without a version). */
  cast: CastEntry[];
}

/** A version's figures without its text. */
export type VersionListing = Pick<ScreenplayVersion, 'version' | 'provider' | 'model' | 'truncated' | 'continuations' | 'stats' | 'scriptId' | 'createdAt'> & {
  /** The workflow that saved it, read from its save key; null for a key of another form. */
  workflowId: string | null;
  cast: CastEntry[];
};

/**
 * The workflow id in a version's save key, `<workflowId>/<runId>/<variant>` (a workflow id may
 * itself hold "/": the last two parts are cut); null for a key of another form.
 */
export function workflowIdOfSaveKey(saveKey: string): string | null {
  return /^(.+)\/[^/]+\/\d+$/.exec(saveKey)?.[1] ?? null;
}

/** A version's cast as JSON, in character order (`v`: the version's alias in the query). */
const CAST_JSON = (v: string) =>
  `coalesce((SELECT json_agg(json_build_object('character', c.character, 'persona', p.name) ORDER BY c.character)
             FROM story_cast c LEFT JOIN personas p ON p.id = c.persona_id WHERE c.version_id = ${v}.id), '[]')`;

export class ScreenplayRepository {
  /** `db`: the app's DataSource, or a query runner's manager (to count a step's statements). */
  constructor(private readonly db: DataSource | EntityManager) {}

  /**
   * Creates or updates every persona of a validated file in one statement; returns how many were
   * new, changed and unchanged. A persona whose config is the same (as JSON) is not written: its
   * updated_at stays, and RETURNING leaves it out.
   */
  async importPersonas(personas: PersonaInput[]): Promise<{ created: number; updated: number; unchanged: number }> {
    const rows: { inserted: boolean }[] = await this.db.query(
      `INSERT INTO personas (name, config)
       SELECT * FROM unnest($1::text[], $2::jsonb[])
       ON CONFLICT (name) DO UPDATE SET config = EXCLUDED.config, updated_at = now()
         WHERE personas.config IS DISTINCT FROM EXCLUDED.config
       RETURNING (xmax = 0) AS inserted`,
      [personas.map((p) => p.name), personas.map((p) => JSON.stringify(p.config))],
    );
    const created = rows.filter((r) => r.inserted).length;
    return { created, updated: rows.length - created, unchanged: personas.length - rows.length };
  }

  async listPersonas(): Promise<Pick<Persona, 'name' | 'config' | 'updatedAt'>[]> {
    return this.db.query(`SELECT name, config, updated_at AS "updatedAt" FROM personas ORDER BY lower(name)`);
  }

  /** Persona contexts in one statement; unknown names fail with the closest existing names (one name-only query). */
  async loadPersonas(names: string[]): Promise<LoadedPersona[]> {
    const rows: { id: string; name: string; config: PersonaConfig }[] = await this.db.query(
      `SELECT id, name, config FROM personas WHERE name = ANY($1)`,
      [names],
    );
    const byName = new Map(rows.map((r) => [r.name, { id: Number(r.id), name: r.name, config: r.config }]));
    await this.refuseUnknown(names.filter((n) => !byName.has(n)));
    return names.map((n) => byName.get(n)!);
  }

  /**
   * Refuses names no persona has, as loadPersonas does (the same error, with the closest names),
   * reading names only: what a start checks before it stores a plot or starts a run.
   */
  async checkPersonasExist(names: string[]): Promise<void> {
    const rows: { name: string }[] = await this.db.query(`SELECT name FROM personas WHERE name = ANY($1)`, [names]);
    const known = new Set(rows.map((r) => r.name));
    await this.refuseUnknown(names.filter((n) => !known.has(n)));
  }

  /** UnknownPersonasError for `missing` (when any), each with the closest existing names (one name-only query). */
  private async refuseUnknown(missing: string[]): Promise<void> {
    if (!missing.length) return;
    const all: { name: string }[] = await this.db.query(`SELECT name FROM personas`);
    throw new UnknownPersonasError(missing.map((name) => ({ name, closest: closestNames(name, all.map((a) => a.name)) })));
  }

  /**
   * The seed's way, kept for the benchmark's "before" row: one query per persona, and on an
   * unknown name a query that loads every persona whole.
   */
  async loadPersonasOneByOne(names: string[]): Promise<LoadedPersona[]> {
    const out: LoadedPersona[] = [];
    for (const name of names) {
      const rows: { id: string; name: string; config: PersonaConfig }[] = await this.db.query(`SELECT id, name, config FROM personas WHERE name = $1`, [name]);
      if (!rows[0]) {
        const all: { name: string }[] = await this.db.query(`SELECT * FROM personas`);
        throw new UnknownPersonasError([{ name, closest: closestNames(name, all.map((a) => a.name)) }]);
      }
      out.push({ id: Number(rows[0].id), name: rows[0].name, config: rows[0].config });
    }
    return out;
  }

  /** Stores a run's plot under its workflow id before the run starts (replacing the plot of an earlier run under the id, which has ended). */
  async saveRequest(workflowId: string, plot: string): Promise<void> {
    // A titled story's run id is its title's: a run of it that failed left its row, which the next run's plot replaces.
    await this.db.query('INSERT INTO screenplay_requests (workflow_id, plot) VALUES ($1, $2) ON CONFLICT (workflow_id) DO UPDATE SET plot = EXCLUDED.plot', [workflowId, plot]);
  }

  /** A stored run's plot; undefined when none was stored under the workflow id. */
  async requestPlot(workflowId: string): Promise<string | undefined> {
    const rows: { plot: string }[] = await this.db.query('SELECT plot FROM screenplay_requests WHERE workflow_id = $1', [workflowId]);
    return rows[0]?.plot;
  }

  async deleteRequest(workflowId: string): Promise<void> {
    await this.db.query('DELETE FROM screenplay_requests WHERE workflow_id = $1', [workflowId]);
  }

  /** Stores a run's request and prompt (a repeat rewrites the same row). */
  async saveRun(run: Omit<ScreenplayRun, 'createdAt'>): Promise<void> {
    await this.db.query(
      `INSERT INTO screenplay_runs (run_key, workflow_id, story_id, title, plot, personas, system, prompt, prompt_report)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (run_key) DO UPDATE SET system = EXCLUDED.system, prompt = EXCLUDED.prompt, prompt_report = EXCLUDED.prompt_report`,
      [run.runKey, run.workflowId, run.storyId, run.title, run.plot, JSON.stringify(run.personas), run.system, run.prompt, JSON.stringify(run.promptReport)],
    );
  }

  async loadRun(runKey: string): Promise<ScreenplayRun> {
    const rows = await this.db.query(
      `SELECT run_key AS "runKey", workflow_id AS "workflowId", story_id AS "storyId", title, plot, personas,
              system, prompt, prompt_report AS "promptReport", created_at AS "createdAt"
       FROM screenplay_runs WHERE run_key = $1`,
      [runKey],
    );
    if (!rows[0]) throw new Error(`No screenplay run ${runKey}`);
    return rows[0] as ScreenplayRun;
  }

  /** The version saved under `saveKey`, if any (a retried activity skips its work). */
  async versionByKey(saveKey: string): Promise<SavedVersion | undefined> {
    const rows: { id: string; version: number }[] = await this.db.query(`SELECT id, version FROM screenplay_versions WHERE save_key = $1`, [saveKey]);
    return rows[0] && { versionId: Number(rows[0].id), version: rows[0].version, created: false };
  }

  /**
   * Story (created or updated), the next version and its cast, in one transaction. The story
   * row's upsert locks it, so concurrent variants number their versions one after another.
   * Idempotent: a key saved before returns its version and writes nothing.
   */
  async saveVersion(input: SaveVersionInput): Promise<SavedVersion> {
    return this.db.transaction((tx: EntityManager) => this.writeVersion(tx, input));
  }

  /** The seed's way, for the benchmark's "before" row: story, version and cast each committed on its own. */
  async saveVersionSeparately(input: SaveVersionInput): Promise<SavedVersion> {
    return this.writeVersion(this.db, input);
  }

  private async writeVersion(tx: Queryable, input: SaveVersionInput): Promise<SavedVersion> {
    // The upsert locks the story row until commit; the next statement's snapshot then sees every
    // version committed before the lock was granted (one statement would number from an older snapshot).
    // updated_at moves only when something is written: a new title or plot here, a new version below
    // (a reply the story already holds, from the cache, leaves the story as it was).
    await tx.query(
      `INSERT INTO screenplay_stories (id, title, plot) VALUES ($1, $2, $3)
       ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title, plot = EXCLUDED.plot,
         updated_at = CASE WHEN (screenplay_stories.title, screenplay_stories.plot) IS DISTINCT FROM (EXCLUDED.title, EXCLUDED.plot)
                           THEN now() ELSE screenplay_stories.updated_at END`,
      [input.storyId, input.title, input.plot],
    );
    // The version saved under this key (a retry), else (reuseSameText) one of the story's with the same text.
    const [story] = (await tx.query(
      `SELECT existing.id AS existing_id, existing.version AS existing_version,
              (SELECT coalesce(max(version), 0) + 1 FROM screenplay_versions WHERE story_id = $1) AS next_version
       FROM (SELECT 1) AS one
       LEFT JOIN LATERAL (
         SELECT id, version FROM screenplay_versions
         WHERE save_key = $2 OR ($4 AND story_id = $1 AND fountain = $3)
         ORDER BY (save_key = $2) DESC, version LIMIT 1
       ) AS existing ON true`,
      [input.storyId, input.saveKey, input.fountain, input.reuseSameText === true],
    )) as { existing_id: string | null; existing_version: number | null; next_version: number }[];
    if (story.existing_id !== null) return { versionId: Number(story.existing_id), version: story.existing_version!, created: false };
    const [row] = (await tx.query(
      `INSERT INTO screenplay_versions (story_id, version, save_key, fountain, provider, model, truncated, continuations, stats)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
      [input.storyId, story.next_version, input.saveKey, input.fountain, input.provider, input.model, input.truncated, input.continuations, JSON.stringify(input.stats)],
    )) as { id: string }[];
    const versionId = Number(row.id);
    await tx.query(`UPDATE screenplay_stories SET updated_at = now() WHERE id = $1`, [input.storyId]);
    if (input.cast.length) {
      await tx.query(
        `INSERT INTO story_cast (version_id, character, persona_id) SELECT $1, * FROM unnest($2::text[], $3::bigint[])`,
        [versionId, input.cast.map((c) => c.character), input.cast.map((c) => c.personaId)],
      );
    }
    return { versionId, version: story.next_version, created: true };
  }

  async listStories(): Promise<StorySummary[]> {
    const rows: { id: string; title: string; versions: string; updatedAt: Date }[] = await this.db.query(
      `SELECT s.id, s.title, count(v.id) AS versions, s.updated_at AS "updatedAt"
       FROM screenplay_stories s LEFT JOIN screenplay_versions v ON v.story_id = s.id
       GROUP BY s.id ORDER BY s.updated_at DESC`,
    );
    return rows.map((r) => ({ ...r, versions: Number(r.versions) }));
  }

  /** The stories with this title (case-insensitive), oldest first. */
  async storiesTitled(title: string): Promise<{ id: string; title: string }[]> {
    return this.db.query(`SELECT id, title FROM screenplay_stories WHERE lower(title) = lower($1) ORDER BY created_at`, [title]);
  }

  /** A story by id or title (case-insensitive); undefined when there is none. */
  async findStory(idOrTitle: string): Promise<{ id: string; title: string; plot: string } | undefined> {
    const rows: { id: string; title: string; plot: string }[] = await this.db.query(
      `SELECT id, title, plot FROM screenplay_stories WHERE id::text = $1 OR lower(title) = lower($1) ORDER BY created_at LIMIT 2`,
      [idOrTitle],
    );
    if (rows.length > 1) throw new StoryNotFoundError(`Several stories are titled "${idOrTitle}"; use the story id.`);
    return rows[0];
  }

  /** A version of a story (the latest when `version` is undefined), with its cast. */
  async version(storyId: string, version?: number): Promise<VersionRow | undefined> {
    const rows = (await this.db.query(
      `SELECT v.id, v.story_id AS "storyId", v.version, v.fountain, v.provider, v.model, v.truncated, v.continuations, v.stats,
              v.script_id AS "scriptId", v.created_at AS "createdAt", s.title, ${CAST_JSON('v')} AS cast
       FROM screenplay_versions v JOIN screenplay_stories s ON s.id = v.story_id
       WHERE v.story_id = $1 AND ($2::int IS NULL OR v.version = $2)
       ORDER BY v.version DESC LIMIT 1`,
      [storyId, version ?? null],
    )) as (VersionRow & { id: string })[];
    return rows[0] && { ...rows[0], id: Number(rows[0].id) };
  }

  async versions(storyId: string): Promise<Pick<ScreenplayVersion, 'version' | 'model' | 'truncated' | 'stats' | 'createdAt'>[]> {
    return this.db.query(
      `SELECT version, model, truncated, stats, created_at AS "createdAt" FROM screenplay_versions WHERE story_id = $1 ORDER BY version`,
      [storyId],
    );
  }

  /** Links a version to the script it was imported as (for ingestion). */
  async setVersionScript(versionId: number, scriptId: string): Promise<void> {
    await this.db.query(`UPDATE screenplay_versions SET script_id = $2 WHERE id = $1`, [versionId, scriptId]);
  }

  /**
   * A page of stories in `listStories`' order (the most recently written first; ties by id, so
   * pages never overlap), each with its latest version and that version's cast; `total`: how many in all.
   */
  async pageStories(opts: { limit: number; offset: number }): Promise<{ total: number; stories: ScreenplayStoryListItem[] }> {
    const [stories, count] = await Promise.all([
      this.db.query(
        `SELECT s.id, s.title, s.updated_at AS "updatedAt",
                (SELECT count(*)::int FROM screenplay_versions n WHERE n.story_id = s.id) AS versions,
                latest.version AS "latestVersion", latest.created_at AS "latestCreatedAt",
                CASE WHEN latest.id IS NULL THEN '[]' ELSE ${CAST_JSON('latest')} END AS cast
         FROM screenplay_stories s
         LEFT JOIN LATERAL (SELECT id, version, created_at FROM screenplay_versions v WHERE v.story_id = s.id ORDER BY v.version DESC LIMIT 1) AS latest ON true
         ORDER BY s.updated_at DESC, s.id
         LIMIT $1 OFFSET $2`,
        [opts.limit, opts.offset],
      ) as Promise<ScreenplayStoryListItem[]>,
      this.db.query(`SELECT count(*)::int AS n FROM screenplay_stories`) as Promise<{ n: number }[]>,
    ]);
    return { total: count[0].n, stories };
  }

  /** A story by its id only (an id never finds a story by its title, as findStory may); undefined when none. */
  async storyById(id: string): Promise<Pick<ScreenplayStory, 'id' | 'title' | 'plot' | 'createdAt' | 'updatedAt'> | undefined> {
    const rows = (await this.db.query(
      `SELECT id, title, plot, created_at AS "createdAt", updated_at AS "updatedAt" FROM screenplay_stories WHERE id = $1`,
      [id],
    )) as Pick<ScreenplayStory, 'id' | 'title' | 'plot' | 'createdAt' | 'updatedAt'>[];
    return rows[0];
  }

  /** A story's versions in number order (only `version`'s when given), with their cast and workflow, without their text. */
  async storyVersions(storyId: string, version?: number): Promise<VersionListing[]> {
    const rows = (await this.db.query(
      `SELECT v.version, v.save_key AS "saveKey", v.provider, v.model, v.truncated, v.continuations, v.stats,
              v.script_id AS "scriptId", v.created_at AS "createdAt", ${CAST_JSON('v')} AS cast
       FROM screenplay_versions v
       WHERE v.story_id = $1 AND ($2::int IS NULL OR v.version = $2)
       ORDER BY v.version`,
      [storyId, version ?? null],
    )) as (Omit<VersionListing, 'workflowId'> & { saveKey: string })[];
    return rows.map(({ saveKey, ...row }) => ({ ...row, workflowId: workflowIdOfSaveKey(saveKey) }));
  }

  /** The personas of the story's latest run, in the order it asked for them (empty: no run recorded). */
  async latestRunPersonas(storyId: string): Promise<string[]> {
    const rows: { personas: { name: string }[] }[] = await this.db.query(
      `SELECT personas FROM screenplay_runs WHERE story_id = $1 ORDER BY created_at DESC LIMIT 1`,
      [storyId],
    );
    return rows[0]?.personas.map((p) => p.name) ?? [];
  }

  /** The story a run saves its versions to, by its run key (`<workflowId>/<runId>`); undefined before the run is prepared. */
  async runStoryId(runKey: string): Promise<string | undefined> {
    const rows: { storyId: string }[] = await this.db.query(`SELECT story_id AS "storyId" FROM screenplay_runs WHERE run_key = $1`, [runKey]);
    return rows[0]?.storyId;
  }
}
