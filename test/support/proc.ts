// What another process is doing, read from /proc: its resident memory and CPU time.
import fs from 'node:fs';

/** Resident set size in bytes. */
export function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/** User + system CPU time in clock ticks. */
export function cpuTicksOf(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** Samples a process's RSS until stopped; `peak()` is the highest seen. */
export function rssSampler(pid: number): { peak(): number; stop(): number } {
  let peak = rssOf(pid);
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rssOf(pid));
    } catch {
      // exited
    }
  }, 20);
  return {
    peak: () => peak,
    stop() {
      clearInterval(timer);
      return peak;
    },
  };
}

/**
 * Resolves once the process used no CPU over `quietSamples` samples 100 ms apart: it is
 * waiting (for a reader, a peer). Rejects after `ms`.
 */
export async function untilIdle(pid: number, quietSamples = 5, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  let last = cpuTicksOf(pid);
  let quiet = 0;
  while (quiet < quietSamples) {
    if (Date.now() > deadline) throw new Error(`process ${pid} did not go idle within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
    const now = cpuTicksOf(pid);
    quiet = now === last ? quiet + 1 : 0;
    last = now;
  }
}
