/**
 * Prompts for script ingestion. Each has a version that enters the cache key and the stored
 * rows: change the wording, bump the version, and old answers are no longer reused.
 */
import type { ChatMessage } from '../../llm/types';

export const PROMPT_VERSIONS = {
  summary: 'scene-summary-v1',
  outline: 'outline-v1',
  outlineSection: 'outline-section-v1',
  sheet: 'character-sheet-v1',
  embedding: 'scene-embedding-v1',
} as const;

export interface PromptSpec {
  system: string;
  messages: ChatMessage[];
  maxTokens: number;
  temperature: number;
}

export function sceneSummaryPrompt(scene: { position: number; heading: string; text: string }): PromptSpec {
  return {
    system:
      'You are a script analyst. Summarise the scene in 2-4 sentences: who is in it, what happens, ' +
      'and what changes for the story. Plain prose, present tense, no preamble.',
    messages: [{ role: 'user', content: `Scene ${scene.position + 1}: ${scene.heading}\n\n${scene.text}` }],
    maxTokens: 300,
    temperature: 0.2,
  };
}

/** Summaries in scene order, one line each: the outline's (and a section's) input. */
export function summariesDigest(scenes: { position: number; heading: string; summary: string }[]): string {
  return scenes.map((s) => `${s.position + 1}. ${s.heading}: ${s.summary}`).join('\n');
}

export function outlinePrompt(title: string, digest: string): PromptSpec {
  return {
    system:
      'You are a story editor. From the scene summaries, write the script outline: the premise in one ' +
      'sentence, then the acts with their turning points, then the central conflict and how it resolves.',
    messages: [{ role: 'user', content: `Script: ${title}\n\nScene summaries:\n${digest}` }],
    maxTokens: 1500,
    temperature: 0.3,
  };
}

export function outlineSectionPrompt(title: string, section: number, of: number, digest: string): PromptSpec {
  return {
    system:
      'You are a story editor. Outline this part of a script from its scene summaries: the events in ' +
      'order and the turning points, in at most 12 sentences.',
    messages: [{ role: 'user', content: `Script: ${title}, part ${section} of ${of}\n\nScene summaries:\n${digest}` }],
    maxTokens: 800,
    temperature: 0.3,
  };
}

export function characterSheetPrompt(
  title: string,
  name: string,
  scenes: { position: number; heading: string; summary: string }[],
): PromptSpec {
  return {
    system:
      'You are a script analyst. Write a character sheet as JSON matching the schema: role in the story, ' +
      'traits, goals, arc, relationships (with other named characters) and key scenes (scene numbers).',
    messages: [
      {
        role: 'user',
        content: `Script: ${title}\nCharacter: ${name}\n\nScenes where ${name} speaks:\n${summariesDigest(scenes)}`,
      },
    ],
    maxTokens: 1200,
    temperature: 0.2,
  };
}

/** What is embedded for a scene: its heading and summary (short, and what search should match). */
export function sceneEmbeddingText(scene: { heading: string; summary: string }): string {
  return `${scene.heading}\n${scene.summary}`;
}
