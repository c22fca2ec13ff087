import { parseScreenplay } from '../../src/domain/screenplay';
import {
  describeEveryFixture,
  fixtureFiles,
  headings,
  itGivesEachCueBlockItsSpeaker,
  itParsesAlikeWithAnyLineEnding,
  parseError,
  withHeading,
  type FixtureExpectation,
} from '../helpers/screenplay-fixtures';
import { CORPUS as FIXTURES } from './corpus-dir';

/**
 * The parser on the third-party corpus beside the repository (real files by other people, byte for
 * byte; see SOURCES.md there): `npm run test:corpus`, never `npm test`. None of these files opens
 * with story before its first heading (only `FADE IN:` or a forced transition), so their scene
 * counts equal their heading counts.
 */

const { readFixture, parseFixture } = fixtureFiles(FIXTURES);

/**
 * Every fixture with its expected scene and speaker counts. All counts agree with SOURCES.md's
 * heuristic where it gives one; the edge files have none there (see each describe block below).
 */
const EXPECTED: Record<string, FixtureExpectation> = {
  'fountain/brick_and_steel.fountain': { scenes: 8, characters: 7 },
  'fountain/the_last_birthday_card.fountain': { scenes: 48, characters: 12 },
  'fountain/printing_trouble.fountain': { scenes: 29, characters: 5 },
  'fountain/my_living_memory.fountain': { scenes: 9, characters: 8 },
  'edge/afterwriting_kitchen_sink.fountain': { scenes: 11, characters: 9 },
  'edge/screenplay_tools_scene_headings.fountain': { scenes: 5, characters: 2 },
  // A cue-rules test file with no scene heading at all: nothing to import as scenes.
  'edge/screenplay_tools_character_cues.fountain': { error: 'no_scenes' },
  'edge/screenplain_utf8_bom.fountain': { scenes: 1, characters: 2 },
  'fdx/final_draft_native_radio_studio.fdx': { scenes: 2, characters: 4 },
};

describeEveryFixture(FIXTURES, ['fountain', 'edge', 'fdx'], EXPECTED);

describe('fountain/brick_and_steel.fountain (mixed CRLF/LF, tab-indented title page)', () => {
  const parsed = parseFixture('fountain/brick_and_steel.fountain');

  it('really has mixed line endings', () => {
    const raw = readFixture('fountain/brick_and_steel.fountain').toString('utf8');
    expect(raw).toContain('\r\n');
    expect(raw).toMatch(/[^\r]\n/);
  });

  it('reads the title from indented continuation lines, emphasis removed', () => {
    expect(parsed.format).toBe('fountain');
    expect(parsed.title).toBe('BRICK & STEEL FULL RETIRED');
  });

  it('finds 8 headings, two of them forced with a leading "."', () => {
    expect(headings(parsed)).toEqual([
      "EXT. BRICK'S PATIO - DAY",
      'INT. TRAILER HOME - DAY',
      "EXT. BRICK'S POOL - DAY",
      'SNIPER SCOPE POV',
      'OPENING TITLES',
      'EXT. WOODEN SHACK - DAY',
      'INT. GARAGE - DAY',
      'EXT. PALATIAL MANSION - DAY',
    ]);
    expect(parsed.scenes.every((scene) => scene.sceneNumber === null)).toBe(true);
  });

  it('lists the 7 speakers; dual dialogue, tab-indented cues and transitions handled', () => {
    expect(parsed.characters).toEqual(['STEEL', 'BRICK', 'JACK', 'DAN', 'COGNITO', 'MINION', 'HANDSOME MAN']);
    expect(parsed.scenes[0]?.characters).toEqual(['STEEL', 'BRICK']); // "BRICK ^" is dual dialogue
    expect(parsed.scenes[0]?.text).toContain('BRICK ^\nScrew retirement.\n\nSMASH CUT TO:');
    expect(parsed.scenes[1]?.characters).toEqual(['JACK', 'DAN']); // "\t\t\tJACK"
  });

  it('keeps centred text as scene text, never as a cue', () => {
    expect(parsed.scenes[4]?.characters).toEqual([]);
    expect(parsed.scenes[4]?.text).toBe(
      '> BRICK BRADDOCK <\n> & DICK STEEL IN <\n\n> BRICK & STEEL <\n> FULL RETIRED <\n\nSMASH CUT TO:',
    );
  });
});

