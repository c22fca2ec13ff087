/** `storyloom screenplays list | show <story> [--version N] | export <story> [--version N]`, and a version as an ingestible script. */
import { parseArgs } from 'node:util';
import { ScreenplayRepository, StoryNotFoundError, type VersionRow } from '../db/repositories/screenplay.repository';
import { importScreenplayBytes } from '../operations/import-script';
import type { VariantResult } from '../shared/screenplay';
import type { CliContext } from './context';
import { intOption } from './int-option';
import { UsageError } from './temporal-client';

const USAGE = 'usage: storyloom screenplays list | show <story> [--version N] | export <story> [--version N]';

/** The most a version number can be (its column is a Postgres integer). */
const MAX_VERSION = 2 ** 31 - 1;

/** `--version N` (1 to 2^31 - 1), or undefined when not given. */
export function versionNumber(raw: string | undefined): number | undefined {
  return raw === undefined ? undefined : intOption('--version', raw, 0, 1, MAX_VERSION);
}

/** A story's version (the latest by default), or undefined when no story is called that. */
export async function findVersion(ctx: CliContext, story: string, version?: number): Promise<VersionRow | undefined> {
  const repo = new ScreenplayRepository(await ctx.db());
  let found;
  try {
    found = await repo.findStory(story);
  } catch (err) {
    if (err instanceof StoryNotFoundError) throw new UsageError(err.message);
    throw err;
  }
  if (!found) return undefined;
  const row = await repo.version(found.id, version);
  if (!row) throw new UsageError(version ? `Story "${found.title}" has no version ${version}.` : `Story "${found.title}" has no version yet.`);
  return row;
}

async function requireVersion(ctx: CliContext, story: string, version?: number): Promise<VersionRow> {
  const row = await findVersion(ctx, story, version);
  if (!row) throw new UsageError(`No story "${story}": \`storyloom screenplays list\` shows them (\`storyloom generate\` makes one).`);
  return row;
}

/**
 * Imports a story's version as a script (again into the same script when it was imported
 * before), so the ingestion works on it; undefined when `story` names no story. Imported as
 * `import` does (src/operations/import-script.ts): refused with IngestionRunningError, nothing
 * written, while that script's ingestion runs.
 */
export async function importStoryVersion(
  ctx: CliContext,
  story: string,
  version?: number,
): Promise<{ scriptId: string; title: string; version: number; unchanged: boolean } | undefined> {
  const row = await findVersion(ctx, story, version);
  if (!row) return undefined;
  const title = `${row.title} (v${row.version})`;
  const imported = await importScreenplayBytes(ctx, Buffer.from(row.fountain), `story-${row.storyId}-v${row.version}.fountain`, {
    scriptId: row.scriptId ?? undefined,
    title,
    label: `story "${row.title}" version ${row.version}`,
  });
  if (row.scriptId !== imported.scriptId) await new ScreenplayRepository(await ctx.db()).setVersionScript(row.id, imported.scriptId);
  // The version imported before and not changed since: the script is as it was.
  const unchanged = !imported.created && imported.changedScenes === 0 && imported.removedScenes === 0 && imported.movedScenes === 0;
  return { scriptId: imported.scriptId, title, version: row.version, unchanged };
}

export function describeVariant(r: Pick<VariantResult, 'outputTokens' | 'ttftMs' | 'durationMs' | 'costUsd' | 'truncated' | 'continuations' | 'cached'>): string {
  const notes = [r.cached ? 'from cache' : '', r.continuations ? `${r.continuations} continuation(s)` : '', r.truncated ? 'TRUNCATED at max_tokens' : ''].filter(Boolean);
  return `${r.outputTokens.toLocaleString('en-US')} tokens, first token ${(r.ttftMs / 1000).toFixed(1)} s, ${(r.durationMs / 1000).toFixed(1)} s total, $${r.costUsd.toFixed(4)}${notes.length ? ` (${notes.join(', ')})` : ''}`;
}

export async function screenplaysCommand(ctx: CliContext, argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { version: { type: 'string' } } });
  const version = versionNumber(values.version);
  if (sub === 'list') {
    if (positionals.length || version) throw new UsageError(USAGE);
    const stories = await new ScreenplayRepository(await ctx.db()).listStories();
    if (!stories.length) console.log('No stories yet: `storyloom generate --plot plot.txt --persona "Name"` writes one.');
    for (const s of stories) console.log(`${s.id}  ${s.title}  (${s.versions} version${s.versions === 1 ? '' : 's'}, updated ${s.updatedAt.toISOString()})`);
    return 0;
  }
  if ((sub === 'show' || sub === 'export') && positionals.length === 1) {
    const row = await requireVersion(ctx, positionals[0], version);
    if (sub === 'export') {
      process.stdout.write(row.fountain.endsWith('\n') ? row.fountain : `${row.fountain}\n`);
      return 0;
    }
    const stats = row.stats as Partial<VariantResult>;
    const versions = await new ScreenplayRepository(await ctx.db()).versions(row.storyId);
    console.log(
      [
        `${row.title} — version ${row.version} of ${versions.length} (story ${row.storyId})`,
        `model: ${row.provider}:${row.model}; ${stats.scenes ?? '?'} scenes; ${row.truncated ? 'TRUNCATED at max_tokens' : 'complete'}`,
        stats.outputTokens !== undefined ? `generation: ${describeVariant(stats as VariantResult)}` : '',
        `cast: ${row.cast.map((c) => (c.persona ? `${c.character} (${c.persona})` : c.character)).join(', ') || 'none'}`,
        row.scriptId
          ? `ingested as script ${row.scriptId}`
          : `ingest it: storyloom ingest ${row.storyId}${row.version === versions.length ? '' : ` --version ${row.version}`}`,
        `Fountain: storyloom screenplays export ${row.storyId} --version ${row.version} > draft.fountain`,
      ]
        .filter(Boolean)
        .join('\n'),
    );
    return 0;
  }
  throw new UsageError(USAGE);
}
