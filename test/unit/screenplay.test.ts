import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  MAX_SCREENPLAY_BYTES,
  normaliseCharacterName,
  parseScreenplay,
  sceneContentHash,
  ScreenplayParseError,
  type ParsedScreenplay,
  type ScreenplayParseErrorCode,
} from '../../src/domain/screenplay';

// The repo is /work/main and the shared fixtures are /work/shared/fixtures (read-only, byte for byte).
const FIXTURES = path.resolve(__dirname, '../../../shared/fixtures');

const readFixture = (relative: string): Buffer => fs.readFileSync(path.join(FIXTURES, relative));
const parseFixture = (relative: string): ParsedScreenplay => parseScreenplay(readFixture(relative), path.basename(relative));
const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
const parseText = (text: string, fileName = 'inline.fountain'): ParsedScreenplay => parseScreenplay(utf8(text), fileName);
const headings = (parsed: ParsedScreenplay): string[] => parsed.scenes.map((scene) => scene.heading);

function parseError(parse: () => unknown): ScreenplayParseError {
  try {
    parse();
  } catch (error) {
    if (error instanceof ScreenplayParseError) return error;
    throw error;
  }
  throw new Error('expected a ScreenplayParseError');
}

/**
 * Every fixture with its expected scene and speaker counts. All counts agree with SOURCES.md's
 * heuristic where it gives one; the edge files have none there (see each describe block below).
 */
