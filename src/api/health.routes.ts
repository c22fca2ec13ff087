/** `GET /healthz` (the process answers) and `GET /readyz` (Temporal and Postgres answer). */
import type { ApiRoutes } from './routes';
import { withTimeout } from './with-timeout';

const READY_TIMEOUT_MS = 2_000;

const checkSchema = {
  type: 'object',
  properties: { ok: { type: 'boolean' }, error: { type: 'string' } },
} as const;

export const healthRoutes: ApiRoutes = async (app, { ctx }) => {
  app.get('/healthz', { schema: { summary: 'The process is up', tags: ['health'], response: { 200: { type: 'object', properties: { ok: { type: 'boolean' } } } } } }, async () => ({ ok: true }));

  app.get(
    '/readyz',
    {
      schema: {
        summary: 'Temporal and Postgres are reachable (503 naming what is not)',
        tags: ['health'],
        response: {
          '2xx': { type: 'object', properties: { ok: { type: 'boolean' }, checks: { type: 'object', properties: { temporal: checkSchema, postgres: checkSchema } } } },
          503: {
            type: 'object',
            properties: {
              error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } },
              checks: { type: 'object', properties: { temporal: checkSchema, postgres: checkSchema } },
            },
          },
        },
      },
    },
    async (_request, reply) => {
      const check = async (what: string, probe: () => Promise<unknown>) => {
        try {
          await withTimeout(probe(), READY_TIMEOUT_MS, what);
          return { ok: true };
        } catch (err) {
          // A short reason, never a stack or a connection string.
          const message = err instanceof Error ? err.message.split('\n')[0].slice(0, 200) : String(err);
          return { ok: false, error: message };
        }
      };
      const [temporal, postgres] = await Promise.all([
        check('Temporal', async () => (await ctx.client()).connection.workflowService.getSystemInfo({})),
        check('Postgres', async () => (await ctx.db()).query('SELECT 1')),
      ]);
      const checks = { temporal, postgres };
      const down = Object.entries(checks).filter(([, c]) => !c.ok).map(([name]) => (name === 'temporal' ? 'Temporal' : 'Postgres'));
      if (!down.length) return { ok: true, checks };
      return reply.code(503).send({ error: { code: 'not_ready', message: `Not reachable: ${down.join(' and ')}.` }, checks });
    },
  );
};
