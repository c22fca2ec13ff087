import type { ParsedScene } from './types';

interface OpenScene {
  heading: string;
  sceneNumber: string | null;
  lines: string[];
  characters: string[];
}

/**
 * Builds scenes from a stream of headings, text lines and speakers, shared by the Fountain and FDX
 * readers so both lay out scene text the same way. Text before the first heading (a preamble such
 * as `FADE IN:`) belongs to no scene and is dropped, but its speakers still count as characters of
 * the screenplay: a scene needs a heading, a character does not.
 */
export class SceneCollector {
  private readonly scenes: ParsedScene[] = [];
  private readonly characters: string[] = [];
  private current: OpenScene | null = null;

  startScene(heading: string, sceneNumber: string | null): void {
    this.closeScene();
    this.current = { heading, sceneNumber, lines: [], characters: [] };
  }

  /** One line of scene text ('' for a blank line); ignored before the first heading. */
  addLine(line: string): void {
    this.current?.lines.push(line.trim());
  }

  /** A normalised name that speaks here. */
  addSpeaker(name: string): void {
    if (name === '') return;
    if (!this.characters.includes(name)) this.characters.push(name);
    if (this.current && !this.current.characters.includes(name)) this.current.characters.push(name);
  }

  finish(): { scenes: ParsedScene[]; characters: string[] } {
    this.closeScene();
    return { scenes: this.scenes, characters: this.characters };
  }

  private closeScene(): void {
    if (!this.current) return;
    const { heading, sceneNumber, lines, characters } = this.current;
    this.scenes.push({ index: this.scenes.length, heading, sceneNumber, text: joinLines(lines), characters });
    this.current = null;
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