describe('fountain/the_last_birthday_card.fountain (sections, synopses, forced headings)', () => {
  const parsed = parseFixture('fountain/the_last_birthday_card.fountain');
  const standard = /^(INT|EXT|EST|I\/E)[. ]/i;

  it('finds 48 headings: 25 standard (one is "INT" without a dot) and 23 forced', () => {
    // Same as SOURCES.md. Forced ones here are shots and inserts (".THE MAZDA", ".SCOTT"), but the
    // writer forced them, so each is a scene. Headings use commas instead of dashes: kept as written.
    expect(parsed.scenes).toHaveLength(48);
    expect(parsed.scenes.filter((scene) => !standard.test(scene.heading))).toHaveLength(23);
    expect(headings(parsed)).toContain("INT SCOTT'S APARTMENT, SAME TIME");
    expect(headings(parsed).slice(0, 3)).toEqual([
      'INT. SAN FRANCISCO APARTMENT, DAY',
      "INT. HALLWAY, SCOTT'S APARTMENT BUILDING, A MOMENT LATER",
      'BACK IN THE APARTMENT',
    ]);
    expect(parsed.scenes[8]?.heading).toBe('A LAND ROVER DEFENDER 90 AND A VOLKSWAGON GTI.');
    expect(parsed.scenes[47]?.heading).toBe("INT. SCOTT'S NEW APARTMENT, A FEW DAYS LATER");
  });

  it('lists the 12 speakers in order of first speech', () => {
    expect(parsed.title).toBe('THE LAST BIRTHDAY CARD');
    expect(parsed.characters).toEqual([
      'BAXTER', 'SCOTT', 'NAK', 'WOMAN', 'BILLUPS', 'NANCY', 'ART GIRL', 'VOICE', 'NEWSCASTER', 'THE BOSS', 'SOPHISTICATED WOMAN', 'MALE VOICE',
    ]);
    expect(parsed.scenes[32]?.characters).toEqual(['THE BOSS']); // "THE BOSS (O.S.)"
  });

  it('leaves sections and synopses out of scene text (transitions stay)', () => {
    const lines = parsed.scenes.flatMap((scene) => scene.text.split('\n'));
    expect(lines.filter((line) => line.startsWith('#') || line.startsWith('='))).toEqual([]);
    expect(parsed.scenes[22]?.text).not.toContain('Meet Art Girl');
    expect(parsed.scenes[22]?.text).not.toContain('Art Girl gives Scott the idea');
    expect(parsed.scenes[2]?.text.endsWith('CUT TO:')).toBe(true);
  });
});

describe('fountain/printing_trouble.fountain and my_living_memory.fountain (CRLF, Dan Rahmel)', () => {
  it('printing_trouble: 29 scenes, 5 speakers, a FADE IN:-only preamble makes no opening scene', () => {
    const parsed = parseFixture('fountain/printing_trouble.fountain');
    expect(parsed.title).toBe('Printing Trouble');
    expect(parsed.characters).toEqual(['MIKE', 'INTERCOM', 'PRINTER', 'MINA', 'DONNA']);
    expect(parsed.scenes[0]?.heading).toBe('EXT. SKYSCRAPER - NIGHT');
    expect(parsed.scenes[0]?.text.startsWith('In the dark early morning')).toBe(true);
    expect(parsed.scenes[3]?.characters).toEqual(['MIKE']); // MIKE and a dozen "MIKE (CONT'D)" collapse
    expect(parsed.scenes[28]?.characters).toEqual(['INTERCOM', 'MIKE', 'DONNA']);
  });

  it('my_living_memory: lowercase title-page keys, a space-only line counts as blank', () => {
    const parsed = parseFixture('fountain/my_living_memory.fountain');
    expect(parsed.title).toBe('My Living Memory');
    expect(parsed.characters).toEqual(['JOE', 'KATE', 'MATTHEW', 'MESSAGE MACHINE', 'BURTON', 'BETTY', 'CONDUCTOR', 'HARRY']);
    // "FADE IN:\r\n \r\nINT. MATTHEW'S BEDROOM - DAY": the " " line separates the heading.
    expect(parsed.scenes[0]?.heading).toBe("INT. MATTHEW'S BEDROOM - DAY");
    expect(parsed.scenes[8]).toMatchObject({ heading: 'EXT. OLD TRAIN STATION', characters: ['HARRY', 'KATE'] });
  });
});

