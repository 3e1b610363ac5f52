import http from 'node:http';
import { gzipSync } from 'node:zlib';

/**
 * A corpus of hostile API requests after the categories of drill 6 (drills.md): malformed JSON, deep
 * nesting, prototype keys, odd filters and paging, long strings, odd characters, content types and
 * encodings, odd ids, number_filter regexes (catastrophic ones included) and odd auth bodies. Every
 * request is a client's mistake or an attack: none may answer 5xx, and none may hold the event loop.
 * Bodies are raw text or bytes (a JSON serializer would refuse or recurse on some of them), and sent with
 * `sendHostile`, which writes exactly those bytes on a real socket.
 */
export interface HostileRequest {
  /** What the request tries; shown when an assertion fails. */
  label: string;
  method: 'GET' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';
  /** Already percent-encoded where needed. */
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
}

/** The ids and token the corpus aims at. Write requests go to `deviceId` only; nothing is deleted that exists. */
export interface CorpusTargets {
  accountId: string;
  deviceId: string;
  userId: string;
  token: string;
}

const JSON_TYPE = 'application/json';

function deep(levels: number, kind: 'object' | 'array'): string {
  const [open, close] = kind === 'object' ? ['{"a":', '}'] : ['[', ']'];
  return `{"data":{"name":"deep","x":${open.repeat(levels)}1${close.repeat(levels)}}}`;
}

const MALFORMED_JSON = [
  '{"data":{"name":',
  '{"data":{"name":"x"}',
  '{"data":NaN}',
  '{"data":{"name":NaN}}',
  '{"data":{"name":Infinity}}',
  '\ufeff{"data":{"name":"bom"}}',
  '\ufeff\ufeff{"data":{"name":"bom2"}}',
  '{"data":{"name":"x","sip":{"expire_seconds":1e400}}}',
  '{"data":{"name":"a","name":"b"}}',
  '{"data":{"name":"\\ud800"}}',
  '{"data":{"name":"\\u0000"}}',
  '{"data":{"name":"x\u0000y"}}',
  '{"data":{"name":"x"}}garbage',
  '{"data":{"name":"x",}}',
  "{'data':{'name':'x'}}",
  '{"data":{"name":"\\x41"}}',
  '[]',
  '[{"data":{"name":"x"}}]',
  '1',
  '-0',
  '"data"',
  'null',
  'true',
  '{"data":null}',
  '{"data":[]}',
  '{"data":[1,2,3]}',
  '{"data":"x"}',
  '{"data":1}',
  '{"data":{}}',
  '   ',
  '\u0000',
  '{',
  '}',
  '{"data":{"name":"x"}}'.repeat(3),
];

const PROTO_BODIES = [
  '{"__proto__":{"polluted":"yes"},"data":{"name":"p1"}}',
  '{"data":{"name":"p2","__proto__":{"polluted":"yes"}}}',
  '{"data":{"name":"p3","constructor":{"prototype":{"polluted":"yes"}}}}',
  '{"data":{"name":"p4","prototype":{"polluted":"yes"}}}',
  '{"data":{"name":"p5","sip":{"__proto__":{"polluted":"yes"},"username":"p5"}}}',
  '{"data":{"name":"p6","provision":{"__proto__":{"polluted":"yes"}}}}',
  '{"data":{"name":"p7","sip":{"constructor":{"prototype":{"polluted":"yes"}}}}}',
  '{"data":{"__proto__":null,"name":"p8"}}',
  '{"data":{"name":"p9","hasOwnProperty":1,"toString":"x","valueOf":{}}}',
  '{"data":{"name":"p10","_rev":"1-x","pvt_type":"user","id":"../x","pvt_account_id":"00000000000000000000000000000000"}}',
];

