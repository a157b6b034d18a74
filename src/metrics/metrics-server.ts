// `--metrics 127.0.0.1:9464`: the session's metrics in Prometheus' text format on /metrics,
// and /healthz for a liveness probe. Nothing is computed until a scrape asks for it.

import http from 'node:http';
import { listenHttp, type RunningHttp } from '../source/http-listen.js';
import type { SessionMetrics } from './session-metrics.js';

export type RunningMetrics = RunningHttp;

/** Serves `metrics`; rejects with ListenError when the address cannot be bound. */
export async function startMetricsServer(listen: { readonly host: string; readonly port: number }, metrics: SessionMetrics): Promise<RunningMetrics> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const known = path === '/metrics' || path === '/healthz';
    if (!known) return answer(res, 404, 'not found: try /metrics or /healthz\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return answer(res, 405, 'method not allowed\n');
    }
    if (path === '/healthz') return answer(res, 200, 'ok\n');
    metrics.text().then(
      (text) => answer(res, 200, text, metrics.registry.contentType),
      (error: unknown) => answer(res, 500, `metrics failed: ${error instanceof Error ? error.message : String(error)}\n`),
    );
  });
  return listenHttp(server, listen);
}

function answer(res: http.ServerResponse, status: number, body: string, contentType = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
