import { createHash } from 'node:crypto';
import {
  MAX_SCENES,
  MAX_SCREENPLAY_BYTES,
  normaliseCharacterName,
  OPENING_SCENE_HEADING,
  parseScreenplay,
  sceneContentHash,
} from '../../src/domain/screenplay';
import {
  describeEveryFixture,
  fixtureFiles,
  headings,
  itGivesEachCueBlockItsSpeaker,
  itParsesAlikeWithAnyLineEnding,
  parseError,
  parseText,
  utf8,
  withHeading,
  type FixtureExpectation,
} from '../helpers/screenplay-fixtures';
import { FIXTURES } from '../helpers/scripts';

// The project's own fixtures (test/fixtures, see its README). The third-party corpus is tested in test/corpus.
const { readFixture, parseFixture } = fixtureFiles(FIXTURES);

/** Every fixture with its expected scene and speaker counts (scenes include an OPENING scene where there is one). */
const EXPECTED: Record<string, FixtureExpectation> = {
  'fountain/night-ferry.fountain': { scenes: 6, characters: 5 },
  'fountain/headings.fountain': { scenes: 6, characters: 2 },
  'fountain/cue-rules.fountain': { error: 'no_scenes' },
  'fountain/two-lamps-crlf.fountain': { scenes: 2, characters: 2 },
  'fountain/salt-mixed-endings.fountain': { scenes: 2, characters: 2 },
  'fountain/bus-stop-bom.fountain': { scenes: 1, characters: 2 },
  'fdx/harbour-radio.fdx': { scenes: 3, characters: 4 },
};

describeEveryFixture(FIXTURES, ['fountain', 'fdx'], EXPECTED);

describe('fountain/night-ferry.fountain (title page, opening narration, boneyard, notes, dual dialogue)', () => {
  const parsed = parseFixture('fountain/night-ferry.fountain');

  it('reads the title from indented continuation lines, emphasis removed', () => {
    expect(parsed.format).toBe('fountain');
    expect(parsed.title).toBe('THE NIGHT FERRY A Short Crossing');
  });

  it('keeps the narration before the first heading as an OPENING scene, with its V.O. speaker; the title page and note are not in it', () => {
    expect(parsed.scenes[0]).toEqual({
      index: 0,
      heading: OPENING_SCENE_HEADING,
      sceneNumber: null,
      text: "Black. The low groan of a ship's horn.\n\nNARRATOR (V.O.)\nEvery night at eleven, the ferry leaves with one passenger more than it brings back.\n\nFADE IN:",
      characters: ['NARRATOR'],
    });
    expect(OPENING_SCENE_HEADING).toBe('OPENING');
  });

  it('finds the headings: forced, numbered, lowercase; none from inside a boneyard', () => {
    expect(parsed.scenes.map(({ heading, sceneNumber }) => [heading, sceneNumber])).toEqual([
      ['OPENING', null],
      ['EXT. FERRY TERMINAL - NIGHT', null],
      ['INT. FERRY SALOON - CONTINUOUS', null],
      ['THE VENDING MACHINE', null],
      ['EXT. UPPER DECK - NIGHT', '12A'],
      ['ext. far quay - dawn', null],
    ]);
  });

  it('lists the speakers: extensions dropped, dual "^", forced @McNAB, a non-ASCII name', () => {
    expect(parsed.characters).toEqual(['NARRATOR', 'INES', 'DECKHAND', 'MCNAB', 'ÉLODIE']);
    expect(parsed.scenes[2]?.characters).toEqual(['INES', 'DECKHAND']); // "INES (CONT’D)", "DECKHAND (O.S.)"
    expect(parsed.scenes[4]?.characters).toEqual(['INES', 'DECKHAND', 'MCNAB']); // "DECKHAND ^"
  });

  it('removes boneyard (inline across lines, nested) and notes (own line between cue and dialogue)', () => {
    expect(parsed.scenes[2]?.text).toBe(
      "Vinyl benches, a vending machine that hums in B flat. Ines drops onto a bench.\n\nINES (CONT’D)\nIs it always this empty?\n\nDECKHAND (O.S.)\nDepends who's counting.",
    );
    const allText = parsed.scenes.map((scene) => scene.text).join('\n');
    for (const removed of ['jukebox', 'LIGHTHOUSE', 'Gulls', 'aside', 'Check:', 'A note before', '/*', '*/', '[[', ']]']) {
      expect(allText).not.toContain(removed);
    }
  });

  it('drops sections, synopses and page breaks; keeps centred text, transitions and lyrics', () => {
    const lines = parsed.scenes.flatMap((scene) => scene.text.split('\n'));
    expect(lines.filter((line) => line.startsWith('#') || line.startsWith('=') || line === '===')).toEqual([]);
    expect(parsed.scenes[3]?.text).toBe('Its display blinks: TONIGHT ONLY.\n\n> THE CROSSING <');
    expect(parsed.scenes[1]?.text.endsWith('CUT TO:')).toBe(true);
    expect(parsed.scenes[4]?.text).toContain('~Row, row, row the boat\n\n@McNAB\n(from the wheelhouse)\nTwenty minutes to the far side!');
    expect(parsed.scenes[5]?.text.endsWith('> FADE OUT.')).toBe(true);
  });
});

