/** Apostrophe look-alikes that editors substitute for "'" (smart quotes, modifier letter, prime, full-width). */
const APOSTROPHES = /[\u2018\u2019\u02bc\u2032\uff07]/g;

/**
 * The name a cue refers to, so that `STEEL`, `  STEEL`, `Steel (V.O.) (CONT’D)`, `@steel` and
 * `STEEL ^` all become `STEEL`: NFC, forcing '@' and dual-dialogue '^' removed, every parenthesised
 * extension removed (an unclosed '(' cuts the rest), apostrophes made straight, whitespace
 * collapsed, uppercased. Returns '' when nothing is left.
 */
export function normaliseCharacterName(cue: string): string {
  let name = cue.normalize('NFC').trim();
  if (name.startsWith('@')) name = name.slice(1);
  name = name.replace(/\^/g, ' ');
  let previous: string;
  do {
    previous = name;
    name = name.replace(/\([^()]*\)/g, ' ');
  } while (name !== previous);
  const unclosed = name.indexOf('(');
  if (unclosed >= 0) name = name.slice(0, unclosed);
  return name.replace(APOSTROPHES, "'").replace(/\s+/g, ' ').trim().toUpperCase();
}
