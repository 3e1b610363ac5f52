import { answerChallenge } from '../digest/digest.js';
import { header, parseAuthHeader, parseCSeq, setHeader, type SipRequest, type SipResponse } from './message.js';
import type { ClientTransactionOptions, Endpoint, SipStack } from './stack.js';

/**
 * Send a request and, when the phone challenges it (401/407 — Grandstream and Polycom can be set to
 * digest-check NOTIFY), send it once more with the device's own credentials. One retry
 * only: a second challenge means the credentials are wrong, and looping would flood the phone.
 */
export interface Credentials {
  username: string;
  password: string;
}

export interface AuthedResult {
  response: SipResponse;
  request: SipRequest;
  authenticated: boolean;
}

export async function requestWithAuth(
  stack: SipStack,
  req: SipRequest,
  dest: Endpoint,
  credentials: Credentials | undefined,
  options: ClientTransactionOptions = {},
  onRetry?: (req: SipRequest) => void,
): Promise<AuthedResult> {
  const first = await stack.request(req, dest, options);
  if ((first.status !== 401 && first.status !== 407) || !credentials) return { response: first, request: req, authenticated: false };
  const challengeHeader = header(first.headers, first.status === 401 ? 'www-authenticate' : 'proxy-authenticate');
  const challenge = challengeHeader ? parseAuthHeader(challengeHeader) : undefined;
  if (!challenge || challenge.scheme.toLowerCase() !== 'digest') return { response: first, request: req, authenticated: false };
  const authorization = answerChallenge(challenge.params, req.method, req.uri, credentials.username, credentials.password);
  if (!authorization) return { response: first, request: req, authenticated: false };
  const cseq = parseCSeq(header(req.headers, 'cseq'))!;
  const retry: SipRequest = { ...req, headers: { list: [...req.headers.list] } };
  setHeader(retry.headers, 'via', stack.newVia());
  setHeader(retry.headers, 'cseq', `${cseq.seq + 1} ${cseq.method}`);
  setHeader(retry.headers, first.status === 401 ? 'Authorization' : 'Proxy-Authorization', authorization);
  // Keep Via first: the header order most phones (and SIPp) expect.
  retry.headers.list.sort((a, b) => Number(b[0].toLowerCase() === 'via') - Number(a[0].toLowerCase() === 'via'));
  onRetry?.(retry);
  const second = await stack.request(retry, dest, options);
  return { response: second, request: retry, authenticated: second.status < 300 };
}
