import { matchSceneHeading } from './fountain-lines';
import { isTransitionLine } from './scene-collector';

/** `Key: value`; a key has no '.', so `INT. HOUSE: DAY` never reads as one, and `FADE IN:` is a transition, not a key. */
const KEY_LINE = /^([\p{L}\p{N}][\p{L}\p{N} _'-]*):(.*)$/u;

export interface TitlePage {
  title: string | null;
  /** Index of the first line after the title page (0 when there is none). */
  bodyStart: number;
}

/**
 * Reads the title page: the leading run of `Key: value` lines and their indented continuation
 * lines (tab or spaces), keys in any case. It ends at the first blank line, or at the first line
 * that is neither (tolerance for files with no blank line before the first heading). Only `Title`
 * is kept: its inline value and continuation lines joined by a space, emphasis markers removed.
 */
export function readTitlePage(lines: readonly string[]): TitlePage {
  let i = 0;
  while (i < lines.length && (lines[i] as string).trim() === '') i += 1;
  if (!isKeyLine(lines[i])) return { title: null, bodyStart: 0 };

  let titleParts: string[] | null = null;
  let currentIsTitle = false;
  for (; i < lines.length; i += 1) {
    const line = lines[i] as string;
    if (line.trim() === '') break;
    if (/^\s/.test(line)) {
      if (currentIsTitle) titleParts?.push(line);
      continue;
    }
    if (!isKeyLine(line)) break;
    const [, key = '', value = ''] = KEY_LINE.exec(line) ?? [];
    currentIsTitle = key.trim().toLowerCase() === 'title';
    if (currentIsTitle) titleParts = [value];
  }
  return { title: titleParts ? cleanTitle(titleParts) : null, bodyStart: i };
}

function isKeyLine(line: string | undefined): boolean {
  return line !== undefined && KEY_LINE.test(line) && matchSceneHeading(line.trim()) === null && !isTransitionLine(line.trim());
}

/** Unescaped `*` and `_` are Fountain emphasis, not part of the title. */
function cleanTitle(parts: readonly string[]): string | null {
  const title = parts
    .join(' ')
    .replace(/(?<!\\)[*_]/g, '')
    .replace(/\\([*_])/g, '$1')
    .replace(/\s+/g, ' ')
    .trim();
  return title === '' ? null : title;
}