const EXPECTED: Record<string, { scenes: number; characters: number } | { error: ScreenplayParseErrorCode }> = {
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

describe('every screenplay fixture', () => {
  const onDisk = ['fountain', 'edge', 'fdx'].flatMap((dir) =>
    fs
      .readdirSync(path.join(FIXTURES, dir))
      .filter((name) => /\.(fountain|fdx)$/.test(name))
      .map((name) => `${dir}/${name}`),
  );

  it('has an expectation here (a new fixture must be added to EXPECTED)', () => {
    expect(onDisk.sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  it.each(Object.entries(EXPECTED))('%s parses to the expected counts, deterministically', (relative, expected) => {
    if ('error' in expected) {
      expect(parseError(() => parseFixture(relative)).code).toBe(expected.error);
      return;
    }
    const parsed = parseFixture(relative);
    expect(parsed.scenes).toHaveLength(expected.scenes);
    expect(parsed.characters).toHaveLength(expected.characters);
    expect(parsed.scenes.map((scene) => scene.index)).toEqual(parsed.scenes.map((_, i) => i));
    for (const scene of parsed.scenes) {
      expect(scene.text).not.toMatch(/\r|\uFEFF/);
      expect(scene.characters.every((name) => parsed.characters.includes(name))).toBe(true);
    }
    expect(parseFixture(relative)).toEqual(parsed);
    expect(JSON.parse(JSON.stringify(parsed))).toEqual(parsed); // plain JSON, safe as a payload
  });
});

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
  it('printing_trouble: 29 scenes, 5 speakers, FADE IN: preamble dropped', () => {
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
  const withHeading = (body: string): ParsedScreenplay => parseText(`INT. CUE TEST - DAY\n\n${body}`);

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
  const blocks = raw.split(/\n[ \t]*\n/);

  it('covers every block of the fixture', () => {
    expect(blocks.map((block) => block.split('\n')[0])).toEqual(Object.keys(expectedSpeaker));
  });

  it.each(blocks.map((block) => [block.split('\n')[0] as string, block] as const))('block %j', (firstLine, block) => {
    const speaker = expectedSpeaker[firstLine] ?? null;
    expect(withHeading(block).characters).toEqual(speaker === null ? [] : [speaker]);
  });
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

describe('FDX details (inline)', () => {
  const fdx = (content: string, titlePage = ''): Uint8Array =>
    utf8(`<?xml version="1.0" encoding="UTF-8"?>\n<FinalDraft DocumentType="Script" Version="5"><Content>${content}</Content>${titlePage}</FinalDraft>`);
  const p = (type: string, ...runs: string[]): string => `<Paragraph Type="${type}">${runs.map((run) => `<Text>${run}</Text>`).join('')}</Paragraph>`;

  it('concatenates text runs, decodes entities and flattens dual dialogue', () => {
    const parsed = parseScreenplay(
      fdx(
        p('Scene Heading', 'INT. CAF&#201; ', '- DAY') +
          p('Action', 'Salt &amp; ', 'pepper.') +
          `<Paragraph><DualDialogue>${p('Character', 'ANN ^')}${p('Dialogue', 'Hi.')}${p('Character', 'BO (V.O.)')}${p('Dialogue', 'Hey.')}</DualDialogue></Paragraph>`,
      ),
      'cafe.fdx',
    );
    expect(parsed.scenes[0]).toMatchObject({ heading: 'INT. CAFÉ - DAY', sceneNumber: null, characters: ['ANN', 'BO'] });
    expect(parsed.scenes[0]?.text).toBe('Salt & pepper.\n\nANN ^\nHi.\n\nBO (V.O.)\nHey.');
  });

  it('counts a Character only when Dialogue follows it; outline paragraphs are hidden; no title page gives null', () => {
    const parsed = parseScreenplay(
      fdx(p('Scene Heading', 'INT. A') + p('Outline 1', 'Act one') + p('Character', 'GHOST') + p('Action', 'Nothing.') + p('Character', 'CAL') + p('Parenthetical', '(quiet)') + p('Dialogue', 'Ok.')),
      'a.fdx',
    );
    expect(parsed.characters).toEqual(['CAL']);
    expect(parsed.scenes[0]?.text).toBe('GHOST\n\nNothing.\n\nCAL\n(quiet)\nOk.');
    expect(parsed.title).toBeNull();
  });

  it('rejects an FDX without scene headings, and XML that is not Final Draft', () => {
    expect(parseError(() => parseScreenplay(fdx(p('Action', 'Just action.')), 'x.fdx')).code).toBe('no_scenes');
    const other = parseError(() => parseScreenplay(utf8('<?xml version="1.0"?><html><body/></html>'), 'page.fdx'));
    expect(other.code).toBe('malformed_xml');
    expect(other.message).toContain('not a Final Draft document');
  });
});

describe('Fountain decisions (inline)', () => {
  it('drops text before the first heading but counts its speakers', () => {
    const parsed = parseText('FADE IN:\n\nNARRATOR (V.O.)\nLong ago...\n\nINT. HOUSE - DAY\n\nBOB\nHi.\n');
    expect(parsed.scenes).toEqual([{ index: 0, heading: 'INT. HOUSE - DAY', sceneNumber: null, text: 'BOB\nHi.', characters: ['BOB'] }]);
    expect(parsed.characters).toEqual(['NARRATOR', 'BOB']);
  });

  it('ends a title page at a line that is not a key, for files with no blank line before the first heading', () => {
    const parsed = parseText('Title: Short\nINT. HOUSE - DAY\n\nAction.\n');
    expect(parsed.title).toBe('Short');
    expect(headings(parsed)).toEqual(['INT. HOUSE - DAY']);
  });

  it('does not let a note on its own line separate a cue from its dialogue', () => {
    expect(parseText('INT. A\n\nBOB\n[[remember this]]\nHello.\n').scenes[0]).toMatchObject({ text: 'BOB\nHello.', characters: ['BOB'] });
  });

  it('keeps an unclosed boneyard as written instead of losing the rest of the script', () => {
    const parsed = parseText('INT. A\n\nAction /* never closed\n\nBOB\nHi.\n');
    expect(parsed.scenes[0]?.text).toBe('Action /* never closed\n\nBOB\nHi.');
    expect(parsed.characters).toEqual(['BOB']);
  });

  it('does not read shouted action or FADE IN: as cues, and needs a blank line before a heading', () => {
    const parsed = parseText('INT. A\n\nBANG!\nThe door flies open.\n\nFADE IN:\nMore action.\nINT. B - DAY\n');
    expect(parsed.characters).toEqual([]);
    expect(headings(parsed)).toEqual(['INT. A']);
  });

  it('chooses the format from the extension, else sniffs', () => {
    const text = 'INT. A\n\nAction.\n';
    for (const name of ['a.fountain', 'a.SPMD', 'a.txt', 'no-extension', 'a.md']) expect(parseText(text, name).format).toBe('fountain');
  });
});

describe('errors', () => {
  it('empty: no bytes, or only a BOM and whitespace', () => {
    const empty = parseError(() => parseScreenplay(new Uint8Array(0), 'a.fountain'));
    expect(empty).toBeInstanceOf(Error);
    expect(empty).toMatchObject({ name: 'ScreenplayParseError', code: 'empty', message: 'The file is empty: nothing to import.' });
    expect(parseError(() => parseScreenplay(Uint8Array.of(0xef, 0xbb, 0xbf, 0x20, 0x0d, 0x0a), 'a.fountain')).code).toBe('empty');
  });

  it('too_large: over MAX_SCREENPLAY_BYTES, checked before decoding; exactly the limit is accepted', () => {
    expect(MAX_SCREENPLAY_BYTES).toBe(5 * 1024 * 1024);
    const sevenPointTwo = parseError(() => parseScreenplay(new Uint8Array(Math.round(7.2 * 1024 * 1024)), 'big.fountain'));
    expect(sevenPointTwo.code).toBe('too_large');
    expect(sevenPointTwo.message).toMatch(/^The file is 7\.2 MB; the limit is 5 MB\. /);
    // Just over the limit never reads "5.0 MB" (rounded up). The zero bytes would fail as binary if decoded.
    expect(parseError(() => parseScreenplay(new Uint8Array(MAX_SCREENPLAY_BYTES + 1), 'a.fountain')).message).toMatch(
      /^The file is 5\.1 MB; the limit is 5 MB\./,
    );
    expect(parseError(() => parseScreenplay(new Uint8Array(MAX_SCREENPLAY_BYTES).fill(0x61), 'a.fountain')).code).toBe('no_scenes');
  });

  it('not_text: a NUL byte (binary), invalid UTF-8 (with its offset), UTF-16', () => {
    const nul = parseError(() => parseScreenplay(utf8('INT. HOUSE - DAY\n\u0000'), 'a.fountain'));
    expect(nul.code).toBe('not_text');
    expect(nul.message).toContain('found a NUL byte at offset 17');
    const latin1 = parseError(() => parseScreenplay(Buffer.from('INT. CAF\xc9 - DAY\n', 'latin1'), 'a.fountain'));
    expect(latin1.code).toBe('not_text');
    expect(latin1.message).toMatch(/^The file is not UTF-8 text \(found invalid bytes at offset 8\)\. /);
    const truncated = Uint8Array.of(...utf8('INT. É'), 0xe2, 0x80); // a three-byte sequence cut short
    expect(parseError(() => parseScreenplay(truncated, 'a.fountain')).message).toContain('offset 7');
    const utf16 = parseError(() => parseScreenplay(Uint8Array.of(0xff, 0xfe, 0x49, 0x00), 'a.fountain'));
    expect(utf16).toMatchObject({ code: 'not_text' });
    expect(utf16.message).toContain('UTF-16');
  });

  it('no_scenes: Fountain text without a heading', () => {
    const error = parseError(() => parseText('Just some action.\n\nBOB\nHello.\n'));
    expect(error.code).toBe('no_scenes');
    expect(error.message).toMatch(
      /^No scene heading found: a Fountain scene starts with INT\., EXT\., EST\., INT\.\/EXT\. or I\/E, or a line forced with a leading '\.'\./,
    );
  });

  it('malformed_xml: mismatched, unclosed or too deeply nested elements', () => {
    const mismatched = parseError(() =>
      parseScreenplay(utf8('<?xml version="1.0"?>\n<FinalDraft><Content><Paragraph Type="Scene Heading"><Text>INT. X</Text></Content></FinalDraft>'), 'broken.fdx'),
    );
    expect(mismatched.code).toBe('malformed_xml');
    expect(mismatched.message).toMatch(/^The FDX file is not well-formed XML: Expected closing tag 'Paragraph'.*\(line 2, column \d+\)\./);
    const unclosed = parseError(() => parseScreenplay(utf8('<?xml version="1.0"?>\n<FinalDraft><Content>'), 'cut.fdx'));
    expect(unclosed.message).toContain('unclosed elements <FinalDraft>, <Content>');
    // Well-formed but nested deeper than the parser allows: still a ScreenplayParseError, not a crash.
    const deep = parseError(() => parseScreenplay(utf8(`<FinalDraft>${'<a>'.repeat(500)}${'</a>'.repeat(500)}</FinalDraft>`), 'deep.fdx'));
    expect(deep.code).toBe('malformed_xml');
    expect(deep.message).toMatch(/^The FDX file could not be read as XML: /);
  });
});

describe('line endings', () => {
  const variants = (relative: string): string[] => {
    const lf = readFixture(relative).toString('utf8').replace(/\r\n?/g, '\n');
    return [lf, lf.replace(/\n/g, '\r\n'), lf.replace(/\n/g, '\r')];
  };

  it.each(['fountain/brick_and_steel.fountain', 'edge/afterwriting_kitchen_sink.fountain', 'fdx/final_draft_native_radio_studio.fdx'])(
    '%s parses identically with CRLF, LF and CR',
    (relative) => {
      const original = parseFixture(relative);
      for (const text of variants(relative)) expect(parseText(text, path.basename(relative))).toEqual(original);
    },
  );
});

describe('sceneContentHash', () => {
  const script = 'INT. KITCHEN - DAY\n\nAnn cooks.\n\nANN\nDinner!\n\nEXT. GARDEN - NIGHT\n\nBob digs.\n';

  it('is sha256 hex of heading + "\\n" + text', () => {
    const scene = parseText(script).scenes[0]!;
    const expected = createHash('sha256').update('INT. KITCHEN - DAY\nAnn cooks.\n\nANN\nDinner!').digest('hex');
    expect(sceneContentHash(scene)).toBe(expected);
    expect(sceneContentHash(scene)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('is the same for a scene in a CRLF file and an LF file (and for re-indented lines)', () => {
    const lf = parseText(script).scenes.map(sceneContentHash);
    expect(parseText(script.replace(/\n/g, '\r\n')).scenes.map(sceneContentHash)).toEqual(lf);
    expect(parseText(script.replace('ANN\n', '\t\t\tANN   \n')).scenes.map(sceneContentHash)).toEqual(lf);
    const brick = readFixture('fountain/brick_and_steel.fountain').toString('utf8');
    expect(parseText(brick.replace(/\r\n?/g, '\n')).scenes.map(sceneContentHash)).toEqual(
      parseText(brick.replace(/\r?\n/g, '\r\n')).scenes.map(sceneContentHash),
    );
  });

  it('changes when a scene is edited, and only for that scene', () => {
    const before = parseText(script).scenes.map(sceneContentHash);
    const edited = parseText(script.replace('Dinner!', 'Lunch!')).scenes.map(sceneContentHash);
    expect(edited[0]).not.toBe(before[0]);
    expect(edited[1]).toBe(before[1]);
    expect(sceneContentHash({ heading: 'EXT. GARDEN - DAY', text: 'Bob digs.' })).not.toBe(before[1]);
  });
});

describe('normaliseCharacterName', () => {
  it.each([
    ['STEEL', 'STEEL'],
    ['   STEEL  ', 'STEEL'],
    ["STEEL (V.O.) (CONT'D)", 'STEEL'],
    ['STEEL (V.O.) (CONT’D)', 'STEEL'],
    ['MOM (O. S.)', 'MOM'],
    ['@McCABE', 'MCCABE'],
    ['BRICK ^', 'BRICK'],
    ['BUT (Dual) ^', 'BUT'],
    ['HANDSOME   MAN', 'HANDSOME MAN'],
    ['O’BRIEN', "O'BRIEN"],
    ['JIM (O.S.', 'JIM'],
    ['(V.O.)', ''],
  ])('%j → %j', (cue, name) => {
    expect(normaliseCharacterName(cue)).toBe(name);
  });
});
