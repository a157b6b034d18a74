// `amqp-spy decode <file>`: a file of raw bytes of one direction of an AMQP connection,
// decoded through the same tap as live traffic.

import fs from 'node:fs';
import { EventBus, type DecodeErrorEvent, type EventSink } from '../events.js';
import { ConnectionTap } from '../tap/connection-tap.js';
import type { OverloadableSink } from '../tap/tap-observer.js';
import { describeFsError } from '../source/errno.js';
import { isPcap } from '../source/pcap.js';
import { createHeadlessPrinter, type PrinterOutput } from '../view/headless-printer.js';
import { AmqpSpyError } from '../errors.js';

export class InputFileError extends AmqpSpyError {
  override readonly exitCode = 2;
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
    this.name = 'InputFileError';
  }
}

/** What went wrong decoding a file: its events were printed; the command exits non-zero. */
export class DecodeFileError extends AmqpSpyError {
  override readonly exitCode = 1;
  constructor(
    readonly path: string,
    readonly errors: number,
    message: string,
  ) {
    super(message);
    this.name = 'DecodeFileError';
  }
}

/**
 * Decodes a file, emitting events to the sink. Resolves when the whole file is read; rejects
 * with DecodeFileError (after every event was emitted) when some bytes did not decode.
 */
export async function decodeFile(path: string, sink: EventSink, options: { showSecrets?: boolean; hold?: OverloadableSink } = {}): Promise<void> {
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(path, 'r');
  } catch (error) {
    throw new InputFileError(path, `cannot read ${path}: ${describeFsError(error)}`);
  }
  let errors = 0;
  let first: DecodeErrorEvent['error'] | undefined;
  let clientStream: boolean;
  try {
    const stat = await handle.stat();
    if (stat.isDirectory()) throw new InputFileError(path, `cannot read ${path}: it is a directory`);
    if (stat.size === 0) throw new InputFileError(path, `${path} is empty: nothing to decode`);
    const head = Buffer.alloc(4);
    await handle.read(head, 0, 4, 0);
    if (isPcap(head)) {
      throw new InputFileError(path, `${path} is a pcap capture; decode reads raw bytes of one direction: read a capture with amqp-spy read ${path}`);
    }
    const countErrors: EventSink = (event) => {
      if (event.kind !== 'decode.error') return;
      errors++;
      first ??= event.error;
    };
    const bus = new EventBus([sink, countErrors]);
    // a file may start mid-stream, after a tune-ok it does not hold: no handshake limit
    const tap = new ConnectionTap(1, bus, { showSecrets: options.showSecrets ?? false, frameMaxUntilTuneOk: 0 });
    // a client's stream opens with the protocol header; a server's with frames
    clientStream = head[0] === 0x41;
    const dir = clientStream ? 'c2s' : 's2c';
    const stream = handle.createReadStream({ highWaterMark: 64 * 1024, autoClose: false });
    let ts = Date.now() * 1000;
    const hold = options.hold;
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      tap.feed(dir, chunk, ts++);
      // a sink that is behind (stdout not read) holds the reading of the file
      if (hold?.overloaded) await new Promise<void>((resolve) => hold.onDrain(resolve));
    }
    tap.endOfStreams(ts);
  } finally {
    await handle.close();
  }
  if (first !== undefined) {
    const guess = clientStream ? '' : ' (read as server→client: the file does not start with "AMQP")';
    throw new DecodeFileError(
      path,
      errors,
      `${path}: ${errors} decode error${errors === 1 ? '' : 's'}, the first at offset ${first.offset}: ${first.code}${guess}`,
    );
  }
}

export interface DecodeCommandOptions {
  readonly json: boolean;
  readonly showSecrets: boolean;
}

export interface DecodeCommandIo {
  /** stdout: batches of UTF-8 lines from the printer */
  readonly write: (output: Uint8Array) => void;
  /** how far behind stdout's reader is: the file is read no faster than it takes the lines */
  readonly output?: PrinterOutput;
  readonly color: boolean;
}

/** The command: one line (or JSON object) per frame, at the frame's offset in the file. */
export async function runDecodeCommand(path: string, options: DecodeCommandOptions, io: DecodeCommandIo): Promise<void> {
  const printer = createHeadlessPrinter({
    write: io.write,
    json: options.json,
    color: io.color,
    mode: 'frames',
    position: 'offset',
    ...(io.output ? { output: io.output } : {}),
  });
  try {
    // the file is read as fast as stdout is
    await decodeFile(path, printer, { showSecrets: options.showSecrets, hold: printer });
  } finally {
    printer.flush();
  }
}
