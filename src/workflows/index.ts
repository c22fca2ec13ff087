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
export { endSessionSignal, endSessionUpdate, sessionProgressQuery, storySession, takeTurnUpdate } from './story-session';
export {
  generateStories,
  storiesPauseUpdate,
  storiesProgressQuery,
  storiesResumeUpdate,
  storiesSetConcurrencyUpdate,
} from './generate-stories';
export { generateScreenplay, screenplayProgressQuery } from './generate-screenplay';