const ODD_STRINGS = [
  '\u0000',
  '\u202e\u0644\u0627gnp.exe',
  '\ud83d\ude00'.repeat(100),
  '{{#each this}}{{this}}{{/each}}',
  '{{constructor.constructor "return process"}}',
  '\r\nX-Injected: 1',
  '\ud800',
  '../../../etc/passwd',
  '<script>alert(1)</script>',
  '%ff%00',
  '\u0085\u2028\u2029',
];

const FILTER_QUERIES = [
  'filter___proto__=x',
  'filter_constructor.prototype=x',
  'filter___proto__.polluted=yes',
  'has_key=__proto__',
  'has_key=constructor.prototype',
  'key_missing=__proto__',
  'has_value=__proto__.polluted',
  'filter_a[b]=c',
  '__proto__[polluted]=yes',
  'constructor[prototype][polluted]=yes',
  'filter_name[]=a&filter_name[]=b',
  'filter_name[__proto__]=x',
  `filter_${'a.'.repeat(500)}b=x`,
  'filter_not_name=',
  'created_from=abc&created_to=-1',
  'modified_from=1e309',
  'created_from[]=1',
  'descending=maybe',
  'paginate=__proto__',
  'a[b][c][d][e][f][g][h][i][j][k]=deep',
];

const PAGE_SIZES = ['1e309', String(2 ** 53 + 1), '-1', '0', '0x10', 'NaN', 'Infinity', '1.5', '', 'abc', '9'.repeat(400), '[]'];

const START_KEYS = ['junk', 'g20AAAAgjunk', '%00', '__proto__', 'x'.repeat(2_000), '%00%ed%a0%80', 'g20AAAAg' + 'A'.repeat(100), '%ff'];

const ODD_IDS = ['__proto__', 'constructor', '..', '.', '%2e%2e', '%00', '%ff', 'x'.repeat(5_000), '%2F', 'a%20b', '0'.repeat(32), 'F'.repeat(32), '%E0%A4%A'];