describe('edge/afterwriting_kitchen_sink.fountain', () => {
  const parsed = parseFixture('edge/afterwriting_kitchen_sink.fountain');

  it('reads the title page that follows a note', () => {
    expect(parsed.title).toBe('Screenplay title Second line');
  });

  it('finds 11 headings: a forced one after a page break, a non-ASCII forced one, not "!INT. ACTION"', () => {
    const all = headings(parsed);
    expect(all).toHaveLength(11);
    expect(all.slice(0, 7)).toEqual([
      'INT. BASIC BLOCKS - DAY',
      'EXT. BASIC BLOCKS - NIGHT',
      'INT. FORMATTING - DAY',
      'EXT. ESCAPING FORMATTING - NIGHT',
      'FORCED HEADER',
      'INT. SPLIT DIALOGUE - DUSK',
      'INT. DUAL DIALOGUE - NIGHT',
    ]);
    expect(all[7]).toMatch(/^INT\. (LONG ){53}SCENE HEADER\.$/);
    expect(all.slice(8)).toEqual(['INT. LATIN TEST - DAWN', 'WNĘTRZE. FORCED ELEMENTS - NIGHT', 'INT. SCENE - DAY']);
    expect(parsed.scenes[9]?.text).toContain('!INT. ACTION');
  });

  it('lists 9 speakers: forced @McCABE, dual "HERO 2 ^", the very long name, Latin-script cues', () => {
    expect(parsed.characters).toEqual([
      'HERO 1', 'HERO 2', 'HERO 3', `${'VERY '.repeat(30)}LONG NAME`, 'POLISH', 'GERMAN', 'NORWEGIAN', 'SPANISH', 'MCCABE',
    ]);
    expect(parsed.scenes[6]?.characters).toEqual(['HERO 1', 'HERO 2', 'HERO 3']);
    expect(parsed.scenes[8]?.text).toContain('POLISH\nPchnąć w tę łódź jeża lub osiem skrzyń fig.');
  });

  it('removes boneyard (multi-line and nested) and notes (inline and multi-line)', () => {
    expect(parsed.scenes[1]?.text).toBe(`Action. Action. Action. Action.\n\nAction.${' action.'.repeat(19)}`);
    const allText = parsed.scenes.map((scene) => scene.text).join('\n');
    // 'nested' alone would match the kept "(with nested bold)".
    for (const removed of ['Ignored', '/* nested */', 'ignored', 'inline note', 'multiline note', 'Script note', '/*', '*/', '[[', ']]']) {
      expect(allText).not.toContain(removed);
    }
  });

  it('drops sections, synopses and page breaks from scene text; keeps transitions and lyrics', () => {
    expect(parsed.scenes[3]?.text).toBe(
      'What the f\\*ck! Escape\\_escape\\*escape.\n\n> CENTERED, **BOLD**, _UNDERLINE_ <\n\n> TRANSITION:\n\nPage break test...',
    );
    expect(parsed.scenes[9]?.text).toBe('!INT. ACTION\n\n@McCABE\n~Happy birthday to you!\n\n> FADE TO GREEN.');
    expect(parsed.scenes[10]?.text).toBe('Action.\n\n> THE END.');
  });
});

describe('edge/screenplay_tools_scene_headings.fountain', () => {
  const parsed = parseFixture('edge/screenplay_tools_scene_headings.fountain');

  it('reads lowercase, forced, numbered and dotless headings; ". NOT A HEADER" stays action', () => {
    expect(parsed.scenes.map(({ heading, sceneNumber }) => [heading, sceneNumber])).toEqual([
      ['INT. SCEHE 1 - DAY', null],
      ['ext. OLYMPIA CIRCUS - NIGHT', null], // case kept as written
      ['FORCED HEADER', null],
      ['INT./EXT. HEADER WITH SCENENUM', '3'],
      ['EST BUCKET LIST', 'A3-1'],
    ]);
    expect(parsed.scenes[3]?.text).toBe('');
    expect(parsed.scenes[4]?.text).toBe('. NOT A HEADER');
  });

  it('finds padded DAVE and JIM; the indented "CUT TO:" is a transition', () => {
    expect(parsed.characters).toEqual(['DAVE', 'JIM']);
    expect(parsed.scenes[0]?.text).toBe('This is scene 1, we think!\n\nDAVE\nNice day, right?\n\nCUT TO:');
  });
});

