// Error classes with the context a user needs to find the fault in the stream.

/** Every code, as data: a recording's error lines are checked against it. */
export const DECODE_ERROR_CODES = [
  'frame-end', // end byte is not 0xCE
  'frame-too-large', // size exceeds frame-max
  'unknown-frame-type',
  'unknown-method', // class/method ids not in the spec
  'unknown-class', // content header for a class without content
  'unknown-field-type', // field-table type octet not known
  'truncated', // a length runs past the end of the payload
  'too-deep', // field tables/arrays nested deeper than the decoder follows
  'trailing-bytes', // payload longer than its fields
  'bad-heartbeat', // heartbeat on a channel other than 0 or with a payload
  'not-amqp', // the stream does not start with an AMQP protocol header or a frame
  'not-decoded', // another AMQP version (passed through), or bytes withheld from a recording
  'unexpected-frame', // message assembly: header/body in the wrong channel state
] as const;

export type DecodeErrorCode = (typeof DECODE_ERROR_CODES)[number];

/** A fault in the byte stream, with where it is. */
export class DecodeError extends Error {
  constructor(
    readonly code: DecodeErrorCode,
    message: string,
    /** byte offset in the stream (or in the payload, for payload decoders; see `where`) */
    readonly offset: number,
    readonly context: { readonly channel?: number; readonly classId?: number; readonly methodId?: number } = {},
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Thrown by field/method decoders; offsets are relative to the buffer they were given. */
export class PayloadError extends DecodeError {}
