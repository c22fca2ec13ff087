/**
 * How many rows a listing or a search returns: the default and the most one request may ask
 * for. The HTTP API's query schemas and the CLI's `--limit` options read the same numbers, so a
 * limit is refused the same way wherever it is given (and never reaches SQL out of range).
 */
export const STORY_LIST_LIMIT = { default: 50, max: 500 } as const;
/** `stories search`, `GET /api/stories/search`. */
export const STORY_SEARCH_LIMIT = { default: 20, max: STORY_LIST_LIMIT.max } as const;
export const SCRIPT_LIST_LIMIT = { default: 50, max: 200 } as const;
/** Story sessions (`GET /api/sessions`; the default is what `sessions list` prints). */
export const SESSION_LIST_LIMIT = { default: 50, max: 500 } as const;
/** Screenplay stories (`GET /api/screenplays`). */
export const SCREENPLAY_LIST_LIMIT = { default: 50, max: 200 } as const;
/** Scenes ranked by similarity (`search`, `GET /api/scripts/:id/search`). */
export const SCENE_SEARCH_LIMIT = { default: 5, max: 50 } as const;
/** The longest text a scene search embeds (`search`, the API's `q`). */
export const SCENE_SEARCH_TEXT_MAX = 2000;
/** The largest `offset` of a paged listing (Postgres takes at most a bigint; far past any real list). */
export const MAX_LIST_OFFSET = 2_147_483_647;
