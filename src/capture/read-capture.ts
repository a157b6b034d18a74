// A capture as a byte source: the file reader, the TCP reassembly and the connection finder
// chained, fed from any stream of chunks (a file, tcpdump's stdout), reporting to a
// ByteObserver with the packets' timestamps.

import type { ByteObserver } from '../source/byte-observer.js';
import type { OverloadableSink } from '../tap/tap-observer.js';
import { CaptureFileReader, CaptureFormatError } from './capture-file.js';
import { CaptureSource, type CaptureCounters } from './capture-source.js';
import { describeLinkType, SUPPORTED_LINK_TYPES } from './tcp-packet.js';

export interface ReadCaptureOptions {
  /** the file's name (or `tcpdump on lo`) for messages */
  readonly source: string;
  readonly input: AsyncIterable<Buffer>;
  readonly observer: ByteObserver;
  readonly ports?: readonly number[];
  readonly notice: (line: string) => void;
  /** a sink that may fall behind: reading waits while it is overloaded */
  readonly hold?: OverloadableSink;
  readonly signal?: AbortSignal;
  readonly maxConnections?: number;
  readonly bufferBudget?: number;
}

export interface CaptureReadResult {
  readonly counters: CaptureCounters;
  /** times waiting for missing segments was cut short by the shared memory budget */
  readonly budgetRefusals: number;
}

export async function readCapture(options: ReadCaptureOptions): Promise<CaptureReadResult> {
  const source = new CaptureSource({
    observer: options.observer,
    notice: options.notice,
    ...(options.ports !== undefined ? { ports: options.ports } : {}),
    ...(options.maxConnections !== undefined ? { maxConnections: options.maxConnections } : {}),
    ...(options.bufferBudget !== undefined ? { bufferBudget: options.bufferBudget } : {}),
  });
  const reader = new CaptureFileReader(options.source, {
    onPacket: (packet) => source.packet(packet),
    onWarning: (line) => options.notice(`warning: ${line}`),
  });
  const hold = options.hold;
  for await (const chunk of options.input) {
    reader.push(chunk);
    if (hold?.overloaded) await new Promise<void>((resolve) => hold.onDrain(resolve));
    if (options.signal?.aborted) break;
  }
  if (!options.signal?.aborted) reader.end();
  source.end();
  const c = source.counters;
  // a capture none of whose packets could be read: one line, as for any unreadable input
  if (c.packets > 0 && c.unknownLinkType === c.packets) {
    throw new CaptureFormatError(
      options.source,
      0,
      `${reader.linkTypes.map(describeLinkType).join(', ')} is not supported (supported: ${SUPPORTED_LINK_TYPES})`,
    );
  }
  return { counters: c, budgetRefusals: source.budgetRefusals };
}
