/**
 * The JSON schema a provider is sent for constrained decoding. Anthropic's structured outputs and
 * OpenAI's strict mode accept a subset of JSON Schema only (no string lengths or numeric bounds,
 * `minItems` of 0 or 1, `additionalProperties: false` on every object) and answer 400 to the
 * rest. The Anthropic SDK's own transform keeps that subset and moves every other constraint into
 * the description, where the model reads it. The full schema is still checked on every answer
 * (json-schema.ts), so an answer that breaks a moved constraint is an invalid output, never stored.
 */
import { transformJSONSchema } from '@anthropic-ai/sdk/lib/transform-json-schema';

const sent = new WeakMap<object, Record<string, unknown>>();

/** `schema` in the subset both providers' strict structured outputs accept (computed once per schema). */
export function strictOutputSchema(schema: Record<string, unknown>): Record<string, unknown> {
  let strict = sent.get(schema);
  if (!strict) {
    strict = transformJSONSchema(schema);
    sent.set(schema, strict);
  }
  return strict;
}
