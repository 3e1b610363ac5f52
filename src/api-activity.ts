import type { ServerResponse } from 'node:http';

/**
 * API requests in flight, counted where the HTTP server routes them (server.ts). Background work that may wait
 * (provisioning's check after a start) reads it and steps back while the API is answering: run between the steps
 * of a device create, that work doubled the create's latency.
 */
export class ApiActivity {
  private inFlight = 0;

  /** Counts the request until its response is done or its connection closes. */
  track(res: ServerResponse): void {
    this.inFlight++;
    res.once('close', () => this.inFlight--);
  }

  get busy(): boolean {
    return this.inFlight > 0;
  }
}
