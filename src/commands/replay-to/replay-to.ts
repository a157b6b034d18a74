// `amqp-spy replay FILE --to host:port`: plays the client side of every recorded connection
// to a broker, as a real client over a plain socket. In recorded order, a client frame is
// sent only once every server frame that preceded it in the recording has come from the new
// server (so each synchronous reply is awaited), and server-chosen names (server-named
// queues, consumer tags, delivery tags) are mapped from the new replies into later frames.
// Each new server frame is compared with the recorded one in its place; the differences are
// the result. The session (replay-session.ts) drives the connections (replay-connection.ts,
// replay-channel.ts), rewrites client frames (client-frame-rewriter.ts) and compares server
// frames (replay-compare.ts) and publisher confirms (confirm-log.ts).

import { openRecording, RecordingError } from '../../record/recording-reader.js';
import type { ReplayTarget } from './replay-connection.js';
import { ReplaySession, type ReplayDifference, type ReplayToResult } from './replay-session.js';

export { ReplayTargetError, type ReplayTarget } from './replay-connection.js';
export type { ReplayDifference, ReplayToResult } from './replay-session.js';

export interface ReplayToOptions {
  readonly path: string;
  readonly target: ReplayTarget;
  /** how long to wait for a server frame the recording says comes next (default 5000 ms) */
  readonly timeoutMs?: number;
  readonly lenient?: boolean;
  /** accept any certificate from an amqps:// target */
  readonly insecure?: boolean;
  readonly onWarning?: (line: string) => void;
  /**
   * The recording's own pace, scaled (default 1: as recorded, so TTLs and expiries meet the
   * same clock; 10 is ten times faster). A client frame is never sent before its recorded
   * time, nor before the server frames recorded ahead of it came.
   */
  readonly speed?: number;
  /** each difference as it is found */
  readonly onDifference?: (difference: ReplayDifference) => void;
}

export function formatDifference(d: ReplayDifference): string {
  return `#${d.conn} ch${d.channel}${d.line !== undefined ? ` (line ${d.line})` : ''}: ${d.text}`;
}

export async function replayTo(options: ReplayToOptions): Promise<ReplayToResult> {
  const warn = options.onWarning ?? (() => {});
  const recording = await openRecording(options.path, { lenient: options.lenient ?? false, onWarning: warn });
  // a selective recording lacks frames the clients sent (or their bodies): re-sending it would
  // make a different conversation, and every difference found would be the recording's own
  const { recordFilter, bodies } = recording.header;
  if (recordFilter !== undefined || bodies !== undefined) {
    const what = [recordFilter !== undefined ? `--record-filter '${recordFilter}'` : undefined, bodies !== undefined ? `--record-bodies ${bodies}` : undefined]
      .filter((w) => w !== undefined)
      .join(' and ');
    throw new RecordingError(
      options.path,
      undefined,
      `${options.path} was recorded with ${what}: it does not hold everything the clients sent, so replay --to cannot re-send it (replay it without --to to see it)`,
    );
  }
  const session = new ReplaySession({
    path: options.path,
    target: options.target,
    timeoutMs: options.timeoutMs ?? 5000,
    insecure: options.insecure ?? false,
    masked: recording.header.secrets !== 'kept',
    warn,
    onDifference: options.onDifference,
  });
  const pace = new RecordedPace(options.speed ?? 1);
  try {
    for await (const entry of recording.entries()) {
      if (entry.kind === 'conn.open' || entry.kind === 'conn.close' || entry.dir === 'c2s') await pace.wait(entry.ts);
      await session.play(entry);
    }
    await session.finish();
  } finally {
    session.destroy();
  }
  return session.result();
}

/** The recording's pace: what a broker decides by its clock (TTL, expiry) meets the same gaps. */
class RecordedPace {
  private firstTs: number | undefined;
  private readonly wallStart = performance.now();

  constructor(private readonly speed: number) {}

  /** Resolves when the entry recorded at `ts` (µs) is due. */
  async wait(ts: number): Promise<void> {
    this.firstTs ??= ts;
    const due = (ts - this.firstTs) / 1000 / this.speed - (performance.now() - this.wallStart);
    if (due > 1) await new Promise((resolve) => setTimeout(resolve, due));
  }
}
