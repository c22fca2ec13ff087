/** The character sheet's JSON schema and a validator for the subset of JSON Schema it uses. */

export interface CharacterSheet {
  name: string;
  role: string;
  traits: string[];
  goals: string[];
  arc: string;
  relationships: { character: string; relationship: string }[];
  keyScenes: number[];
}

export const CHARACTER_SHEET_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'role', 'traits', 'goals', 'arc', 'relationships', 'keyScenes'],
  properties: {
    name: { type: 'string', minLength: 1 },
    role: { type: 'string', minLength: 1 },
    traits: { type: 'array', items: { type: 'string' }, minItems: 1 },
    goals: { type: 'array', items: { type: 'string' }, minItems: 1 },
    arc: { type: 'string' },
    relationships: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['character', 'relationship'],
        properties: { character: { type: 'string' }, relationship: { type: 'string' } },
      },
    },
    keyScenes: { type: 'array', items: { type: 'integer', minimum: 1 } },
  },
} as const;

type Schema = {
  type?: string;
  required?: readonly string[];
  properties?: Record<string, Schema>;
  items?: Schema;
  minItems?: number;
  minLength?: number;
  minimum?: number;
  enum?: readonly unknown[];
  additionalProperties?: boolean;
};

/** Returns the problems found (empty when `value` satisfies `schema`), each with its JSON path. */
export function validateJson(value: unknown, schema: Schema, path = '$'): string[] {
  const problems: string[] = [];
  const kind = Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value;
  const expect = schema.type;
  if (expect === 'integer') {
    if (typeof value !== 'number' || !Number.isInteger(value)) return [`${path} must be an integer`];
  } else if (expect && expect !== kind) {
    return [`${path} must be ${expect === 'array' || expect === 'object' ? 'an' : 'a'} ${expect}, not ${kind}`];
  }
  if (schema.enum && !schema.enum.includes(value)) problems.push(`${path} must be one of ${schema.enum.join(', ')}`);
  if (typeof value === 'string' && schema.minLength !== undefined && value.length < schema.minLength) {
    problems.push(`${path} must not be empty`);
  }
  if (typeof value === 'number' && schema.minimum !== undefined && value < schema.minimum) {
    problems.push(`${path} must be ≥ ${schema.minimum}`);
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) problems.push(`${path} needs at least ${schema.minItems} item(s)`);
    if (schema.items) value.forEach((item, i) => problems.push(...validateJson(item, schema.items!, `${path}[${i}]`)));
  }
  if (kind === 'object') {
    const obj = value as Record<string, unknown>;
    for (const key of schema.required ?? []) if (!(key in obj)) problems.push(`${path}.${key} is missing`);
    for (const [key, v] of Object.entries(obj)) {
      const sub = schema.properties?.[key];
      if (sub) problems.push(...validateJson(v, sub, `${path}.${key}`));
      else if (schema.additionalProperties === false) problems.push(`${path}.${key} is not allowed`);
    }
  }
  return problems;
}

/** Parses and validates a model's sheet; throws with every problem listed. */
export function parseCharacterSheet(text: string): CharacterSheet {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(`the character sheet is not JSON: ${(err as Error).message}`);
  }
  const problems = validateJson(value, CHARACTER_SHEET_SCHEMA as Schema);
  if (problems.length) throw new Error(`the character sheet does not match its schema: ${problems.slice(0, 5).join('; ')}`);
  return value as CharacterSheet;
}
