/** The worker's workflowsPath: every workflow type storyloom registers. */
export { smokeTest } from './smoke';
export {
  ingestScript,
  pauseSignal,
  pauseUpdate,
  progressQuery,
  resumeSignal,
  resumeUpdate,
  setConcurrencySignal,
  setConcurrencyUpdate,
} from './ingest-script';
export { generateScreenplay, screenplayProgressQuery } from './generate-screenplay';
