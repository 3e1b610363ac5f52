import { parseStringPromise } from 'xml2js';
import { expect } from 'vitest';

const YEALINK_PASSWORD_KEY = 'static.security.user_password';

/** Independent key = value reader for Yealink files (deliberately not the server's own parser). */
export function readKeyValue(text: string): Map<string, string> {
  const lines = text.split(/\r?\n/);
  if (lines[0] !== '#!version:1.0.0.1') throw new Error(`bad first line: ${lines[0]}`);
  const out = new Map<string, string>();
  for (const line of lines.slice(1)) {
    if (!line.trim() || line.trim().startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq < 0) throw new Error(`not key=value: ${line}`);
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    if (key === YEALINK_PASSWORD_KEY) {
      // Yealink repeats this key once per login ("admin:<pw>", "user:<pw>"): the plain key keeps the first line,
      // `key[login]` each login's (a login twice is still a duplicate).
      const login = `${key}[${value.split(':')[0]}]`;
      if (out.has(login)) throw new Error(`duplicate key ${login}`);
      out.set(login, value);
      if (!out.has(key)) out.set(key, value);
      continue;
    }
    if (out.has(key) && key !== 'sip.notify_reboot_enable') throw new Error(`duplicate key ${key}`);
    out.set(key, value);
  }
  return out;
}

/** Polycom: every attribute of every element, flattened (parameter name = attribute name). */
export async function readPolycom(text: string): Promise<{ root: string; params: Map<string, string> }> {
  const doc = (await parseStringPromise(text, { explicitArray: true, strict: true })) as Record<string, unknown>;
  const root = Object.keys(doc)[0]!;
  const params = new Map<string, string>();
  const walk = (node: unknown) => {
    if (!node || typeof node !== 'object') return;
    for (const [k, v] of Object.entries(node as Record<string, unknown>)) {
      if (k === '$') for (const [a, val] of Object.entries(v as Record<string, string>)) params.set(a, val);
      else if (Array.isArray(v)) v.forEach(walk);
      else walk(v);
    }
  };
  walk(doc[root]);
  return { root, params };
}

/** Grandstream: <gs_provision><mac/><config><Pnnn>value</Pnnn>… */
export async function readGrandstream(text: string): Promise<{ mac: string; version: string; p: Map<string, string> }> {
  const doc = (await parseStringPromise(text, { explicitArray: false, strict: true })) as {
    gs_provision: { $: { version: string }; mac: string; config: Record<string, unknown> & { $: { version: string } } };
  };
  const p = new Map<string, string>();
  for (const [k, v] of Object.entries(doc.gs_provision.config)) if (k !== '$') p.set(k, typeof v === 'string' ? v : '');
  return { mac: doc.gs_provision.mac, version: doc.gs_provision.config.$.version, p };
}

/** Asserts several settings of a parsed file at once (a missing one shows as undefined in the diff). */
export function expectValues(settings: Map<string, string>, expected: Record<string, string>): void {
  expect(Object.fromEntries(Object.keys(expected).map((k) => [k, settings.get(k)]))).toEqual(expected);
}

/**
 * Yealink boot files: the exact header, then `[MODEL, MODEL]include:config "file"` lines (in order) and
 * `key = value` lines; anything else is an error.
 */
export function readYealinkBoot(text: string): { includes: { models?: string[]; file: string }[]; params: Map<string, string> } {
  const lines = text.split(/\r?\n/);
  if (lines[0] !== '#!version:1.0.0.1') throw new Error(`bad first line: ${lines[0]}`);
  const includes: { models?: string[]; file: string }[] = [];
  const params = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const t = line.trim();
    if (!t || t.startsWith('#')) continue;
    const inc = /^(?:\[([^\]]+)\])?include:config\s+"([^"]+)"$/.exec(t);
    if (inc) {
      includes.push({ ...(inc[1] ? { models: inc[1].split(',').map((m) => m.trim()) } : {}), file: inc[2]! });
      continue;
    }
    const kv = /^([\w.]+)\s*=\s*(.*)$/.exec(t);
    if (!kv) throw new Error(`not a boot line: ${t}`);
    if (params.has(kv[1]!)) throw new Error(`duplicate key ${kv[1]}`);
    params.set(kv[1]!, kv[2]!);
  }
  return { includes, params };
}

/** Grandstream, strict: every <Pnnn> element of the config in order; throws when one parameter is written twice. */
export async function readGrandstreamStrict(text: string): Promise<Map<string, string>> {
  const doc = (await parseStringPromise(text, { explicitArray: true, strict: true })) as {
    gs_provision: { config: Array<Record<string, unknown[]>> };
  };
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(doc.gs_provision.config[0]!)) {
    if (k === '$') continue;
    if (v.length !== 1) throw new Error(`${k} written ${v.length} times: ${JSON.stringify(v)}`);
    out.set(k, typeof v[0] === 'string' ? v[0] : '');
  }
  return out;
}

/**
 * Polycom: every (parameter, value) pair in document order, duplicates kept (to prove none is written twice). A lexical
 * scan on purpose: XML parsers (sax, so xml2js) silently keep one of two equal attributes of the same element.
 */
export function readPolycomPairs(text: string): Array<[string, string]> {
  const body = text.replace(/<!--[\s\S]*?-->/g, '').replace(/<\?xml[^>]*\?>/, '');
  return [...body.matchAll(/\s([A-Za-z_][\w.:-]*)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]);
}

/**
 * Grandstream config version 2: `<item name="…">value</item>` in order, as a map; throws when the config is not
 * version 2, holds anything but items, or writes one item twice.
 */
export async function readGrandstreamV2Strict(text: string): Promise<{ mac: string; items: Map<string, string> }> {
  const doc = (await parseStringPromise(text, { explicitArray: true, strict: true })) as {
    gs_provision: { mac: string[]; config: Array<{ $: { version: string } } & Record<string, unknown>> };
  };
  const config = doc.gs_provision.config[0]!;
  if (config.$.version !== '2') throw new Error(`config version ${config.$.version}`);
  const other = Object.keys(config).filter((k) => k !== '$' && k !== 'item');
  if (other.length) throw new Error(`not an item: ${other.join(', ')}`);
  const items = new Map<string, string>();
  for (const it of (config.item ?? []) as Array<string | { _?: string; $: { name: string } }>) {
    const name = typeof it === 'string' ? '' : it.$.name;
    if (items.has(name)) throw new Error(`${name} written twice`);
    items.set(name, typeof it === 'string' ? it : (it._ ?? ''));
  }
  return { mac: doc.gs_provision.mac[0]!, items };
}
