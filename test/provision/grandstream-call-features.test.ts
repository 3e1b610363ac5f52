import { afterEach, describe, expect, it } from 'vitest';
import { ACCOUNT, type Harness } from './support/harness.js';
import { fetchFullGrandstream, GS_AUTH, gsUserAgent } from './support/grandstream-device.js';
import { expectValues, readGrandstreamStrict, readGrandstreamV2Strict } from './support/readers.js';

/**
 * Grandstream DND and call forward. Kazoo applies do_not_disturb and call_forward itself, and no source gives a
 * P-value for the phone-side state, so the files make the phone's DND / forward keys act on Kazoo: call features
 * by feature code (P191) and the codes those keys dial. Each is single-source or disputed among the peers, so each
 * is a vendor parameter with the peers' most common value, replaceable per account (README "Vendor parameters").
 */
let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const CODES_V1 = { P191: '0', P2344: '*78', P2345: '*79', P26013: '*72', P26014: '*73' };

describe('Grandstream DND / call-forward keys dial Kazoo\'s feature codes', () => {
  it.each([
    ['GXP2135', '000b82c10001'],
    ['GXP1630', '000b82c10002'],
    ['GRP2670', 'c074adc10003'],
  ])('%s (config v1): P191 and the feature-code P-values, read back key by key', async (model, mac) => {
    const fetched = await fetchFullGrandstream(h, { model, mac });
    h = fetched.h;
    expectValues(await readGrandstreamStrict(fetched.body), CODES_V1);
  });

  it.each([
    ['HT802', '000b82c10004'],
    ['HT814', '000b82c10008'],
    ['DP750', '000b82c10005'],
  ])('%s: P191 sends star codes to Kazoo; no DND / forward code P-values (its template has none)', async (model, mac) => {
    const fetched = await fetchFullGrandstream(h, { model, mac });
    h = fetched.h;
    const p = await readGrandstreamStrict(fetched.body);
    expect(p.get('P191')).toBe('0');
    for (const absent of ['P2344', 'P2345', 'P26013', 'P26014']) expect(p.has(absent), absent).toBe(false);
  });

  it('GRP2614 (config v2): the featureCodes items', async () => {
    const fetched = await fetchFullGrandstream(h, { model: 'GRP2614', mac: 'c074adc10006' });
    h = fetched.h;
    const { items } = await readGrandstreamV2Strict(fetched.body);
    expect(Object.fromEntries(['dndOn', 'dndOff', 'callForwardUnconditionallyOn', 'callForwardUnconditionallyOff'].map((k) => [k, items.get(`account.1.featureCodes.${k}`)]))).toEqual({
      dndOn: '*78',
      dndOff: '*79',
      callForwardUnconditionallyOn: '*72',
      callForwardUnconditionallyOff: '*73',
    });
  });

  it('an account whose platform uses other codes (or wants the phone\'s own DND) sets them in vendor_params', async () => {
    const fetched = await fetchFullGrandstream(h, { model: 'GXP2135', mac: '000b82c10007' });
    h = fetched.h;
    h.dir.updateAccount(ACCOUNT, {
      provisioning: { ...h.dir.accounts.get(ACCOUNT)!.provisioning, settings: { vendor_params: { grandstream: { P191: '1', P2344: '*700', P26013: '*21' } } } },
    });
    const res = await h.get('cfg000b82c10007.xml', { 'User-Agent': gsUserAgent('GXP2135', '000b82c10007'), ...GS_AUTH });
    expect(res.status).toBe(200);
    expectValues(await readGrandstreamStrict(res.body), { P191: '1', P2344: '*700', P2345: '*79', P26013: '*21', P26014: '*73' });
  });
});
