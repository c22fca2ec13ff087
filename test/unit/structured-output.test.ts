/**
 * The response schemas storyloom sends for constrained decoding must be in the subset Anthropic's
 * structured outputs and OpenAI's strict mode accept (they answer 400 otherwise), while answers
 * are still checked against the full schema.
 */
import { anthropicMessageParams } from '../../src/llm/anthropic.provider';
import { openaiChatParams } from '../../src/llm/openai.provider';
import { structuredAnswerProblem } from '../../src/llm/json-schema';
import { strictSchemaProblem } from '../../src/llm/simulator/strict-schema';
import { CHARACTER_SHEET_SCHEMA } from '../../src/domain/ingestion/character-sheet';
import { STORY_SYNTHESIS_SCHEMA } from '../../src/domain/news/synthesis';
import type { ChatRequest } from '../../src/llm/types';

const schemas = {
  character_sheet: CHARACTER_SHEET_SCHEMA as unknown as Record<string, unknown>,
  story_synthesis: STORY_SYNTHESIS_SCHEMA as unknown as Record<string, unknown>,
};
const request = (name: string, schema: Record<string, unknown>): ChatRequest => ({
  model: 'm', maxTokens: 100, messages: [{ role: 'user', content: 'x' }], jsonSchema: { name, schema },
});

describe.each(Object.entries(schemas))('the %s schema', (name, schema) => {
  it('as written, uses keywords both providers refuse (so the check below can fail)', () => {
    expect(strictSchemaProblem(schema, 'anthropic')).toMatch(/^output_config\.format\.schema: For '\w+' type, property '(minLength|minimum)' is not supported$/);
    expect(strictSchemaProblem(schema, 'openai', name)).toMatch(new RegExp(`^Invalid schema for response_format '${name}': .*'minLength' is not permitted\\.$`));
  });

  it('is sent to Anthropic in the subset it accepts, the other constraints in the description', () => {
    const sent = anthropicMessageParams(request(name, schema)).output_config?.format?.schema as Record<string, unknown>;
    expect(strictSchemaProblem(sent, 'anthropic')).toBeUndefined();
    expect(JSON.stringify(sent)).toContain('{minLength: 1');
  });

  it('is sent to OpenAI in the subset strict mode accepts', () => {
    const format = openaiChatParams(request(name, schema)).response_format as { json_schema: { name: string; schema: Record<string, unknown>; strict: boolean } };
    expect(format.json_schema.strict).toBe(true);
    expect(strictSchemaProblem(format.json_schema.schema, 'openai', name)).toBeUndefined();
  });
});

it('answers are still checked against the full schema (a constraint moved into the description still holds)', () => {
  const sheet = { name: 'Ana', role: 'lead', traits: ['brave'], goals: ['win'], arc: 'grows', relationships: [], keyScenes: [0] };
  expect(structuredAnswerProblem(JSON.stringify(sheet), schemas.character_sheet)).toMatch(/keyScenes\[0\] must be >= 1/);
  expect(structuredAnswerProblem(JSON.stringify({ ...sheet, keyScenes: [1], name: '' }), schemas.character_sheet)).toMatch(/\$\.name must NOT have fewer than 1 characters/);
});

it('an answer that is not JSON is said to be so without quoting it (the text is the user\'s script or news)', () => {
  const prose = 'The keeper climbs the stairs and lights the lamp.';
  const broken = '{"name": "Ana", "role": "the keeper who';
  expect(structuredAnswerProblem(prose, schemas.character_sheet)).toBe(`not JSON (${prose.length} characters)`);
  expect(structuredAnswerProblem(broken, schemas.character_sheet)).toMatch(new RegExp(`^not JSON \\(it breaks off at character \\d+ of ${broken.length}\\)$`));
  for (const text of [prose, broken]) expect(structuredAnswerProblem(text, schemas.character_sheet)).not.toMatch(/keeper|Ana/);
});

it('the simulator refuses what the providers refuse, and accepts the rest', () => {
  const object = (properties: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ type: 'object', additionalProperties: false, required: Object.keys(properties), properties, ...extra });
  expect(strictSchemaProblem(object({ a: { type: 'string' } }), 'anthropic')).toBeUndefined();
  expect(strictSchemaProblem(object({ a: { type: 'array', items: { type: 'string' }, minItems: 1 } }), 'anthropic')).toBeUndefined();
  expect(strictSchemaProblem(object({ a: { type: 'array', items: { type: 'string' }, minItems: 2 } }), 'anthropic')).toMatch(/'minItems' values other than 0 or 1/);
  expect(strictSchemaProblem(object({ a: { type: 'integer', maximum: 3 } }), 'anthropic')).toMatch(/property 'maximum' is not supported/);
  expect(strictSchemaProblem({ type: 'object', properties: { a: { type: 'string' } }, required: ['a'] }, 'anthropic')).toMatch(/'additionalProperties' must be explicitly set to false/);
  // OpenAI's strict mode takes numeric bounds and item counts, but wants every property required.
  expect(strictSchemaProblem(object({ a: { type: 'integer', minimum: 1 }, b: { type: 'array', items: { type: 'string' }, maxItems: 3 } }), 'openai', 'n')).toBeUndefined();
  expect(strictSchemaProblem({ ...object({ a: { type: 'string' }, b: { type: 'string' } }), required: ['a'] }, 'openai', 'n')).toMatch(/Missing 'b'\.$/);
  expect(strictSchemaProblem(object({ a: object({ b: { type: 'string', maxLength: 3 } }) }), 'openai', 'n')).toBe(
    "Invalid schema for response_format 'n': In context=('properties', 'a', 'properties', 'b'), 'maxLength' is not permitted.",
  );
});
