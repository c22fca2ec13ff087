/** The character sheet's JSON schema, and its parser (validated by ajv, like every structured answer). */
import { structuredAnswerProblem } from '../../llm/json-schema';

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

/** Parses and validates a model's sheet; throws with every problem listed. */
export function parseCharacterSheet(text: string): CharacterSheet {
  const problem = structuredAnswerProblem(text, CHARACTER_SHEET_SCHEMA);
  if (problem) throw new Error(`the character sheet ${problem}`);
  return JSON.parse(text) as CharacterSheet;
}
