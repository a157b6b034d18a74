// Errors that are the user's to fix (a bad option, an unreadable file, a port in use). Each
// class carries the exit code it ends the CLI with, so renaming a class cannot change one.

/** An error whose message is one line for the user; the CLI prints it and exits with `exitCode`. */
export abstract class AmqpSpyError extends Error {
  /** 2: what was asked for is wrong (an option, an input file); 1: it failed while running */
  abstract readonly exitCode: number;
}

/** The command line asks for something impossible (options that exclude each other, a bad number). */
export class UsageError extends AmqpSpyError {
  override readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
