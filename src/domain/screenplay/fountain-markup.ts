/**
 * Marks where a boneyard or note was. The decoder rejects NUL bytes, so it cannot occur in the text.
 */
const REMOVED = '\u0000';

/**
 * Removes boneyard (`/* … *\/`, nested ones counted) and notes (`[[ … ]]`), both possibly spanning
 * lines, and returns the remaining lines. A line left holding nothing but removed material is
 * dropped entirely (not left blank), so a note between a cue and its dialogue does not break the
 * cue. An unclosed `/*` or `[[` is kept as written: losing the rest of the script silently would
 * be worse than showing the stray marker.
 */
export function removeBoneyardAndNotes(text: string): string[] {
  const cleaned = removeNotes(removeBoneyard(text));
  const lines: string[] = [];
  for (const line of cleaned.split('\n')) {
    if (!line.includes(REMOVED)) {
      lines.push(line);
      continue;
    }
    const rest = line.split(REMOVED).join('');
    if (rest.trim() !== '') lines.push(rest);
  }
  return lines;
}

function removeBoneyard(text: string): string {
  let out = '';
  let copiedUpTo = 0;
  for (;;) {
    const open = text.indexOf('/*', copiedUpTo);
    if (open < 0) break;
    const end = matchingBoneyardEnd(text, open);
    if (end < 0) break;
    out += text.slice(copiedUpTo, open) + REMOVED;
    copiedUpTo = end;
  }
  return out + text.slice(copiedUpTo);
}

/** Index just past the `*\/` that closes the `/*` at `open`, or -1 when it is never closed. */
function matchingBoneyardEnd(text: string, open: number): number {
  let depth = 1;
  let at = open + 2;
  let nextOpen = text.indexOf('/*', at);
  let nextClose = text.indexOf('*/', at);
  while (nextClose >= 0) {
    if (nextOpen >= 0 && nextOpen < nextClose) {
      depth += 1;
      at = nextOpen + 2;
    } else {
      depth -= 1;
      at = nextClose + 2;
      if (depth === 0) return at;
    }
    // Search again only for a marker already passed: keeps the scan linear on hostile input.
    if (nextOpen >= 0 && nextOpen < at) nextOpen = text.indexOf('/*', at);
    if (nextClose < at) nextClose = text.indexOf('*/', at);
  }
  return -1;
}

function removeNotes(text: string): string {
  let out = '';
  let copiedUpTo = 0;
  for (;;) {
    const open = text.indexOf('[[', copiedUpTo);
    if (open < 0) break;
    const close = text.indexOf(']]', open + 2);
    if (close < 0) break;
    out += text.slice(copiedUpTo, open) + REMOVED;
    copiedUpTo = close + 2;
  }
  return out + text.slice(copiedUpTo);
}
