import http, { type IncomingHttpHeaders } from 'node:http';

export interface Fetched {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * Real sockets from many source addresses: Linux routes all of 127.0.0.0/8 to lo, so a request bound to
 * 127.0.0.x reaches a server on 127.0.0.1 and is seen coming from 127.0.0.x. Connections are kept alive per
 * source address; close() ends them.
 */
export function clientsFrom(base: string) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  return {
    get(localAddress: string, file: string, headers: Record<string, string> = {}): Promise<Fetched> {
      return new Promise((resolve, reject) => {
        const url = `${base}${file.startsWith('/') ? file : `/provision/${file}`}`;
        const req = http.request(url, { agent, localAddress, headers }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        });
        req.on('error', reject);
        req.end();
      });
    },
    close: () => agent.destroy(),
  };
}
