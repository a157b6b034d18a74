// The body decoder of this thread, configured once by the command from `--proto DIR` and
// `--proto-type RULE` (the TUI's own thread configures its own from the same options), so
// the detail view, the headless printer and filters all read bodies the same way.

import { BodyDecoder } from './decode-body.js';
import { loadProtoSchemas } from './protobuf.js';

/** What the command line says about bodies: plain data, so it can cross to the TUI's thread. */
export interface BodyOptions {
  readonly protoDir?: string | undefined;
  readonly protoTypes?: readonly string[] | undefined;
}

let shared = new BodyDecoder();

/** Loads the schemas and rules (throws ProtoOptionError, exit 2) and makes them this thread's. */
export function configureBodies(options: BodyOptions): void {
  const proto = loadProtoSchemas(options.protoDir, options.protoTypes ?? []);
  shared = new BodyDecoder(proto !== undefined ? { proto } : {});
}

export function bodyDecoder(): BodyDecoder {
  return shared;
}
