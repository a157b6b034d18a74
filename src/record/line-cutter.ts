// Cuts newline-terminated lines out of the chunks a file is read in. A line that spans reads
// is kept as a list of pieces and joined once when its newline comes: concatenating the
// carried part onto every read cost the square of the line's length (a 256 MiB line replayed
// in 38 s).

export class LineCutter {
  /** the current line: `bytes[start, end)`, without its newline; valid until the next call */
  bytes: Buffer = Buffer.alloc(0);
  start = 0;
  end = 0;
  /** bytes copied to carry and join lines that span chunks (linear in their length) */
  copiedBytes = 0;

  #chunk: Buffer = Buffer.alloc(0);
  #at = 0;
  /** copies of the parts of an unfinished line, in order */
  #pieces: Buffer[] = [];
  #piecesLength = 0;

  /** Starts on a chunk; the caller may overwrite it once `next()` has returned false. */
  feed(chunk: Buffer): void {
    this.#chunk = chunk;
    this.#at = 0;
  }

  /**
   * Moves to the next complete line of the chunk. False when there is none: the rest of the
   * chunk, an unfinished line, has then been copied aside to be joined with what follows.
   */
  next(): boolean {
    const chunk = this.#chunk;
    const from = this.#at;
    const newline = chunk.indexOf(0x0a, from);
    if (newline < 0) {
      if (from < chunk.length) this.#keep(Buffer.from(chunk.subarray(from)));
      this.#at = chunk.length;
      return false;
    }
    this.#at = newline + 1;
    if (this.#pieces.length === 0) {
      this.bytes = chunk;
      this.start = from;
      this.end = newline;
    } else {
      this.#pieces.push(chunk.subarray(from, newline));
      this.#setJoined(this.#piecesLength + (newline - from));
    }
    return true;
  }

  /** At the end of the input: moves to the last line when it has no newline; false if none. */
  finish(): boolean {
    if (this.#pieces.length === 0) return false;
    this.#setJoined(this.#piecesLength);
    return true;
  }

  #keep(piece: Buffer): void {
    this.copiedBytes += piece.length;
    this.#pieces.push(piece);
    this.#piecesLength += piece.length;
  }

  #setJoined(length: number): void {
    const joined = Buffer.concat(this.#pieces, length);
    this.copiedBytes += length;
    this.#pieces = [];
    this.#piecesLength = 0;
    this.bytes = joined;
    this.start = 0;
    this.end = length;
  }
}
