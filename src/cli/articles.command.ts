/** `storyloom articles import <file> [--format F] [--map field=column,...]`: stores news articles. */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { NewsRepository, type ArticleImportResult } from '../db/repositories/news.repository';
import { ArticleImportError, MAX_ARTICLE_FILE_BYTES, parseArticles, parseFieldMap, type ParseResult } from '../domain/news';
import type { CliContext } from './context';
import { checkInputFile } from './input-file';
import { UsageError } from './temporal-client';

const USAGE = 'usage: storyloom articles import <file> [--format csv|jsonl|rss|atom] [--map field=column,...]';

/** Reads and parses a whole article file; any problem is a UsageError naming file, line and reason (nothing written). */
export async function readArticleFile(file: string, opts: { format?: string; map?: string }): Promise<ParseResult> {
  await checkInputFile(file, MAX_ARTICLE_FILE_BYTES);
  let map;
  try {
    map = parseFieldMap(opts.map);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  try {
    return parseArticles(await readFile(file), path.basename(file), { format: opts.format, map });
  } catch (err) {
    if (err instanceof ArticleImportError) throw new UsageError(`${file}${err.line !== undefined ? `:${err.line}` : ''}: ${err.reason} (nothing was imported)`);
    throw err;
  }
}

export function describeArticleImport(file: string, parsed: ParseResult, r: ArticleImportResult): string {
  // Articles of one file with the same identity (URL, else source id, else content) are one row: the last copy is stored.
  const repeated = parsed.articles.length - (r.created + r.updated + r.unchanged);
  const lines = [
    `Imported ${parsed.articles.length} article(s) from ${path.basename(file)} (${parsed.format}): ${r.created} new, ${r.updated} updated, ${r.unchanged} unchanged` +
      (repeated > 0 ? `; ${repeated} repeated an earlier one of the file (same URL, source id or content): the last copy kept` : ''),
  ];
  if (parsed.skipped.length) {
    lines.push(`Skipped ${parsed.skipped.length} without a parseable date: ${parsed.skipped.slice(0, 5).map((s) => `line ${s.line} (${s.reason})`).join(', ')}${parsed.skipped.length > 5 ? ', …' : ''}`);
  }
  return lines.join('\n');
}

export async function articlesCommand(ctx: CliContext, argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'import') throw new UsageError(USAGE);
  const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { format: { type: 'string' }, map: { type: 'string' } } });
  if (positionals.length !== 1) throw new UsageError(USAGE);
  const file = positionals[0];
  const parsed = await readArticleFile(file, values);
  const result = await new NewsRepository(await ctx.db()).importArticles(parsed.articles);
  console.log(describeArticleImport(file, parsed, result));
  return 0;
}
