// What the terminal UI's thread and the session's thread say to each other.

import type { FaultReply, FaultRequest } from '../fault-client.js';
import type { BodyOptions } from '../../body/shared-decoder.js';

/** Given to the UI's thread when it starts. */
export interface TuiWorkerData {
  readonly bufferSize: number | undefined;
  readonly showSecrets: boolean;
  /** --proto and --proto-type: the UI's thread loads the schemas again for itself */
  readonly bodies?: BodyOptions;
  /** live --filter: the list starts filtered by it */
  readonly filter?: string;
}

/** Session thread → UI thread. */
export type ToTui =
  | { readonly type: 'batch'; readonly batch: Uint8Array }
  /** `faults`: the session takes the fault panel's requests (the proxy or the built-in broker) */
  | { readonly type: 'draw'; readonly mode: string; readonly columns: number; readonly rows: number; readonly faults: boolean }
  /** the answer to the fault panel's request `id` */
  | { readonly type: 'fault-reply'; readonly id: number; readonly reply: FaultReply }
  | { readonly type: 'resize'; readonly columns: number; readonly rows: number }
  | { readonly type: 'notice'; readonly line: string }
  | { readonly type: 'progress'; readonly line: string | undefined }
  | { readonly type: 'recording'; readonly recording: { readonly path: string; readonly bytes: number } | undefined }
  /** the session stopped (after a quit asked for it): every close is in the batches before this */
  | { readonly type: 'quit-done' }
  /** close the UI from outside (SIGTERM) */
  | { readonly type: 'abort' };

/** UI thread → session thread. */
export type FromTui =
  | { readonly type: 'ack'; readonly length: number }
  | { readonly type: 'raw-mode'; readonly on: boolean }
  /** the fault panel asks: apply it to the session's rules, then answer fault-reply */
  | { readonly type: 'fault-request'; readonly id: number; readonly request: FaultRequest }
  /** the user quit: stop the session, then answer quit-done */
  | { readonly type: 'quit' }
  /** a line for stderr (a notice the UI could not show: it was closing) */
  | { readonly type: 'stderr'; readonly line: string }
  /** the UI is gone and the terminal restored; `error` if it failed */
  | { readonly type: 'exited'; readonly error?: string };
