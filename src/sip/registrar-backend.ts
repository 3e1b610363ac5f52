import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { ProvisioningService } from '../provision/service.js';
import type { Directory } from '../store/directory.js';
import { Registrar, type GuardOptions, type RegisterInput } from './registrar.js';
import { RegistrationTable, type RegistrationListener } from './registry.js';
import type { NotifyOptions, NotifyResult, QuickCallOptions, QuickCallResult, Registration, SipService } from './service.js';

export interface SipServiceDeps {
  config: Config;
  log: Logger;
  directory: Directory;
  provisioning?: Pick<ProvisioningService, 'checkSyncEvent' | 'autoAnswerHeaders'>;
  /** Clock of the registrar and binding table (tests move it to expire nonces without sleeping). */
  now?: () => number;
  /** Nonce lifetime, default 5 minutes. */
  nonceTtlMs?: number;
}

/** Extra surface beyond the SipService contract: registration change events (resync coordinator). */
export interface ObservableSipService extends SipService {
  onRegistration(listener: RegistrationListener): () => void;
}

/**
 * What both backends share: the binding table, the one REGISTER policy, and the read side of the
 * SipService contract. Each backend only adapts its own message shape to a RegisterInput.
 */
export abstract class RegistrarBackend implements ObservableSipService {
  protected readonly table: RegistrationTable;
  protected readonly registrar: Registrar;

  constructor(protected readonly deps: SipServiceDeps) {
    const now = deps.now ?? Date.now;
    this.table = new RegistrationTable(deps.directory, now);
    this.registrar = new Registrar(
      deps.directory,
      this.table,
      {
        minExpires: deps.config.sip.minExpires,
        maxExpires: deps.config.sip.maxExpires,
        nonceTtlMs: deps.nonceTtlMs ?? deps.config.sip.nonceTtlSeconds * 1000,
        guard: guardOf(deps.config),
      },
      deps.log,
      now,
    );
  }

  abstract start(): Promise<void>;
  abstract stop(): Promise<void>;
  abstract notify(accountId: string, deviceId: string, options: NotifyOptions): Promise<NotifyResult>;
  abstract quickCall(accountId: string, deviceId: string, number: string, options: QuickCallOptions): Promise<QuickCallResult>;

  onRegistration(listener: RegistrationListener): () => void {
    return this.table.onChange(listener);
  }

  /** The binding table itself (a cluster mirrors it through PostgreSQL: src/cluster/registrations-postgres.ts). */
  get bindings(): RegistrationTable {
    return this.table;
  }

  registrations(accountId: string): Registration[] {
    return this.table.list(accountId);
  }

  registrationOf(accountId: string, deviceId: string): Registration | undefined {
    return this.table.get(accountId, deviceId);
  }

  protected register(input: RegisterInput) {
    return this.registrar.handle(input);
  }
}

function guardOf(config: Config): GuardOptions {
  const sip = config.sip;
  return { failLimit: sip.authFailLimit, failWindowMs: sip.authFailWindowSeconds * 1000, banMs: sip.authBanSeconds * 1000, userGuessRate: sip.userGuessRate };
}