/** Regexes that backtrack catastrophically on a backtracking engine, with numbers that trigger them. */
const REDOS: Array<[string, string]> = [
  ['(\\d+)+$', `${'1'.repeat(30)}!`],
  ['(\\d+)+$', `${'1'.repeat(63)}!`],
  ['(1+)+$', `${'1'.repeat(40)}!`],
  ['(a+)+$', `${'a'.repeat(40)}!`],
  ['(a|aa)+$', `${'a'.repeat(60)}!`],
  ['(.*a){25}', 'a'.repeat(60)],
  ['^(([a-z])+.)+[A-Z]([a-z])+$', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!'],
  ['(\\d|\\d\\d)+x', '1'.repeat(60)],
];

const BENIGN_FILTERS = ['[', 'a{99999}', '.*'.repeat(90), 'x'.repeat(201), '(?<=1)2', '(\\d)\\1', '\\', '(?P<x>1)', ''];

export function hostileCorpus(t: CorpusTargets): HostileRequest[] {
  const A = `/v2/accounts/${t.accountId}`;
  const devices = `${A}/devices`;
  const device = `${devices}/${t.deviceId}`;
  const auth = { 'X-Auth-Token': t.token };
  const json = { ...auth, 'Content-Type': JSON_TYPE };
  const out: HostileRequest[] = [];
  const add = (label: string, method: HostileRequest['method'], path: string, headers: Record<string, string>, body?: string | Buffer) =>
    out.push({ label, method, path, headers, body });

  // Bodies go to every route that reads one; the device being written is the corpus's own.
  const bodyRoutes: Array<[HostileRequest['method'], string]> = [
    ['PUT', devices],
    ['POST', device],
    ['PATCH', device],
    ['PATCH', A],
    ['PUT', `${A}/users`],
    ['PUT', `${A}/users/${t.userId}/devices`],
    ['PUT', '/v2/api_auth'],
    ['PUT', '/v2/user_auth'],
    ['PUT', `${device}`],
    ['POST', `${device}/notify`],
    ['POST', `${device}/quickcall/100`],
    ['PUT', `${A}/provisioning/templates/yealink/mac.cfg`],
  ];
  const toAll = (label: string, body: string | Buffer, headers: Record<string, string> = json) => {
    for (const [method, path] of bodyRoutes) add(label, method, path, headers, body);
  };

  MALFORMED_JSON.forEach((body, i) => toAll(`malformed JSON #${i}`, body));
  for (const levels of [1_000, 10_000, 50_000, 100_000]) {
    for (const kind of ['object', 'array'] as const) toAll(`${levels} levels of ${kind}s`, deep(levels, kind));
  }
  toAll('deep nesting as text/plain', deep(20_000, 'array'), { ...auth, 'Content-Type': 'text/plain' });
  PROTO_BODIES.forEach((body, i) => toAll(`prototype keys #${i}`, body));

  for (const size of [1_000, 100_000, 900_000]) {
    const s = 'x'.repeat(size);
    add(`name of ${size}`, 'PUT', devices, json, `{"data":{"name":"${s}"}}`);
    add(`key of ${size}`, 'PUT', devices, json, `{"data":{"name":"k","${s}":1}}`);
    add(`sip.username of ${size}`, 'PATCH', device, json, `{"data":{"sip":{"username":"${s}","password":"p"}}}`);
    add(`mac_address of ${size}`, 'PATCH', device, json, `{"data":{"mac_address":"${s}"}}`);
    add(`api_key of ${size}`, 'PUT', '/v2/api_auth', json, `{"data":{"api_key":"${s}"}}`);
    add(`credentials of ${size}`, 'PUT', '/v2/user_auth', json, `{"data":{"credentials":"${s}","account_name":"${s}"}}`);
    add(`notify event of ${size}`, 'POST', `${device}/notify`, json, `{"data":{"event":"${s}"}}`);
    add(`template of ${size}`, 'PUT', `${A}/provisioning/templates/yealink/mac.cfg`, { ...auth, 'Content-Type': 'text/plain' }, `{{${s}}}`);
  }
  add('many keys', 'PUT', devices, json, `{"data":{"name":"many",${Array.from({ length: 20_000 }, (_, i) => `"k${i}":${i}`).join(',')}}}`);
  add('wide array', 'PATCH', device, json, `{"data":{"media":{"audio":{"codecs":[${Array(50_000).fill('"PCMU"').join(',')}]}}}}`);

  for (const s of ODD_STRINGS) {
    const v = JSON.stringify(s);
    add(`odd name ${v.slice(0, 20)}`, 'PUT', devices, json, `{"data":{"name":${v}}}`);
    add(`odd key ${v.slice(0, 20)}`, 'PATCH', device, json, `{"data":{${v}:${v}}}`);
    add(`odd username ${v.slice(0, 20)}`, 'PATCH', device, json, `{"data":{"sip":{"username":${v},"password":${v},"realm":${v}}}}`);
    add(`odd template ${v.slice(0, 20)}`, 'PUT', `${A}/provisioning/templates/yealink/mac.cfg`, { ...auth, 'Content-Type': 'text/plain' }, s);
    add(`odd account name ${v.slice(0, 20)}`, 'PATCH', A, json, `{"data":{"name":${v},"timezone":${v}}}`);
    add(`odd event ${v.slice(0, 20)}`, 'PUT', device, json, `{"action":"notify","data":{"event":${v},"body":{"content_type":${v},"data":${v}}}}`);
  }

  const envelope = '{"data":{"name":"ctype"}}';
  const contentTypes: Array<[string, Record<string, string>, string | Buffer]> = [
    ['text/plain', { 'Content-Type': 'text/plain' }, envelope],
    ['form', { 'Content-Type': 'application/x-www-form-urlencoded' }, 'data[name]=form&a=b'],
    ['form with JSON', { 'Content-Type': 'application/x-www-form-urlencoded' }, envelope],
    ['multipart', { 'Content-Type': 'multipart/form-data; boundary=xx' }, '--xx\r\nContent-Disposition: form-data; name="data"\r\n\r\n{}\r\n--xx--\r\n'],
    ['multipart without boundary', { 'Content-Type': 'multipart/form-data' }, envelope],
    ['xml', { 'Content-Type': 'application/xml' }, '<data><name>x</name></data>'],
    ['utf-16', { 'Content-Type': 'application/json; charset=utf-16' }, Buffer.from(`\ufeff${envelope}`, 'utf16le')],
    ['utf-16be declared, le sent', { 'Content-Type': 'application/json; charset=utf-16be' }, Buffer.from(envelope, 'utf16le')],
    ['utf-32', { 'Content-Type': 'application/json; charset=utf-32' }, Buffer.from(envelope)],
    ['utf-7', { 'Content-Type': 'application/json; charset=utf-7' }, envelope],
    ['latin1 JSON', { 'Content-Type': 'application/json; charset=latin1' }, envelope],
    ['latin1 text', { 'Content-Type': 'text/plain; charset=latin1' }, Buffer.from([0x7b, 0x7d, 0xff])],
    ['charset foo', { 'Content-Type': 'application/json; charset=foo' }, envelope],
    ['charset foo text', { 'Content-Type': 'text/plain; charset=foo' }, envelope],
    ['charset empty', { 'Content-Type': 'application/json; charset=' }, envelope],
    ['no content type', {}, envelope],
    ['odd content type', { 'Content-Type': '/;;;=' }, envelope],
    ['octet-stream', { 'Content-Type': 'application/octet-stream' }, Buffer.from([0, 1, 2, 255, 254])],
    ['invalid utf-8', { 'Content-Type': JSON_TYPE }, Buffer.from([0x7b, 0x22, 0x64, 0xff, 0xfe, 0x22, 0x7d])],
    ['gzip', { 'Content-Type': JSON_TYPE, 'Content-Encoding': 'gzip' }, gzipSync(envelope)],
    ['gzip, not gzipped', { 'Content-Type': JSON_TYPE, 'Content-Encoding': 'gzip' }, envelope],
    ['gzip bomb-ish', { 'Content-Type': JSON_TYPE, 'Content-Encoding': 'gzip' }, gzipSync(Buffer.alloc(8 * 1024 * 1024, 0x20))],
    ['deflate, not deflated', { 'Content-Type': JSON_TYPE, 'Content-Encoding': 'deflate' }, envelope],
    ['br, not brotli', { 'Content-Type': JSON_TYPE, 'Content-Encoding': 'br' }, envelope],
    ['unknown encoding', { 'Content-Type': JSON_TYPE, 'Content-Encoding': 'x-foo' }, envelope],
    ['two encodings', { 'Content-Type': JSON_TYPE, 'Content-Encoding': 'gzip, gzip' }, gzipSync(gzipSync(envelope))],
  ];
  for (const [label, headers, body] of contentTypes) {
    add(`content type: ${label}`, 'PUT', devices, { ...auth, ...headers }, body);
    add(`content type: ${label}`, 'PATCH', device, { ...auth, ...headers }, body);
    add(`content type: ${label}`, 'PUT', '/v2/api_auth', headers, body);
  }

  for (const q of FILTER_QUERIES) {
    add(`filter ${q.slice(0, 30)}`, 'GET', `${devices}?${q}`, auth);
    add(`filter on users ${q.slice(0, 30)}`, 'GET', `${A}/users?${q}`, auth);
    add(`filter on user devices ${q.slice(0, 30)}`, 'GET', `${A}/users/${t.userId}/devices?${q}`, auth);
  }
  for (const p of PAGE_SIZES) add(`page_size ${p.slice(0, 20)}`, 'GET', `${devices}?page_size=${p}`, auth);
  for (const k of START_KEYS) add(`start_key ${k.slice(0, 20)}`, 'GET', `${devices}?start_key=${k}&page_size=1`, auth);
  add('start_key 20k', 'GET', `${devices}?start_key=${'x'.repeat(20_000)}`, auth);

  for (const id of ODD_IDS) {
    for (const method of ['GET', 'POST', 'PATCH', 'DELETE', 'PUT'] as const) {
      const body = method === 'GET' || method === 'DELETE' ? undefined : '{"data":{"name":"odd-id"}}';
      add(`device id ${id.slice(0, 20)}`, method, `${devices}/${id}`, json, body);
      add(`user id ${id.slice(0, 20)}`, method, `${A}/users/${id}`, json, body);
      add(`account id ${id.slice(0, 20)}`, method, `/v2/accounts/${id}`, json, body);
    }
    add(`account id ${id.slice(0, 20)} devices`, 'GET', `/v2/accounts/${id}/devices`, auth);
    add(`user id ${id.slice(0, 20)} devices`, 'GET', `${A}/users/${id}/devices`, auth);
    add(`device id ${id.slice(0, 20)} sync`, 'POST', `${devices}/${id}/sync`, json, '{}');
    add(`device id ${id.slice(0, 20)} config`, 'GET', `${devices}/${id}/config/${id}`, auth);
    add(`template ${id.slice(0, 20)}`, 'GET', `${A}/provisioning/templates/${id}/${id}`, auth);
    add(`template ${id.slice(0, 20)}`, 'PUT', `${A}/provisioning/templates/${id}/${id}`, { ...auth, 'Content-Type': 'text/plain' }, 'x');
    add(`template ${id.slice(0, 20)}`, 'DELETE', `${A}/provisioning/templates/yealink/${id}`, auth);
    add(`quickcall number ${id.slice(0, 20)}`, 'GET', `${device}/quickcall/${id}`, auth);
  }

  for (const [filter, number] of REDOS) {
    add(`ReDoS ${filter} on ${number.length}`, 'GET', `${device}/quickcall/${number}?number_filter=${encodeURIComponent(filter)}`, auth);
    add(`ReDoS ${filter} on ${number.length} (POST body)`, 'POST', `${device}/quickcall/${number}`, json, JSON.stringify({ data: { number_filter: filter } }));
  }
  add('quickcall number of 65', 'GET', `${device}/quickcall/${'1'.repeat(65)}?number_filter=${encodeURIComponent('(\\d+)+$')}`, auth);
  add('quickcall number of 5k', 'GET', `${device}/quickcall/${'1'.repeat(5_000)}!?number_filter=${encodeURIComponent('(\\d+)+$')}`, auth);
  for (const filter of BENIGN_FILTERS) add(`number_filter ${filter.slice(0, 20)}`, 'GET', `${device}/quickcall/100?number_filter=${encodeURIComponent(filter)}`, auth);
  for (const q of ['number_filter[]=1', 'number_filter[a]=b', 'timeout=1e309', 'timeout=-5', 'media[]=x', 'cid-name=%00', `cid-name=${'x'.repeat(5_000)}`, 'auto_answer[]=true']) {
    add(`quickcall ${q.slice(0, 20)}`, 'GET', `${device}/quickcall/100?${q}`, auth);
  }

  const authBodies = [
    '{"data":{"api_key":12}}',
    '{"data":{"api_key":{"__proto__":1}}}',
    '{"data":{"api_key":["a"]}}',
    `{"data":{"api_key":"${'z'.repeat(64)}"}}`,
    '{"data":{"credentials":{"a":1},"account_name":"x"}}',
    '{"data":{"credentials":"x","method":"__proto__","account_realm":{"a":1}}}',
    '{"data":{"credentials":"x","account_name":["a"]}}',
    '{"data":{"credentials":"x","account_realm":"__proto__"}}',
  ];
  for (const body of authBodies) {
    add('api_auth body', 'PUT', '/v2/api_auth', { 'Content-Type': JSON_TYPE }, body);
    add('user_auth body', 'PUT', '/v2/user_auth', { 'Content-Type': JSON_TYPE }, body);
  }
  for (const token of ['junk', 'eyJ.eyJ.x', 'a'.repeat(8_000), '..', '%ff', `${t.token}x`, `${t.token.split('.')[0]}..`]) {
    add(`token ${token.slice(0, 12)}`, 'GET', devices, { 'X-Auth-Token': token });
    add(`bearer ${token.slice(0, 12)}`, 'GET', '/v2/token_auth', { Authorization: `Bearer ${token}` });
    add(`query token ${token.slice(0, 12)}`, 'GET', `${devices}?auth_token=${encodeURIComponent(token)}`, {});
    add(`body token ${token.slice(0, 12)}`, 'PATCH', device, { 'Content-Type': JSON_TYPE }, JSON.stringify({ auth_token: token, data: {} }));
  }
  for (const q of ['auth_token[]=x', 'auth_token[a]=b', Array.from({ length: 1_500 }, (_, i) => `p${i}=${i}`).join('&'), `a[]=${'1&a[]='.repeat(2_000)}1`, 'a[999999999]=1']) {
    add(`query ${q.slice(0, 16)}`, 'GET', `${devices}?${q}`, auth);
  }
  const typedWrong = [
    '{"data":{"name":"t1","sip":{"password":{"a":1},"username":["x"]}}}',
    '{"data":{"name":"t2","provision":{"feature_keys":{"1":{"type":"__proto__","value":{"a":1}}}}}}',
    '{"data":{"name":"t3","hotdesk":{"users":{"__proto__":{}}}}}',
    '{"data":{"name":"t4","media":{"audio":{"codecs":"PCMU"}},"caller_id":[],"call_restriction":"x"}}',
    '{"data":{"name":"t5","owner_id":{"a":1},"device_type":["sip_device"],"enabled":"maybe"}}',
    '{"data":{"name":"t6","mac_address":["00:04:f2:00:00:09"],"provision":"x"}}',
    '{"data":{"name":"t7","sync":{"a":1},"_read_only":{"a":1}}}',
    '{"data":{"name":"t8","sip":{"expire_seconds":"1e309","registration_expiration":-1}}}',
  ];
  for (const body of typedWrong) {
    add('typed wrong', 'PUT', devices, json, body);
    add('typed wrong', 'PATCH', device, json, body);
    add('typed wrong', 'POST', device, json, body);
  }
  for (const q of ['reboot[]=1', 'reboot=__proto__']) add(`sync ${q}`, 'POST', `${device}/sync?${q}`, json, '{"data":{"reboot":{"a":1}}}');
  add('body token not a string', 'PATCH', device, { 'Content-Type': JSON_TYPE }, '{"auth_token":{"a":1},"data":{}}');
  for (const ifMatch of ['*', '""', '"1-x"', 'W/"x"', 'x'.repeat(5_000)]) add(`If-Match ${ifMatch.slice(0, 10)}`, 'PATCH', device, { ...json, 'If-Match': ifMatch }, '{"data":{}}');
  add('X-Request-ID odd', 'GET', devices, { ...auth, 'X-Request-ID': '../\u00ff'.replace('\u00ff', '%') });
  return out;
}

/** Sends one corpus request on a real socket, exactly its bytes; resolves with the status and body text. */
export function sendHostile(baseUrl: string, r: HostileRequest): Promise<{ status: number; text: string }> {
  const url = new URL(baseUrl);
  const body = r.body === undefined ? undefined : Buffer.isBuffer(r.body) ? r.body : Buffer.from(r.body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        method: r.method,
        path: r.path,
        headers: { ...r.headers, ...(body ? { 'Content-Length': String(body.length) } : {}) },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
