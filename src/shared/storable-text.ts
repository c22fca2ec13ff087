/**
 * Text Postgres cannot keep as given: it stores no U+0000 in text or JSONB, and stores a lone
 * UTF-16 surrogate (JSON can carry one: `"\ud800"`) as U+FFFD, so a name holding one could never
 * be named again. User input holding either is refused where it enters (the API, the CLI's files).
 */

/** A lone UTF-16 surrogate: a high one not followed by a low one, or a low one not after a high one. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Why `text` cannot be stored as given (`holds a NUL character …`), or undefined when it can. */
export function storableTextProblem(text: string): string | undefined {
  if (text.includes('\u0000')) return 'holds a NUL character (U+0000), which cannot be stored';
  if (LONE_SURROGATE.test(text)) return 'holds an unpaired UTF-16 surrogate, which is not text (it would be stored as U+FFFD)';
  return undefined;
}
