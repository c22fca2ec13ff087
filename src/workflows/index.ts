/** The worker's workflowsPath: every workflow type storyloom registers. */
export { smokeTest } from './smoke';
export { ingestScript, pauseSignal, progressQuery, resumeSignal, setConcurrencySignal } from './ingest-script';
