/** The tools a story session offers the model: descriptions and JSON schemas (what the model sees). */
import type { ToolSpec } from '../../llm/types';
import type { ToolName } from '../../shared/sessions';

const object = (properties: Record<string, unknown>, required: string[] = []) => ({ type: 'object', properties, required, additionalProperties: false });
const text = (description: string, maxLength = 2000) => ({ type: 'string', minLength: 1, maxLength, description });
const limit = { type: 'integer', minimum: 1, maximum: 20, description: 'How many results (default 5).' };

export const SESSION_TOOLS: Record<ToolName, ToolSpec> = {
  read_state: {
    name: 'read_state',
    description: 'Read the world state (all of it, or only the given top-level keys).',
    inputSchema: object({ keys: { type: 'array', items: { type: 'string' }, maxItems: 50 } }),
  },
  search_memories: {
    name: 'search_memories',
    description: 'Find the memories closest in meaning to a query (cosine similarity of embeddings).',
    inputSchema: object({ query: text('What to look for.', 500), limit }, ['query']),
  },
  query_relationships: {
    name: 'query_relationships',
    description: 'How characters relate to each other (all, or those of one character).',
    inputSchema: object({ character: { type: 'string', maxLength: 200 } }),
  },
  semantic_search: {
    name: 'semantic_search',
    description: "Search memories and, when the session is tied to a script, the script's scenes, by meaning.",
    inputSchema: object({ query: text('What to look for.', 500), limit }, ['query']),
  },
  stateful_read: {
    name: 'stateful_read',
    description: 'Read one value of the world state by a dotted path (e.g. "places.lighthouse.lamp"), or a character by name.',
    inputSchema: object({ path: { type: 'string', maxLength: 200 }, character: { type: 'string', maxLength: 200 } }),
  },
  add_memory: {
    name: 'add_memory',
    description: 'Remember something that happened or was learned.',
    inputSchema: object({ text: text('The memory.') }, ['text']),
  },
  update_state: {
    name: 'update_state',
    description: 'Merge changes into the world state (top-level keys replaced by the given values).',
    inputSchema: object({ changes: { type: 'object', description: 'Keys and their new values.' } }, ['changes']),
  },
  update_world: {
    name: 'update_world',
    description: 'Set one value of the world state at a dotted path (e.g. "places.lighthouse.lamp" = "lit").',
    inputSchema: object({ path: text('Dotted path.', 200), value: { description: 'Any JSON value.' } }, ['path', 'value']),
  },
  create_character: {
    name: 'create_character',
    description: 'Add a character to the world (or update one with the same name), with relationships.',
    inputSchema: object(
      {
        name: text('Name.', 200),
        description: { type: 'string', maxLength: 2000 },
        traits: { type: 'array', items: { type: 'string' }, maxItems: 20 },
        relationships: {
          type: 'array',
          maxItems: 20,
          items: object({ character: text('The other character.', 200), kind: text('e.g. "sister", "rival".', 200) }, ['character', 'kind']),
        },
      },
      ['name'],
    ),
  },
  batch_memory: {
    name: 'batch_memory',
    description: 'Remember several things at once.',
    inputSchema: object({ texts: { type: 'array', items: text('A memory.'), minItems: 1, maxItems: 20 } }, ['texts']),
  },
};

export const SESSION_TOOL_SPECS: ToolSpec[] = Object.values(SESSION_TOOLS);
