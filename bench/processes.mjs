// What the benchmarks share about processes: the built-in broker started on its own (like
// RabbitMQ, so its CPU and memory are its alone), and CPU time read from /proc.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** The built-in broker alone (no tap, no output) in a child process; resolves once it listens. */
export async function startBuiltInBroker() {
  const url = new URL('../dist/broker/broker-server.js', import.meta.url).href;
  const code = `
    const { startBroker } = await import(${JSON.stringify(url)});
    const b = await startBroker({ listen: { host: '127.0.0.1', port: 0 } });
    process.stdout.write('PORT ' + b.address.port + '\\n');
    process.stdin.on('end', () => b.close().then(() => process.exit(0)));
    process.stdin.resume();
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /PORT (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (c) => reject(new Error(`built-in broker exited with ${c}`)));
  });
  return {
    url: `amqp://guest:guest@127.0.0.1:${port}`,
    pid: child.pid,
    stop: () => new Promise((r) => {
      child.once('exit', r);
      child.stdin.end();
    }),
  };
}

function statFields(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // after "pid (comm) ": index 0 is the state, so stat field N is at N - 3
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/**
 * CPU seconds a process used (user + system). With `children`, also what its reaped
 * children used and what its live children use now: socat forks one per connection.
 * NaN when the process cannot be read.
 */
export function cpuSeconds(pid, { children = false } = {}) {
  if (pid === undefined) return NaN;
  try {
    const f = statFields(pid);
    let ticks = Number(f[11]) + Number(f[12]);
    if (children) {
      ticks += Number(f[13]) + Number(f[14]);
      const live = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
      for (const child of live ? live.split(' ') : []) {
        const c = statFields(child);
        ticks += Number(c[11]) + Number(c[12]);
      }
    }
    return ticks / 100; // clock ticks at 100 Hz
  } catch {
    return NaN;
  }
}
