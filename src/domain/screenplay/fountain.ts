import { ScreenplayParseError } from './errors';
import { removeBoneyardAndNotes } from './fountain-markup';
import { isOutlineLine, matchCharacterCue, matchSceneHeading } from './fountain-lines';
import { readTitlePage } from './fountain-title-page';
import { SceneCollector } from './scene-collector';
import type { ParsedScreenplay } from './types';

/**
 * Reads Fountain (https://fountain.io/syntax) far enough for scenes, headings and speakers.
 * `text` has '\n' line endings and no BOM. Whitespace-only lines count as blank; leading
 * indentation is ignored everywhere. A line is, in order of precedence:
 * - dialogue, while inside a dialogue block (a cue up to the next blank line);
 * - outline (section, synopsis, page break): left out of the scene text;
 * - a scene heading, after a blank line (a following blank line is not required: real files omit it);
 * - a character cue, after a blank line and before a non-blank one;
 * - anything else (action, transitions, centred text, lyrics): scene text.
 */
export function parseFountain(text: string): ParsedScreenplay {
  const lines = removeBoneyardAndNotes(text);
  const { title, bodyStart } = readTitlePage(lines);
  const collector = new SceneCollector();

  let inDialogue = false;
  let afterBoundary = true;
  for (let i = bodyStart; i < lines.length; i += 1) {
    const line = (lines[i] as string).trim();
    if (line === '') {
      collector.addLine('');
      inDialogue = false;
      afterBoundary = true;
      continue;
    }
    if (inDialogue) {
      collector.addLine(line);
      continue;
    }
    if (isOutlineLine(line)) {
      afterBoundary = true;
      continue;
    }
    if (afterBoundary) {
      afterBoundary = false;
      const heading = matchSceneHeading(line);
      if (heading) {
        collector.startScene(heading.heading, heading.sceneNumber);
        continue;
      }
      const next = lines[i + 1];
      const speaker = next !== undefined && next.trim() !== '' ? matchCharacterCue(line) : null;
      if (speaker) {
        collector.addSpeaker(speaker);
        inDialogue = true;
      }
    }
    collector.addLine(line);
  }

  const { scenes, characters } = collector.finish();
  if (scenes.length === 0) {
    throw new ScreenplayParseError(
      'no_scenes',
      "No scene heading found: a Fountain scene starts with INT., EXT., EST., INT./EXT. or I/E, or a line forced with a leading '.'. " +
        'Put a blank line before each scene heading and import the file again.',
    );
  }
  return { format: 'fountain', title, scenes, characters };
}
