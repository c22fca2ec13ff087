/**
 * CSV (RFC 4180: quoted fields, doubled quotes, newlines inside quotes, CRLF or LF) through
 * csv-parse. Columns are found by header name (FIELD_ALIASES) or named with `--map`.
 */
import { CsvError, parse } from 'csv-parse/sync';
import { ArticleImportError, collectArticles, resolveColumns, type ArticleField, type FieldValues, type ParseResult } from './articles';

interface Row {
  record: Record<string, string>;
  info: { lines: number };
}

export function parseCsvArticles(text: string, file: string, map: Partial<Record<ArticleField, string>> = {}): ParseResult {
  let rows: Row[];
  let header: string[] = [];
  try {
    rows = parse(text, {
      bom: true,
      columns: (names: string[]) => {
        header = names;
        return names;
      },
      info: true,
      skip_empty_lines: true,
      relax_quotes: false,
      relax_column_count: false,
    }) as unknown as Row[];
  } catch (err) {
    if (err instanceof CsvError) {
      const line = (err as CsvError & { lines?: number }).lines;
      throw new ArticleImportError(file, line, `invalid CSV: ${err.message.replace(/^Invalid [^:]*: /, '').replace(/ at line \d+$/, '')}`);
    }
    throw err;
  }
  if (!header.length) throw new ArticleImportError(file, 1, 'no header row');
  const columns = resolveColumns(header, map);
  for (const [field, wanted] of Object.entries(map)) {
    if (!columns[field as ArticleField]) throw new ArticleImportError(file, 1, `--map ${field}=${wanted}: no column "${wanted}" (columns: ${header.join(', ')})`);
  }
  if (!columns.title) {
    throw new ArticleImportError(file, 1, `no title column (looked for ${['title', 'headline'].join(', ')}; columns: ${header.join(', ')}); name it with --map title=<column>`);
  }
  if (!columns.published) {
    throw new ArticleImportError(file, 1, `no date column (columns: ${header.join(', ')}); name it with --map published=<column>`);
  }
  let previousEnd = 1;
  const records = rows.map(({ record, info }) => {
    const values: FieldValues = {};
    for (const [field, column] of Object.entries(columns)) values[field as ArticleField] = record[column];
    const line = previousEnd + 1;
    previousEnd = info.lines;
    return { line, values };
  });
  return collectArticles(file, 'csv', records);
}
