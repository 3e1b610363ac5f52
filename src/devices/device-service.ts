import type { AccountDoc, DeviceDoc } from '../domain/types.js';
import { privateFields, publicView, requestFields, updatedFields } from '../domain/docs.js';
import { addValidationError, ValidationFailed, type ValidationErrors } from '../domain/validation.js';
import type { Logger } from '../log.js';
import type { ProvisioningService } from '../provision/service.js';
import { validateDoc } from '../schema/validator.js';
import type { DeviceOutbox } from '../sip/device-outbox.js';
import type { NotifyOptions, SipService } from '../sip/service.js';
import { parseQuickCall } from '../sip/api/quickcall-request.js';
import { quickCallView } from '../sip/api/quickcall-view.js';
import { newId, type Store } from '../store/store.js';
import { genericCheckSyncEvent } from './check-sync.js';
import { IdTaken, UnknownId } from '../domain/errors.js';
import { BadDeviceAction, NotRegistered, QuickCallFailed } from './device-errors.js';
import { prepareDevice } from './device-rules.js';
import { lineCopies, phonesUsing, withoutLine } from './device-lines.js';
import { isOwnedOrHotdesked, ownerRow, withoutPhoneSecrets } from './device-views.js';

/** Adds read-only facts to a device's API answer under `_read_only` (last config fetch, registration). */
export type DeviceAnnotator = (account: AccountDoc, device: DeviceDoc) => Record<string, unknown> | undefined;

/** Who asks: the route's account, and whether the token is the master account's (may change device_type). */
export interface Caller {
  account: AccountDoc;
  isMaster: boolean;
}

/** Talking to phones: the registrar's answers and the outbox that delivers sync/notify (now or on REGISTER). */
export interface DeviceMessaging {
  sip: SipService;
  outbox: Pick<DeviceOutbox, 'request'>;
}

export interface DeviceServiceDeps {
  store: Store;
  log: Logger;
  /** Absent when the server runs without SIP: the action routes are not offered then. */
  messaging?: DeviceMessaging;
  provisioning?: Pick<ProvisioningService, 'checkSyncEvent'>;
  annotators?: readonly DeviceAnnotator[];
}

/** The body of a notify action as sent: `{event, body?}` in data (seed) or data.data (Kazoo's validated form). */
export interface NotifyRequest {
  payload: Record<string, unknown>;
  reboot?: boolean;
}

const CLIENT_ID = /^[0-9a-zA-Z_-]{1,64}$/;

/**
 * The device resource, as Kazoo's cb_devices: validation (the device rules and schema, the notify schema),
 * storage, the answer's view, and the actions that reach the phone. Throws domain errors only
 * (./device-errors.ts, ValidationFailed); HTTP is the router's business.
 */
export class DeviceService {
  constructor(private readonly deps: DeviceServiceDeps) {}

  get offersActions(): boolean {
    return this.deps.messaging !== undefined;
  }

  /** The device, or UnknownId. `latest` reads what the last write left (writes build on it). */
  get(account: AccountDoc, id: string, latest = false): DeviceDoc {
    const source = latest ? this.deps.store.latest : this.deps.store;
    const device = source.getDevice(account.id, id);
    if (!device) throw new UnknownId(id);
    return device;
  }

  /** The device's API answer: public fields, plus live facts (registration, last fetch) under _read_only. */
  view(account: AccountDoc, device: DeviceDoc): Record<string, unknown> {
    const out = withoutPhoneSecrets(publicView(device));
    out.id = device.id;
    const readOnly: Record<string, unknown> = {};
    for (const annotate of this.deps.annotators ?? []) Object.assign(readOnly, annotate(account, device) ?? {});
    if (Object.keys(readOnly).length) out._read_only = readOnly;
    return out;
  }

  async create(caller: Caller, data: unknown, forUser?: string): Promise<DeviceDoc> {
    if (forUser !== undefined) this.user(caller.account, forUser);
    const chosen = (data as { id?: unknown } | undefined)?.id;
    let id = newId();
    if (chosen !== undefined) {
      // Kazoo honours a client-chosen id.
      if (typeof chosen !== 'string' || !CLIENT_ID.test(chosen)) {
        const errors: ValidationErrors = {};
        addValidationError(errors, 'id', 'pattern', { message: `Failed to match pattern '${CLIENT_ID.source}'`, target: CLIENT_ID.source, value: chosen });
        throw new ValidationFailed(errors);
      }
      id = chosen;
      if (this.deps.store.idTaken('device', caller.account.id, id)) throw new IdTaken(id);
    }
    return this.save(caller, requestFields(data), id);
  }

