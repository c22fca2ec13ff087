/**
 * A screenplay run's live text for the API's SSE clients: one LISTEN (src/db/stream-channel.ts)
 * per watched run in this process, shared by every client watching it, closed when the last one
 * leaves. Best-effort like the channel itself: what was sent before a client listened is not
 * replayed (the saved version has it).
 */
import { subscribeToStream, type StreamEvent, type StreamSubscription } from '../db/stream-channel';

type Listener = (event: StreamEvent) => void;

interface Channel {
  listeners: Set<Listener>;
  subscription: Promise<StreamSubscription>;
}

export class StreamWatchHub {
  private readonly channels = new Map<string, Channel>();

  constructor(private readonly databaseUrl: string) {}

  private forget(workflowId: string, channel: Channel): void {
    if (this.channels.get(workflowId) === channel) this.channels.delete(workflowId);
  }

  /**
   * Resolves once the run's channel is listened to: every event sent from then on reaches
   * `listener`, in order. Returns the unsubscribe.
   */
  async watch(workflowId: string, listener: Listener): Promise<() => void> {
    let channel = this.channels.get(workflowId);
    if (!channel) {
      const listeners = new Set<Listener>();
      const created: Channel = {
        listeners,
        subscription: subscribeToStream(
          this.databaseUrl,
          workflowId,
          (event) => {
            for (const l of [...listeners]) l(event);
          },
          // The connection is gone: later clients listen again (these ones keep progress and the final event).
          { onError: () => this.forget(workflowId, created) },
        ),
      };
      channel = created;
      this.channels.set(workflowId, channel);
      channel.subscription.catch(() => this.forget(workflowId, created));
    }
    channel.listeners.add(listener);
    try {
      await channel.subscription;
    } catch (err) {
      channel.listeners.delete(listener);
      throw err;
    }
    const joined = channel;
    return () => {
      joined.listeners.delete(listener);
      if (joined.listeners.size) return;
      this.forget(workflowId, joined);
      joined.subscription.then((s) => s.close()).catch(() => undefined);
    };
  }

  /** Runs whose channel is listened to now (for tests). */
  get size(): number {
    return this.channels.size;
  }
}
