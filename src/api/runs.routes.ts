/**
 * Any job's run, by workflow id: its state, a Server-Sent Events stream of its progress and final
 * result, steering (pause, resume, cancel, concurrency: each job's Updates of those names, for the
 * jobs that define them, src/api/run-kinds.ts) and its stored report. Everything comes from
 * Temporal and Postgres.
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import { OperationError } from '../operations/context';
import { jobStartTime } from '../operations/job-start';
import { setRunConcurrency, steerRun, type SteeringAction } from '../operations/steer-run';
import { storedReport } from '../operations/stored-report';
import { ApiError, errorSchema } from './errors';
import { runKind, steeringRefusal, type SteeringKind } from './run-kinds';
import { bearerSecurity, runUrlsSchema, workflowIdParams, type ApiRoutes } from './routes';
import { openSse } from './sse';

type Params = { workflowId: string };

const errors = { 400: errorSchema, 401: errorSchema, 404: errorSchema, 409: errorSchema, 503: errorSchema, 504: errorSchema };

const steeringStateSchema = { type: 'object', additionalProperties: true, description: "The run's steering state after the change: { paused, concurrency }" } as const;

/**
 * What pause, resume and concurrency answer, for every steerable job alike: the run, the action
 * (its path's last segment) and the run's new steering state.
 */
const steeringAnswerSchema = {
  type: 'object',
  properties: { workflowId: { type: 'string' }, action: { type: 'string', enum: ['pause', 'resume', 'concurrency'] }, state: steeringStateSchema },
} as const;

