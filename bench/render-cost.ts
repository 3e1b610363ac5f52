/**
 * Render cost per vendor family: what a phone's files cost when nothing is cached (a first fetch, a changed
 * device, a template edit reaching every phone). For every family of every vendor profile, N devices of one of
 * its catalogue models with every setting a field phone carries are rendered once each through the provisioning
 * service (the sync fingerprint renders all of a device's files), in the same process and heap.
 *
 *   npx tsx bench/render-cost.ts [--devices 300]
 *
 * The baseline beside each family is a bare Handlebars render of a one-line template with the same device's
 * values: the floor any templating costs here, so the ratio is the price of the real files.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Handlebars from 'handlebars';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { DomainEvents } from '../src/domain/events.js';
import { Store } from '../src/store/store.js';
import { bootstrapAccount } from '../src/accounts/bootstrap.js';
import { createProvisioning } from '../src/provision/index.js';
import { vendorProfiles } from '../vendors/index.js';
import { benchDevice, table } from './lib.js';

export interface RenderCostRow {
  vendor: string;
  family: string;
  model: string;
  files: number;
  usPerFile: number;
  usPerDevice: number;
  floorUsPerFile: number;
}

const SETTINGS = {
  sip_server: { transport: 'tls', port: 5061 },
  outbound_proxy: 'sbc.example.com:5080',
  nat_keepalive_seconds: 25,
  registration_retry_seconds: 30,
  dtmf_mode: 'rfc2833',
  dial_plan: '[2-9]xxxxxxxxx|011x.|[1-8]xxx',
  resync: { window: { start: '02:00', end: '04:00' } },
  admin_password: 'Adm1n-Secret',
  user_password: 'Us3r-Secret',
  ntp_server: 'pool.ntp.org',
  syslog_server: 'syslog.example.com:514',
  vlan: { id: 20, priority: 5 },
};

export async function runRenderCost(o: { devices?: number } = {}): Promise<{ rows: RenderCostRow[]; report: string }> {
  const perFamily = o.devices ?? 300;
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'render-cost-'));
  try {
    const events = new DomainEvents();
    const store = await Store.open(dataDir, events);
    const made = await bootstrapAccount(store, { name: 'Bench', realm: 'bench.example.com', username: 'admin', password: 'bench-pass' });
    const accountId = made.account_id;
    const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent', SIP_PUBLIC_ADDRESS: '198.51.100.7', PROVISION_BASE_URL: 'https://prov.example.com/provision/' });
    const service = await createProvisioning({ config, log: createLogger('silent'), directory: store, events });

    // One representative model per family: the first catalogue entry of it.
    const families: Array<{ vendor: string; family: string; model: string; oui: string }> = [];
    for (const profile of vendorProfiles) {
      const seen = new Set<string>();
      for (const m of profile.catalogue ?? []) {
        if (seen.has(m.family)) continue;
        seen.add(m.family);
        families.push({ vendor: profile.id, family: m.family, model: m.model, oui: profile.ouis[0]! });
      }
    }
    const rows: RenderCostRow[] = [];
    let serial = 0;
    for (const f of families) {
      const ids: string[] = [];
      for (let i = 0; i < perFamily; i++) {
        const n = ++serial;
        const doc = await store.save(
          benchDevice(accountId, {
            name: `Phone ${n}`,
            mac_address: `${f.oui}${n.toString(16).padStart(6, '0')}`,
            sip: { username: `user${n}`, password: `pw-${n}-secret`, expire_seconds: 600 },
            caller_id: { internal: { name: `Desk ${n}` } },
            media: { audio: { codecs: ['OPUS', 'G722', 'PCMU', 'PCMA'] }, encryption: { methods: ['srtp'], enforce_security: false } },
            call_forward: { enabled: true, number: '5551000', require_keypress: false },
            do_not_disturb: { enabled: false },
            call_waiting: { enabled: true },
            provision: {
              endpoint_brand: f.vendor,
              endpoint_model: f.model,
              combo_keys: { '0': { type: 'line' }, '1': { type: 'speed_dial', value: { label: 'Lobby', value: '2000' } }, '2': { type: 'parking', value: 1 } },
              feature_keys: { '0': { type: 'speed_dial', value: '2001' } },
              settings: SETTINGS,
            },
            ringtones: { internal: '<http://127.0.0.1>;info=ring2', external: '<http://127.0.0.1>;info=ring3' },
            timezone: 'Europe/Berlin',
            language: 'de-de',
          }),
        );
        ids.push(doc.id);
      }
      const files = ((service.describe(accountId, ids[0]!) as { files?: unknown[] } | undefined)?.files ?? []).length;
      // The first tenth warms the JIT up (not counted); every device is still rendered exactly once. The rest is
      // timed in three batches and the fastest counts: other work on a shared machine only ever adds time.
      const warm = Math.ceil(ids.length / 10);
      for (const id of ids.slice(0, warm)) await service.fingerprint(accountId, id);
      const measured = ids.slice(warm);
      const batch = Math.ceil(measured.length / 3);
      let ns = Infinity;
      for (let b = 0; b < measured.length; b += batch) {
        const ofBatch = measured.slice(b, b + batch);
        const started = process.hrtime.bigint();
        for (const id of ofBatch) await service.fingerprint(accountId, id);
        ns = Math.min(ns, Number(process.hrtime.bigint() - started) / ofBatch.length);
      }
      // The floor: one compiled one-line template per file with a few of the device's values; fastest of five runs.
      const floor = Handlebars.compile('account.1.user_name = {{user}}\naccount.1.label = {{name}}\n');
      const renders = batch * Math.max(files, 1);
      let floorNs = Infinity;
      for (let run = 0; run < 5; run++) {
        const floorStart = process.hrtime.bigint();
        for (let i = 0; i < renders; i++) floor({ user: `user${i}`, name: `Desk ${i}` });
        floorNs = Math.min(floorNs, Number(process.hrtime.bigint() - floorStart) / renders);
      }
      rows.push({
        vendor: f.vendor,
        family: f.family,
        model: f.model,
        files,
        usPerDevice: ns / 1000,
        usPerFile: files ? ns / files / 1000 : NaN,
        floorUsPerFile: floorNs / 1000,
      });
    }
    await service.close();
    const report = table(
      ['vendor', 'family', 'model', 'files', 'µs per file (cold)', 'µs per device', 'floor µs', '÷ floor'],
      rows.map((r) => [r.vendor, r.family, r.model, r.files, r.usPerFile.toFixed(0), r.usPerDevice.toFixed(0), r.floorUsPerFile.toFixed(1), (r.usPerFile / r.floorUsPerFile).toFixed(0)]),
    );
    return { rows, report: `${perFamily} devices per family, every field setting set; each device rendered once, nothing cached; fastest of three batches\n\n${report}` };
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const at = process.argv.indexOf('--devices');
  console.log((await runRenderCost({ devices: at > 0 ? Number(process.argv[at + 1]) : undefined })).report);
}
