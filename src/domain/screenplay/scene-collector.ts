import type { ParsedScene } from './types';

/** Heading of the scene that holds the text before the first scene heading. */
export const OPENING_SCENE_HEADING = 'OPENING';

/**
 * A transition line (`FADE IN:`, `CUT TO:`, `> HERE WE GO:`): scene-to-scene glue, not story.
 * `> … <` is centred text, which is content.
 */
const TRANSITION = /^(?:>(?!.*<$).*|FADE (?:IN|UP)\b[\p{Lu} ]*:?|[\p{Lu}\p{N} .'-]+ TO:)$/u;

export function isTransitionLine(line: string): boolean {
  return TRANSITION.test(line);
}

interface OpenScene {
  heading: string;
  sceneNumber: string | null;
  lines: string[];
  characters: string[];
}

/**
 * Builds scenes from a stream of headings, text lines and speakers, shared by the Fountain and FDX
 * readers so both lay out scene text the same way. Text before the first heading (a cold open's
 * narration or voice-over) becomes an opening scene at position 0, headed OPENING_SCENE_HEADING,
 * unless it holds nothing but transitions (a bare `FADE IN:` is no scene). A screenplay with no
 * heading at all still has no scenes: the caller rejects it.
 */
export class SceneCollector {
  private readonly scenes: ParsedScene[] = [];
  private readonly characters: string[] = [];
  private current: OpenScene = { heading: OPENING_SCENE_HEADING, sceneNumber: null, lines: [], characters: [] };
  private sawHeading = false;
  private openingHasStory = false;

  startScene(heading: string, sceneNumber: string | null): void {
    if (this.sawHeading || this.openingHasStory) this.closeScene();
    this.sawHeading = true;
    this.current = { heading, sceneNumber, lines: [], characters: [] };
  }

  /** One line of scene text ('' for a blank line). `transition` marks a line that alone would not make an opening scene. */
  addLine(line: string, transition = isTransitionLine(line.trim())): void {
    const trimmed = line.trim();
    if (!this.sawHeading && trimmed !== '' && !transition) this.openingHasStory = true;
    this.current.lines.push(trimmed);
  }

  /** A normalised name that speaks here. */
  addSpeaker(name: string): void {
    if (name === '') return;
    if (!this.sawHeading) this.openingHasStory = true;
    if (!this.characters.includes(name)) this.characters.push(name);
    if (!this.current.characters.includes(name)) this.current.characters.push(name);
  }

  finish(): { scenes: ParsedScene[]; characters: string[] } {
    if (this.sawHeading) this.closeScene();
    return { scenes: this.scenes, characters: this.characters };
  }

  private closeScene(): void {
    const { heading, sceneNumber, lines, characters } = this.current;
    this.scenes.push({ index: this.scenes.length, heading, sceneNumber, text: joinLines(lines), characters });
  }
}

/** Collapses runs of blank lines to one and drops leading/trailing blanks, so layout noise does not change the text (or its hash). */
function joinLines(lines: readonly string[]): string {
  const kept: string[] = [];
  for (const line of lines) {
    if (line === '' && (kept.length === 0 || kept[kept.length - 1] === '')) continue;
    kept.push(line);
  }
  while (kept.length > 0 && kept[kept.length - 1] === '') kept.pop();
  return kept.join('\n');
}
