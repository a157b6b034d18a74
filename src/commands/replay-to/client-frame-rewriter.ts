// A recorded client frame as `replay --to` must send it now: names the new server chose in
// place of the recorded ones, its delivery tags, and credentials that work there.

import { encodeContentHeaderFrame, encodeMethodFrame } from '../../decoder/frame-codec.js';
import { saslCredentials } from '../../decoder/sasl.js';
import type { ArgumentValue, DecodedFrame, DecodedMethod } from '../../decoder/types.js';
import type { NameMap } from './replay-compare.js';

export interface Credentials {
  readonly username?: string;
  readonly password?: string;
}

export interface RewrittenFrame {
  /** the bytes to send: the recorded ones when nothing changed */
  readonly bytes: Uint8Array;
  /** a method frame's method as sent */
  readonly method?: DecodedMethod;
}

export class ClientFrameRewriter {
  /**
   * @param names recorded server-chosen name → the new server's, as learnt so far
   * @param masked the recording masked the credentials: start-ok always gets new ones
   * @param credentials the target's own, in place of the recorded ones
   */
  constructor(
    private readonly names: NameMap,
    private readonly masked: boolean,
    private readonly credentials: Credentials,
  ) {}

  /** `deliveryTags`: the channel's recorded delivery tag → the new server's. */
  rewrite(frame: DecodedFrame, raw: Uint8Array, deliveryTags: ReadonlyMap<bigint, bigint>): RewrittenFrame {
    if (frame.type === 'method') {
      const method = frame.method;
      let changed = false;
      const args: Record<string, ArgumentValue> = { ...method.args };
      for (const key of Object.keys(args)) {
        const value = args[key]!;
        if (typeof value === 'string' && this.names.has(value)) {
          args[key] = this.names.get(value)!;
          changed = true;
        }
      }
      if ((method.name === 'basic.ack' || method.name === 'basic.nack' || method.name === 'basic.reject') && typeof args['delivery-tag'] === 'bigint') {
        const mapped = deliveryTags.get(args['delivery-tag']);
        if (mapped !== undefined && mapped !== args['delivery-tag']) {
          args['delivery-tag'] = mapped;
          changed = true;
        }
      }
      const { username, password } = this.credentials;
      if (method.name === 'connection.start-ok' && (this.masked || username !== undefined || password !== undefined)) {
        const recordedUser = saslCredentials(args['mechanism'], args['response'])?.user;
        const user = username ?? recordedUser ?? 'guest';
        args['mechanism'] = 'PLAIN';
        args['response'] = Buffer.from(`\0${user}\0${password ?? 'guest'}`, 'utf8');
        changed = true;
      }
      if (!changed) return { bytes: raw, method };
      return { bytes: encodeMethodFrame(frame.channel, method.spec, args), method: { ...method, args } };
    }
    if (frame.type === 'header') {
      const props: Record<string, ArgumentValue> = { ...frame.header.properties };
      let changed = false;
      for (const key of Object.keys(props)) {
        const value = props[key]!;
        if (typeof value === 'string' && this.names.has(value)) {
          props[key] = this.names.get(value)!;
          changed = true;
        }
      }
      return {
        bytes: changed ? encodeContentHeaderFrame(frame.channel, { classId: frame.header.classId, bodySize: frame.header.bodySize, properties: props }) : raw,
      };
    }
    return { bytes: raw };
  }
}
