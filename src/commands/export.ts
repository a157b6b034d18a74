// `amqp-spy export RECORDING --pcapng OUT`: a recording as a capture Wireshark and tshark read
// as real TCP conversations (pcapng-writer.ts), for their views beside amqp-spy's.

import fs from 'node:fs';
import { PcapngWriter } from '../capture/pcapng-writer.js';
import type { Direction } from '../events.js';
import { AmqpSpyError } from '../errors.js';
import { openRecording } from '../record/recording-reader.js';
import { describeFsError } from '../source/errno.js';
import { VERSION } from '../version.js';
import { plural } from '../view/summary.js';

/** The capture file cannot be written. */
export class ExportWriteError extends AmqpSpyError {
  override readonly exitCode = 1;
  constructor(
    readonly path: string,
    reason: string,
  ) {
    super(`cannot write ${path}: ${reason}`);
    this.name = 'ExportWriteError';
  }
}

export interface ExportOptions {
  readonly lenient?: boolean;
  readonly notice: (line: string) => void;
}

/** Resolves with the exit code (0). */
export async function runExportCommand(recordingPath: string, outPath: string, options: ExportOptions): Promise<number> {
  const recording = await openRecording(recordingPath, { lenient: options.lenient ?? false, onWarning: (line) => options.notice(`warning: ${line}`) });
  let fd: number;
  try {
    fd = fs.openSync(outPath, 'w');
  } catch (error) {
    throw new ExportWriteError(outPath, describeFsError(error, { ENOENT: 'no such directory' }));
  }
  const writer = new PcapngWriter((bytes) => {
    try {
      for (let at = 0; at < bytes.length; ) at += fs.writeSync(fd, bytes, at, bytes.length - at);
    } catch (error) {
      throw new ExportWriteError(outPath, describeFsError(error));
    }
  }, `amqp-spy ${VERSION}`);
  let connections = 0;
  let withheld = 0;
  // bytes of one direction at one instant go out together, cut at the MSS (as a socket would
  // send them); a protocol header goes alone, as clients send it and Wireshark expects it
  let pending: { conn: number; dir: Direction; ts: number; parts: Buffer[]; length: number } | undefined;
  const flushPending = () => {
    if (pending === undefined) return;
    writer.data(pending.conn, pending.dir, pending.parts.length === 1 ? pending.parts[0]! : Buffer.concat(pending.parts, pending.length), pending.ts);
    pending = undefined;
  };
  try {
    for await (const entry of recording.entries()) {
      if (entry.kind === 'bytes') {
        if (pending !== undefined && (pending.conn !== entry.conn || pending.dir !== entry.dir || pending.ts !== entry.ts || pending.length >= 65536))
          flushPending();
        pending ??= { conn: entry.conn, dir: entry.dir, ts: entry.ts, parts: [], length: 0 };
        pending.parts.push(entry.raw);
        pending.length += entry.raw.length;
        if (entry.source === 'protocol-header') flushPending();
        continue;
      }
      flushPending();
      switch (entry.kind) {
        case 'conn.open':
          connections++;
          writer.open(entry.conn, entry.client, entry.server, entry.ts);
          break;
        case 'conn.close': {
          const by: Direction = entry.socket?.by === 'server' ? 's2c' : 'c2s';
          writer.close(entry.conn, by, entry.socket?.how === 'reset', entry.ts);
          break;
        }
        case 'withheld':
          withheld += entry.length;
          writer.skip(entry.conn, entry.dir, entry.length);
          break;
        case 'decode.stop':
          break;
      }
    }
    flushPending();
    writer.flush();
  } finally {
    fs.closeSync(fd);
  }
  if (writer.replacedNames.length > 0)
    options.notice(`host names have no address in a capture: ${writer.replacedNames.join(', ')} written as 192.0.2.x (TEST-NET-1)`);
  if (withheld > 0)
    options.notice(
      `${plural(withheld, 'byte')} the recording withheld (credentials) are left out: Wireshark shows them as segments not captured (record with --record-secrets to keep them)`,
    );
  options.notice(`wrote ${outPath}: ${plural(connections, 'connection')}, ${plural(writer.packets, 'packet')}`);
  return 0;
}