describe('edge/screenplay_tools_character_cues.fountain', () => {
  const raw = readFixture('edge/screenplay_tools_character_cues.fountain').toString('utf8');

  it('has no scene heading, so on its own it is rejected with no_scenes', () => {
    expect(parseError(() => parseFixture('edge/screenplay_tools_character_cues.fountain')).message).toMatch(
      /^No scene heading found: /,
    );
  });

  it('gives the right speakers once a heading is put in front', () => {
    expect(withHeading(raw).characters).toEqual(['STEEL', 'BOB', 'MOM', 'HAN', 'C3PO', '3CPO', 'DONT', 'ME', 'BUT', 'TEST', 'TEST2']);
  });

  // Each blank-line-separated block of the fixture on its own, keyed by its first line.
  const expectedSpeaker: Record<string, string | null> = {
    STEEL: 'STEEL',
    '    STEEL': 'STEEL', // padded
    "STEEL (CONT'D)": 'STEEL',
    'BOB (test extension)': 'BOB', // extensions may be lowercase
    BOB: null, // blank line after the cue
    "This one shouldn't work, because blank line.": null,
    'MOM (O. S.)': 'MOM',
    'Han (O. S.) ': null, // not uppercase
    '@Han (O.S.)': 'HAN', // forced
    "STEEL (V.O.) (CONT'D)": 'STEEL',
    'STEEL (V.O.) (CONT’D)': 'STEEL', // curly apostrophe
    '3CPO': null, // starts with a digit
    C3PO: 'C3PO',
    '@3CPO': '3CPO',
    '        DONT': 'DONT',
    'ME ': 'ME',
    'BUT (Dual) ^': 'BUT',
    'AND ^ (Dual)': null, // '^' must come last
    TEST: 'TEST',
    'TEST2 ^': 'TEST2',
  };
  itGivesEachCueBlockItsSpeaker(raw, expectedSpeaker);
});

describe('edge/screenplain_utf8_bom.fountain', () => {
  it('strips the BOM before the first heading', () => {
    const bytes = readFixture('edge/screenplain_utf8_bom.fountain');
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const parsed = parseScreenplay(bytes, 'utf-8-bom.fountain');
    expect(parsed.title).toBeNull();
    expect(parsed.scenes).toHaveLength(1);
    expect(parsed.scenes[0]).toMatchObject({ heading: 'EXT. SOMEWHERE - DAY', characters: ['GUY', 'GURL'] });
    expect(parsed.scenes[0]?.text.endsWith('GUY\nNothing.')).toBe(true);
  });
});

describe('fdx/final_draft_native_radio_studio.fdx (saved by Final Draft)', () => {
  const parsed = parseFixture('fdx/final_draft_native_radio_studio.fdx');

  it('reads title, headings with numbers, and speakers DJ, DAVE, JIM, KAY', () => {
    expect(parsed.format).toBe('fdx');
    expect(parsed.title).toBe('FDX Test Script'); // first non-empty centred title-page paragraph
    expect(parsed.scenes.map(({ heading, sceneNumber, characters }) => ({ heading, sceneNumber, characters }))).toEqual([
      { heading: 'INT. RADIO STUDIO', sceneNumber: '1', characters: ['DJ', 'DAVE', 'JIM'] }, // "JIM (O.S.)"
      { heading: 'EXT. OUTSIDE THE FOOD STORE', sceneNumber: '2', characters: ['KAY'] },
    ]);
    expect(parsed.characters).toEqual(['DJ', 'DAVE', 'JIM', 'KAY']);
  });

  it('lays scene text out like Fountain: blocks separated by a blank line, dialogue kept together', () => {
    expect(parsed.scenes[0]?.text).toContain('DJ\n(bored)\nHey everyone, this is some music that sounds kinda terrible.\n\nDave is at');
    expect(parsed.scenes[1]?.text).toBe(
      'We are standing outside the food store. Kay is looking at the posters in the window.\n\nKAY\nMaybe there\'s a job for me here.\n\nFADE TO BLACK',
    );
  });

  it('is recognised by content when the extension says nothing', () => {
    const bytes = readFixture('fdx/final_draft_native_radio_studio.fdx');
    expect(parseScreenplay(bytes, 'radio-studio').format).toBe('fdx');
    expect(parseScreenplay(bytes, 'RADIO.FDX')).toEqual(parsed);
  });
});

describe('line endings', () => {
  itParsesAlikeWithAnyLineEnding(FIXTURES, ['fountain/brick_and_steel.fountain', 'edge/afterwriting_kitchen_sink.fountain', 'fdx/final_draft_native_radio_studio.fdx']);
});

