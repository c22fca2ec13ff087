/** The shape of a routes file: one Fastify plugin per job, given the API's shared context. */
import type { FastifyPluginAsync } from 'fastify';
import type { ApiContext } from './context';

export type ApiRoutes = FastifyPluginAsync<{ ctx: ApiContext }>;

/** Common pieces of route schemas. */
export const workflowIdParams = {
  type: 'object',
  required: ['workflowId'],
  properties: { workflowId: { type: 'string', minLength: 1, maxLength: 400 } },
} as const;

export const scriptIdParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: 100 } },
} as const;

/** Links to one run, as ApiContext.runUrls makes them. */
export const runUrlsSchema = {
  type: 'object',
  properties: Object.fromEntries(['status', 'events', 'pause', 'resume', 'cancel', 'concurrency', 'report'].map((k) => [k, { type: 'string' }])),
} as const;

export const bearerSecurity = [{ bearerAuth: [] }];
