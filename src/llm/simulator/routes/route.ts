/** What every provider route implements: turn a parsed request body into a Reply (or throw BadRequest). */
import type { Reply } from '../reply';
import type { RouteName } from '../types';

export interface RouteContext {
  /** Unique per request, for response ids. */
  requestId: string;
  now: Date;
  /** Used when the request does not ask for a size. */
  embeddingDimensions: number;
  /** The `wrongShape` fault: structured output that is valid JSON but breaks the requested schema. */
  wrongShape?: boolean;
}

export interface RouteHandler {
  name: RouteName;
  /** Exact path; every route is a POST. */
  path: string;
  handle(body: unknown, ctx: RouteContext): Reply;
}
