// Errors of the encoders: a value that cannot be put on the wire as asked.

export type EncodeErrorCode =
  | 'string-too-long' // shortstr or table key over 255 bytes
  | 'value-out-of-range' // integer outside its wire type, or not an integer
  | 'bad-value' // a value of the wrong JS type for its field
  | 'unknown-method' // name or ids not in the spec
  | 'unknown-class' // content header for a class without properties
  | 'property-flags-mismatch' // given property flags disagree with the properties present
  | 'frame-too-large'; // frame-max too small for the frame

/** A value the encoders cannot write, with where it was meant to go. */
export class EncodeError extends Error {
  constructor(
    readonly code: EncodeErrorCode,
    message: string,
    readonly context: { readonly method?: string; readonly field?: string } = {},
  ) {
    super(message);
    this.name = new.target.name;
  }
}
