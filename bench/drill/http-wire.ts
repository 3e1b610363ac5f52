import http from 'node:http';

/**
 * Plain HTTP requests from a chosen loopback source address (127.0.0.x), so that a drill can be many
 * clients at once, the way an attacker with many addresses would be.
 */
export interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export function agentFor(localAddress: string): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets: 1, localAddress } as http.AgentOptions);
}

export function get(url: string, o: { agent?: http.Agent; headers?: Record<string, string> } = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: o.agent, headers: o.headers }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
  });
}