describe('fountain/headings.fountain', () => {
  const parsed = parseFixture('fountain/headings.fountain');

  it('reads lowercase, forced, numbered, dotless and I/E headings; ". NOT A HEADER", INTERIOR… and "..." stay action', () => {
    expect(parsed.scenes.map(({ heading, sceneNumber }) => [heading, sceneNumber])).toEqual([
      ['INT. ATTIC - DAY', null],
      ['ext. rooftop garden - night', null], // case kept as written
      ['FORCED HEADER', null],
      ['INT./EXT. CAR - MOVING', '7'],
      ['EST LIGHTHOUSE', 'B2-1'],
      ['I/E BOAT - NIGHT', null],
    ]);
    expect(parsed.scenes[3]?.text).toBe('');
    expect(parsed.scenes[4]?.text).toBe('. NOT A HEADER\n\nINTERIOR DESIGN MAGAZINE lies on the seat.');
    expect(parsed.scenes[5]?.text).toBe('...it rocks.');
  });

  it('finds the indented MILO and NELL; the indented "CUT TO:" is a transition', () => {
    expect(parsed.characters).toEqual(['MILO', 'NELL']);
    expect(parsed.scenes[0]?.text).toBe('Dust in the light.\n\nMILO\nAnybody up here?\n\nCUT TO:');
  });
});

describe('fountain/cue-rules.fountain', () => {
  const raw = readFixture('fountain/cue-rules.fountain').toString('utf8');

  it('has no scene heading, so on its own it is rejected with no_scenes (no OPENING scene without a heading)', () => {
    expect(parseError(() => parseFixture('fountain/cue-rules.fountain')).message).toMatch(/^No scene heading found: /);
  });

  it('gives the right speakers once a heading is put in front', () => {
    expect(withHeading(raw).characters).toEqual(['WREN', 'OTTO', 'GRAN', 'PIP', 'R2', '2B', 'LONE', 'TRAILING', 'ECHO', 'ALPHA', 'BETA']);
  });

  // Each blank-line-separated block of the fixture on its own, keyed by its first line.
  const expectedSpeaker: Record<string, string | null> = {
    WREN: 'WREN',
    '    WREN': 'WREN', // padded
    "WREN (CONT'D)": 'WREN',
    'OTTO (quietly)': 'OTTO', // extensions may be lowercase
    OTTO: null, // blank line after the cue
    'A blank line after the cue: not dialogue.': null,
    'GRAN (O. S.)': 'GRAN',
    'Pip (O. S.) ': null, // not uppercase
    '@Pip (O.S.)': 'PIP', // forced
    "WREN (V.O.) (CONT'D)": 'WREN',
    'WREN (V.O.) (CONT’D)': 'WREN', // curly apostrophe
    '2B': null, // starts with a digit
    R2: 'R2',
    '@2B': '2B',
    '        LONE': 'LONE',
    'TRAILING ': 'TRAILING',
    'ECHO (Dual) ^': 'ECHO',
    'NOPE ^ (Dual)': null, // '^' must come last
    ALPHA: 'ALPHA',
    'BETA ^': 'BETA',
  };
  // Without the file's final newline, so its last block has no trailing blank line.
  itGivesEachCueBlockItsSpeaker(raw.replace(/\n$/, ''), expectedSpeaker);
});

