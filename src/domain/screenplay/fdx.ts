import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { normaliseCharacterName } from './characters';
import { ScreenplayParseError } from './errors';
import { isTransitionLine, SceneCollector } from './scene-collector';
import type { ParsedScreenplay } from './types';

/** A node of fast-xml-parser's `preserveOrder` output: `{ Tag: children, ':@': attributes }` or `{ '#text': text }`. */
type XmlNode = Record<string, unknown>;

interface FdxParagraph {
  type: string;
  number: string | null;
  text: string;
}

const parser = new XMLParser({
  preserveOrder: true, // paragraphs and their <Text> runs must stay in document order
  ignoreAttributes: false,
  attributeNamePrefix: '',
  parseTagValue: false, // "1" stays a string
  parseAttributeValue: false,
  trimValues: false, // spaces between styled <Text> runs are part of the text
  ignoreDeclaration: true,
  ignorePiTags: true,
  htmlEntities: true, // without it, numeric references such as &#233; stay encoded
});

/** Paragraph types that continue a dialogue block: laid out without a blank line, like Fountain. */
const DIALOGUE_PARTS = new Set(['Parenthetical', 'Dialogue']);

/**
 * Reads Final Draft XML: `FinalDraft > Content > Paragraph[Type]`, each paragraph's `<Text>` runs
 * concatenated, `DualDialogue` groups flattened. A `Character` paragraph counts as a speaker when
 * a `Dialogue` follows it (after any parentheticals). Hidden outline paragraphs (`Outline …`) are
 * left out of scene text, every other type is kept; paragraphs are separated by a blank line
 * except inside a dialogue block, so FDX scene text reads like Fountain.
 */
export function parseFdx(text: string): ParsedScreenplay {
  refuseDocumentType(text);
  const validation = XMLValidator.validate(text);
  if (validation !== true) {
    const { msg, line, col } = validation.err;
    const where = col === undefined ? `line ${line}` : `line ${line}, column ${col}`;
    throw new ScreenplayParseError(
      'malformed_xml',
      `The FDX file is not well-formed XML: ${readableValidatorMessage(msg)} (${where}). ` +
        'Open it in Final Draft, save it again and import the new file.',
    );
  }
  const root = parseXml(text).find((node) => tagOf(node) === 'FinalDraft');
  if (!root) {
    throw new ScreenplayParseError(
      'malformed_xml',
      'The FDX file is XML but not a Final Draft document (its root element is not <FinalDraft>). ' +
        'Export the script from Final Draft as .fdx and import that file.',
    );
  }

  const paragraphs = flattenParagraphs(childrenNamed(root, 'Content').flatMap(childrenOf));
  const collector = new SceneCollector();
  let previousType = '';
  paragraphs.forEach((paragraph, i) => {
    const { type, number, text: paragraphText } = paragraph;
    if (type === 'Scene Heading') {
      collector.startScene(collapseWhitespace(paragraphText), number);
    } else {
      if (type === 'Character' && speaksNext(paragraphs, i)) collector.addSpeaker(normaliseCharacterName(paragraphText));
      const insideDialogue = DIALOGUE_PARTS.has(type) && (previousType === 'Character' || DIALOGUE_PARTS.has(previousType));
      if (!insideDialogue) collector.addLine('');
      for (const line of paragraphText.split('\n')) collector.addLine(line, type === 'Transition' || isTransitionLine(line.trim()));
    }
    previousType = type;
  });

  const { scenes, characters } = collector.finish();
  if (scenes.length === 0) {
    throw new ScreenplayParseError(
      'no_scenes',
      'No scene heading found: the FDX file has no non-empty paragraph of type "Scene Heading". ' +
        'Format the scene headings as Scene Heading elements in Final Draft and export again.',
    );
  }
  return { format: 'fdx', title: readTitle(root), scenes, characters };
}

/** A document type declaration before the root element (after the XML declaration, comments and processing instructions). */
const DOCTYPE_IN_PROLOG = /^(?:\s|<\?[\s\S]*?\?>|<!--[\s\S]*?-->)*<!DOCTYPE\b/i;

/**
 * Final Draft never writes a DOCTYPE. One that declares entities is refused before parsing:
 * nested entities expand exponentially ("billion laughs") and external ones name local files or
 * URLs (XXE). Neither is expanded nor left in the text as `&name;`: the file is not imported.
 */
