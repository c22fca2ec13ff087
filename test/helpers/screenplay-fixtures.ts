import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseScreenplay, ScreenplayParseError, type ParsedScreenplay, type ScreenplayParseErrorCode } from '../../src/domain/screenplay';

/** What a fixture parses to: its scene and speaker counts, or the parse error it must raise. */
export type FixtureExpectation = { scenes: number; characters: number } | { error: ScreenplayParseErrorCode };

export const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
export const parseText = (text: string, fileName = 'inline.fountain'): ParsedScreenplay => parseScreenplay(utf8(text), fileName);
export const headings = (parsed: ParsedScreenplay): string[] => parsed.scenes.map((scene) => scene.heading);
/** `body` after a scene heading, so cue rules can be tried on text that has none. */
export const withHeading = (body: string): ParsedScreenplay => parseText(`INT. CUE TEST - DAY\n\n${body}`);

/** Reads and parses fixtures by their path under `fixturesDir` (`fountain/x.fountain`). */
export function fixtureFiles(fixturesDir: string): { readFixture(relative: string): Buffer; parseFixture(relative: string): ParsedScreenplay } {
  const readFixture = (relative: string): Buffer => fs.readFileSync(path.join(fixturesDir, relative));
  return { readFixture, parseFixture: (relative) => parseScreenplay(readFixture(relative), path.basename(relative)) };
}

/** The ScreenplayParseError that `parse` throws; any other error, or none, fails the test. */
export function parseError(parse: () => unknown): ScreenplayParseError {
  try {
    parse();
  } catch (error) {
    if (error instanceof ScreenplayParseError) return error;
    throw error;
  }
  throw new Error('expected a ScreenplayParseError');
}

/**
 * The suite every fixture set gets: each `.fountain`/`.fdx` file in `dirs` (under `fixturesDir`)
 * has an entry in `expected` (keyed `dir/name`), and parses to it the same way twice, with
 * scene indexes in order, no CR or BOM left in scene text, every scene speaker in the script's
 * list, and a result that survives JSON (it travels as a workflow payload).
 */
export function describeEveryFixture(fixturesDir: string, dirs: string[], expected: Record<string, FixtureExpectation>): void {
  const { parseFixture } = fixtureFiles(fixturesDir);

  describe('every screenplay fixture', () => {
    const onDisk = dirs.flatMap((dir) =>
      fs
        .readdirSync(path.join(fixturesDir, dir))
        .filter((name) => /\.(fountain|fdx)$/.test(name))
        .map((name) => `${dir}/${name}`),
    );

    it('has an expectation here (a new fixture must be added to EXPECTED)', () => {
      expect(onDisk.sort()).toEqual(Object.keys(expected).sort());
    });

    it.each(Object.entries(expected))('%s parses to the expected counts, deterministically', (relative, expectation) => {
      if ('error' in expectation) {
        expect(parseError(() => parseFixture(relative)).code).toBe(expectation.error);
        return;
      }
      const parsed = parseFixture(relative);
      expect(parsed.scenes).toHaveLength(expectation.scenes);
      expect(parsed.characters).toHaveLength(expectation.characters);
      expect(parsed.scenes.map((scene) => scene.index)).toEqual(parsed.scenes.map((_, i) => i));
      for (const scene of parsed.scenes) {
        expect(scene.text).not.toMatch(/\r|\uFEFF/);
        expect(scene.characters.every((name) => parsed.characters.includes(name))).toBe(true);
      }
      expect(parseFixture(relative)).toEqual(parsed);
      expect(JSON.parse(JSON.stringify(parsed))).toEqual(parsed); // plain JSON, safe as a payload
    });
  });
}

/** Each fixture in `relatives` parses to the same result with its lines ended by CRLF, LF or CR. */
export function itParsesAlikeWithAnyLineEnding(fixturesDir: string, relatives: string[]): void {
  const { readFixture, parseFixture } = fixtureFiles(fixturesDir);
  const variants = (relative: string): string[] => {
    const lf = readFixture(relative).toString('utf8').replace(/\r\n?/g, '\n');
    return [lf, lf.replace(/\n/g, '\r\n'), lf.replace(/\n/g, '\r')];
  };

  it.each(relatives)('%s parses identically with CRLF, LF and CR', (relative) => {
    const original = parseFixture(relative);
    for (const text of variants(relative)) expect(parseText(text, path.basename(relative))).toEqual(original);
  });
}

/**
 * Each blank-line-separated block of a cue-rules fixture (`raw`), on its own after a heading,
 * has the speaker `expectedSpeaker` gives for its first line (null: none), and every block has an entry.
 */
export function itGivesEachCueBlockItsSpeaker(raw: string, expectedSpeaker: Record<string, string | null>): void {
  const blocks = raw.split(/\n[ \t]*\n/);

  it('covers every block of the fixture', () => {
    expect(blocks.map((block) => block.split('\n')[0])).toEqual(Object.keys(expectedSpeaker));
  });

  it.each(blocks.map((block) => [block.split('\n')[0] as string, block] as const))('block %j', (firstLine, block) => {
    const speaker = expectedSpeaker[firstLine] ?? null;
    expect(withHeading(block).characters).toEqual(speaker === null ? [] : [speaker]);
  });
}
