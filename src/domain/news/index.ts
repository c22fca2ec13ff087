/** Article importers: CSV, JSON Lines, RSS 2.0 and Atom, chosen by `--format` or the file. */
import path from 'node:path';
import { ArticleImportError, ARTICLE_FORMATS, type ArticleField, type ArticleFormat, type ParseResult } from './articles';
import { parseCsvArticles } from './csv';
import { isFeed, parseFeedArticles } from './feed';
import { parseJsonlArticles } from './jsonl';
import { storableTextProblem } from '../../shared/storable-text';

export * from './articles';

/** Largest article file accepted (read whole into memory). */
export const MAX_ARTICLE_FILE_BYTES = 100 * 1024 * 1024;

/** `--format` when given; else by extension (.csv, .jsonl/.ndjson, .xml/.rss/.atom); else by content. */
export function detectFormat(bytes: Buffer, fileName: string, format?: string): ArticleFormat | 'feed' {
  if (format) {
    if (format === 'feed' || (ARTICLE_FORMATS as readonly string[]).includes(format)) return format as ArticleFormat | 'feed';
    throw new ArticleImportError(fileName, undefined, `unknown format "${format}" (formats: csv, jsonl, rss, atom)`);
  }
  const ext = path.extname(fileName).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  if (['.xml', '.rss', '.atom'].includes(ext)) return 'feed';
  const head = bytes.subarray(0, 2000).toString('utf8').replace(/^\uFEFF/, '').trimStart();
  if (head.startsWith('<')) return 'feed';
  if (head.startsWith('{')) return 'jsonl';
  return 'csv';
}

/** Parses a whole file; throws ArticleImportError (file, line, reason) when any of it is malformed. */
export function parseArticles(bytes: Buffer, fileName: string, opts: { format?: string; map?: Partial<Record<ArticleField, string>> } = {}): ParseResult {
  const format = detectFormat(bytes, fileName, opts.format);
  const text = bytes.toString('utf8');
  // Invalid bytes, not a U+FFFD the file holds as text (a scraped article may): a strict decode says which.
  if (text.includes('\uFFFD') && !isValidUtf8(bytes)) {
    const line = bytes.subarray(0, firstInvalidUtf8Byte(bytes)).toString('utf8').split('\n').length;
    throw new ArticleImportError(fileName, line, 'the file is not valid UTF-8');
  }
  // Postgres cannot store U+0000 in text: refused here, with its line, not by the import's write.
  if (text.includes('\u0000')) {
    const line = text.slice(0, text.indexOf('\u0000')).split('\n').length;
    throw new ArticleImportError(fileName, line, 'the file holds a NUL character (U+0000), which cannot be stored');
  }
  const parsed = parseText(text, format, fileName, opts.map);
  // A JSON `\u0000` or `\ud800` escape becomes a NUL or a lone surrogate only once parsed (a topic
  // stored as U+FFFD could not be asked for again).
  for (const [i, a] of parsed.articles.entries()) {
    const problem = [a.url, a.sourceId, a.title, a.body, a.topic].map((v) => (v ? storableTextProblem(v) : undefined)).find(Boolean);
    if (problem) throw new ArticleImportError(fileName, undefined, `article ${i + 1} ${problem}`);
  }
  return parsed;
}

function parseText(text: string, format: ArticleFormat | 'feed', fileName: string, map: Partial<Record<ArticleField, string>> | undefined): ParseResult {
  if (format === 'csv') return parseCsvArticles(text, fileName, map);
  if (format === 'jsonl') return parseJsonlArticles(text, fileName, map);
  if (map && Object.keys(map).length) throw new ArticleImportError(fileName, undefined, '--map applies to CSV and JSON Lines only');
  const kind = isFeed(text.replace(/^\uFEFF/, ''));
  if (format !== 'feed' && kind && kind !== format) throw new ArticleImportError(fileName, undefined, `--format ${format}, but the file is ${kind === 'rss' ? 'an RSS' : 'an Atom'} feed`);
  return parseFeedArticles(text, fileName);
}

function isValidUtf8(bytes: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** The offset of the first byte that makes `bytes` invalid UTF-8 (found by halving: a strict decode of each prefix). */
function firstInvalidUtf8Byte(bytes: Buffer): number {
  let valid = 0;
  let invalid = bytes.length;
  // The longest valid prefix, allowing a character cut at the end (stream: true keeps it pending).
  while (invalid - valid > 1) {
    const mid = (valid + invalid) >> 1;
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, mid), { stream: true });
      valid = mid;
    } catch {
      invalid = mid;
    }
  }
  return valid;
}