export const runRoutes: ApiRoutes = async (app, { ctx }) => {
  /** The run's description and progress (shared by the requests of the same moment); 404 when Temporal has no such workflow. */
  const snapshot = async (workflowId: string) => {
    try {
      return await ctx.watches.snapshot(workflowId);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new ApiError(404, 'not_found', `No workflow ${workflowId}.`);
      throw err;
    }
  };
  /** A fresh description (for steering, which must not act on a moment-old state). */
  const describe = async (workflowId: string) => {
    try {
      return await (await ctx.client()).workflow.getHandle(workflowId).describe();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new ApiError(404, 'not_found', `No workflow ${workflowId}.`);
      throw err;
    }
  };
  /**
   * A fresh description of a run that can take `action`: 409 for a job whose workflow defines no
   * such Update (rather than the run's "No registered handler"), or a run that is not running.
   */
  const steerable = async (workflowId: string, action: SteeringKind) => {
    const desc = await describe(workflowId);
    const refusal = steeringRefusal(runKind(workflowId, desc.type), action);
    if (refusal) throw new ApiError(409, 'not_supported', refusal);
    if (desc.status.name !== 'RUNNING') throw new OperationError('conflict', `Workflow ${workflowId} is not running (${desc.status.name}).`);
    return desc;
  };

  app.get<{ Params: Params }>(
    '/api/runs/:workflowId',
    {
      schema: {
        summary: "A run's status and its progress query's answer (the result or error once closed)",
        tags: ['runs'],
        security: bearerSecurity,
        params: workflowIdParams,
        response: {
          200: {
            type: 'object',
            properties: {
              workflowId: { type: 'string' },
              runId: { type: 'string', description: 'The latest run (a job that continued as new has several)' },
              type: { type: 'string' },
              status: { type: 'string' },
              startTime: { type: 'string', description: "When the job started: its first run's start, for a job that continued as new too" },
              closeTime: { type: ['string', 'null'] },
              historyLength: { type: 'integer' },
              progress: { type: ['object', 'null'], additionalProperties: true },
              progressError: { type: 'string', description: 'Why progress is null: e.g. "no worker answered within 5 s" (the query waits that long for a worker)' },
              result: {},
              error: { type: 'object', properties: { type: { type: 'string' }, message: { type: 'string' } } },
              webUi: { type: 'string' },
              urls: runUrlsSchema,
            },
          },
          ...errors,
        },
      },
    },
    async (request) => {
      const { workflowId } = request.params;
      const { desc, progress, progressError, final } = await snapshot(workflowId);
      const status = desc.status.name;
      const startTime = await jobStartTime(await ctx.client(), desc);
      return {
        workflowId,
        runId: desc.runId,
        type: desc.type,
        status,
        startTime: startTime.toISOString(),
        closeTime: desc.closeTime?.toISOString() ?? null,
        historyLength: desc.historyLength,
        progress,
        ...(progressError ? { progressError } : {}),
        ...(final ? { result: final.result, error: final.error } : {}),
        webUi: ctx.webUi(workflowId, desc.runId),
        urls: ctx.runUrls(workflowId, desc.type),
      };
    },
  );

  app.get<{ Params: Params }>(
    '/api/runs/:workflowId/events',
    {
      schema: {
        summary:
          'Server-Sent Events: `progress` on every change, then one `final` (result or error); send Last-Event-ID to continue ' +
          "(204 No Content when it is the run's final event: the client has everything)",
        tags: ['runs'],
        security: bearerSecurity,
        params: workflowIdParams,
        produces: ['text/event-stream'],
        response: { 200: { type: 'string', description: 'text/event-stream' }, 204: { type: 'null', description: "Last-Event-ID is the run's final event: nothing more will come" }, ...errors },
      },
    },
    async (request, reply) => {
      const { workflowId } = request.params;
      await snapshot(workflowId);
      const lastEventId = request.headers['last-event-id'];
      const sse = openSse(request, reply);
      const unsubscribe = ctx.watches.watch(workflowId, (event) => {
        // A reconnecting client already has this state: send only what is newer (the final
        // event it has already is a 204, openSse).
        if (event.type === 'progress' && event.id === lastEventId) return;
        sse.send({ id: event.id, event: event.type, data: event.data });
        if (event.type === 'final') sse.close();
      });
      sse.onClose(unsubscribe);
    },
  );

  for (const action of ['pause', 'resume', 'cancel'] as const satisfies readonly SteeringAction[]) {
    app.post<{ Params: Params }>(
      `/api/runs/:workflowId/${action}`,
      {
        schema: {
          summary:
            action === 'cancel'
              ? 'Cancel the run (calls in flight are aborted; what was written stays)'
              : `${action === 'pause' ? 'Pause' : 'Resume'} the run (its \`${action}\` Update; answers the run's new steering state)`,
          tags: ['runs'],
          security: bearerSecurity,
          params: workflowIdParams,
          response: { 200: steeringAnswerSchema, 202: { type: 'object', properties: { workflowId: { type: 'string' }, action: { type: 'string', enum: ['cancel'] } } }, ...errors },
        },
      },
      async (request, reply) => {
        const { workflowId } = request.params;
        if (action === 'cancel') {
          const desc = await describe(workflowId);
          if (desc.status.name !== 'RUNNING') throw new OperationError('conflict', `Workflow ${workflowId} is not running (${desc.status.name}).`);
        } else {
          await steerable(workflowId, action);
        }
        const client = await ctx.client();
        const state = await steerRun(client, client.workflow.getHandle(workflowId), action).finally(() => ctx.watches.invalidate(workflowId));
        if (action === 'cancel') return reply.code(202).send({ workflowId, action });
        return { workflowId, action, state };
      },
    );
  }

  app.patch<{ Params: Params; Body: Record<string, number> }>(
    '/api/runs/:workflowId/concurrency',
    {
      schema: {
        summary: "Change the run's calls in flight (its `setConcurrency` Update validates the keys and values)",
        tags: ['runs'],
        security: bearerSecurity,
        params: workflowIdParams,
        body: {
          type: 'object',
          minProperties: 1,
          maxProperties: 10,
          additionalProperties: { type: 'integer', minimum: 1, maximum: 1000 },
          description: 'e.g. { "summaries": 20, "sheets": 5 } for an ingestion',
        },
        response: { 200: steeringAnswerSchema, ...errors },
      },
    },
    async (request) => {
      const { workflowId } = request.params;
      await steerable(workflowId, 'concurrency');
      const client = await ctx.client();
      const state = await setRunConcurrency(client, client.workflow.getHandle(workflowId), request.body).finally(() => ctx.watches.invalidate(workflowId));
      return { workflowId, action: 'concurrency', state };
    },
  );

  app.get<{ Params: Params }>(
    '/api/runs/:workflowId/report',
    {
      schema: {
        summary: "A finished run's report (calls, tokens, cost, timings, database work)",
        tags: ['runs'],
        security: bearerSecurity,
        params: workflowIdParams,
        response: { 200: { type: 'object', additionalProperties: true }, ...errors },
      },
    },
    async (request) => {
      const { workflowId } = request.params;
      const report = await storedReport(ctx, { workflowId });
      if (report) return report;
      // None stored: say why, so a client can tell "wait" (409) from "there is none" (404).
      const desc = await describe(workflowId);
      const kind = runKind(workflowId, desc.type);
      if (kind && !kind.report) throw new ApiError(409, 'not_supported', `${kind.plural} store no report: ${kind.type} runs have none.`);
      if (desc.status.name === 'RUNNING') throw new ApiError(409, 'conflict', `Workflow ${workflowId} is running: its report is stored when it ends.`);
      throw new ApiError(404, 'not_found', `No report for ${workflowId}: the run (${desc.status.name}) stored none.`);
    },
  );
};
