// What RabbitMQ holds for one connection, by the connection_name its client announced: the
// proof that a fault rule leaked no channel or consumer upstream (rabbitmqctl, ~1 s a call).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

async function list(args: string[]): Promise<Record<string, unknown>[]> {
  const { stdout } = await run('rabbitmqctl', [...args, '-q', '--formatter', 'json']);
  return JSON.parse(stdout) as Record<string, unknown>[];
}

export interface RabbitConnectionState {
  /** connections with that connection_name */
  readonly connections: number;
  /** their open channels, by number */
  readonly channels: readonly number[];
  /** consumers on those channels */
  readonly consumers: number;
}

export async function rabbitStateOf(connectionName: string): Promise<RabbitConnectionState> {
  const [connections, channels, consumers] = await Promise.all([
    list(['list_connections', 'pid', 'client_properties']),
    list(['list_channels', 'pid', 'connection', 'number']),
    list(['list_consumers', 'channel_pid']),
  ]);
  const named = (props: unknown): boolean =>
    Array.isArray(props) && props.some((p) => Array.isArray(p) && p[0] === 'connection_name' && p[2] === connectionName);
  const pids = new Set(connections.filter((c) => named(c['client_properties'])).map((c) => c['pid']));
  const ours = channels.filter((c) => pids.has(c['connection']));
  const channelPids = new Set(ours.map((c) => c['pid']));
  return {
    connections: pids.size,
    channels: ours.map((c) => Number(c['number'])).sort((a, b) => a - b),
    consumers: consumers.filter((c) => channelPids.has(c['channel_pid'])).length,
  };
}
