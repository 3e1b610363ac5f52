import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { productionParts } from '../../src/parts.js';
import { vendorProfiles } from '../../vendors/index.js';
import { createChildAccount, startTestServer, tokenFor, type TestServer } from '../helpers/server.js';

/**
 * Monster UI's provisioner API, called as monster-ui's chooseModel submodule and SmartPBX's devices submodule call
 * it (monster.request with apiRoot = monster.config.api.provisioner, jQuery's `_=` cache-buster on GETs), and each
 * answer read the way that code reads it: the picker maps brand → families → models, the device it saves carries
 * provision.endpoint_brand/family/model lower-cased, and the dialog sizes its key lists from
 * `data.template.{combo_keys,feature_keys}.iterate`.
 */
let t: TestServer;
let cacheBuster = 1_700_000_000_000;
const provisioner = (method: 'get' | 'delete', path: string, token?: string) => {
  let req = t.http()[method](`/provisioner/${path}${method === 'get' ? `?_=${cacheBuster++}` : ''}`).set('Accept', 'application/json, text/javascript, */*; q=0.01');
  if (token) req = req.set('X-Auth-Token', token);
  return req;
};

beforeAll(async () => {
  t = await startTestServer({ parts: productionParts, env: { SIP_BACKEND: 'none' } });
});
afterAll(() => t.close());

/** chooseModelFormatProvisionerData, as monster-ui does it (ids lower-cased, template_id from the model's id). */
function pickerView(data: Record<string, { name: string; families: Record<string, { name: string; models: Record<string, { id: string; name: string }> }> }>) {
  return Object.entries(data).map(([brandKey, brand]) => ({
    id: brandKey.toLowerCase(),
    name: brand.name,
    families: Object.entries(brand.families).map(([familyKey, family]) => ({
      id: familyKey.toLowerCase(),
      name: family.name,
      models: Object.entries(family.models).map(([modelKey, model]) => ({ id: modelKey.toLowerCase(), name: model.name, template_id: model.id })),
    })),
  }));
}

describe('Monster provisioner API', () => {
  it('phones: every catalogue model of every vendor, as the picker reads it, in an exact application/json envelope', async () => {
    const res = await provisioner('get', 'phones');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.headers['access-control-allow-origin']).toBe('*');
    const brands = pickerView(res.body.data);
    const listed = brands.flatMap((b) => b.families.flatMap((f) => f.models.map((m) => `${b.id}/${f.id}/${m.id}`))).sort();
    const catalogue = vendorProfiles.flatMap((p) => (p.catalogue ?? []).map((m) => `${p.id}/${m.family}/${m.model.toLowerCase()}`)).sort();
    expect(listed).toEqual(catalogue);
    expect(listed.length).toBeGreaterThan(10);
    for (const b of brands) for (const f of b.families) for (const m of f.models) expect(m.name).toBeTruthy();
  });

  it('ui/{brand}/{family}/{model}: key counts from the catalogue; an unknown model is a 404 the dialog tolerates', async () => {
    for (const profile of vendorProfiles) {
      for (const m of profile.catalogue ?? []) {
        const res = await provisioner('get', `ui/${profile.id}/${m.family}/${m.model.toLowerCase()}`);
        expect(res.status, `${profile.id} ${m.model}`).toBe(200);
        const template = res.body.data.template;
        expect(template.combo_keys.iterate).toBe(m.lineKeys);
        // Feature keys of their own: the feature-key bank plus the module keys; none when they share the body.
        const own = (m.featureKeys ?? 0) + (m.expansion ? m.expansion.modules * m.expansion.keysEach : 0);
        expect(template.feature_keys.iterate, `${profile.id} ${m.model}`).toBe(own);
      }
    }
    const gxp2130 = (await provisioner('get', 'ui/grandstream/gxp21xx/gxp2130')).body.data.template;
    expect(gxp2130).toEqual({ combo_keys: { iterate: 12 }, feature_keys: { iterate: 8 } });
    expect((await provisioner('get', 'ui/grandstream/gxp21xx/gxp2160')).body.data.template.feature_keys.iterate).toBe(24 + 4 * 40);
    const missing = await provisioner('get', 'ui/yealink/t4x/t99z');
    expect(missing.status).toBe(404);
    expect(missing.headers['content-type']).toBe('application/json');
    expect(missing.body.error).toBe('404');
  });

  it('the device the picker saves is provisioned as the model picked, and its keys are bounded by what ui/ offered', async () => {
    const phones = pickerView((await provisioner('get', 'phones')).body.data);
    const brand = phones.find((b) => b.id === 'yealink')!;
    const family = brand.families.find((f) => f.models.some((m) => m.id === 't46s'))!;
    const model = family.models.find((m) => m.id === 't46s')!;
    const ui = (await provisioner('get', `ui/${brand.id}/${family.id}/${model.id}`)).body.data.template;
    const auth = { 'X-Auth-Token': t.master.token };
    const save = (combo: number) =>
      t.http().put(`/v2/accounts/${t.master.accountId}/devices`).set(auth).send({
        data: {
          device_type: 'sip_device',
          enabled: true,
          mac_address: `00:15:65:00:0${combo % 10}:0${combo % 7}`,
          name: `Picked ${combo}`,
          provision: { endpoint_brand: brand.id, endpoint_family: family.id, endpoint_model: model.id, id: model.template_id, combo_keys: { [String(combo - 1)]: { type: 'line' } } },
          sip: { password: 'randomString12', realm: 'master.test', username: `user_${combo}` },
        },
      });
    const fits = await save(ui.combo_keys.iterate);
    expect(fits.status, fits.text).toBe(201);
    expect(fits.body.data._read_only.provisioning).toMatchObject({ vendor: 'yealink', model_known: true });
    const beyond = await save(ui.combo_keys.iterate + 1);
    expect(beyond.status).toBe(400);
    expect(JSON.stringify(beyond.body.data)).toContain(`${ui.combo_keys.iterate} line keys`);
  });

  it('locks/{A}/{mac}: needs a token that may act on the account; nothing is locked here, so unlock answers done', async () => {
    const child = await createChildAccount(t, t.master.token, t.master.accountId, 'Unlocker');
    const childToken = await tokenFor(t, t.master.token, child.id);
    expect((await provisioner('delete', `locks/${child.id}/00:15:65:aa:bb:cc`)).status).toBe(401);
    expect((await provisioner('delete', `locks/${t.master.accountId}/001565aabbcc`, childToken)).status).toBe(403);
    const ok = await provisioner('delete', `locks/${child.id}/00:15:65:AA:BB:CC`, childToken);
    expect(ok.status).toBe(200);
    expect(ok.body.data).toEqual({ mac_address: '001565aabbcc', locked: false });
    expect((await provisioner('delete', `locks/${child.id}/not-a-mac`, childToken)).status).toBe(400);
    expect((await provisioner('get', 'locks/x/y')).status).toBe(405);
  });
});
