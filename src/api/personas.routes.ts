/**
 * Personas: `GET /api/personas/contexts?names=a,b`, the seed's batch endpoint. Every context in
 * one statement through the loader the screenplay run uses (`WHERE name = ANY($1)`); unknown
 * names answer 404 with the closest existing ones, as the run's refusal says them.
 */
import { ScreenplayRepository } from '../db/repositories/screenplay.repository';
import { UnknownPersonasError } from '../domain/generation/personas';
import { OperationError } from '../operations/context';
import { MAX_PERSONAS } from '../operations/start-screenplay';
import { errorSchema } from './errors';
import { bearerSecurity, type ApiRoutes } from './routes';

const personaSchema = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    description: { type: 'string' },
    context: { type: 'string' },
    voiceNotes: { type: 'array', items: { type: 'string' } },
  },
} as const;

/** The 404 for unknown names: each with the closest existing names. */
export const unknownPersonasSchema = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: {
        code: { type: 'string' },
        message: { type: 'string' },
        unknown: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, closest: { type: 'array', items: { type: 'string' } } } } },
      },
    },
  },
} as const;

/**
 * `a, b,,` → ["a", "b"]: trimmed, empty ones (a trailing comma) left out, in the order asked. A
 * name given twice (" a" and "a" too) is refused, as `POST /api/screenplays/generate` and
 * `storyloom generate` refuse a persona named twice, rather than answered once.
 */
export function personaNamesOf(raw: string): string[] {
  const names = raw.split(',').map((n) => n.trim()).filter(Boolean);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined) throw new OperationError('bad_request', `querystring.names: "${twice}" is named twice`);
  return names;
}

export const personasRoutes: ApiRoutes = async (app, { ctx }) => {
  app.get<{ Querystring: { names: string } }>(
    '/api/personas/contexts',
    {
      schema: {
        summary: 'Persona contexts by name, in one query (`names` comma-separated; 404 with the closest names for unknown ones; 400 for a name given twice)',
        tags: ['personas'],
        security: bearerSecurity,
        querystring: {
          type: 'object',
          additionalProperties: false,
          required: ['names'],
          properties: { names: { type: 'string', minLength: 1, maxLength: 4000, description: `Up to ${MAX_PERSONAS} names, comma-separated` } },
        },
        response: { 200: { type: 'object', properties: { personas: { type: 'array', items: personaSchema } } }, 400: errorSchema, 401: errorSchema, 404: unknownPersonasSchema },
      },
    },
    async (request, reply) => {
      const names = personaNamesOf(request.query.names);
      if (!names.length) throw new OperationError('bad_request', 'querystring.names lists no name');
      if (names.length > MAX_PERSONAS) throw new OperationError('bad_request', `querystring.names lists ${names.length} names; at most ${MAX_PERSONAS}`);
      try {
        const personas = await new ScreenplayRepository(await ctx.db()).loadPersonas(names);
        return { personas: personas.map((p) => ({ name: p.name, ...p.config })) };
      } catch (err) {
        if (!(err instanceof UnknownPersonasError)) throw err;
        return reply.code(404).send({ error: { code: 'not_found', message: err.message, unknown: err.unknown } });
      }
    },
  );
};
