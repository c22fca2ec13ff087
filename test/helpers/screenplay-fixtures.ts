import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseScreenplay, ScreenplayParseError, type ParsedScreenplay, type ScreenplayParseErrorCode } from '../../src/domain/screenplay';

/** What a fixture parses to: its scene and speaker counts, or the parse error it must raise. */
export type FixtureExpectation = { scenes: number; characters: number } | { error: ScreenplayParseErrorCode };

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
  const parseFixture = (relative: string): ParsedScreenplay =>
    parseScreenplay(fs.readFileSync(path.join(fixturesDir, relative)), path.basename(relative));

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