  /** POST replaces the public fields; PATCH merges into them (null deletes). Both then validate in full. */
  update(caller: Caller, stored: DeviceDoc, data: unknown, mode: 'replace' | 'merge'): Promise<DeviceDoc> {
    return this.save(caller, updatedFields(stored, data, mode), stored.id, stored);
  }

  async remove(stored: DeviceDoc): Promise<void> {
    await this.deps.store.remove(stored);
    // A phone that had it as a line drops that slot (and re-syncs: its file changes).
    if (!stored.mac_address) await this.refreshPhonesUsing(stored, (phone) => withoutLine(phone, stored.id));
  }

  /** The devices a user owns or is hotdesked on, as Kazoo's users/{U}/devices rows. */
  ofUser(account: AccountDoc, userId: string): Array<Record<string, unknown>> {
    this.user(account, userId);
    const { store } = this.deps;
    return [...store.deviceIdsFrom(account.id, undefined)]
      .map((id) => store.getDevice(account.id, id)!)
      .filter((d) => isOwnedOrHotdesked(d, userId))
      .map((d) => ownerRow(d, userId));
  }

  /** Registered devices of the account (GET /devices/status). */
  status(account: AccountDoc): Array<{ device_id: string; registered: true }> {
    return this.messaging().sip.registrations(account.id).map((r) => ({ device_id: r.deviceId, registered: true }));
  }

  /** The vendor's check-sync Event for this device; the generic one when the vendor is not known. */
  checkSyncEvent(accountId: string, deviceId: string, reboot: boolean): string {
    try {
      const event = this.deps.provisioning?.checkSyncEvent(accountId, deviceId, reboot);
      if (event) return event;
    } catch (err) {
      this.deps.log.warn('check-sync event lookup failed', { account_id: accountId, device_id: deviceId, error: (err as Error).message });
    }
    return genericCheckSyncEvent(reboot);
  }

  async sync(account: AccountDoc, deviceId: string, reboot: boolean): Promise<void> {
    const device = this.get(account, deviceId);
    await this.messaging().outbox.request(account.id, device.id, 'sync', { event: this.checkSyncEvent(account.id, device.id, reboot) });
  }

  /** PUT /devices/{id} carries an action: notify is the one this server does. */
  action(action: unknown): 'notify' {
    if (action === 'notify' && this.offersActions) return action;
    throw new BadDeviceAction(action);
  }

  /** Validates the notify request against Kazoo's devices_notify schema (plus: one line), then hands it to the outbox. */
  async notify(account: AccountDoc, deviceId: string, request: NotifyRequest): Promise<void> {
    const { payload, reboot } = request;
    // Kazoo's validated form nests the event one level deeper (data.data.event); the seed puts it in data.event.
    const inner = (payload.data && typeof payload.data === 'object' ? payload.data : payload) as Record<string, unknown>;
    let event = inner.event;
    if (event === undefined && reboot !== undefined) event = this.checkSyncEvent(account.id, deviceId, reboot);
    const options = checkNotify(event, inner.body);
    const device = this.get(account, deviceId);
    await this.messaging().outbox.request(account.id, device.id, 'notify', options);
  }

  quickCall(account: AccountDoc, deviceId: string, call: QuickCallArgs): Promise<Record<string, unknown>> {
    return this.call(account, this.get(account, deviceId), call);
  }

  /**
   * A user's quickcall rings the user's phone: Kazoo rings all their devices; this server calls one, the first
   * registered device the user owns (by id), and names it in `endpoints`. None registered: NotRegistered.
   */
  userQuickCall(account: AccountDoc, userId: string, call: QuickCallArgs): Promise<Record<string, unknown>> {
    this.user(account, userId);
    const { sip } = this.messaging();
    const owned = this.deps.store
      .listDevices(account.id)
      .filter((d) => d.owner_id === userId)
      .sort((a, b) => (a.id < b.id ? -1 : 1));
    const device = owned.find((d) => sip.registrationOf(account.id, d.id)) ?? owned[0];
    if (!device) throw new NotRegistered(userId);
    return this.call(account, device, call);
  }

  private async call(account: AccountDoc, device: DeviceDoc, call: QuickCallArgs): Promise<Record<string, unknown>> {
    const { sip } = this.messaging();
    const q = parseQuickCall(call.number, call.query, call.data);
    if (!sip.registrationOf(account.id, device.id)) throw new NotRegistered(device.id);
    const result = await sip.quickCall(account.id, device.id, q.number, {
      autoAnswer: q.autoAnswer,
      callerIdName: q.callerIdName,
      callerIdNumber: q.callerIdNumber,
      timeoutSeconds: q.timeoutSeconds,
    });
    const view = quickCallView(account, device, q, result);
    if (result.outcome === 'not_registered') throw new NotRegistered(device.id);
    if (result.outcome !== 'answered') throw new QuickCallFailed(result.outcome, view);
    return view;
  }