function refuseDocumentType(text: string): void {
  if (!DOCTYPE_IN_PROLOG.test(text)) return;
  const declaresEntities = /<!ENTITY\b/i.test(text);
  throw new ScreenplayParseError(
    'xml_entities',
    declaresEntities
      ? 'The FDX file declares XML entities (<!ENTITY …> in a <!DOCTYPE>): Final Draft never writes them, and entities can expand ' +
          'to gigabytes or read local files, so the file was refused. Open it in Final Draft, save it again and import the new file.'
      : 'The FDX file has a document type declaration (<!DOCTYPE …>), which Final Draft never writes; it was refused. ' +
          'Open it in Final Draft, save it again and import the new file.',
  );
}

/** The parser enforces limits the validator does not (nesting depth, entity expansion) and throws a plain Error for them. */
function parseXml(text: string): XmlNode[] {
  try {
    return parser.parse(text) as XmlNode[];
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ScreenplayParseError(
      'malformed_xml',
      `The FDX file could not be read as XML: ${reason}. Open it in Final Draft, save it again and import the new file.`,
    );
  }
}

/**
 * Content paragraphs in reading order. Empty ones are dropped (an empty Scene Heading is an editing
 * leftover, not a scene), and so are hidden outline paragraphs.
 */
function flattenParagraphs(nodes: readonly XmlNode[]): FdxParagraph[] {
  const out: FdxParagraph[] = [];
  for (const node of nodes) {
    if (tagOf(node) !== 'Paragraph') continue;
    const dual = childrenNamed(node, 'DualDialogue');
    if (dual.length > 0) {
      out.push(...flattenParagraphs(dual.flatMap(childrenOf)));
      continue;
    }
    const type = attributeOf(node, 'Type') ?? '';
    const text = paragraphText(node);
    if (text.trim() === '' || type.startsWith('Outline')) continue;
    const number = attributeOf(node, 'Number')?.trim() || null;
    out.push({ type, number, text });
  }
  return out;
}

function speaksNext(paragraphs: readonly FdxParagraph[], cueIndex: number): boolean {
  for (let i = cueIndex + 1; i < paragraphs.length; i += 1) {
    const type = paragraphs[i]?.type;
    if (type !== 'Parenthetical') return type === 'Dialogue';
  }
  return false;
}

/** The first non-empty centred title-page paragraph (where Final Draft puts the title), else the first non-empty one. */
function readTitle(root: XmlNode): string | null {
  const paragraphs = childrenNamed(root, 'TitlePage')
    .flatMap((page) => childrenNamed(page, 'Content'))
    .flatMap((content) => childrenNamed(content, 'Paragraph'))
    .map((node) => ({ centred: attributeOf(node, 'Alignment') === 'Center', text: collapseWhitespace(paragraphText(node)) }))
    .filter((paragraph) => paragraph.text !== '');
  return (paragraphs.find((paragraph) => paragraph.centred) ?? paragraphs[0])?.text ?? null;
}

function paragraphText(paragraph: XmlNode): string {
  return childrenNamed(paragraph, 'Text').map(textOf).join('');
}

function textOf(node: XmlNode): string {
  const text = node['#text'];
  if (typeof text === 'string') return text;
  return childrenOf(node).map(textOf).join('');
}

function tagOf(node: XmlNode): string | undefined {
  return Object.keys(node).find((key) => key !== ':@');
}

function childrenOf(node: XmlNode): XmlNode[] {
  const tag = tagOf(node);
  const children = tag === undefined ? undefined : node[tag];
  return Array.isArray(children) ? (children as XmlNode[]) : [];
}

function childrenNamed(node: XmlNode, tag: string): XmlNode[] {
  return childrenOf(node).filter((child) => tagOf(child) === tag);
}

function attributeOf(node: XmlNode, name: string): string | undefined {
  const attributes = node[':@'] as Record<string, unknown> | undefined;
  const value = attributes?.[name];
  return typeof value === 'string' ? value : undefined;
}

function collapseWhitespace(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** The validator reports unclosed elements as a JSON array ("Invalid '[ "FinalDraft", "Content" ]' found."). */
function readableValidatorMessage(message: string): string {
  const unclosed = /^Invalid '\[(.*)\]' found\.$/s.exec(message);
  if (!unclosed) return message;
  const names = [...(unclosed[1] ?? '').matchAll(/"([^"]*)"/g)].map((match) => `<${match[1]}>`);
  return `unclosed element${names.length === 1 ? '' : 's'} ${names.join(', ')}.`;
}