describe('line endings and byte-order marks', () => {
  it('two-lamps-crlf: CRLF, lowercase title-page keys, a space-only blank line; a FADE IN:-only preamble makes no scene', () => {
    const bytes = readFixture('fountain/two-lamps-crlf.fountain');
    expect(bytes.toString('utf8')).not.toMatch(/[^\r]\n/);
    const parsed = parseScreenplay(bytes, 'two-lamps-crlf.fountain');
    expect(parsed.title).toBe('Two Lamps');
    expect(headings(parsed)).toEqual(['INT. WORKSHOP - NIGHT', 'EXT. YARD - NIGHT']);
    expect(parsed.characters).toEqual(['ODILE', 'PAUL']);
    expect(parsed.scenes[1]?.characters).toEqual(['PAUL', 'ODILE']); // "ODILE (O.S.)"
  });

  it('salt-mixed-endings: CRLF and LF in one file, tab-indented title', () => {
    const raw = readFixture('fountain/salt-mixed-endings.fountain').toString('utf8');
    expect(raw).toContain('\r\n');
    expect(raw).toMatch(/[^\r]\n/);
    const parsed = parseFixture('fountain/salt-mixed-endings.fountain');
    expect(parsed.title).toBe('Salt');
    expect(parsed.scenes.map(({ heading, characters }) => [heading, characters])).toEqual([
      ['INT. KITCHEN - DAY', ['MARGIT']],
      ['INT. DINING ROOM - DAY', ['JONAH']],
    ]);
  });

  it('bus-stop-bom: the BOM is stripped before the first heading', () => {
    const bytes = readFixture('fountain/bus-stop-bom.fountain');
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const parsed = parseScreenplay(bytes, 'bus-stop-bom.fountain');
    expect(parsed.title).toBeNull();
    expect(parsed.scenes).toHaveLength(1);
    expect(parsed.scenes[0]).toMatchObject({ heading: 'EXT. BUS STOP - DAY', characters: ['RUTA', 'KAREL'] });
    expect(parsed.scenes[0]?.text.endsWith('KAREL\nIt was never early.')).toBe(true);
  });

  itParsesAlikeWithAnyLineEnding(FIXTURES, ['fountain/night-ferry.fountain', 'fountain/salt-mixed-endings.fountain', 'fdx/harbour-radio.fdx']);
});

describe('fdx/harbour-radio.fdx', () => {
  const parsed = parseFixture('fdx/harbour-radio.fdx');

  it('reads the title, numbered headings and the speakers; text before the first Scene Heading is an OPENING scene', () => {
    expect(parsed.format).toBe('fdx');
    expect(parsed.title).toBe('Harbour Radio'); // first non-empty centred title-page paragraph
    expect(parsed.scenes.map(({ heading, sceneNumber, characters }) => ({ heading, sceneNumber, characters }))).toEqual([
      { heading: 'OPENING', sceneNumber: null, characters: ['ANNOUNCER'] },
      { heading: 'INT. RADIO BOOTH - NIGHT', sceneNumber: '1', characters: ['VERA', 'SILAS'] }, // "SILAS (O.S.)", dual dialogue
      { heading: 'EXT. BREAKWATER - NIGHT', sceneNumber: '2', characters: ['TEO'] },
    ]);
    expect(parsed.characters).toEqual(['ANNOUNCER', 'VERA', 'SILAS', 'TEO']);
    expect(parsed.scenes[0]?.text).toBe('Static. A radio dial turns through the dark.\n\nANNOUNCER (V.O.)\nThis is Harbour Radio, still on the air.\n\nFADE IN:');
  });

  it('lays scene text out like Fountain: text runs joined, dialogue kept together, outline hidden, entities decoded', () => {
    expect(parsed.scenes[1]?.text).toBe(
      'VERA (50s) leans into a microphone older than she is.\n\nVERA\n(softly)\nShips at sea, this one is for you.\n\nSILAS (O.S.)\nVera, the board is lit up.\n\nVERA\nPut them through.\n\nSILAS\nPutting them through.',
    );
    expect(parsed.scenes[2]?.text).toBe('A fisherman, TEO, holds a transistor radio to his ear. Salt & spray.\n\nTEO\nCaller number one.\n\nCUT TO BLACK.');
  });

  it('is recognised by content when the extension says nothing', () => {
    const bytes = readFixture('fdx/harbour-radio.fdx');
    expect(parseScreenplay(bytes, 'harbour-radio').format).toBe('fdx');
    expect(parseScreenplay(bytes, 'RADIO.FDX')).toEqual(parsed);
  });
});

