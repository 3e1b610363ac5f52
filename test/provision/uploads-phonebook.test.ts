import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import http from 'node:http';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { VendorProfile } from '../../vendors/types.js';
import { ACCOUNT, startHarness, type Harness } from './support/harness.js';
import { readKeyValue } from './support/readers.js';

/**
 * The generic mechanisms vendor files build on: a phonebook-scoped file (the account's users, no secrets) and
 * files the phone may PUT (kept per device, bounded, readable through the API). Shown with a test vendor so no
 * vendor's declarations are assumed.
 */
const UA = (mac: string) => `Acme A1 ${mac}`;
const acme: VendorProfile = {
  id: 'acme', brands: ['acme'], ouis: ['aaaaaa'], sampleModel: 'A1',
  files: [
    { template: 'phone.cfg', pattern: /^acme-(?<mac>[0-9a-f]{12})\.cfg$/, perDevice: true, format: 'keyvalue', header: '#!version:1.0.0.1', contentType: 'text/plain', nameFor: ({ mac }) => `acme-${mac}.cfg` },
    { template: 'book.cfg', pattern: /^(?<common>acme-book)\.cfg$/, perDevice: false, scope: 'phonebook', format: 'keyvalue', header: '#!version:1.0.0.1', contentType: 'text/plain', nameFor: () => 'acme-book.cfg', acceptCommon: () => ({ model: '' }) },
    { template: 'mac.boot', pattern: /^(?<mac>[0-9a-f]{12})\.boot$/, perDevice: true, format: 'keyvalue', header: '#!version:1.0.0.1', contentType: 'text/plain', nameFor: ({ mac }) => `${mac}.boot` },
    { template: 'app.log', pattern: /^(?<mac>[0-9a-f]{12})-app\.log$/, perDevice: true, upload: true, format: 'keyvalue', contentType: 'text/plain', nameFor: () => undefined },
    { template: 'phone-overrides.cfg', pattern: /^(?<mac>[0-9a-f]{12})-phone\.cfg$/, perDevice: true, upload: true, format: 'keyvalue', contentType: 'text/plain', nameFor: () => undefined },
  ],
  parseUserAgent: (ua) => (ua.startsWith('Acme') ? { mac: /([0-9a-f]{12})$/.exec(ua)?.[1] } : undefined),
  checkSyncEvent: () => 'check-sync',
  autoAnswerHeaders: () => ({}),
  variables: () => ({}),
};

let h: Harness;
let templates: string;
beforeEach(async () => {
  templates = mkdtempSync(path.join(tmpdir(), 'prov-acme-'));
  mkdirSync(path.join(templates, 'acme'));
  writeFileSync(path.join(templates, 'acme', 'phone.cfg.hbs'), '#!version:1.0.0.1\nuser = {{sip.username}}\n');
  writeFileSync(path.join(templates, 'acme', 'mac.boot.hbs'), '#!version:1.0.0.1\ninclude = {{mac}}\n');
  writeFileSync(
    path.join(templates, 'acme', 'book.cfg.hbs'),
    '#!version:1.0.0.1\n{{#each directory}}\nentry.{{@index}} = {{name}} <{{number}}>\n{{/each}}\nsecret = {{sip.password}}{{settings.passwords.admin}}\n',
  );
  h = await startHarness({
    options: { profiles: [acme], templatesDir: templates },
    env: { PROVISION_UPLOAD_BYTES: '1000', PROVISION_UPLOAD_FILES: '2', PROVISION_UPLOAD_DEVICE_BYTES: '1500' },
  });
  h.dir.addUser(ACCOUNT, { id: 'ualice', first_name: 'Alice', last_name: 'Able', presence_id: '1001' });
  h.dir.addUser(ACCOUNT, { id: 'ubob', username: 'bob', presence_id: '1002@acme.sip.example.com' });
  h.dir.addUser(ACCOUNT, { id: 'unone', first_name: 'No Number' });
  h.dir.addUser('a0000000000000000000000000000002', { id: 'uother', first_name: 'Other Account', presence_id: '9999' });
  h.dir.addDevice(ACCOUNT, { id: 'dev1', name: 'd', mac_address: 'aaaaaa000001', sip: { username: 'acme1', password: 'Sip-Secret-9' } });
});
afterEach(async () => {
  await h.close();
  rmSync(templates, { recursive: true, force: true });
});

