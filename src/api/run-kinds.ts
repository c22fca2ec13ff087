/**
 * What each job's workflow answers, for the links the API hands out and the steering it forwards.
 * From the handlers each workflow sets (src/workflows/*.ts):
 *
 * | workflow type      | id prefix     | progress query | pause, resume, setConcurrency Updates | report |
 * |--------------------|---------------|----------------|---------------------------------------|--------|
 * | ingestScript       | `ingest-`     | yes            | yes                                   | yes    |
 * | generateStories    | `stories-`    | yes            | yes                                   | yes    |
 * | generateScreenplay | `screenplay-` | yes            | no                                    | yes    |
 * | storySession       | `session-`    | yes            | no (its Updates are takeTurn and end) | no     |
 * | smokeTest          | `smoke-`      | no             | no                                    | yes    |
 *
 * Cancellation is Temporal's and works on any run. A workflow type not in the table gets the links
 * every run has (status, events, cancel) and its steering goes to the run as asked.
 */

export type SteeringKind = 'pause' | 'resume' | 'concurrency';

export interface RunKind {
  /** The workflow type. */
  type: string;
  /** Its workflow ids start with this. */
  idPrefix: string;
  /** What its runs are called in a message ("screenplay runs cannot be paused"). */
  plural: string;
  /** It defines the `pause`, `resume` and `setConcurrency` Updates. */
  steerable: boolean;
  /** It stores a report when it ends (`GET /api/runs/:workflowId/report`). */
  report: boolean;
  /** Its own stream of text (`GET /api/screenplays/:workflowId/stream`). */
  stream?: (workflowId: string) => string;
}

export const RUN_KINDS: readonly RunKind[] = [
  { type: 'ingestScript', idPrefix: 'ingest-', plural: 'ingestions', steerable: true, report: true },
  { type: 'generateStories', idPrefix: 'stories-', plural: 'stories runs', steerable: true, report: true },
  {
    type: 'generateScreenplay',
    idPrefix: 'screenplay-',
    plural: 'screenplay runs',
    steerable: false,
    report: true,
    stream: (workflowId) => `/api/screenplays/${encodeURIComponent(workflowId)}/stream`,
  },
  { type: 'storySession', idPrefix: 'session-', plural: 'story sessions', steerable: false, report: false },
  { type: 'smokeTest', idPrefix: 'smoke-', plural: 'smoke tests', steerable: false, report: true },
];

/** The kind of a run, by its workflow type when known (a description has it), else by its id. */
export function runKind(workflowId: string, type?: string): RunKind | undefined {
  if (type !== undefined) return RUN_KINDS.find((k) => k.type === type);
  return RUN_KINDS.find((k) => workflowId.startsWith(k.idPrefix));
}

const REFUSED: Record<SteeringKind, string> = {
  pause: 'cannot be paused',
  resume: 'cannot be resumed',
  concurrency: 'have no concurrency to change',
};

/** Why a run of this kind cannot take a steering request; undefined when it can (or its kind is unknown). */
export function steeringRefusal(kind: RunKind | undefined, action: SteeringKind): string | undefined {
  if (!kind || kind.steerable) return undefined;
  return `${kind.plural} ${REFUSED[action]}: ${kind.type} defines no ${action === 'concurrency' ? 'setConcurrency' : action} Update (cancel works on any run).`;
}
