// Runs a suite against the built-in broker always, and against RabbitMQ too when
// AMQP_SPY_RABBITMQ_URL is set (skipped visibly otherwise), so the same assertions hold on both.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe } from 'vitest';
import { startBroker, type RunningBroker } from '../../src/broker/broker-server.js';
import { CLI, waitFor } from './cli.js';
import { freePort } from './net.js';
import { describeWithRabbitMQ, rabbitAddress } from './rabbitmq.js';

export interface BrokerTarget {
  readonly host: string;
  readonly port: number;
  readonly username: string;
  readonly password: string;
}

export interface AgainstBrokersOptions {
  /**
   * Run the built-in broker as `amqp-spy --standalone` in a child process, for suites that
   * block their own event loop (spawnSync of the CLI) while the broker must answer.
   */
  readonly childProcess?: boolean;
}

export function describeAgainstBrokers(name: string, suite: (target: () => BrokerTarget) => void, options: AgainstBrokersOptions = {}): void {
  describe(`${name} the built-in broker`, () => {
    let broker: RunningBroker | undefined;
    let child: ChildProcess | undefined;
    let port = 0;
    beforeAll(async () => {
      if (!options.childProcess) {
        broker = await startBroker({ listen: { host: '127.0.0.1', port: 0 } });
        port = broker.address.port;
        return;
      }
      port = await freePort();
      const started = spawn(process.execPath, [CLI, '--standalone', '--listen', String(port), '--no-tui'], { stdio: ['ignore', 'ignore', 'pipe'] });
      child = started;
      let stderr = '';
      started.stderr!.setEncoding('utf8').on('data', (d: string) => {
        stderr += d;
      });
      await waitFor(() => stderr.includes('built-in broker listening') || started.exitCode !== null, 'the built-in broker to listen');
      if (started.exitCode !== null) throw new Error(`amqp-spy --standalone exited: ${stderr}`);
    });
    afterAll(async () => {
      await broker?.close();
      if (child && child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((resolve) => child!.once('exit', resolve));
      }
    });
    suite(() => ({ host: '127.0.0.1', port, username: 'guest', password: 'guest' }));
  });
  describeWithRabbitMQ(`${name} RabbitMQ`, () => suite(rabbitAddress));
}