function put(file: string, body: Buffer | string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${h.base}/provision/${file}`, { method: 'PUT', headers: { 'User-Agent': UA('aaaaaa000001'), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('phonebook files', () => {
  it('list the account\'s users (name, extension) and carry no secret, even if the template asks for one', async () => {
    const res = await h.get('acme-book.cfg', { 'User-Agent': UA('aaaaaa000001') });
    expect(res.status).toBe(200);
    expect(Object.fromEntries(readKeyValue(res.body))).toEqual({ 'entry.0': 'Alice Able <1001>', 'entry.1': 'bob <1002>', secret: '' });
    // Another user: the book changes (no stale cache).
    h.dir.addUser(ACCOUNT, { id: 'ucarol', first_name: 'Carol', presence_id: '1003' });
    expect(readKeyValue((await h.get('acme-book.cfg', { 'User-Agent': UA('aaaaaa000001') })).body).get('entry.2')).toBe('Carol <1003>');
    // Without a known MAC in the User-Agent no account is named: an empty book.
    expect(Object.fromEntries(readKeyValue((await h.get('acme-book.cfg', { 'User-Agent': 'Acme A1' })).body))).toEqual({ secret: '' });
  });

  it('a .boot file is just another vendor file', async () => {
    const res = await h.get('aaaaaa000001.boot', { 'User-Agent': UA('aaaaaa000001') });
    expect(res.status).toBe(200);
    expect(readKeyValue(res.body).get('include')).toBe('aaaaaa000001');
  });
});

describe('phone uploads', () => {
  it('are accepted, kept per device, readable through the API, and come back to the phone', async () => {
    expect((await put('aaaaaa000001-app.log', 'boot ok\nline 2\n')).status).toBe(201);
    expect((await put('aaaaaa000001-app.log', 'boot again\n')).status).toBe(200); // replaced
    expect((await put('aaaaaa000001-phone.cfg', 'override=1\n')).status).toBe(201);
    const list = await request(h.base).get(`/v2/accounts/${ACCOUNT}/devices/dev1/provision_uploads`).expect(200);
    expect(list.body.data.map((f: { name: string; bytes: number }) => [f.name, f.bytes])).toEqual([['aaaaaa000001-app.log', 11], ['aaaaaa000001-phone.cfg', 11]]);
    const one = await request(h.base).get(`/v2/accounts/${ACCOUNT}/devices/dev1/provision_uploads/aaaaaa000001-app.log`).expect(200);
    expect(one.text).toBe('boot again\n');
    expect(one.headers['content-type']).toBe('text/plain; charset=utf-8');
    await request(h.base).get(`/v2/accounts/${ACCOUNT}/devices/dev1/provision_uploads/..%2f..%2fsystem`).expect(404);
    const back = await h.get('aaaaaa000001-phone.cfg', { 'User-Agent': UA('aaaaaa000001') });
    expect(back.status).toBe(200);
    expect(back.body).toBe('override=1\n');
  });

  it('are bounded: too big is 413 and not kept; files and bytes per device rotate oldest first', async () => {
    expect((await put('aaaaaa000001-app.log', Buffer.alloc(1001, 'x'))).status).toBe(413);
    // Chunked (no Content-Length): cut off at the bound too.
    expect((await put('aaaaaa000001-app.log', Buffer.alloc(5000, 'x'), { 'Transfer-Encoding': 'chunked' })).status).toBe(413);
    const dir = path.join(h.dataDir, 'uploads', 'dev1');
    expect(() => readdirSync(dir)).toThrow();
    expect((await put('aaaaaa000001-app.log', Buffer.alloc(900, 'a'))).status).toBe(201);
    expect((await put('aaaaaa000001-phone.cfg', Buffer.alloc(900, 'b'))).status).toBe(201); // 1800 > 1500 bytes: the log goes
    expect(readdirSync(dir)).toEqual(['aaaaaa000001-phone.cfg']);
  });

  it('only for declared names of a known device; everything else is refused, never stored', async () => {
    expect((await put('aaaaaa000001.cfg', 'x')).status).toBe(405); // a rendered file is not writable
    expect((await put('aaaaaa000009-app.log', 'x', { 'User-Agent': UA('aaaaaa000009') })).status).toBe(404); // unknown MAC
    expect((await put('aaaaaa000001-app.log', 'x', { 'User-Agent': UA('aaaaaa000002') })).status).toBe(403); // UA names another MAC
    expect(() => readdirSync(path.join(h.dataDir, 'uploads'))).toThrow();
  });
});
