/** The worker's workflowsPath: every workflow type storyloom registers. */
export { smokeTest } from './smoke';
