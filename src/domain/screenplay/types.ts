/** Which syntax a screenplay file uses: chosen from the file name, else sniffed from the content. */
export type ScreenplayFormat = 'fountain' | 'fdx';

/** One scene: everything from a scene heading up to the next one. Plain JSON. */
export interface ParsedScene {
  /** 0-based position in the screenplay. */
  index: number;
  /**
   * Trimmed, whitespace collapsed, without a forcing '.' or a trailing `#3#` scene number; case kept
   * as written. OPENING_SCENE_HEADING for the opening scene: the text before the first heading.
   */
  heading: string;
  /** From a Fountain `#3#` / `#1A#` suffix or the FDX `Number` attribute; null when absent. */
  sceneNumber: string | null;
  /**
   * The scene body (heading excluded): '\n' line endings, each line trimmed, runs of blank lines
   * collapsed to one, no leading or trailing blank line. Boneyard, notes, sections, synopses and
   * page breaks are removed; everything else (action, cues, dialogue, transitions, centred text,
   * lyrics, emphasis markers, forcing characters) stays as written.
   */
  text: string;
  /** Normalised names of the characters who speak in the scene, in first-speech order, unique. */
  characters: string[];
}

export interface ParsedScreenplay {
  format: ScreenplayFormat;
  /** Fountain title page `Title:` (lines joined by a space, emphasis markers removed) or the FDX title page; null when absent. */
  title: string | null;
  scenes: ParsedScene[];
  /** Every speaker, unique, in order of first appearance. */
  characters: string[];
}
