import { createHash } from 'node:crypto';

/**
 * The Monster UI apps this server can back: the ones whose API calls it answers (users and devices). An
 * account's `apps_store` lists these; which of them its users may open is the account's own setting.
 */
export interface AppDefinition {
  id: string;
  name: string;
  i18n: Record<string, { label: string; description: string }>;
  tags: string[];
  phase: 'gold';
  masqueradable: boolean;
}

/** Stable 32-hex ids (Kazoo app ids are document ids), derived from the app's name. */
const appId = (name: string) => createHash('md5').update(`monster-app:${name}`).digest('hex');

export const APP_CATALOGUE: readonly AppDefinition[] = [
  {
    id: appId('voip'),
    name: 'voip',
    i18n: { 'en-US': { label: 'Smart PBX', description: "Users and their phones: add, edit, restart and assign devices" } },
    tags: ['reseller', 'developer'],
    phase: 'gold',
    masqueradable: true,
  },
  {
    id: appId('accounts'),
    name: 'accounts',
    i18n: { 'en-US': { label: 'Accounts Manager', description: 'Create and manage sub-accounts' } },
    tags: ['reseller'],
    phase: 'gold',
    masqueradable: false,
  },
];

export const findApp = (id: string) => APP_CATALOGUE.find((app) => app.id === id);
