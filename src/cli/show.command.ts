import { parseArgs } from 'node:util';
import { AnalysisRepository } from '../db/repositories/analysis.repository';
import { RunRepository } from '../db/repositories/run.repository';
import { ScriptCatalogRepository } from '../db/repositories/script-catalog.repository';
import { createLogger } from '../observability/logger';
import { searchScenes } from '../operations/search-scenes';
import { createServices } from '../runtime';
import { SCENE_SEARCH_LIMIT, SCENE_SEARCH_TEXT_MAX } from '../shared/list-limits';
import type { CliContext } from './context';
import { describeResult } from './ingest.command';
import { intOption } from './int-option';
import { UsageError } from './temporal-client';

/** `show`: the outline, the character sheets and the last run's figures; `--scenes`, each scene's summary too. */
export async function showCommand(ctx: CliContext, argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { scenes: { type: 'boolean' } } });
  if (positionals.length !== 1) throw new UsageError('usage: storyloom show <scriptId> [--scenes]');
  const [scriptId] = positionals;
  const script = await ctx.script(scriptId);
  const db = await ctx.db();
  const analysis = new AnalysisRepository(db);
  const outline = await analysis.outline(script.id);
  const sheets = (await analysis.sheets(script.id)) as { name: string; sheet: { role: string; traits: string[]; goals: string[]; arc: string; keyScenes: number[] } }[];
  const run = await new RunRepository(db).lastIngestionRun(script.id);
  console.log(`# ${script.title}\nscript id ${script.id}: ${script.scenes} scenes, ${script.characters} characters\n`);
  if (values.scenes) {
    const scenes = await new ScriptCatalogRepository(db).scenes(script.id);
    const summarized = scenes.filter((s) => s.summary !== null).length;
    console.log(`## Scenes (${summarized} of ${scenes.length} summarized)`);
    for (const s of scenes) console.log(`${s.position + 1}. ${s.heading}\n   ${s.summary ?? '(no summary yet)'}`);
    console.log('');
  }
  console.log(outline ? `## Outline (${outline.model}${outline.sections > 1 ? `, ${outline.sections} sections` : ''})\n${outline.outline}\n` : '## Outline\n(none yet)\n');
  console.log(`## Character sheets (${sheets.length})`);
  for (const { name, sheet } of sheets) {
    console.log(`- ${name}: ${sheet.role}\n  traits: ${sheet.traits.join(', ')}\n  goals: ${sheet.goals.join('; ')}\n  arc: ${sheet.arc}\n  key scenes: ${sheet.keyScenes.join(', ')}`);
  }
  console.log(`\n## Last run\n${run ? (run.result ? describeResult(run.result) : run.status) : '(never ingested)'}`);
  return 0;
}

/** `search`: scenes ranked by the similarity of their embedding to the query's. */
export async function searchCommand(ctx: CliContext, argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { limit: { type: 'string' } } });
  if (positionals.length !== 2) throw new UsageError('usage: storyloom search <scriptId> "<text>" [--limit N]');
  const limit = intOption('--limit', values.limit, SCENE_SEARCH_LIMIT.default, 1, SCENE_SEARCH_LIMIT.max);
  // As the API's `q`: a blank text would be embedded (a paid call) and rank every scene at 0.
  const text = positionals[1];
  if (!text.trim()) throw new UsageError('the search text is empty: give the words to look for, e.g. storyloom search <scriptId> "a fight on the roof"');
  if (text.length > SCENE_SEARCH_TEXT_MAX) throw new UsageError(`the search text has ${text.length} characters; the limit is ${SCENE_SEARCH_TEXT_MAX}`);
  const script = await ctx.script(positionals[0]);
  // The CLI's stdout is for people: structured log lines go to stderr.
  const services = await createServices(ctx.config, { logger: createLogger(ctx.config.logLevel, 'stderr') });
  try {
    const ranked = await searchScenes(ctx, services.llm, script, text, limit);
    for (const r of ranked) console.log(`${r.score.toFixed(3)}  scene ${r.position + 1}  ${r.heading}\n       ${r.summary.slice(0, 160)}`);
  } finally {
    await services.close();
  }
  return 0;
}
