// `--ready` / `--ready-file`: one JSON line saying where a live session listens, for a test
// harness in any language that starts amqp-spy as a subprocess and must know when and where
// to connect (`--listen 127.0.0.1:0` picks a free port).

import fs from 'node:fs';
import path from 'node:path';
import { AmqpSpyError } from '../errors.js';
import { describeFsError } from '../source/errno.js';

export interface ReadyLine {
  /** what a client connects with (the first --user's login for the built-in broker) */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly mode: 'standalone' | 'proxy';
  readonly upstream?: string;
  readonly pid: number;
}

/** The ready file cannot be written where it was asked for. */
export class ReadyFileError extends AmqpSpyError {
  override readonly exitCode = 2;
  constructor(
    readonly path: string,
    reason: string,
  ) {
    super(`--ready-file ${path}: ${reason}`);
    this.name = 'ReadyFileError';
  }
}

export function formatReadyLine(ready: ReadyLine): string {
  return `${JSON.stringify(ready)}\n`;
}

/**
 * Before the session starts: a file left by an earlier run is removed (a harness polling for
 * it must not read a stale port), and a directory that does not exist fails now, not later.
 */
export function clearReadyFile(file: string): void {
  try {
    fs.rmSync(file, { force: true });
    if (!fs.statSync(path.dirname(path.resolve(file))).isDirectory()) throw new Error('not a directory');
  } catch (error) {
    throw new ReadyFileError(file, describeFsError(error));
  }
}

/** Writes the line to a temporary file and renames it into place: a reader never sees half of it. */
export function writeReadyFile(file: string, line: string): void {
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(temporary, line);
    fs.renameSync(temporary, file);
  } catch (error) {
    fs.rmSync(temporary, { force: true });
    throw new ReadyFileError(file, describeFsError(error));
  }
}

/** At the end of the session: the file no longer tells the truth. */
export function removeReadyFile(file: string): void {
  fs.rmSync(file, { force: true });
}
