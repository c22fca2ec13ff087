/**
 * Postgres refuses U+0000 in `text` and `jsonb`: a model answer holding one failed every write of
 * it after the call was paid, and each retry paid again (a screenplay 8 times, an ingestion lost
 * its other summaries with it). Answers, their streamed pieces and their tool calls' arguments are
 * kept without it; nothing a model means is carried by a NUL.
 */
const NUL = /\u0000/g;

export function textWithoutNul(text: string): string {
  return text.includes('\u0000') ? text.replace(NUL, '') : text;
}

/** A JSON-like value with NUL taken out of every string, keys included (the value itself when it has none). */
export function withoutNul<T>(value: T): T {
  if (typeof value === 'string') return textWithoutNul(value) as T;
  if (Array.isArray(value)) {
    let changed = false;
    const out = value.map((v) => {
      const w = withoutNul(v);
      changed ||= w !== v;
      return w;
    });
    return (changed ? out : value) as T;
  }
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    let changed = false;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const key = textWithoutNul(k);
      const w = withoutNul(v);
      changed ||= key !== k || w !== v;
      Object.defineProperty(out, key, { value: w, enumerable: true, writable: true, configurable: true });
    }
    return (changed ? out : value) as T;
  }
  return value;
}
