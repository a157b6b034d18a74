// The process's stdout as every command prints to it.

/** Colour on a terminal, unless NO_COLOR is set (https://no-color.org). */
export function wantsColor(): boolean {
  return process.stdout.isTTY === true && process.env['NO_COLOR'] === undefined;
}

export function writeStdout(output: string | Uint8Array): void {
  process.stdout.write(output);
}