  /** Validate (synchronously) then store: nothing awaits in between, so concurrent writes never interleave. */
  private save(caller: Caller, fields: Record<string, unknown>, id: string, stored?: DeviceDoc): Promise<DeviceDoc> {
    const { account } = caller;
    const prepared = prepareDevice(fields, { store: this.deps.store, account, stored, isMaster: caller.isMaster });
    if (prepared.errors) throw new ValidationFailed(prepared.errors);
    const doc = {
      ...prepared.fields,
      ...(stored ? privateFields(stored) : {}),
      id,
      pvt_type: 'device',
      pvt_account_id: account.id,
    } as DeviceDoc;
    withLineCopies(doc, this.deps.store);
    const saved = this.deps.store.save(doc, { sync: prepared.sync });
    // Only a device without a MAC can be another phone's line: that phone's file carries its credentials.
    return doc.mac_address ? saved : saved.then(async (d) => (await this.refreshPhonesUsing(d), d));
  }

  /**
   * Re-saves the phones whose provision.lines name `line` with fresh copies of its credentials, so their files
   * (cached by the phone document's revision) change and the phones re-sync. Skipped when nothing they carry changed.
   */
  private async refreshPhonesUsing(line: DeviceDoc, edit: (phone: DeviceDoc) => DeviceDoc = (p) => p): Promise<void> {
    const { store } = this.deps;
    for (const found of phonesUsing(store, line.pvt_account_id, line.id)) {
      const phone = store.latest.getDevice(found.pvt_account_id, found.id) ?? found;
      const next = withLineCopies({ ...edit(phone) } as DeviceDoc, store);
      if (JSON.stringify(next.provision?.lines) === JSON.stringify(phone.provision?.lines) && JSON.stringify(next.pvt_lines) === JSON.stringify(phone.pvt_lines)) continue;
      await store.save(next);
    }
  }

  private user(account: AccountDoc, userId: string): void {
    if (!this.deps.store.getUser(account.id, userId)) throw new UnknownId(userId);
  }

  private messaging(): DeviceMessaging {
    if (!this.deps.messaging) throw new Error('device actions need SIP (the routes are not offered without it)');
    return this.deps.messaging;
  }
}

/** Sets (or clears) the phone's private copies of its lines' credentials from the devices as they are now. */
function withLineCopies(doc: DeviceDoc, store: Store): DeviceDoc {
  const copies = lineCopies(doc, doc.pvt_account_id, store.latest);
  if (copies?.length) doc.pvt_lines = copies;
  else delete doc.pvt_lines;
  return doc;
}

export interface QuickCallArgs {
  /** The {NUMBER} path segment as the router decoded it. */
  number: string;
  query: Record<string, unknown>;
  /** The envelope's data, for POST. */
  data?: Record<string, unknown>;
}

/**
 * The notify fields through Kazoo's devices_notify schema (event 1-256 characters, body with string
 * content_type and data), then this server's own rule: the event and content type are one header line each.
 */
function checkNotify(event: unknown, body: unknown): NotifyOptions {
  const fields: Record<string, unknown> = { event };
  if (body !== undefined) fields.body = body;
  const errors: ValidationErrors = {};
  const schemaErrors = validateDoc('devices_notify', fields);
  if (schemaErrors?.event || typeof event !== 'string' || event.trim() === '') {
    if (typeof event !== 'string' || event.trim() === '') addValidationError(errors, 'data.event', 'required', { message: 'Field is required but missing' });
    else addValidationError(errors, 'data.event', 'invalid', { message: 'event must be one line of at most 256 characters', value: event });
  } else if (/[\r\n]/.test(event)) {
    addValidationError(errors, 'data.event', 'invalid', { message: 'event must be one line of at most 256 characters', value: event });
  }
  const b = body as { content_type?: unknown; data?: unknown } | null | undefined;
  const bodyBad = Object.keys(schemaErrors ?? {}).some((k) => k === 'body' || k.startsWith('body.'));
  if (body !== undefined && (bodyBad || !b || typeof b.content_type !== 'string' || /[\r\n]/.test(b.content_type))) {
    addValidationError(errors, 'data.body', 'invalid', { message: 'body needs string content_type and data' });
  }
  if (Object.keys(errors).length) throw new ValidationFailed(errors);
  return { event: (event as string).trim(), body: b ? { content_type: b.content_type as string, data: b.data as string } : undefined };
}
