/**
 * News articles as the importers produce them, their identity and content hash, and the field
 * names each format's columns or keys may carry. Uses node:crypto: activity- and CLI-side only.
 */
import { createHash } from 'node:crypto';

/** One article, parsed and validated, before it is stored. */
export interface ParsedArticle {
  /** The article's URL when the source has one (the identity of the row when present). */
  url: string | null;
  /** The source's own id (a feed's guid, a CSV id column). */
  sourceId: string | null;
  title: string;
  /** Body text, or the summary when the source has no body. */
  body: string;
  /** Topic or category, when the source gives one. */
  topic: string | null;
  publishedAt: Date;
  sourceName: string | null;
}

/** The fields an article has; `--map field=column` names a column for one of them. */
export const ARTICLE_FIELDS = ['url', 'id', 'title', 'body', 'topic', 'published', 'source'] as const;
export type ArticleField = (typeof ARTICLE_FIELDS)[number];

/** Column / key names recognised for each field (compared case-insensitively, first present wins). */
export const FIELD_ALIASES: Record<ArticleField, string[]> = {
  url: ['url', 'link', 'href'],
  id: ['id', 'source_id', 'guid', 'article_id'],
  title: ['title', 'headline'],
  body: ['body', 'text', 'content', 'summary', 'description'],
  topic: ['topic', 'category', 'section'],
  published: ['published', 'published_at', 'publishedat', 'date', 'pubdate', 'datetime', 'time', 'timestamp'],
  source: ['source', 'source_name', 'publisher', 'site'],
};

/**
 * At most this share of an import's articles may have an unparseable (or missing) date: those
 * rows are skipped and listed. Past it the file is refused whole (a wrong date column, most likely).
 */
export const MAX_UNPARSEABLE_DATE_SHARE = 0.05;

/** Why a file was refused: the file, the 1-based line the problem is on (when known), and the reason. */
export class ArticleImportError extends Error {
  override name = 'ArticleImportError';
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    readonly reason: string,
  ) {
    super(`${file}${line !== undefined ? `:${line}` : ''}: ${reason}`);
  }
}

/** An article left out of an otherwise valid import (an unparseable date within the allowed share). */
export interface SkippedArticle {
  line: number;
  reason: string;
}

export interface ParseResult {
  format: ArticleFormat;
  articles: ParsedArticle[];
  skipped: SkippedArticle[];
}

export const ARTICLE_FORMATS = ['csv', 'jsonl', 'rss', 'atom'] as const;
export type ArticleFormat = (typeof ARTICLE_FORMATS)[number];

/** sha256 of what an article says: a changed title, body, topic or date changes it. */
export function articleContentHash(a: Pick<ParsedArticle, 'title' | 'body' | 'topic' | 'publishedAt'>): string {
  return createHash('sha256')
    .update(JSON.stringify([a.title, a.body, a.topic ?? '', a.publishedAt.toISOString()]), 'utf8')
    .digest('hex');
}

/**
 * The row an article updates on re-import: its URL; else the source's id (with the source's
 * name); else its content hash (so an article without either is new whenever it changes).
 */
export function articleKey(a: ParsedArticle): string {
  if (a.url) return a.url;
  if (a.sourceId) return `id:${a.sourceName ?? ''}:${a.sourceId}`;
  return `sha256:${articleContentHash(a)}`;
}

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

/**
 * ISO 8601 (a date alone is midnight UTC), RFC 822 / 1123 as feeds write them, or Unix seconds
 * or milliseconds. Undefined when the text is none of those.
 */
export function parseArticleDate(raw: unknown): Date | undefined {
  if (typeof raw === 'number' && Number.isFinite(raw)) {
    // A number past a Date's range (±8.64e15 ms) is no date: skipped or refused as unparseable, never an Invalid Date.
    const date = new Date(raw < 1e11 ? raw * 1000 : raw);
    return Number.isNaN(date.getTime()) ? undefined : date;
  }
  if (typeof raw !== 'string') return undefined;
  const text = raw.trim();
  if (!text) return undefined;
  if (/^\d{9,13}$/.test(text)) return parseArticleDate(Number(text));
  const ms = Date.parse(DATE_ONLY.test(text) ? `${text}T00:00:00Z` : text);
  if (!Number.isFinite(ms)) return undefined;
  // Date.parse reads "1" or "March" as some year; a date needs a 4-digit year somewhere.
  if (!/\d{4}/.test(text)) return undefined;
  return new Date(ms);
}

/** Text with whitespace runs folded and trimmed (titles, topics, names). */
export function oneLine(value: unknown): string {
  return typeof value === 'string' ? value.replace(/\s+/g, ' ').trim() : typeof value === 'number' ? String(value) : '';
}

