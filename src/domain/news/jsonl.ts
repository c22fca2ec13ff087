/** JSON Lines: one JSON object per line (blank lines ignored), keys found like CSV columns. */
import { ArticleImportError, collectArticles, resolveColumns, type ArticleField, type FieldValues, type ParseResult } from './articles';

export function parseJsonlArticles(text: string, file: string, map: Partial<Record<ArticleField, string>> = {}): ParseResult {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const records: { line: number; values: FieldValues }[] = [];
  lines.forEach((raw, i) => {
    if (!raw.trim()) return;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (err) {
      throw new ArticleImportError(file, i + 1, `invalid JSON: ${(err as Error).message}`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new ArticleImportError(file, i + 1, 'each line must be a JSON object (one article)');
    }
    const obj = value as Record<string, unknown>;
    const columns = resolveColumns(Object.keys(obj), map);
    const values: FieldValues = {};
    for (const [field, key] of Object.entries(columns)) values[field as ArticleField] = obj[key];
    records.push({ line: i + 1, values });
  });
  return collectArticles(file, 'jsonl', records);
}
