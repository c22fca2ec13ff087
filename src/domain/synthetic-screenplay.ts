/**
 * A deterministic Fountain screenplay of any size, for tests and the benchmark: `scenes`
 * scenes, `characters` speakers, each scene with two or three of them talking.
 */
const PLACES = ['KITCHEN', 'LIGHTHOUSE', 'HARBOUR', 'OFFICE', 'ROOFTOP', 'TRAIN', 'LIBRARY', 'GARAGE', 'FOREST', 'HOSPITAL'];
const TIMES = ['DAY', 'NIGHT', 'DAWN', 'DUSK'];
const VERBS = ['argue about', 'hide', 'discover', 'repair', 'burn', 'deliver', 'steal', 'bury', 'paint', 'lose'];
const OBJECTS = ['the letter', 'a map', 'the old radio', 'a photograph', 'the key', 'a birthday card', 'the ledger', 'a lantern', 'the tape', 'a ring'];

export function characterName(i: number): string {
  const first = ['MARA', 'JONAS', 'ELENA', 'TOBIAS', 'NINA', 'OSCAR', 'LENA', 'VIKTOR', 'ROSA', 'FELIX'];
  return i < first.length ? first[i] : `${first[i % first.length]} ${String.fromCharCode(65 + Math.floor(i / first.length) - 1)}`;
}

export function syntheticScreenplay(opts: { title?: string; scenes: number; characters: number; salt?: string }): string {
  const lines: string[] = [`Title: ${opts.title ?? `Synthetic ${opts.scenes}`}`, 'Author: storyloom bench', ''];
  for (let s = 0; s < opts.scenes; s++) {
    const a = s % opts.characters;
    const b = (s * 7 + 3) % opts.characters === a ? (a + 1) % opts.characters : (s * 7 + 3) % opts.characters;
    const speakers = [a, b];
    if (s % 3 === 0 && opts.characters > 2) {
      const c = (s * 5 + 1) % opts.characters;
      if (!speakers.includes(c)) speakers.push(c);
    }
    const place = PLACES[s % PLACES.length];
    lines.push(`${s % 2 ? 'EXT' : 'INT'}. ${place} ${Math.floor(s / PLACES.length) + 1} - ${TIMES[s % TIMES.length]}`, '');
    lines.push(
      `${characterName(a)} and ${characterName(b)} ${VERBS[s % VERBS.length]} ${OBJECTS[(s * 3) % OBJECTS.length]} in scene ${s + 1}${opts.salt ? ` (${opts.salt})` : ''}. ` +
        `Rain hits the windows of the ${place.toLowerCase()}.`,
      '',
    );
    for (const [k, who] of speakers.entries()) {
      lines.push(characterName(who), `Line ${k + 1} of scene ${s + 1}: we ${VERBS[(s + k) % VERBS.length]} ${OBJECTS[(s + k) % OBJECTS.length]} tonight.`, '');
    }
  }
  return lines.join('\n');
}
