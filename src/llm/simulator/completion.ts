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

/** `source` is the last user message; the answer is a pure function of it, the format and max_tokens. */
export function complete(source: string, format: OutputFormat, maxTokens?: number): Completion {
  let result;
  if (format.kind === 'text') {
    result = composeText(source, maxTokens);
  } else {
    const value =
      format.kind === 'json-schema'
        ? sampleFromSchema(format.schema, { words: words(stripMarkup(source)) })
        : { text: composeText(source).text };
    result = limitTokens(JSON.stringify(value), maxTokens);
  }
  return { ...result, outputTokens: estimateTokens(result.text) };
}
