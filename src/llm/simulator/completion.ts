/** What the fake model answers: extractive prose, or JSON when the request asks for structured output. */
import { sampleFromSchema } from './schema-sample';
import { composeText, estimateTokens, limitTokens, stripMarkup, words } from './text';

export type OutputFormat =
  | { kind: 'text' }
  | { kind: 'json-object' }
  | { kind: 'json-schema'; schema: unknown };

export interface Completion {
  text: string;
  /** max_tokens cut the answer (for JSON this leaves invalid JSON, as a real model would). */
  truncated: boolean;
  outputTokens: number;
}

/**
 * `source` is the last user message; the answer is a pure function of it, the format and
 * max_tokens. `wrongShape` makes a JSON answer that parses but breaks the schema (a text
 * request is answered as usual: it has no shape to break).
 */
export function complete(source: string, format: OutputFormat, maxTokens?: number, wrongShape = false): Completion {
  let result;
  if (format.kind === 'text') {
    result = composeText(source, maxTokens);
  } else if (wrongShape) {
    result = limitTokens(JSON.stringify(breakShape(format.kind === 'json-schema' ? sampleFromSchema(format.schema, { words: words(stripMarkup(source)) }) : {})), maxTokens);
  } else {
    const value =
      format.kind === 'json-schema'
        ? sampleFromSchema(format.schema, { words: words(stripMarkup(source)) })
        : { text: composeText(source).text };
    result = limitTokens(JSON.stringify(value), maxTokens);
  }
  return { ...result, outputTokens: estimateTokens(result.text) };
}

/**
 * A value of the wrong shape: an object's first property gets a value of another JSON type and
 * an unexpected property is added (breaking `type` and `additionalProperties: false`);
 * anything else becomes an object.
 */
function breakShape(valid: unknown): unknown {
  if (valid && typeof valid === 'object' && !Array.isArray(valid)) {
    const [first, ...rest] = Object.entries(valid as Record<string, unknown>);
    const wrongType = (v: unknown) => (typeof v === 'string' ? 12345 : `not a ${Array.isArray(v) ? 'array' : typeof v}`);
    return { ...(first ? { [first[0]]: wrongType(first[1]) } : {}), ...Object.fromEntries(rest), unexpected_field: 'simulated schema violation' };
  }
  return { unexpected_field: valid ?? null };
}