/** Body text: line endings normalised, outer blank space trimmed, paragraphs kept. */
export function bodyText(value: unknown): string {
  return typeof value === 'string' ? value.replace(/\r\n?/g, '\n').replace(/[ \t]+\n/g, '\n').trim() : '';
}

/** Parses `--map title=headline,body=text` into field → column; throws on an unknown field. */
export function parseFieldMap(raw: string | undefined): Partial<Record<ArticleField, string>> {
  const map: Partial<Record<ArticleField, string>> = {};
  if (!raw) return map;
  for (const pair of raw.split(',')) {
    const [field, column] = pair.split('=').map((s) => s.trim());
    if (!field || !column) throw new Error(`--map takes field=column pairs separated by commas; got "${pair}"`);
    if (!(ARTICLE_FIELDS as readonly string[]).includes(field)) {
      throw new Error(`--map: unknown field "${field}" (fields: ${ARTICLE_FIELDS.join(', ')})`);
    }
    map[field as ArticleField] = column;
  }
  return map;
}

/** Which of `names` (column headers or keys) holds each field, honouring the map first. */
export function resolveColumns(names: string[], map: Partial<Record<ArticleField, string>>): Partial<Record<ArticleField, string>> {
  const byLower = new Map(names.map((n) => [n.trim().toLowerCase(), n]));
  const out: Partial<Record<ArticleField, string>> = {};
  for (const field of ARTICLE_FIELDS) {
    const wanted = map[field];
    if (wanted !== undefined) {
      const found = byLower.get(wanted.trim().toLowerCase());
      if (found !== undefined) out[field] = found;
      continue;
    }
    for (const alias of FIELD_ALIASES[field]) {
      const found = byLower.get(alias);
      if (found !== undefined) {
        out[field] = found;
        break;
      }
    }
  }
  return out;
}

/** A record's values for each field, as text. */
export type FieldValues = Partial<Record<ArticleField, unknown>>;

/**
 * Turns one record's fields into an article, or says why it cannot be one. A missing title is
 * a malformed record; a bad date is reported separately (`dateProblem`) so the caller can
 * apply the allowed share.
 */
export function articleFrom(values: FieldValues, defaults: { sourceName?: string | null } = {}):
  | { article: ParsedArticle }
  | { error: string }
  | { dateProblem: string } {
  const title = oneLine(values.title);
  if (!title) return { error: 'the article has no title' };
  const publishedAt = parseArticleDate(values.published);
  if (!publishedAt) {
    const raw = oneLine(values.published);
    return { dateProblem: raw ? `unparseable date "${raw.slice(0, 40)}"` : 'no date' };
  }
  const url = oneLine(values.url) || null;
  return {
    article: {
      url,
      sourceId: oneLine(values.id) || null,
      title,
      body: bodyText(values.body),
      topic: oneLine(values.topic) || null,
      publishedAt,
      sourceName: oneLine(values.source) || defaults.sourceName || sourceNameFromUrl(url),
    },
  };
}

function sourceNameFromUrl(url: string | null): string | null {
  if (!url) return null;
  try {
    return new URL(url).hostname.replace(/^www\./, '') || null;
  } catch {
    return null;
  }
}

/**
 * Collects records into a result: the first malformed record refuses the file; dateless records
 * are skipped unless they exceed MAX_UNPARSEABLE_DATE_SHARE of the records.
 */
export function collectArticles(
  file: string,
  format: ArticleFormat,
  records: { line: number; values: FieldValues }[],
  defaults: { sourceName?: string | null } = {},
): ParseResult {
  const articles: ParsedArticle[] = [];
  const skipped: SkippedArticle[] = [];
  for (const r of records) {
    const made = articleFrom(r.values, defaults);
    if ('error' in made) throw new ArticleImportError(file, r.line, made.error);
    if ('dateProblem' in made) skipped.push({ line: r.line, reason: made.dateProblem });
    else articles.push(made.article);
  }
  if (!records.length) throw new ArticleImportError(file, undefined, 'no articles in the file');
  const share = skipped.length / records.length;
  if (skipped.length && share > MAX_UNPARSEABLE_DATE_SHARE) {
    throw new ArticleImportError(
      file,
      skipped[0].line,
      `${skipped.length} of ${records.length} articles (${(share * 100).toFixed(1)}%) have no parseable date, more than the ${MAX_UNPARSEABLE_DATE_SHARE * 100}% allowed ` +
        `(first: ${skipped[0].reason}); name the date column with --map published=<column>`,
    );
  }
  return { format, articles, skipped };
}
