import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { ACCOUNT, seedFullDevice, startHarness, type Harness } from './harness.js';

/**
 * A Grandstream phone with every setting of issue 9 §2 on the device, behind the account's HTTP auth, its
 * firmware file present when named, fetched with the model's real User-Agent. Shared by the v1 (P-value) and
 * config v2 family tests.
 */
export const GS_AUTH = { Authorization: `Basic ${Buffer.from('phones:Prov-Secret-1').toString('base64')}` };
export const gsUserAgent = (model: string, mac: string, firmware = '1.0.11.23') => `Grandstream Model HW ${model} SW ${firmware} DevId ${mac}`;

export async function fetchFullGrandstream(h: Harness | undefined, o: { model: string; mac: string; firmware?: string; sw?: string }): Promise<{ h: Harness; body: string }> {
  const harness = h ?? (await startHarness({ env: { SIP_PORT: '15360', PROVISION_BASE_URL: 'https://prov.example.com/provision/' } }));
  harness.dir.updateAccount(ACCOUNT, { provisioning: { http_auth: { type: 'basic', username: 'phones', password: 'Prov-Secret-1' } } });
  const d = seedFullDevice(harness, { id: `dev-${o.model}`, mac: o.mac, brand: 'grandstream', model: o.model });
  harness.dir.updateDevice(d.id, {
    media: { audio: { codecs: ['G722', 'PCMU', 'OPUS'] }, encryption: { methods: ['srtp'], enforce_security: true } },
    call_waiting: { enabled: false },
    provision: {
      ...harness.dir.devices.get(d.id)!.provision,
      settings: {
        sip_server: { host: 'sip.example.net', port: 5080, transport: 'tls' },
        outbound_proxy: 'sbc.example.net:5090',
        nat_keepalive_seconds: 25,
        registration_retry_seconds: 45,
        dtmf_mode: 'info',
        dial_plan: '{x+|*x+}',
        resync: { interval_minutes: 120 },
        admin_password: 'Adm1n-Pass',
        user_password: 'Us3r-Pass',
        ntp_server: 'ntp.example.net',
        syslog_server: 'log.example.net',
        vlan: { id: 42, priority: 5 },
      },
    },
  });
  if (o.firmware) {
    mkdirSync(path.join(harness.dataDir, 'firmware'), { recursive: true });
    writeFileSync(path.join(harness.dataDir, 'firmware', o.firmware), 'IMAGE');
    harness.clock.now += 2000; // the firmware listing is re-read once a second
  }
  const res = await harness.get(`cfg${o.mac}.xml`, { 'User-Agent': gsUserAgent(o.model, o.mac, o.sw), ...GS_AUTH });
  expect(res.status).toBe(200);
  return { h: harness, body: res.body };
}
