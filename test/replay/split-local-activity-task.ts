/**
 * Rewrites a recorded history (JSON) as it is when the run's first local activity ended while
 * its workflow task was being completed: the activity's marker stays in the first task, and
 * the commands that followed its result go in a task of their own. Core records runs that way
 * now and then (seen in a chaos run); a replay must still accept them.
 */
interface JsonEvent {
  eventId: string;
  eventType: string;
  eventTime?: string;
  markerRecordedEventAttributes?: { markerName?: string };
  [key: string]: unknown;
}

const COMMAND_EVENTS = new Set([
  'EVENT_TYPE_MARKER_RECORDED',
  'EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES',
  'EVENT_TYPE_ACTIVITY_TASK_SCHEDULED',
  'EVENT_TYPE_TIMER_STARTED',
  'EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED',
  'EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED',
]);

/** Event ids past `after` move up by `by`, in the events and in every `…EventId` that points at them. */
function shiftIds(value: unknown, after: number, by: number): unknown {
  if (Array.isArray(value)) return value.map((v) => shiftIds(v, after, by));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) =>
        (k === 'eventId' || k.endsWith('EventId')) && (typeof v === 'string' || typeof v === 'number') && Number(v) > after
          ? [k, String(Number(v) + by)]
          : [k, shiftIds(v, after, by)],
      ),
    );
  }
  return value;
}

/** The history with its first task split after its last local-activity marker; throws when there is no such split to make. */
export function splitAfterFirstLocalActivity(history: { events: JsonEvent[] }): { events: JsonEvent[] } {
  const { events } = history;
  const completed = events.findIndex((e) => e.eventType === 'EVENT_TYPE_WORKFLOW_TASK_COMPLETED');
  let end = completed + 1;
  while (end < events.length && COMMAND_EVENTS.has(events[end].eventType)) end++;
  const commands = events.slice(completed + 1, end);
  const lastMarker = commands.map((e) => e.markerRecordedEventAttributes?.markerName).lastIndexOf('core_local_activity');
  if (lastMarker < 0 || lastMarker === commands.length - 1) throw new Error('the first workflow task has no command after a local activity');
  const at = completed + 1 + lastMarker;
  const after = Number(events[at].eventId);
  const [scheduled, started, done] = events.slice(completed - 2, completed + 1).map((e) => structuredClone(e));
  const time = events[at].eventTime;
  const id = (n: number) => String(after + n);
  const task = [
    { ...scheduled, eventId: id(1), eventTime: time },
    { ...started, eventId: id(2), eventTime: time, workflowTaskStartedEventAttributes: { ...(started.workflowTaskStartedEventAttributes as object), scheduledEventId: id(1) } },
    { ...done, eventId: id(3), eventTime: time, workflowTaskCompletedEventAttributes: { ...(done.workflowTaskCompletedEventAttributes as object), scheduledEventId: id(1), startedEventId: id(2) } },
  ];
  const shifted = events.map((e) => shiftIds(e, after, 3) as JsonEvent);
  return { ...history, events: [...shifted.slice(0, at + 1), ...task, ...shifted.slice(at + 1)] };
}