describe('text before the first scene heading (inline)', () => {
  const fdx = (content: string): Uint8Array =>
    utf8(`<?xml version="1.0" encoding="UTF-8"?>\n<FinalDraft DocumentType="Script" Version="5"><Content>${content}</Content></FinalDraft>`);
  const p = (type: string, text: string): string => `<Paragraph Type="${type}"><Text>${text}</Text></Paragraph>`;

  it('Fountain: narration and voice-over become scene 0, OPENING; its speakers count there and in the script', () => {
    const parsed = parseText('FADE IN:\n\nNARRATOR (V.O.)\nLong ago...\n\nINT. HOUSE - DAY\n\nBOB\nHi.\n');
    expect(parsed.scenes).toEqual([
      { index: 0, heading: 'OPENING', sceneNumber: null, text: 'FADE IN:\n\nNARRATOR (V.O.)\nLong ago...', characters: ['NARRATOR'] },
      { index: 1, heading: 'INT. HOUSE - DAY', sceneNumber: null, text: 'BOB\nHi.', characters: ['BOB'] },
    ]);
    expect(parsed.characters).toEqual(['NARRATOR', 'BOB']);
  });

  it('Fountain: transitions alone (FADE IN:, a forced "> …", "… TO:"), sections, notes and boneyard make no opening scene', () => {
    for (const preamble of ['FADE IN:', 'FADE IN FROM BLACK:', '> HERE WE GO:', 'SMASH CUT TO:', '# Act one\n\n= Setup', '[[a note]]', '/* cut */']) {
      expect(headings(parseText(`${preamble}\n\nINT. HOUSE - DAY\n\nAction.\n`))).toEqual(['INT. HOUSE - DAY']);
    }
    // Centred text is content, not a transition.
    expect(headings(parseText('> THE BEGINNING <\n\nINT. HOUSE - DAY\n\nAction.\n'))).toEqual(['OPENING', 'INT. HOUSE - DAY']);
  });

  it('Fountain: the title page is never narration, even with no blank line after it', () => {
    expect(parseText('Title: Short\nAuthor: Me\n\nINT. HOUSE - DAY\n\nAction.\n').scenes).toHaveLength(1);
    const noBlank = parseText('Title: Short\nThe wind howls.\n\nINT. HOUSE - DAY\n\nAction.\n');
    expect(noBlank.title).toBe('Short');
    expect(noBlank.scenes[0]).toMatchObject({ heading: 'OPENING', text: 'The wind howls.' });
  });

  it('FDX: action before the first Scene Heading is scene 0; a Transition alone is not', () => {
    const withAction = parseScreenplay(fdx(p('Action', 'Rain.') + p('Scene Heading', 'INT. A') + p('Action', 'Dry.')), 'a.fdx');
    expect(withAction.scenes.map(({ heading, text }) => [heading, text])).toEqual([['OPENING', 'Rain.'], ['INT. A', 'Dry.']]);
    const transitionOnly = parseScreenplay(fdx(p('Transition', 'SLOW FADE FROM WHITE') + p('Scene Heading', 'INT. A') + p('Action', 'Dry.')), 'a.fdx');
    expect(headings(transitionOnly)).toEqual(['INT. A']);
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

  it('xml_entities: a DOCTYPE declaring entities (expansion bomb, external entity) is refused, not expanded nor kept literal', () => {
    const bomb = parseError(() => parseScreenplay(readFixture('bad-input/entity-bomb.fdx'), 'entity-bomb.fdx'));
    expect(bomb.code).toBe('xml_entities');
    expect(bomb.message).toMatch(/^The FDX file declares XML entities \(<!ENTITY …> in a <!DOCTYPE>\): .* so the file was refused\./);
    expect(parseError(() => parseScreenplay(readFixture('bad-input/external-entity.fdx'), 'external-entity.fdx')).code).toBe('xml_entities');
    // After a comment and with no entities: still refused (Final Draft never writes a DOCTYPE).
    const plain = parseError(() => parseScreenplay(utf8('<?xml version="1.0"?>\n<!-- x -->\n<!DOCTYPE FinalDraft>\n<FinalDraft/>'), 'a.fdx'));
    expect(plain).toMatchObject({ code: 'xml_entities', message: expect.stringContaining('document type declaration') });
  });

  it(`too_many_scenes: more than ${MAX_SCENES} scenes; exactly the limit is accepted`, () => {
    const scenes = (n: number) => utf8(Array.from({ length: n }, (_, i) => `INT. ROOM ${i + 1} - DAY\n`).join('\n'));
    expect(parseScreenplay(scenes(MAX_SCENES), 'a.fountain').scenes).toHaveLength(MAX_SCENES);
    const over = parseError(() => parseScreenplay(scenes(10_000), 'a.fountain'));
    expect(over.code).toBe('too_many_scenes');
    expect(over.message).toMatch(/^The file has 10,000 scenes; the limit is 5,000 /);
  });
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
    const ferry = readFixture('fountain/night-ferry.fountain').toString('utf8');
    expect(parseText(ferry.replace(/\r\n?/g, '\n')).scenes.map(sceneContentHash)).toEqual(
      parseText(ferry.replace(/\r?\n/g, '\r\n')).scenes.map(sceneContentHash),
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
