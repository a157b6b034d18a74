// What a channel needs of its connection. The connection implements it; channels import only
// this, so broker-channel.ts and broker-connection.ts no longer import each other.

import type { DecodedMethod, RawFrame } from '../decoder/types.js';
import type { Broker } from './broker.js';
import type { FrameOutput } from './frame-output.js';
import type { VirtualHost } from './vhost.js';

export type ConnectionState = 'header' | 'starting' | 'securing' | 'tuning' | 'opening' | 'running' | 'closing' | 'closed';

export interface ClientCapabilities {
  readonly consumerCancelNotify: boolean;
  readonly connectionBlocked: boolean;
  readonly authenticationFailureClose: boolean;
}

export interface ChannelHost {
  readonly broker: Broker;
  readonly state: ConnectionState;
  /** the authenticated user (user-id checks) */
  readonly user: string;
  /** set once the connection is open, before any channel */
  readonly vhost: VirtualHost | undefined;
  readonly capabilities: ClientCapabilities;
  /** where the channel's frames go (FrameSink, backpressure, confirm flushes) */
  readonly output: FrameOutput;
  /** a method frame decoded with RabbitMQ's error replies */
  decode(frame: RawFrame): DecodedMethod;
  /** the channel finished closing: its number may be reused */
  freeChannel(id: number): void;
  /** small bodies and headers copied out of the socket chunk (see BrokerConnection.copySmall) */
  copySmall(bytes: Uint8Array): Uint8Array;
  /** a publish completed this turn (TTL timers) */
  notePublish(): void;
}
